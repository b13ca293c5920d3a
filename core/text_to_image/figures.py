"""Figures of text -> image: class probabilities and saliency maps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures import GRAY, LAYER_COLOURS, MARGIN, TIGHT, bare_axes


def probabilities_figure(
    per_model: dict[str, np.ndarray], names: Sequence[str], mean: np.ndarray | None = None
) -> go.Figure:
    """Each model's class probabilities as grouped horizontal bars (and the ensemble mean)."""
    rows = dict(per_model)
    if mean is not None and len(per_model) > 1:
        rows = {"ensemble (mean)": mean, **rows}
    fig = go.Figure()
    for index, name in enumerate(names):
        fig.add_trace(
            go.Bar(
                y=list(rows),
                x=[float(p[index]) for p in rows.values()],
                name=str(name),
                orientation="h",
                marker={"color": LAYER_COLOURS[index % len(LAYER_COLOURS)]},
                hovertemplate=f"{name}: %{{x:.3f}}<extra>%{{y}}</extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=90 + 34 * len(rows),
        margin=MARGIN,
        xaxis={"range": [0, 1], "title": "probability"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": 1.15},
    )
    return fig


def saliency_figure(
    saliency: np.ndarray, hover: np.ndarray | None = None, size: int = 360, image: np.ndarray | None = None
) -> go.Figure:
    """A saliency map over an image's pixels on a sequential scale from 0 (dark: the prediction does not
    depend on that pixel) with its colour bar; with ``image``, drawn over the sentence's grey image."""
    features = hover if hover is not None else np.full(saliency.shape, "", dtype=object)
    fig = go.Figure()
    if image is not None:
        fig.add_trace(go.Heatmap(z=image, colorscale=GRAY, showscale=False, hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=saliency,
            customdata=features,
            colorscale="Inferno",
            zmin=0,
            opacity=0.6 if image is not None else 1.0,
            colorbar={"title": "|∂ logit / ∂ pixel|", "thickness": 12, "len": 0.9},
            hovertemplate="row %{y}, col %{x}<br>saliency %{z:.4f}<br>features: %{customdata}<extra></extra>",
        )
    )
    bare_axes(fig, 1)
    width = int(size * saliency.shape[1] / saliency.shape[0]) + 80
    fig.update_layout(height=size, width=width, margin=TIGHT)
    return fig


def _wrap(text: str, width: int = 60, limit: int = 300) -> str:
    import textwrap

    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return "<br>".join(textwrap.wrap(text, width)) or " "


def sentence_map_figure(
    coords: np.ndarray,
    texts: Sequence[str],
    groups: Sequence[str],
    wrong: np.ndarray | None = None,
    placed: np.ndarray | None = None,
    placed_texts: Sequence[str] = (),
    title: str = "",
) -> go.Figure:
    """The corpus's sentences as points coloured by ``groups`` (a label or a model's prediction; hover: the
    text), ``wrong`` ones drawn as crosses, and typed sentences as large stars with their text beside them."""
    fig = go.Figure()
    groups = np.asarray([str(g) for g in groups])
    wrong = np.zeros(len(groups), dtype=bool) if wrong is None else np.asarray(wrong, dtype=bool)
    hover = np.asarray([_wrap(t) for t in texts], dtype=object)
    for index, name in enumerate(sorted(set(groups))):
        colour = LAYER_COLOURS[index % len(LAYER_COLOURS)]
        for is_wrong in (False, True):
            rows = np.flatnonzero((groups == name) & (wrong == is_wrong))
            if not len(rows):
                continue
            fig.add_trace(
                go.Scattergl(
                    x=coords[rows, 0],
                    y=coords[rows, 1],
                    mode="markers",
                    name=f"{name} (wrong)" if is_wrong else name,
                    marker={"color": colour, "size": 9 if is_wrong else 5, "opacity": 0.9 if is_wrong else 0.6,
                            "symbol": "x" if is_wrong else "circle"},
                    customdata=hover[rows],
                    hovertemplate=f"<b>{name}{' · wrong' if is_wrong else ''}</b><br>%{{customdata}}<extra></extra>",
                )
            )  # fmt: skip
    if placed is not None and len(placed):
        fig.add_trace(
            go.Scatter(
                x=placed[:, 0],
                y=placed[:, 1],
                mode="markers+text",
                name="your sentences",
                text=[f"{i + 1}" for i in range(len(placed))],
                textposition="top center",
                marker={"symbol": "star", "size": 18, "color": "black", "line": {"color": "white", "width": 1}},
                customdata=[_wrap(t) for t in placed_texts],
                hovertemplate="<b>your sentence %{text}</b><br>%{customdata}<extra></extra>",
            )
        )
    fig.update_layout(height=560, margin=MARGIN, title=title, legend={"orientation": "h", "y": 1.05})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig
