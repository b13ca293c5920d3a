"""Figures of BERT on non-text tokens: validation curves of the encoders side by side, with seed bands, the
test accuracy (or Spearman) of each encoder with its 95% interval, and the representation similarity of two
encoders (a layer x layer heatmap, the attention heads' matched distance per layer)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.figures import MARGIN, VIRIDIS, interval_error_y, majority_line
from core.nontext.models import VARIANT_TITLES, VARIANTS

COLOURS = {"pretrained": "#4c78a8", "random": "#e45756", "random-embeddings": "#54a24b"}


def _fill(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.18)"


def curves_figure(
    histories: dict[str, list[list[dict]]],
    metric: str = "val_accuracy",
    reference: float | None = None,
    threshold: float | None = None,
) -> go.Figure:
    """Validation ``metric`` against steps, one line per variant (the mean over its seeds) in a band from the
    lowest to the highest seed; ``reference`` (the majority-class rate) and ``threshold`` as dotted lines.

    Args:
        histories: variant -> one history (records with ``step`` and ``metric``) per seed.
    """
    fig = go.Figure()
    for variant in VARIANTS:
        runs = [h for h in histories.get(variant, []) if h]
        if not runs:
            continue
        steps = sorted({r["step"] for h in runs for r in h})
        table = np.full((len(runs), len(steps)), np.nan)
        for i, history in enumerate(runs):
            for record in history:
                table[i, steps.index(record["step"])] = record.get(metric, np.nan)
        mean = np.nanmean(table, axis=0)
        colour, name = COLOURS[variant], f"{VARIANT_TITLES[variant]} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
        if len(runs) > 1:
            low, high = np.nanmin(table, axis=0), np.nanmax(table, axis=0)
            fig.add_trace(
                go.Scatter(
                    x=steps + steps[::-1],
                    y=list(high) + list(low[::-1]),
                    fill="toself",
                    fillcolor=_fill(colour),
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    name=f"{name}: seed range",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=mean,
                mode="lines+markers",
                name=name,
                line={"color": colour},
                hovertemplate=f"{VARIANT_TITLES[variant]}<br>step %{{x}}<br>{metric} %{{y:.3f}}<extra></extra>",
            )
        )
    if reference is not None:
        majority_line(fig, reference)
    if threshold is not None:
        fig.add_hline(y=threshold, line={"color": "#888", "dash": "dash", "width": 1})
    fig.update_layout(
        height=360,
        margin=MARGIN,
        xaxis_title="optimiser steps",
        yaxis_title=metric.replace("val_", "validation ").replace("_", " "),
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def test_figure(found: dict, reference: float | None = None) -> go.Figure:
    """Each variant's test accuracy (or Spearman) as a bar with its 95% interval as error bars
    (:func:`core.nontext.runs.comparison_evidence`); ``reference`` (the majority-class rate) as a dotted line.
    A variant stored without per-example results has a bar and no error bar."""
    fig = go.Figure()
    metric = "accuracy"
    for variant in VARIANTS:
        record = found["variants"].get(variant)
        if record is None:
            continue
        metric = record["metric"]
        interval = record.get("interval")
        estimate = record["estimate"]
        low, high = (interval["low"], interval["high"]) if interval else (estimate, estimate)
        how = (
            f"95% interval [{interval['low']:.3f}, {interval['high']:.3f}], {interval['method']}"
            if interval
            else (record.get("note", ""))
        )
        fig.add_trace(
            go.Bar(
                x=[VARIANT_TITLES[variant]],
                y=[record["estimate"]],
                error_y=interval_error_y(estimate, low, high),
                marker_color=COLOURS[variant],
                name=VARIANT_TITLES[variant],
                customdata=[how],
                hovertemplate=f"%{{x}}<br>test {metric} %{{y:.3f}}<br>%{{customdata}}<extra></extra>",
            )
        )
    if reference is not None:
        majority_line(fig, reference)
    fig.update_layout(
        height=320,
        margin=MARGIN,
        yaxis_title=f"test {metric} (95% interval)",
        yaxis_range=[0, 1] if metric == "accuracy" else None,
        showlegend=False,
    )
    return fig


def similarity_figure(found: dict, measure: str) -> go.Figure:
    """The layer x layer ``measure`` ("cka" or "pwcca") of :func:`core.nontext.similarity.compare`'s result: rows
    the first encoder's layers, columns the second's (0 = the embeddings, at the bottom left), values on a fixed
    0..1 scale (dark at 0) with a colour bar titled with the measure; the reference (token pairing shuffled) in
    the title."""
    from core.nontext.similarity import MEASURE_TITLES

    title = MEASURE_TITLES[measure]
    z = np.array(found[measure], dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=found["layers_b"],
            y=found["layers_a"],
            zmin=0,
            zmax=1,
            colorscale=VIRIDIS,
            colorbar={"title": {"text": title}, "thickness": 12},
            texttemplate="%{z:.2f}" if z.size <= 196 else None,
            hovertemplate=f"{found['a']['title']}: layer %{{y}}<br>{found['b']['title']}: layer %{{x}}<br>"
            f"{title} %{{z:.3f}}<extra></extra>",
        )
    )
    reference = found["reference"][measure]
    fig.update_layout(
        height=460,
        margin={**MARGIN, "t": 60},
        title={
            "text": f"{title}: {found['a']['title']} × {found['b']['title']}<br><sup>reference with the token pairing "
            f"shuffled: up to {reference:.2f} · {found['inputs']['tokens']:,} token vectors of "
            f"{found['inputs']['examples']} test sequences</sup>",
            "font": {"size": 14},
        },
        xaxis={"title": f"{found['b']['title']}: layer", "type": "category"},
        yaxis={"title": f"{found['a']['title']}: layer", "type": "category"},
    )
    return fig


def head_matching_figure(found: dict) -> go.Figure:
    """Per layer, the mean L1 distance between the attention rows of matched heads (the best one-to-one matching)
    beside that of a random matching, and of each head with the same-numbered one when both have as many."""
    heads = found["heads"] or []
    layers = [h["layer"] for h in heads]
    fig = go.Figure()
    lines = [("matched", "best matching", "#4c78a8", "solid"), ("random", "random matching", "#888", "dot")]
    if heads and all("same_head" in h for h in heads):
        lines.append(("same_head", "same-numbered head", "#e45756", "dash"))
    for key, name, colour, dash in lines:
        fig.add_trace(
            go.Scatter(
                x=layers,
                y=[h[key] for h in heads],
                mode="lines+markers",
                name=name,
                line={"color": colour, "dash": dash},
                hovertemplate=f"layer %{{x}}<br>{name}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        height=300,
        margin=MARGIN,
        xaxis={"title": "layer", "dtick": 1},
        yaxis={"title": "mean L1 distance of attention rows (0–2)", "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.15},
    )
    return fig
