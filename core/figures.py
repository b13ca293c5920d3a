"""Plotly figure builders. Pages only call ``st.plotly_chart`` on what these return."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.layout import FeatureLayout

GRAY = "gray"
DIVERGING = "RdBu_r"
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def pixel_feature_text(layout: FeatureLayout, names: Sequence[tuple[int, int]], max_items: int = 6) -> np.ndarray:
    """(H, W) strings naming the features on each pixel, e.g. "L7·d12, L9·d301 (+2 more)"."""
    height, width = layout.shape_
    pixel = layout.coords_[:, 0] * width + layout.coords_[:, 1]
    order = np.argsort(pixel, kind="stable")
    bounds = np.searchsorted(pixel[order], np.arange(height * width + 1))
    text = np.full(height * width, "empty", dtype=object)
    for p in np.flatnonzero(np.diff(bounds)):
        members = order[bounds[p] : bounds[p + 1]]
        shown = ", ".join(f"L{names[i][0]}·d{names[i][1]}" for i in members[:max_items])
        extra = len(members) - max_items
        text[p] = f"{shown} (+{extra} more)" if extra > 0 else shown
    return text.reshape(height, width)


def _heatmap(image: np.ndarray, hover: np.ndarray | None, colorscale: str, zmin: float, zmax: float, label: str) -> go.Heatmap:
    return go.Heatmap(
        z=image,
        customdata=hover,
        colorscale=colorscale,
        zmin=zmin,
        zmax=zmax,
        showscale=False,
        hovertemplate=(
            f"row %{{y}}, col %{{x}}<br>{label} %{{z:.3f}}"
            + ("<br>features: %{customdata}" if hover is not None else "")
            + "<extra></extra>"
        ),
    )


def _square_axes(fig: go.Figure, rows: int = 1, cols: int = 1) -> None:
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            fig.update_yaxes(autorange="reversed", scaleanchor=None, showticklabels=False, row=r, col=c)
            fig.update_xaxes(showticklabels=False, constrain="domain", row=r, col=c)


def image_figure(
    image: np.ndarray,
    title: str = "",
    hover: np.ndarray | None = None,
    diverging: bool = False,
    height: int = 420,
) -> go.Figure:
    """One grayscale image (or a difference image with a diverging scale) with pixel hover."""
    if diverging:
        bound = float(np.abs(image).max()) or 1.0
        trace = _heatmap(image, hover, DIVERGING, -bound, bound, "difference")
    else:
        trace = _heatmap(image, hover, GRAY, 0.0, 1.0, "value")
    fig = go.Figure(trace)
    fig.update_layout(title=title, height=height, margin=_MARGIN)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    return fig


def layer_strip_figure(
    images: np.ndarray, titles: Sequence[str], hover: np.ndarray | None = None, diverging: bool = False, height: int = 220
) -> go.Figure:
    """A row of small images (one per layer) sharing one colour scale and one hover map."""
    count = len(images)
    fig = make_subplots(rows=1, cols=count, subplot_titles=list(titles), horizontal_spacing=0.01)
    bound = float(np.abs(images).max()) or 1.0
    for i, image in enumerate(images):
        if diverging:
            trace = _heatmap(image, hover, DIVERGING, -bound, bound, "difference")
        else:
            trace = _heatmap(image, hover, GRAY, 0.0, 1.0, "value")
        fig.add_trace(trace, row=1, col=i + 1)
    _square_axes(fig, 1, count)
    fig.update_layout(height=height, margin=_MARGIN)
    return fig


def layout_scatter(layout: FeatureLayout, names: Sequence[tuple[int, int]], title: str = "") -> go.Figure:
    """Every feature's 2-D position (after the minimum-area rotation), coloured by layer."""
    layers = np.array([name[0] for name in names])
    dims = np.array([name[1] for name in names])
    fig = go.Figure()
    for layer in np.unique(layers):
        mask = layers == layer
        fig.add_trace(
            go.Scattergl(
                x=layout.embedding_[mask, 1],
                y=layout.embedding_[mask, 0],
                mode="markers",
                marker={"size": 4, "opacity": 0.7},
                name=f"layer {layer}",
                customdata=np.stack([dims[mask], layout.coords_[mask, 0], layout.coords_[mask, 1]], axis=1),
                hovertemplate=(
                    f"layer {layer}, dim %{{customdata[0]}}<br>pixel (%{{customdata[1]}}, %{{customdata[2]}})<extra></extra>"
                ),
            )
        )
    fig.update_layout(title=title, height=480, margin=_MARGIN, legend={"itemsizing": "constant"})
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title="rows →")
    fig.update_xaxes(title="columns →")
    return fig


def occupancy_figure(counts: np.ndarray, title: str = "") -> go.Figure:
    """Features per pixel: 0 = empty, more than 1 = a collision (those features are averaged)."""
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            colorscale="Viridis",
            colorbar={"title": "features"},
            hovertemplate="row %{y}, col %{x}<br>%{z} feature(s)<extra></extra>",
        )
    )
    fig.update_layout(title=title, height=420, margin=_MARGIN)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    return fig
