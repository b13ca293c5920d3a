"""Figures of the hybrid's search: cross-validated accuracy heatmaps (batch size x learning rate, one per
optimizer), the ablation with its fold spread, and per-epoch curves of one trial."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures import MARGIN, VIRIDIS

COLOURS = {
    "vision": "#9d9d9d",
    "random-text": "#e45756",
    "pretrained-text": "#4c78a8",
    "vision-finetuned": "#54a24b",
}
OPTIMIZER_TITLES = {"sgd": "SGD with momentum", "adam": "Adam"}


def _reference_lines(fig: go.Figure, references: dict[str, float], **where) -> None:
    """Dotted lines at the majority-class share and chance (one line when they coincide: balanced classes)."""
    chance, majority = references.get("chance"), references.get("majority")
    lines = [(majority, "majority class", "dot"), (chance, "chance", "dash")]
    if chance is not None and majority is not None and abs(chance - majority) < 1e-9:
        lines = [(chance, "chance = majority class", "dot")]
    for value, name, dash in lines:
        if value is not None:
            fig.add_hline(
                y=value,
                line={"color": "gray", "dash": dash, "width": 1},
                annotation_text=f"{name} {value:.3f}",
                annotation_position="bottom left",
                **where,
            )


def grid_heatmaps(table: Sequence[dict], best: dict | None = None) -> go.Figure:
    """Mean CV accuracy over batch size (rows) x learning rate (columns), one panel per optimizer; hover shows
    the spread over folds and the mean F1, precision and recall; the best configuration is boxed."""
    optimizers = list(dict.fromkeys(r["optimizer"] for r in table))
    batches = sorted({r["batch_size"] for r in table})
    rates = sorted({r["learning_rate"] for r in table})
    fig = make_subplots(
        rows=1, cols=len(optimizers), subplot_titles=[OPTIMIZER_TITLES.get(o, o) for o in optimizers],
        horizontal_spacing=0.08,
    )  # fmt: skip
    marks: list[tuple[str, int, int]] = []
    for col, optimizer in enumerate(optimizers, start=1):
        z = np.full((len(batches), len(rates)), np.nan)
        hover = np.full((len(batches), len(rates)), "", dtype=object)
        for r in table:
            if r["optimizer"] != optimizer or r["mean_accuracy"] is None:
                continue
            i, j = batches.index(r["batch_size"]), rates.index(r["learning_rate"])
            z[i, j] = r["mean_accuracy"]
            hover[i, j] = (
                f"{OPTIMIZER_TITLES.get(optimizer, optimizer)}, batch {r['batch_size']}, lr {r['learning_rate']:g}<br>"
                f"accuracy {r['mean_accuracy']:.3f} ± {r['std_accuracy']:.3f} over {r['folds_done']} folds<br>"
                f"F1 {r['mean_f1']:.3f} · precision {r['mean_precision']:.3f} · recall {r['mean_recall']:.3f}"
                + ("<br>training diverged in a fold" if r.get("diverged") else "")
                + ("<br>degenerate: one class for 90% or more of a fold's answers" if r.get("degenerate") else "")
            )
            if r.get("degenerate"):
                marks.append((optimizer, i, j))
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=[f"{r:g}" for r in rates],
                y=[str(b) for b in batches],
                customdata=hover,
                hovertemplate="%{customdata}<extra></extra>",
                texttemplate="%{z:.3f}",
                colorscale=VIRIDIS,
                zmin=float(np.nanmin([r["mean_accuracy"] for r in table if r["mean_accuracy"] is not None] or [0])),
                zmax=float(np.nanmax([r["mean_accuracy"] for r in table if r["mean_accuracy"] is not None] or [1])),
                showscale=col == len(optimizers),
                colorbar={"title": "mean CV<br>accuracy"},
            ),
            row=1,
            col=col,
        )
        if best and best["optimizer"] == optimizer:
            x, y = rates.index(best["learning_rate"]), batches.index(best["batch_size"])
            fig.add_shape(
                type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5, line={"color": "white", "width": 3},
                row=1, col=col,
            )  # fmt: skip
        for _, i, j in (m for m in marks if m[0] == optimizer):
            fig.add_annotation(
                x=j, y=i + 0.3, text="one class", showarrow=False, font={"color": "white", "size": 10}, row=1, col=col
            )
        fig.update_xaxes(title_text="learning rate", type="category", row=1, col=col)
        fig.update_yaxes(title_text="batch size" if col == 1 else None, type="category", row=1, col=col)
    fig.update_layout(height=340, margin=MARGIN)
    return fig


def ablation_figure(rows: Sequence[dict], references: dict[str, float], probe: dict | None = None) -> go.Figure:
    """Mean CV accuracy per ablation row with every fold as a dot, the test accuracy of its refit as a
    diamond with its 95% interval over test examples, the chance and majority-class lines, and the linear
    probe's test accuracy (``probe``, :func:`core.hybrid.search.linear_probe`) as a line."""
    import textwrap

    fig = go.Figure()
    titles = ["<br>".join(textwrap.wrap(r["title"], 28)) for r in rows]  # wrapped under each bar, not slanted
    fig.add_trace(
        go.Bar(
            x=titles,
            y=[r["cv_accuracy"] for r in rows],
            error_y={"type": "data", "array": [r["cv_std"] or 0 for r in rows]},
            marker_color=[COLOURS.get(r["variant"], "#888") for r in rows],
            name="mean CV accuracy (± std over folds)",
            hovertemplate="%{x}<br>mean CV accuracy %{y:.3f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[t for r, t in zip(rows, titles, strict=True) for _ in r["fold_accuracy"]],
            y=[a for r in rows for a in r["fold_accuracy"]],
            mode="markers",
            marker={"color": "black", "size": 7},
            name="one fold",
            hovertemplate="%{x}<br>fold accuracy %{y:.3f}<extra></extra>",
        )
    )
    intervals = [r.get("test_interval") for r in rows]
    fig.add_trace(
        go.Scatter(
            x=titles,
            y=[r["test_accuracy"] for r in rows],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [i["high"] - i["estimate"] if i else 0 for i in intervals],
                "arrayminus": [i["estimate"] - i["low"] if i else 0 for i in intervals],
                "color": "#f58518",
            },
            customdata=[
                f"95% interval [{i['low']:.3f}, {i['high']:.3f}] over "
                + (f"{i['n']} refit seeds" if i["method"].startswith("t over seeds") else f"{i['n']} test images")
                if i
                else r.get("test_note", "")
                for r, i in zip(rows, intervals, strict=True)
            ],
            mode="markers",
            marker={"symbol": "diamond", "size": 12, "color": "#f58518"},
            name="test accuracy (refit on the whole pool; 95% interval)",
            hovertemplate="%{x}<br>test accuracy %{y:.3f}<br>%{customdata}<extra></extra>",
        )
    )
    _reference_lines(fig, references)
    if probe:
        fig.add_hline(
            y=probe["test_accuracy"],
            line={"color": "#54a24b", "dash": "dashdot", "width": 1},
            annotation_text=f"linear probe (test) {probe['test_accuracy']:.3f}",
            annotation_position="top right",
        )
    fig.update_layout(
        height=420, margin=MARGIN, yaxis_title="accuracy", yaxis_range=[0, 1], legend={"orientation": "h", "y": 1.15}
    )
    fig.update_xaxes(tickangle=0)
    return fig


def trial_curves(history: Sequence[dict], references: dict[str, float] | None = None) -> go.Figure:
    """Training loss and held-out accuracy / F1 after every epoch of one trial."""
    epochs = [r["epoch"] for r in history]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=epochs, y=[r["train_loss"] for r in history], name="training loss", line={"color": "#9d9d9d"}),
        secondary_y=True,
    )
    for metric, colour in (("accuracy", "#4c78a8"), ("f1", "#f58518")):
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=[r[metric] for r in history],
                mode="lines+markers",
                name=f"held-out {metric.replace('f1', 'F1')}",
                line={"color": colour},
            )
        )
    if references:
        _reference_lines(fig, references, secondary_y=False)
    fig.update_layout(height=320, margin=MARGIN, xaxis_title="epoch", legend={"orientation": "h", "y": 1.15})
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(title_text="held-out score", range=[0, 1], secondary_y=False)
    fig.update_yaxes(title_text="training loss", secondary_y=True)
    return fig
