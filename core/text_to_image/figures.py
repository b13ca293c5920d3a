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
