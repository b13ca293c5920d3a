"""Plotly figure builders shared by every method (each method's own are in ``core/<method>/figures.py``).
Pages only call ``st.plotly_chart`` on what these return."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import plotly.io
from plotly.subplots import make_subplots
from scipy.stats import rankdata

# Streamlit's chart theme sends its own colours to the browser as the placeholders #000001 ... #000040 and the
# page swaps every such string in a figure for a theme colour; a scale whose stop is one of them (Inferno and
# Magma start at #000004) is silently repainted. Scales are therefore given as rgb() stops, never as hex.
THEME_PLACEHOLDER = re.compile(r"#0000(?:[0-3][0-9]|40)\b", re.IGNORECASE)


def colour_scale(name: str) -> list[list]:
    """Plotly's named colour scale as explicit ``[position, "rgb(r, g, b)"]`` stops (see THEME_PLACEHOLDER)."""
    stops = []
    for position, colour in plotly.colors.get_colorscale(name):
        if colour.startswith("#"):
            colour = "rgb({}, {}, {})".format(*plotly.colors.hex_to_rgb(colour))
        stops.append([position, colour])
    return stops


def theme_placeholders(fig: go.Figure) -> list[str]:
    """The colours in ``fig`` that Streamlit's theme would replace in the browser (empty when it shows as built)."""
    built = fig.to_plotly_json()
    built["layout"] = {k: v for k, v in built["layout"].items() if k != "template"}  # the theme's own, by design
    return sorted(set(THEME_PLACEHOLDER.findall(plotly.io.json.to_json_plotly(built))))


GRAY = colour_scale("gray")
GRAY_LINE = "gray"  # a line or marker colour, where GRAY is a scale
DIVERGING = colour_scale("RdBu_r")
SALIENCY = colour_scale("Inferno")
VIRIDIS = colour_scale("Viridis")
BLUES = colour_scale("Blues")
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
TIGHT = {"l": 0, "r": 0, "t": 0, "b": 0}
LAYER_COLOURS = plotly.colors.qualitative.Dark24


CONTRASTS = ("equalize", "stretch", "model", "relative")
"""How grey levels are drawn: ranks of the non-empty pixels, the 1st-99th percentile, or the model's 0-1."""


def display_values(images: np.ndarray, contrast: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The grey levels to draw for ``images`` and their limits; hover always shows the true values.

    Args:
        images: one image or a stack that should share one mapping.
        contrast: "model" (values as the model sees them, limits 0 and 1), "stretch" (limits at
            the 1st and 99th percentile), "equalize" (each non-empty pixel drawn at the rank of
            its value among all non-empty pixels; empty pixels stay black) or "relative" (images of
            deviations from the corpus mean in standard deviations, drawn from -3 to +3 on a diverging scale).
    """
    if contrast not in CONTRASTS:
        raise ValueError(f"contrast must be one of {CONTRASTS}, got {contrast!r}.")
    if contrast == "relative":  # deviations in standard deviations: a fixed symmetric range
        return images, (-3.0, 3.0)
    if contrast == "model":
        return images, (0.0, 1.0)
    if contrast == "stretch":
        low, high = np.percentile(images, [1, 99])
        return images, ((float(low), float(high)) if high > low else (0.0, 1.0))
    shown = np.zeros_like(images, dtype=float)
    filled = images != 0
    if filled.any():
        shown[filled] = rankdata(images[filled]) / filled.sum()
    return shown, (0.0, 1.0)


COLOURBAR_TITLES = {"model": "value", "stretch": "value", "equalize": "rank", "relative": "SDs from mean"}


def heatmap_trace(
    shown: np.ndarray,
    values: np.ndarray,
    hover: np.ndarray | None,
    diverging: bool,
    limits: tuple[float, float],
    scale: str | None = None,
) -> go.Heatmap:
    """One image as a heatmap trace: ``shown`` drawn, ``values`` and ``hover`` (features per pixel) in the hover,
    a colour bar titled ``scale`` when given."""
    label = "difference" if diverging else "value"
    features = hover if hover is not None else np.full(values.shape, "", dtype=object)
    return go.Heatmap(
        z=shown,
        customdata=np.stack([features, np.char.mod("%.4f", values).astype(object)], axis=-1),
        colorscale=DIVERGING if diverging else GRAY,
        zmin=limits[0],
        zmax=limits[1],
        showscale=scale is not None,
        colorbar={"title": scale, "thickness": 12, "len": 0.9} if scale else None,
        hovertemplate=(
            f"row %{{y}}, col %{{x}}<br>{label} %{{customdata[1]}}"
            + ("<br>features: %{customdata[0]}" if hover is not None else "")
            + "<extra></extra>"
        ),
    )


def symmetric_limits(image: np.ndarray) -> tuple[float, float]:
    """Colour limits symmetric around 0 that hold every value of a difference image."""
    bound = float(np.abs(image).max()) or 1.0
    return -bound, bound


def bare_axes(fig: go.Figure, count: int) -> None:
    """Square pixels, no ticks, row 0 at the top, for each of ``count`` image panels."""
    for i in range(1, count + 1):
        suffix = "" if i == 1 else str(i)
        fig.update_layout(
            {
                f"xaxis{suffix}": {
                    "showticklabels": False,
                    "ticks": "",
                    "showgrid": False,
                    "zeroline": False,
                    "constrain": "domain",
                },
                f"yaxis{suffix}": {
                    "showticklabels": False,
                    "ticks": "",
                    "showgrid": False,
                    "zeroline": False,
                    "autorange": "reversed",
                    "scaleanchor": f"x{suffix}",
                    "constrain": "domain",
                },
            }
        )


def channel_titles(count: int, names: Sequence[str] | None = None) -> list[str]:
    """The panel titles of an image's ``count`` channels: ``names`` (e.g. each channel's layer) or their numbers,
    each with its colour when there are three (red, green, blue)."""
    colours = ("red", "green", "blue") if count == 3 else [""] * count
    names = list(names) if names else [f"channel {i + 1}" for i in range(count)]
    return [f"{name} ({colour})" if colour else name for name, colour in zip(names, colours, strict=True)]


def image_figure(
    image: np.ndarray,
    hover: np.ndarray | None = None,
    diverging: bool = False,
    contrast: str = "model",
    size: int = 360,
    titles: Sequence[str] | None = None,
) -> go.Figure:
    """One grayscale image (or a difference image on a diverging scale) with pixel hover.

    Args:
        image: (H, W) values; or (C, H, W), an image of one layer per channel, drawn as one panel per channel on
            one shared scale.
        hover: (H, W) strings naming each pixel's features.
        diverging: a red-blue scale symmetric around 0.
        contrast: see :func:`display_values` (ignored for difference images).
        size: height in pixels (the width follows the image's aspect ratio).
        titles: the channels' panel titles (see :func:`channel_titles`).
    """
    if image.ndim == 3:
        return _channel_panels(image, hover, diverging, contrast, size, titles)
    shown, limits = (image, symmetric_limits(image)) if diverging else display_values(image, contrast)
    scale = "difference" if diverging else COLOURBAR_TITLES.get(contrast, "value")
    fig = go.Figure(heatmap_trace(shown, image, hover, diverging or contrast == "relative", limits, scale))
    bare_axes(fig, 1)
    width = int(size * image.shape[1] / image.shape[0]) + 80  # room for the colour bar
    fig.update_layout(height=size, width=width, margin=TIGHT)
    return fig


def _channel_panels(
    image: np.ndarray,
    hover: np.ndarray | None,
    diverging: bool,
    contrast: str,
    size: int,
    titles: Sequence[str] | None,
) -> go.Figure:
    """(C, H, W) as C panels side by side sharing one scale (and one colour bar, on the last)."""
    count = len(image)
    shown, limits = (image, symmetric_limits(image)) if diverging else display_values(image, contrast)
    scale = "difference" if diverging else COLOURBAR_TITLES.get(contrast, "value")
    names = titles if titles and len(titles) == count else channel_titles(count)
    fig = make_subplots(rows=1, cols=count, subplot_titles=list(names), horizontal_spacing=0.02)
    for i in range(count):
        trace = heatmap_trace(
            shown[i], image[i], hover, diverging or contrast == "relative", limits, scale if i == count - 1 else None
        )
        fig.add_trace(trace, row=1, col=i + 1)
    bare_axes(fig, count)
    width = int(count * size * image.shape[2] / image.shape[1]) + 80
    fig.update_layout(height=size + 24, width=width, margin={**TIGHT, "t": 24})
    return fig


def interval_error_y(estimate: float, low: float, high: float) -> dict:
    """Plotly ``error_y`` of one bar: its interval from ``low`` to ``high`` around ``estimate`` (asymmetric)."""
    return {"type": "data", "symmetric": False, "array": [high - estimate], "arrayminus": [estimate - low]}


def majority_line(fig: go.Figure, rate: float, label: str = "majority class") -> None:
    """The majority-class rate as a dotted gray line, labelled with its value."""
    fig.add_hline(
        y=rate,
        line={"color": GRAY_LINE, "dash": "dot"},
        annotation_text=f"{label} {rate:.3f}",
        annotation_position="bottom right",
    )


def learning_curves_figure(
    histories: dict[str, list[dict]], baselines: dict[str, float] | None = None, height: int = 360
) -> go.Figure:
    """Held-out accuracy per epoch (left; dotted: the validation accuracy that chooses the best epoch)
    and train / held-out loss (right) of one or more runs.

    Args:
        histories: run name -> per-epoch records with epoch, accuracy, train_loss, test_loss (and val_accuracy).
        baselines: name -> a reference accuracy (a baseline, the majority class), drawn as a dashed line;
            the accuracy axis always shows every line.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=["held-out accuracy", "loss"], horizontal_spacing=0.1)
    for index, (name, history) in enumerate(histories.items()):
        colour = LAYER_COLOURS[index % len(LAYER_COLOURS)]
        epochs = [r["epoch"] for r in history]
        lines = [  # (metric, column, dotted, in the legend, hover label)
            ("accuracy", 1, False, True, None),
            ("val_accuracy", 1, True, False, "validation accuracy"),
            ("train_loss", 2, True, False, "train loss"),
            ("test_loss", 2, False, False, "held-out loss"),
        ]
        for metric, column, dotted, legend, label in lines:
            if not all(metric in r for r in history):
                continue
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[r[metric] for r in history],
                    name=name if legend else f"{name} {label}",
                    mode="lines" if dotted else "lines+markers",
                    line={"color": colour, "dash": "dot"} if dotted else {"color": colour},
                    legendgroup=name,
                    showlegend=legend,
                    hovertemplate=None if legend else f"{label} %{{y:.4f}}<extra>{name}</extra>",
                ),
                row=1,
                col=column,
            )
    for name, accuracy in (baselines or {}).items():
        fig.add_hline(
            y=accuracy,
            line={"dash": "dash", "color": "#888"},
            annotation_text=f"{name} {accuracy:.3f}",
            annotation_position="bottom right",
            row=1,
            col=1,
        )
    shown = [r[k] for h in histories.values() for r in h for k in ("accuracy", "val_accuracy") if k in r]
    shown += list((baselines or {}).values())
    if shown:  # every reference line stays in view
        fig.update_yaxes(range=[max(0.0, min(shown) - 0.05), min(1.0, max(shown) + 0.05)], row=1, col=1)
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title="accuracy (dotted: validation)", row=1, col=1)
    fig.update_yaxes(title="cross-entropy (dotted: train)", row=1, col=2)
    fig.update_layout(height=height, margin=MARGIN, legend={"orientation": "h", "y": -0.25})
    return fig


def confusion_figure(matrix: Sequence[Sequence[int]], names: Sequence[str], title: str = "") -> go.Figure:
    """A confusion matrix: rows the true class, columns the predicted one, counts and row shares."""
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    text = np.char.add(np.char.add(counts.astype(int).astype(str), "<br>"), np.char.mod("%.0f%%", 100 * shares))
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=list(names),
            y=list(names),
            text=text,
            texttemplate="%{text}",
            colorscale=BLUES,
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    fig.update_yaxes(title="true", autorange="reversed")
    fig.update_xaxes(title="predicted", side="top")
    fig.update_layout(title=title, height=320, width=380, margin=MARGIN)
    return fig


def sample_images_figure(images: np.ndarray, titles: Sequence[str] | None = None, height: int = 150) -> go.Figure:
    """A row of uint8 images shaped (n, channels, H, W), grey (1 channel) or colour (3)."""
    count = len(images)
    fig = make_subplots(
        rows=1, cols=max(count, 1), subplot_titles=list(titles) if titles else None, horizontal_spacing=0.01
    )
    for i, image in enumerate(images):
        rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image
        fig.add_trace(go.Image(z=rgb.transpose(1, 2, 0), hoverinfo="skip"), row=1, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 20 if titles else 0, "b": 0})
    return fig


def reliability_figure(tables: dict[str, Sequence[dict]], bins: int, title: str = "") -> go.Figure:
    """A reliability diagram: in each equal-width bin of the top probability, the accuracy against the mean
    confidence (marker size: the bin's count); on the diagonal, stated confidence is the hit rate.

    Args:
        tables: curve name (e.g. "raw", "calibrated") -> rows of :func:`core.calibration.reliability_table`.
        bins: how many bins the rows came from (named in the axis title).
        title: the figure's title.
    """
    fig = go.Figure(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"color": GRAY_LINE, "dash": "dot"}, name="perfect calibration"
        )
    )
    for index, (name, rows) in enumerate(tables.items()):
        counts = np.array([r["n"] for r in rows], dtype=float)
        fig.add_trace(
            go.Scatter(
                x=[r["confidence"] for r in rows],
                y=[r["accuracy"] for r in rows],
                customdata=np.column_stack([counts, [r["low"] for r in rows], [r["high"] for r in rows]]),
                mode="lines+markers",
                name=name,
                line={"color": LAYER_COLOURS[index % len(LAYER_COLOURS)]},
                marker={"size": 6 + 14 * np.sqrt(counts / max(counts.max(), 1))},
                hovertemplate="confidence %{customdata[1]:.2f}–%{customdata[2]:.2f}: mean %{x:.3f}, accuracy "
                f"%{{y:.3f}}, %{{customdata[0]:.0f}} texts<extra>{name}</extra>",
            )
        )
    fig.update_xaxes(title=f"mean confidence in the bin ({bins} equal-width bins)", range=[0, 1.02])
    fig.update_yaxes(title="accuracy in the bin", range=[0, 1.02])
    fig.update_layout(title=title, height=360, margin=MARGIN, legend={"orientation": "h", "y": -0.25})
    return fig
