"""Figures of images -> words: the poster's loss-change distribution, held-out curves, similarity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures import MARGIN


def loss_change_histogram(
    changes: Sequence[float],
    classes: Sequence[str],
    control: Sequence[float] | None = None,
    shuffled: Sequence[float] | None = None,
) -> go.Figure:
    """The distribution of the held-out class's relative loss change (after / before - 1), median and
    extremes marked (the poster's Figure 2), and, given ``control``, the same change for the constant
    predictor (its loss / the loss before - 1) beside it, and given ``shuffled``, that of the model trained
    with the words shuffled. Left of 0: lower than the untrained network."""
    values = 100 * np.asarray(changes, dtype=float)
    bins = max(10, min(40, len(values)))
    fig = go.Figure(
        go.Histogram(
            x=values,
            nbinsx=bins,
            name="trained model",
            marker={"color": "#4c78a8"},
            hovertemplate="%{x} %<br>%{y} class(es)<extra>trained model</extra>",
        )
    )
    for values_of, name, colour in (
        (control, "constant predictor", "#f58518"),
        (shuffled, "shuffled words", "#54a24b"),
    ):
        if values_of is not None and len(values_of):
            fig.add_trace(
                go.Histogram(
                    x=100 * np.asarray(values_of, dtype=float),
                    nbinsx=bins,
                    name=f"{name} (control)",
                    marker={"color": colour},
                    opacity=0.6,
                    hovertemplate=f"%{{x}} %<br>%{{y}} class(es)<extra>{name}</extra>",
                )
            )
    if len(fig.data) > 1:
        # the legend under the axis title: above the plot it covered the median's label
        fig.update_layout(barmode="overlay", legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0})
    median = float(np.median(values))
    fig.add_vline(
        x=median,
        line={"color": "#e45756", "width": 2},
        annotation_text=f"median {median:+.1f} %",
        annotation_position="top",
    )
    for index in (int(np.argmin(values)), int(np.argmax(values))):
        fig.add_vline(
            x=values[index],
            line={"color": "#888", "dash": "dot"},
            annotation_text=f"{classes[index]} {values[index]:+.1f} %",
            annotation_position="bottom",
        )
    fig.add_vline(x=0, line={"color": "#222", "width": 1})
    fig.update_layout(
        height=380,
        margin={**MARGIN, "b": 90},
        xaxis_title="held-out loss change after training (%)",
        yaxis_title="classes",
        bargap=0.05,
    )
    return fig


def held_out_band_figure(histories: dict[str, list[dict]], before: dict[str, float]) -> go.Figure:
    """Held-out loss per epoch relative to before training: median across folds with the quartile
    band (the poster's Figure 1); epoch 0 is the untrained model."""
    curves = [[1.0] + [r["held_out_loss"] / before[name] for r in history] for name, history in histories.items()]
    length = min(len(c) for c in curves)
    ratios = np.array([c[:length] for c in curves])
    epochs = list(range(length))
    q1, median, q3 = np.percentile(ratios, [25, 50, 75], axis=0)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=epochs + epochs[::-1],
            y=list(q3) + list(q1[::-1]),
            fill="toself",
            fillcolor="rgba(76,120,168,0.25)",
            line={"width": 0},
            name="quartiles",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=epochs, y=median, mode="lines+markers", name=f"median of {len(curves)} folds", line={"color": "#4c78a8"}
        )
    )
    fig.add_hline(y=1, line={"color": "#888", "dash": "dot"})
    fig.update_layout(
        height=340,
        margin=MARGIN,
        xaxis={"title": "epoch (0 = before training)", "dtick": 1},
        yaxis_title="held-out loss / loss before training",
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def change_vs_similarity_figure(
    folds: Sequence[dict], explanation: str = "nearest_trained_cosine", title: str | None = None
) -> go.Figure:
    """Each held-out class: its loss change against an explanatory variable: its word's cosine similarity to the
    nearest trained class's word (the poster's claim), or the loss before training (the artefact's)."""
    fig = go.Figure(
        go.Scatter(
            x=[f[explanation] for f in folds],
            y=[100 * f["relative_change"] for f in folds],
            mode="markers+text",
            text=[f["class"] for f in folds],
            textposition="top center",
            textfont={"size": 10},
            marker={"size": 8, "color": "#4c78a8"},
            customdata=[f["nearest_trained_class"] for f in folds],
            hovertemplate="%{text}: %{y:+.1f} % at %{x:.3f}<br>nearest trained class %{customdata}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line={"color": "#888", "dash": "dot"})
    fig.update_layout(
        height=380,
        margin=MARGIN,
        xaxis_title=title or "cosine of the held-out word to its nearest trained class word",
        yaxis_title="held-out loss change (%)",
    )
    return fig


def fold_curve_figure(fold: dict) -> go.Figure:
    """One fold: training loss and held-out loss per epoch (epoch 0: held-out loss before training)."""
    epochs = [0] + [r["epoch"] for r in fold["history"]]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=[fold["loss_before"]] + [r["held_out_loss"] for r in fold["history"]],
            name=f"held-out ({fold['class']})",
            mode="lines+markers",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=epochs[1:],
            y=[r["train_loss"] for r in fold["history"]],
            name="training (other classes)",
            mode="lines+markers",
            line={"dash": "dot"},
        )
    )
    fig.update_layout(
        height=300,
        margin=MARGIN,
        xaxis={"title": "epoch", "dtick": 1},
        yaxis_title="loss",
        legend={"orientation": "h", "y": 1.15},
    )
    return fig
