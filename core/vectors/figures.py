"""The map of your vectors: every point drawn (WebGL ``Scattergl``, no downsampling), coloured by a metadata column,
with the search's matches and a chosen point on top."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from core.figures import MARGIN, VIRIDIS

CATEGORIES = 20
"""Colours drawn for a text column: its most common values, the rest as one "other" trace."""
PALETTE = plotly.colors.qualitative.Dark24
HOVER_CHARS = 120


def marker_size(n: int) -> float:
    """A point size that keeps a dense map readable: 7 px for a few hundred points down to 2.5 px for 100,000."""
    return 7.0 if n <= 500 else 5.0 if n <= 5_000 else 3.5 if n <= 30_000 else 2.5


def is_numeric(values: pd.Series) -> bool:
    """Whether a column colours as a continuous scale (numbers that are not booleans)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def hover_texts(metadata: pd.DataFrame, column: str | None) -> np.ndarray:
    """``#row · value`` for each point (the value cut to :data:`HOVER_CHARS`)."""
    rows = np.arange(len(metadata)).astype(str)
    if column is None:
        return np.char.add("#", rows)
    values = metadata[column].astype(str).str.slice(0, HOVER_CHARS).to_numpy(dtype=str)
    return np.char.add(np.char.add(np.char.add("#", rows), " · "), values)


def vector_map_figure(
    coords: np.ndarray,
    metadata: pd.DataFrame,
    colour: str | None = None,
    hover: str | None = None,
    matches: Sequence[int] | None = None,
    chosen: int | None = None,
    title: str = "",
) -> tuple[go.Figure, list[np.ndarray]]:
    """The map, and for each of its traces the rows it draws (point ``i`` of trace ``t`` is row
    ``rows[t][i]``: what a selection's ``curve_number`` and ``point_index`` map back through).

    Args:
        coords: (n, 2) positions.
        metadata: n rows.
        colour: the column to colour by: numbers on a sequential scale with a colour bar, text as categories
            (the :data:`CATEGORIES` most common, the rest grey); None: one colour.
        hover: the column shown on hover (None: the row number only).
        matches: rows the search found, ringed in red on top.
        chosen: the row whose neighbours are listed, a star on top.
        title: the chart's title.
    """
    n = len(coords)
    texts = hover_texts(metadata, hover)
    size = marker_size(n)
    fig = go.Figure()
    rows_by_trace: list[np.ndarray] = []

    def add(rows: np.ndarray, name: str, marker: dict, legend: bool = True) -> None:
        fig.add_trace(
            go.Scattergl(
                x=coords[rows, 0],
                y=coords[rows, 1],
                mode="markers",
                name=name,
                hovertext=texts[rows],
                hovertemplate="%{hovertext}<extra>" + name.replace("<", "&lt;")[:40] + "</extra>",
                marker=marker,
                showlegend=legend,
            )
        )
        rows_by_trace.append(rows)

    everything = np.arange(n)
    if colour is None:
        add(everything, "points", {"size": size, "color": PALETTE[0], "opacity": 0.8}, legend=False)
    elif is_numeric(metadata[colour]):
        values = metadata[colour].to_numpy(dtype=float)
        add(
            everything,
            colour,
            {
                "size": size,
                "color": values,
                "colorscale": VIRIDIS,
                "colorbar": {"title": {"text": colour[:30]}, "thickness": 14},
                "opacity": 0.85,
            },
            legend=False,
        )
    else:
        values = metadata[colour].astype(str).to_numpy()
        counts = pd.Series(values).value_counts()
        shown = list(counts.index[:CATEGORIES])
        for index, value in enumerate(shown):
            rows = np.flatnonzero(values == value)
            add(rows, f"{value[:40]} ({len(rows):,})", {"size": size, "color": PALETTE[index % len(PALETTE)]})
        rest = np.flatnonzero(~np.isin(values, shown))
        if len(rest):
            name = f"{len(counts) - len(shown):,} other values ({len(rest):,})"
            add(rest, name, {"size": size, "color": "rgb(170, 170, 170)", "opacity": 0.6})
    if matches is not None and len(matches):
        found = np.asarray(matches, dtype=np.int64)
        ring = {"size": size + 6, "color": "rgba(0, 0, 0, 0)", "line": {"color": "rgb(214, 39, 40)", "width": 1.5}}
        add(found, f"search matches ({len(found):,})", ring)
    fig.update_layout(
        title={"text": title},
        margin={**MARGIN, "t": 50},
        height=640,
        uirevision="vector-map",  # zoom and pan survive a change of colour or search
        legend={"itemsizing": "constant"},
        xaxis={"showticklabels": False, "title": None, "zeroline": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False, "scaleanchor": "x"},
    )
    if chosen is not None:
        mark_chosen(fig, rows_by_trace, coords, chosen, texts[chosen])
    return fig, rows_by_trace


def mark_chosen(fig: go.Figure, rows_by_trace: list[np.ndarray], coords: np.ndarray, row: int, text: str = "") -> None:
    """A gold star on ``row`` (the point whose neighbours are listed), as the last trace."""
    star = {"size": 16, "symbol": "star", "color": "rgb(255, 215, 0)", "line": {"color": "black", "width": 1}}
    name = f"point #{row}"
    fig.add_trace(
        go.Scattergl(
            x=coords[[row], 0],
            y=coords[[row], 1],
            mode="markers",
            name=name,
            marker=star,
            hovertext=[text or name],
            hovertemplate="%{hovertext}<extra>chosen</extra>",
        )
    )
    rows_by_trace.append(np.asarray([row]))


def selected_rows(points: Sequence[dict], rows_by_trace: Sequence[np.ndarray]) -> np.ndarray:
    """The rows behind a plotly selection's points (``curve_number``, ``point_index``), each once, sorted."""
    found = [
        int(rows_by_trace[p["curve_number"]][p["point_index"]])
        for p in points
        if p.get("curve_number") is not None
        and p.get("point_index") is not None
        and p["curve_number"] < len(rows_by_trace)
        and p["point_index"] < len(rows_by_trace[p["curve_number"]])
    ]
    return np.unique(np.asarray(found, dtype=np.int64))
