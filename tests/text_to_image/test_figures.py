"""Plotly figure builders: the right traces, hover text naming the features of each pixel."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from core import figures
from core.layout import FeatureLayout
from core.text_to_image.figures import layer_strip_figure, layout_scatter, occupancy_figure, pixel_feature_text


class Fixed:
    def __init__(self, embedding):
        self.embedding = embedding

    def fit_transform(self, points):
        return self.embedding


def tiny_layout() -> FeatureLayout:
    X = np.random.default_rng(0).normal(size=(10, 6))
    layout = FeatureLayout(method=Fixed(np.zeros((6, 2))), pixels=3, reduce_dim=None).fit(X)
    layout.coords_ = np.array([[0, 0], [0, 0], [0, 0], [1, 2], [2, 2], [0, 0]])
    layout._build_matrix()
    return layout


def test_pixel_feature_text_names_every_feature_of_a_pixel():
    layout = tiny_layout()
    names = [(6, 0), (6, 1), (7, 0), (7, 1), (8, 0), (8, 1)]
    text = pixel_feature_text(layout, names, max_items=2)
    assert text.shape == (3, 3)
    assert text[0, 0] == "L6·d0, L6·d1 (+2 more)"
    assert text[1, 2] == "L7·d1" and text[2, 2] == "L8·d0"
    assert text[1, 1] == "empty"
    shared = pixel_feature_text(layout, [(None, d) for d in range(6)], max_items=4)
    assert shared[0, 0] == "d0, d1, d2, d5"


def test_image_figure_has_hover_and_fixed_scale():
    image = np.random.default_rng(1).random((3, 3))
    fig = figures.image_figure(image, hover=np.full((3, 3), "x", dtype=object))
    trace = fig.data[0]
    assert isinstance(trace, go.Heatmap) and (trace.zmin, trace.zmax) == (0.0, 1.0)
    assert "features: %{customdata[0]}" in trace.hovertemplate
    diff = figures.image_figure(image - 0.5, diverging=True)
    assert diff.data[0].zmin == -diff.data[0].zmax


def test_layer_strip_has_one_panel_per_layer():
    images = np.random.default_rng(2).random((6, 4, 4))
    fig = layer_strip_figure(images, [f"layer {i}" for i in range(6)])
    assert len(fig.data) == 6
    assert [a.text for a in fig.layout.annotations] == [f"layer {i}" for i in range(6)]


def test_layout_scatter_one_trace_per_layer_and_occupancy_counts():
    layout = tiny_layout()
    names = [(6, 0), (6, 1), (7, 0), (7, 1), (8, 0), (8, 1)]
    fig = layout_scatter(layout, names)
    assert [t.name for t in fig.data] == ["layer 6", "layer 7", "layer 8"]
    assert sum(len(t.x) for t in fig.data) == 6
    rows, cols = layout.shape_  # drawn one pixel per pixel, rows top to bottom, like the grid's heatmap
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert tuple(fig.layout.yaxis.range) == (rows, 0) and tuple(fig.layout.xaxis.range) == (0, cols)
    shared = layout_scatter(layout, [(None, d) for d in range(6)])
    assert [t.name for t in shared.data] == ["every layer (shared map)"]
    occupancy = occupancy_figure(layout.occupancy())
    counts = np.asarray(occupancy.data[0].customdata)  # the true counts, shown on hover
    assert counts.sum() == 6 and counts[0, 0] == 4
    np.testing.assert_allclose(occupancy.data[0].z, np.log10(1 + counts))  # the colour is on a log scale
    assert "4" in occupancy.data[0].colorbar.ticktext


def test_display_values_modes_keep_true_values_in_hover():
    image = np.array([[0.0, 0.1], [0.2, 0.9]])
    shown, limits = figures.display_values(image, "model")
    assert limits == (0.0, 1.0) and shown is image
    shown, _ = figures.display_values(image, "equalize")
    np.testing.assert_allclose(shown, [[0.0, 1 / 3], [2 / 3, 1.0]])  # empty stays black, ranks spread evenly
    low, high = figures.display_values(image, "stretch")[1]  # the 1st and 99th percentiles of 0, 0.1, 0.2, 0.9
    assert (low, high) == pytest.approx((0.003, 0.879))
    flat = np.full((2, 2), 0.4)
    assert figures.display_values(flat, "stretch")[1] == (0.0, 1.0)  # one value: no range to stretch
    fig = figures.image_figure(image, contrast="equalize")
    assert fig.data[0].customdata[1][1][1] == "0.9000"  # hover: the real value, not the rank


def test_display_values_rejects_an_unknown_mode():
    import pytest

    with pytest.raises(ValueError, match="contrast must be one of"):
        figures.display_values(np.zeros((2, 2)), "vivid")


def test_images_and_saliency_maps_carry_colour_bars_and_saliency_starts_dark_at_zero():
    image = np.array([[0.0, 0.5], [0.25, 1.0]])
    assert figures.image_figure(image).data[0].showscale is True
    assert figures.image_figure(image, contrast="relative").data[0].zmin == -3.0
    strip = layer_strip_figure(np.stack([image, image]), ["a", "b"])
    assert [t.showscale for t in strip.data] == [False, True]  # one bar for the shared scale
    from core.text_to_image.figures import saliency_figure

    alone = saliency_figure(image)
    assert alone.data[0].zmin == 0 and alone.data[0].colorscale[0][1] in ("#000004", "rgb(0, 0, 4)")
    over = saliency_figure(image, image=image)
    assert len(over.data) == 2 and over.data[1].opacity == 0.6


def test_layout_scatter_is_drawn_in_pixel_units():
    X = np.random.default_rng(0).normal(size=(10, 6))
    embedding = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 1.0], [0.5, 3.0], [1.5, 0.5]])
    layout = FeatureLayout(method=Fixed(embedding), pixels=3, reduce_dim=None).fit(X)
    fig = layout_scatter(layout, [(6, d) for d in range(6)])
    xs = np.concatenate([t.x for t in fig.data])
    ys = np.concatenate([t.y for t in fig.data])
    assert xs.min() == 0 and xs.max() == layout.shape_[1] and ys.min() == 0 and ys.max() == layout.shape_[0]
    assert "pixels" in fig.layout.xaxis.title.text


def test_legends_sit_below_the_plot_where_they_cover_no_bar_or_label():
    from core.images_to_words.figures import loss_change_histogram
    from core.text_to_image.figures import probabilities_figure

    bars = probabilities_figure(
        {"a": np.array([0.2, 0.8]), "b": np.array([0.6, 0.4])}, ["rotten", "fresh"], np.array([0.4, 0.6])
    )
    assert bars.layout.legend.yanchor == "top" and bars.layout.legend.y < 0  # above, it covered the ensemble bar
    for rows in (1, 3, 8):  # below the axis title too (one bar: it covered "probability"), in the bottom margin
        one = probabilities_figure({f"m{i}": np.array([0.3, 0.7]) for i in range(rows)}, ["rotten", "fresh"])
        layout = one.layout
        plot = layout.height - layout.margin.t - layout.margin.b
        below = -layout.legend.y * plot
        assert 45 <= below <= layout.margin.b - 20, (rows, below)
    histogram = loss_change_histogram([-0.3, -0.1, 0.2], ["a", "b", "c"], [0.0, 0.1, -0.1])
    assert histogram.layout.legend.yanchor == "top" and histogram.layout.legend.y < 0  # it covered the median label


def test_pooled_vectors_and_slice_maps():
    from core.text_to_image.figures import pooled_vectors_figure, slice_maps_figure

    features = np.arange(12, dtype=float) - 6
    fig = pooled_vectors_figure(features, [4, 6], 6)
    assert fig.data[0].z.shape == (2, 6) and list(fig.data[0].y) == ["layer 4", "layer 6"] and fig.data[0].zmid == 0
    maps = np.stack([np.full((3, 3), 2.0), np.zeros((3, 3)), np.eye(3) * 0.5])
    strip = slice_maps_figure(maps)
    assert [a.text for a in strip.layout.annotations] == ["map 1", "map 2", "map 3"]
    peaks = [float(np.max(trace.z)) for trace in strip.data]
    assert peaks == [1.0, 0.0, 1.0]  # each map on its own 0-1 scale; an empty map stays black
