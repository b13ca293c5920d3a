"""The Your Vectors page's Streamlit glue: where the points come from (upload or path), their caches, and the
panels under the map (neighbours, the selection and its CSV).

A loaded table and its positions are ``st.cache_resource``: up to 100,000 x 768 floats, read-only, shared, so a
rerun (a colour change, a search) neither reads the file again nor copies the arrays; they are keyed by the
file's path, size and modification time, and the options.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import store, vectors
from core.vectors.files import VectorTable
from ui import charts, state

NONE = "(none)"


def _stamp(path: str | None) -> str:
    if not path:
        return ""
    found = Path(path).expanduser()
    return f"{found.stat().st_size}-{found.stat().st_mtime_ns}" if found.is_file() else "missing"


@st.cache_resource(show_spinner="Reading the vectors…", max_entries=4)
def _table(path: str, metadata: str | None, options: str, stamp: str) -> VectorTable:
    return vectors.load_vectors(path, metadata or None, **json.loads(options))


def table(path: str, metadata: str | None, options: dict) -> VectorTable:
    """The points of ``path`` (and ``metadata``), read once per file version and options."""
    return _table(path, metadata, json.dumps(options, sort_keys=True), _stamp(path) + _stamp(metadata))


@st.cache_resource(show_spinner="Loading the map…", max_entries=8)
def _coords(map_id: str) -> np.ndarray:
    return vectors.load_coords(store.load(vectors.MAPS, map_id))


def source() -> tuple[str | None, str | None]:
    """An upload or a path (the address's ``?vectors=...&metadata=...`` fill the path in): the vectors file and
    the metadata file, or (None, None) while none is given."""
    how = st.radio(
        "Points from",
        ["path", "upload"],
        horizontal=True,
        key="yv-how",
        format_func={"path": "a file on this machine", "upload": "an upload"}.get,
    )
    left, right = st.columns(2)
    if how == "upload":
        kinds = ["tsv", "txt", "parquet"]
        given = left.file_uploader("Vectors (.tsv without header, or .parquet)", type=kinds, key="yv-up-vectors")
        meta = right.file_uploader("Metadata (.tsv; the Projector's)", type=["tsv", "txt"], key="yv-up-meta")
        keep = [vectors.keep_upload(f.name, f.getvalue()) if f is not None else None for f in (given, meta)]
        return (str(keep[0]) if keep[0] else None), (str(keep[1]) if keep[1] else None)
    query = st.query_params
    path = left.text_input(
        "Vectors file",
        query.get("vectors", ""),
        key="yv-path",
        help="A vectors .tsv (no header), a projector_config.json, or a .parquet file.",
    )
    meta = right.text_input("Metadata file (optional, with a .tsv)", query.get("metadata", ""), key="yv-meta")
    return (path.strip() or None), (meta.strip() or None)


def _pick(where, label: str, choices: list[str], guess: tuple[str, ...], key: str) -> str | None:
    options = [NONE, *choices]
    index = next((options.index(c) for c in options if c.lower() in guess), 0)
    chosen = where.selectbox(label, options, index=index, key=key)
    return None if chosen == NONE else chosen


def parquet_options(path: str) -> dict:
    """Which of a Parquet file's columns are the vectors, the positions and the neighbours (the user picks)."""
    found = vectors.parquet_columns(path)
    cols = st.columns(4)
    vector = _pick(cols[0], "Vector column (a list)", found.lists, ("vector", "vectors", "embedding"), "yv-vcol")
    x = _pick(cols[1], "x (precomputed)", found.numeric, ("x", "projection_x"), "yv-x")
    y = _pick(cols[2], "y (precomputed)", found.numeric, ("y", "projection_y"), "yv-y")
    near = _pick(cols[3], "Neighbours (row indices)", found.index_lists, ("neighbors", "neighbours"), "yv-near")
    features = None
    if vector is None:
        numeric = [c for c in found.numeric if c not in (x, y)]
        features = st.multiselect("Vector columns (one number each)", numeric, numeric, key="yv-features") or None
    return {"vector_column": vector, "feature_columns": features, "x": x, "y": y, "neighbours": near}


def fitted_coords(points: VectorTable, settings: vectors.VectorMapSettings) -> np.ndarray | None:
    """The precomputed positions, the stored map's, or a button that fits it (None until it is fitted)."""
    if points.coords is not None:
        return np.asarray(points.coords, dtype=np.float64)
    if points.vectors is None:
        raise ValueError("these points have neither vectors nor x, y positions.")
    found = vectors.find_map(points.vectors, settings)
    if found is not None:
        return _coords(found.id)
    st.info(
        f"These {len(points):,} points are not laid out yet with these settings. The fit runs once and is then loaded "
        "from the store. On two CPU cores (bench/bench_vectors.py) t-SNE took 40–60 s for 3,000–30,000 points and "
        "3 min for 100,000; UMAP 20–60 s for 3,000–30,000; PCA about a second."
    )
    if st.button("Fit the map", type="primary", key="yv-fit"):
        with state.user_errors():
            fitted = vectors.fit_map(points.vectors, settings, points.source, state.progress_callback("Fitting"))
            return _coords(fitted.id)
    return None


def neighbour_panel(points: VectorTable, chosen: int) -> None:
    """The chosen point's nearest neighbours (cosine on the original vectors, else the precomputed ones)."""
    k = st.slider("Neighbours", 1, 50, 10, key="yv-k")
    with state.user_errors():
        found = vectors.neighbours(points, chosen, k)
        charts.caption(
            f"The {len(found)} points nearest to point #{chosen} "
            + (
                "by cosine similarity of the original vectors (exact search, scikit-learn), not of the 2-D positions."
                if points.vectors is not None
                else "as the file's neighbour column lists them."
            )
        )
        charts.dataframe(found, hide_index=True, width="stretch", key="yv-neighbours")


def selection_panel(points: VectorTable, coords: np.ndarray, rows: np.ndarray) -> None:
    """How many points the box or lasso holds, a preview, and the whole selection as CSV."""
    if not len(rows):
        st.caption("Choose Box select or Lasso select in the chart's toolbar and draw around points to select them.")
        return
    frame = vectors.selection_frame(points, coords, rows)
    st.markdown(f"**{len(rows):,} points selected.**")
    st.download_button(
        "Download the selection (CSV)",
        frame.to_csv(index=False).encode("utf-8"),
        "selection.csv",
        "text/csv",
        key="yv-download",
        on_click="ignore",
        icon=":material/download:",
        help="Each selected point's row number, x, y and metadata, in row order.",
    )
    st.dataframe(frame.head(1000), hide_index=True, width="stretch", key="yv-selection")


def text_column(metadata: pd.DataFrame) -> str | None:
    """The first text column (what hover shows by default), else the first column."""
    text = [c for c in metadata.columns if not pd.api.types.is_numeric_dtype(metadata[c])]
    return (text or list(metadata.columns) or [None])[0]


def selection_points(key: str) -> list[dict]:
    """The points of the chart ``key``'s latest box, lasso or click selection (read before the chart is drawn, so
    the run that answers a selection already draws it)."""
    event = st.session_state.get(key) or {}
    return list((event.get("selection") or {}).get("points") or [])


def chosen_point(n: int, pattern: str, matches: np.ndarray | None, selected: np.ndarray) -> int:
    """The point whose neighbours are listed (the ``yv-point`` input's value): a click on one point chooses it, a
    new search its first match; otherwise it stays as typed."""
    state = st.session_state
    if state.get("yv-point", 0) >= n:
        state["yv-point"] = 0
    clicked = int(selected[0]) if len(selected) == 1 else None
    if clicked is not None and clicked != state.get("yv-clicked"):
        state["yv-point"] = clicked
    state["yv-clicked"] = clicked
    if pattern != state.get("yv-searched") and matches is not None and len(matches):
        state["yv-point"] = int(matches[0])
    state["yv-searched"] = pattern
    return int(state.setdefault("yv-point", 0))
