"""Figures of text -> image: the features on each pixel, a layout's scatter and occupancy, images one per
layer, class probabilities and saliency maps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures import (
    COLOURBAR_TITLES,
    GRAY,
    GRAY_LINE,
    LAYER_COLOURS,
    MARGIN,
    SALIENCY,
    TIGHT,
    VIRIDIS,
    bare_axes,
    colour_scale,
    display_values,
    heatmap_trace,
    interval_error_y,
    majority_line,
    symmetric_limits,
)
from core.layout import FeatureLayout


def feature_label(layer: int | None, dim: int) -> str:
    """A short feature name: "L7·d12" (layer 7, dimension 12), or "d12" when every layer shares the map."""
    return f"d{dim}" if layer is None else f"L{layer}·d{dim}"


def pixel_feature_text(
    layout: FeatureLayout, names: Sequence[tuple[int | None, int]], max_items: int = 6
) -> np.ndarray:
    """(H, W) strings naming the features on each pixel, e.g. "L7·d12, L9·d301 (+2 more)"."""
    height, width = layout.shape_
    pixel = layout.coords_[:, 0] * width + layout.coords_[:, 1]
    order = np.argsort(pixel, kind="stable")
    bounds = np.searchsorted(pixel[order], np.arange(height * width + 1))
    text = np.full(height * width, "empty", dtype=object)
    for p in np.flatnonzero(np.diff(bounds)):
        members = order[bounds[p] : bounds[p + 1]]
        shown = ", ".join(feature_label(*names[i]) for i in members[:max_items])
        extra = len(members) - max_items
        text[p] = f"{shown} (+{extra} more)" if extra > 0 else shown
    return text.reshape(height, width)


def layer_strip_figure(
    images: np.ndarray,
    titles: Sequence[str],
    hover: np.ndarray | None = None,
    diverging: bool = False,
    contrast: str = "model",
    height: int = 200,
) -> go.Figure:
    """A row of small images, one per layer, with one hover map.

    Grey images share one scale so layers compare directly (one colour bar, on the right); difference
    images get each its own symmetric scale (a layer with large differences would otherwise wash out the
    others), named in each panel's title.
    """
    count = len(images)
    if diverging:
        titles = [f"{t} (±{float(np.abs(image).max()):.2g})" for t, image in zip(titles, images, strict=True)]
    fig = make_subplots(rows=1, cols=count, subplot_titles=list(titles), horizontal_spacing=0.012)
    shown, limits = (images, None) if diverging else display_values(images, contrast)
    for i, image in enumerate(images):
        scale = COLOURBAR_TITLES.get(contrast, "value") if not diverging and i == count - 1 else None
        fig.add_trace(
            heatmap_trace(
                shown[i],
                image,
                hover,
                diverging or contrast == "relative",
                symmetric_limits(image) if diverging else limits,
                scale,
            ),
            row=1,
            col=i + 1,
        )
    if diverging:  # one colour bar for the row: the convention (red above 0) in units of each panel's own scale
        lo, hi = fig.data[-1].zmin, fig.data[-1].zmax
        fig.data[-1].update(
            showscale=True,
            colorbar={
                "title": "difference",
                "thickness": 12,
                "len": 0.9,
                "tickvals": [lo, 0, hi],
                "ticktext": ["− its max", "0", "+ its max"],
            },
        )
    bare_axes(fig, count)
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 24, "b": 0})
    return fig


def pooled_vectors_figure(features: np.ndarray, layers: Sequence[int], hidden: int) -> go.Figure:
    """A sentence's pooled vectors, one row per layer the dataset reads (``features``: ``len(layers) * hidden``
    values), on a diverging scale centred at 0."""
    grid = np.asarray(features).reshape(len(layers), hidden)
    fig = go.Figure(go.Heatmap(z=grid, y=[f"layer {i}" for i in layers], colorscale=colour_scale("RdBu"), zmid=0))
    fig.update_layout(height=80 + 40 * len(layers), margin=MARGIN, xaxis_title="hidden dimension")
    return fig


def slice_maps_figure(maps: np.ndarray) -> go.Figure:
    """A vision model's feature maps (channels, h, w) in a row, each scaled to its own maximum (white; black: no
    activation)."""
    peaks = maps.max(axis=(1, 2), keepdims=True)
    shown = maps / np.where(peaks > 0, peaks, 1.0)
    return layer_strip_figure(shown, [f"map {i + 1}" for i in range(len(maps))])


def layout_scatter(layout: FeatureLayout, names: Sequence[tuple[int, int]], title: str = "") -> go.Figure:
    """Every feature's 2-D position (after the minimum-area rotation), coloured by layer.

    The axes are stretched to the grid's aspect, as binning stretches them, and drawn at one pixel per pixel.
    """
    layers = np.array([-1 if name[0] is None else name[0] for name in names])
    dims = np.array([name[1] for name in names])
    # positions in pixel units: each axis scaled to the grid, as binning scales it (the pixel is the floor)
    low, high = layout.embedding_.min(axis=0), layout.embedding_.max(axis=0)
    pixels = (layout.embedding_ - low) / np.where(high > low, high - low, 1.0) * np.asarray(layout.shape_)
    fig = go.Figure()
    for layer in np.unique(layers):
        mask = layers == layer
        label = "every layer (shared map)" if layer == -1 else f"layer {layer}"
        fig.add_trace(
            go.Scattergl(
                x=pixels[mask, 1],
                y=pixels[mask, 0],
                mode="markers",
                marker={"size": 4, "opacity": 0.75, "color": LAYER_COLOURS[len(fig.data) % len(LAYER_COLOURS)]},
                name=label,
                customdata=np.stack([dims[mask], layout.coords_[mask, 0], layout.coords_[mask, 1]], axis=1),
                hovertemplate=(
                    f"{label}, dim %{{customdata[0]}}<br>pixel (%{{customdata[1]}}, %{{customdata[2]}})<extra></extra>"
                ),
            )
        )
    fig.update_layout(title=title, height=480, margin=MARGIN, legend={"itemsizing": "constant"})
    # axes stretched to the grid, as binning does: each axis is scaled to the grid on its own
    rows, cols = layout.shape_
    # one pixel as tall as it is wide, as in the grid's heatmap beside it (a free aspect squashed the scatter)
    fig.update_yaxes(
        range=[rows, 0], title="grid row (pixels, top to bottom)", zeroline=False, scaleanchor="x", scaleratio=1
    )
    fig.update_xaxes(range=[0, cols], title="grid column (pixels, left to right)", zeroline=False, constrain="domain")
    return fig


def occupancy_figure(counts: np.ndarray, title: str = "") -> go.Figure:
    """Features per pixel on a log colour scale (0 = empty, more than 1 = a collision: those features are
    averaged); hover shows the count."""
    counts = np.asarray(counts)
    top = max(1, int(counts.max()))
    ticks = [t for t in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t <= top] + [top]
    fig = go.Figure(
        go.Heatmap(
            z=np.log10(1 + counts),  # a log scale: a few crowded pixels do not wash out the rest
            customdata=counts,
            colorscale=VIRIDIS,
            zmin=0,
            colorbar={
                "title": "features (log)",
                "thickness": 14,
                "tickvals": [float(np.log10(1 + t)) for t in sorted(set(ticks))],
                "ticktext": [str(t) for t in sorted(set(ticks))],
            },
            hovertemplate="row %{y}, col %{x}<br>%{customdata} feature(s)<extra></extra>",
        )
    )
    bare_axes(fig, 1)
    fig.update_layout(title=title, height=440, width=int(400 * counts.shape[1] / counts.shape[0]) + 90, margin=MARGIN)
    return fig


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
    # the legend goes under the axis title (above, it covered the first bar): 64 px below the bars, in the plot's
    # own fraction of its height (the title sits about 45 px below them)
    top, bottom = 10, 96
    height = 40 + top + bottom + 34 * len(rows)
    fig.update_layout(
        barmode="stack",
        height=height,
        margin={**MARGIN, "t": top, "b": bottom},
        xaxis={"range": [0, 1], "title": "probability"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "top", "y": -64 / (height - top - bottom), "x": 0},
    )
    return fig


def saliency_figure(
    saliency: np.ndarray,
    hover: np.ndarray | None = None,
    size: int = 360,
    image: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
) -> go.Figure:
    """A saliency map over an image's pixels on a sequential scale from 0 (dark: the prediction does not
    depend on that pixel) with its colour bar; with ``image``, drawn over the sentence's grey image. A (C, H, W)
    map (an image of one layer per channel) is drawn as one panel per channel on one shared scale, titled
    ``titles`` (see :func:`core.figures.channel_titles`)."""
    from core.figures import channel_titles

    maps = saliency if saliency.ndim == 3 else saliency[None]
    below = None if image is None else (image if image.ndim == 3 else image[None])
    count = len(maps)
    features = hover if hover is not None else np.full(maps.shape[1:], "", dtype=object)
    names = list(titles) if titles and len(titles) == count else channel_titles(count)
    fig = make_subplots(rows=1, cols=count, subplot_titles=names if count > 1 else None, horizontal_spacing=0.02)
    top = float(maps.max()) or 1.0
    for i in range(count):
        if below is not None:
            fig.add_trace(
                go.Heatmap(z=below[i], colorscale=GRAY, showscale=False, hoverinfo="skip", zmin=0, zmax=1),
                row=1,
                col=i + 1,
            )
        fig.add_trace(
            go.Heatmap(
                z=maps[i],
                customdata=features,
                colorscale=SALIENCY,
                zmin=0,
                zmax=top,
                opacity=0.6 if below is not None else 1.0,
                showscale=i == count - 1,
                colorbar={"title": "|∂ logit / ∂ pixel|", "thickness": 12, "len": 0.9},
                hovertemplate="row %{y}, col %{x}<br>saliency %{z:.4f}<br>features: %{customdata}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
    bare_axes(fig, count)
    width = int(count * size * maps.shape[2] / maps.shape[1]) + 80
    titled = 24 if count > 1 else 0
    fig.update_layout(height=size + titled, width=width, margin={**TIGHT, "t": titled})
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


SEED_COLOURS = {"imagenet": "#1f77b4", "random": "#ff7f0e", "logistic": "#7f7f7f"}


def seeds_figure(found: dict) -> go.Figure:
    """A seed sweep's held-out accuracies (:func:`core.text_to_image.seeds.seed_evidence`): each variant's mean over
    seeds as a bar with its 95% interval as error bars, each seed's accuracy as a dot, and the majority-class rate
    as a dotted line."""
    fig = go.Figure()
    for variant, record in found["variants"].items():
        interval = record["interval"]
        how = f"95% interval [{interval['low']:.3f}, {interval['high']:.3f}], {interval['method']}, n = {interval['n']}"
        colour = SEED_COLOURS.get(variant, GRAY_LINE)
        fig.add_trace(
            go.Bar(
                x=[record["title"]],
                y=[record["accuracy"]],
                error_y=interval_error_y(record["accuracy"], interval["low"], interval["high"]),
                marker_color=colour,
                opacity=0.75,
                name=record["title"],
                customdata=[how],
                hovertemplate="%{x}<br>held-out accuracy %{y:.3f}<br>%{customdata}<extra></extra>",
            )
        )
        per_seed = record["per_seed"]
        fig.add_trace(
            go.Scatter(
                x=[record["title"]] * len(per_seed),
                y=[row["accuracy"] for row in per_seed],
                mode="markers",
                marker={"color": "black", "size": 7, "symbol": "circle-open"},
                name=f"{record['title']}, each seed",
                customdata=["one fit" if row["seed"] is None else f"seed {row['seed']}" for row in per_seed],
                hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
            )
        )
    reference = found["reference"]
    majority_line(fig, reference["majority_rate"], f"majority class ('{reference['majority_class']}')")
    fig.update_layout(
        height=340, margin=MARGIN, yaxis_title="held-out accuracy (95% interval)", yaxis_range=[0, 1], showlegend=False
    )
    return fig


def deletion_figure(deletion, class_name: str) -> go.Figure:
    """The deletion check (:func:`core.text_to_image.attributions.deletion_check`): the class's logit as words are
    deleted, most-attributed first (bold) against each seeded random order (thin grey) and their median (dashed)."""
    steps = deletion.deleted
    fig = go.Figure()
    for number, curve in enumerate(deletion.random):
        fig.add_trace(
            go.Scatter(
                x=steps, y=curve, mode="lines", line={"color": "rgba(140,140,140,0.35)", "width": 1},
                name="random orders", legendgroup="random", showlegend=number == 0,
                hovertemplate=f"random order {number + 1}: %{{y:.3f}} after %{{x}} deleted<extra></extra>",
            )
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=steps, y=np.median(deletion.random, axis=0), mode="lines", line={"color": "gray", "dash": "dash"},
            name="random (median)", hovertemplate="random median: %{y:.3f}<extra></extra>",
        )
    )  # fmt: skip
    gone = [", ".join(deletion.words[i] for i in deletion.order[:k]) or "(none)" for k in steps]
    fig.add_trace(
        go.Scatter(
            x=steps, y=deletion.attributed, mode="lines+markers", line={"color": LAYER_COLOURS[0], "width": 3},
            name="most-attributed first", customdata=gone,
            hovertemplate="%{y:.3f} without: %{customdata}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(
        height=300,
        margin=MARGIN,
        xaxis={"title": "words deleted"},
        yaxis={"title": f"logit of {class_name}"},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


ROUTE_COLOURS = {
    "raw": "#7f7f7f",
    "pixels": "#9467bd",
    "slice": "#2ca02c",
    "cnn": "#1f77b4",
    "random": "#ff7f0e",
}


def route_figure(found: dict) -> go.Figure:
    """A decomposition (:func:`core.text_to_image.decomposition.decompose`): each step's held-out accuracy as a bar
    with its 95% interval, in the route's order, and the majority-class rate as a dotted line."""
    import textwrap

    fig = go.Figure()
    for name in found["order"]:
        step = found["steps"][name]
        interval = step["interval"]
        seeds = f", mean of {step['seeds']} seeds" if step["seeds"] > 1 else ""
        fig.add_trace(
            go.Bar(
                x=["<br>".join(textwrap.wrap(step["title"], 24))],  # wrapped under the bar, not slanted
                y=[step["accuracy"]],
                error_y=interval_error_y(step["accuracy"], interval["low"], interval["high"]),
                marker_color=ROUTE_COLOURS.get(name, GRAY_LINE),
                name=step["title"],
                customdata=[f"95% interval [{interval['low']:.3f}, {interval['high']:.3f}]{seeds}"],
                hovertemplate="%{x}<br>held-out accuracy %{y:.3f}<br>%{customdata}<extra></extra>",
            )
        )
    majority_line(fig, found["reference"]["majority_rate"])
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis_title="held-out accuracy (95% interval)",
        yaxis_range=[0, 1],
        showlegend=False,
        xaxis={"tickangle": 0},
    )
    return fig


ATTENTION_SCALE = "Blues"
"""Attention weights, 0 (white) to 1 (dark blue): one sequential scale for every map."""


def attention_cell(x: float, y: float, tokens: int) -> tuple[int, int]:
    """The (layer, head), both from 0, of a point of :func:`attention_grid_figure` at data position (x, y)."""
    stride = tokens + 1
    return int(round(y)) // stride, int(round(x)) // stride


def attention_grid_figure(maps: np.ndarray, tokens: Sequence[str], chosen: tuple[int, int] | None = None) -> go.Figure:
    """Every head of every layer as a small map (rows: layers 1..L, columns: heads), one colour scale from 0 to 1,
    tokens in the hover; the ``chosen`` (layer, head), both from 0, is outlined.

    The maps are one WebGL scatter of square markers, a cell per (query, key) and a blank row and column between
    maps, so that a click on any cell is a point selection (plotly's heatmaps are not selectable);
    :func:`attention_cell` reads the (layer, head) back from a clicked point's position."""
    layers, heads, count = maps.shape[0], maps.shape[1], maps.shape[2]
    stride = count + 1
    layer, head, query, key = (a.ravel() for a in np.indices(maps.shape))
    cell = int(max(3, min(10, 900 // (heads * stride))))
    names = np.array([f"{i}: {t}" for i, t in enumerate(tokens)], dtype=object)
    fig = go.Figure(
        go.Scattergl(
            x=head * stride + key,
            y=layer * stride + query,
            mode="markers",
            marker={
                "symbol": "square",
                "size": cell,
                "color": maps.ravel(),
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": ATTENTION_SCALE,
                "line": {"width": 0},
                "colorbar": {"title": "attention", "thickness": 12, "len": 0.6, "y": 1.0, "yanchor": "top"},
            },
            customdata=np.column_stack([layer + 1, head + 1, names[query], names[key]]),
            hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>query %{customdata[2]}"
            "<br>key %{customdata[3]}<br>attention %{marker.color:.2f}<extra>click to enlarge</extra>",
            showlegend=False,
        )
    )
    width, height = heads * stride * cell, layers * stride * cell
    if chosen is not None:
        row, column = chosen
        fig.add_shape(
            type="rect",
            x0=column * stride - 0.7,
            x1=column * stride + count - 0.3,
            y0=row * stride - 0.7,
            y1=row * stride + count - 0.3,
            line={"color": "#d62728", "width": 2},
        )
    centre = (count - 1) / 2
    fig.update_xaxes(
        range=[-1.0, heads * stride - 1.0],
        tickvals=[h * stride + centre for h in range(heads)],
        ticktext=[f"h{h + 1}" for h in range(heads)],
        showgrid=False,
        zeroline=False,
        fixedrange=True,
    )
    fig.update_yaxes(
        range=[layers * stride - 1.0, -1.0],
        tickvals=[n * stride + centre for n in range(layers)],
        ticktext=[f"L{n + 1}" for n in range(layers)],
        showgrid=False,
        zeroline=False,
        fixedrange=True,
    )
    margin = {"l": 40, "r": 90, "t": 10, "b": 30}
    fig.update_layout(
        width=width + margin["l"] + margin["r"],
        height=height + margin["t"] + margin["b"],
        margin=margin,
        plot_bgcolor="white",
        dragmode=False,
        clickmode="event+select",
    )
    return fig


def attention_head_figure(attention: np.ndarray, tokens: Sequence[str], layer: int, head: int) -> go.Figure:
    """One head's attention (``layer`` and ``head`` from 1, as shown), tokens on both axes: each row a query token,
    its weights over the keys (a row sums to 1)."""
    names = [f"{i}: {t}" for i, t in enumerate(tokens)]
    fig = go.Figure(
        go.Heatmap(
            z=attention,
            x=names,
            y=names,
            zmin=0.0,
            zmax=1.0,
            colorscale=ATTENTION_SCALE,
            colorbar={"title": "attention"},
            text=np.round(attention, 2),
            texttemplate="%{text:.2f}" if len(tokens) <= 16 else None,
            hovertemplate="query %{y}<br>key %{x}<br>attention %{z:.3f}<extra></extra>",
        )
    )
    side = max(360, min(720, 34 * len(tokens) + 160))
    fig.update_layout(
        width=side + 120,
        title=f"layer {layer}, head {head}: each row is a query token's attention over the keys",
        xaxis={"title": "key (attended to)", "tickangle": -45},
        yaxis={"title": "query (attending)", "autorange": "reversed", "scaleanchor": "x"},
        height=side,
        margin={"t": 50},
    )
    return fig
