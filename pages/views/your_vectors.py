"""Your Vectors: precomputed embeddings (the Embedding Projector's TSV pair or config, Parquet) on a 2-D map,
coloured by their metadata, searched, their neighbours listed and a selection exported."""

import math

import streamlit as st

from core import vectors
from core.vectors.figures import mark_chosen, selected_rows, vector_map_figure
from ui import charts, state
from ui import vectors as panels

st.title("Your Vectors")
st.caption(
    "Bring your own embeddings: the Embedding Projector's vectors TSV (no header) with its metadata TSV (a header "
    "line, unless it has one column), its projector_config.json, or a Parquet file (one list column of vectors or "
    "many numeric columns, the rest metadata; x, y and neighbour columns are used as given, as Embedding Atlas "
    "does). Without x, y the points are laid out once (unit-length rows, PCA, then t-SNE or UMAP) and the fit is "
    "kept in the store. Every point is drawn (WebGL); nothing is sampled."
)

path, metadata = panels.source()
if path is None:
    st.info("Give a vectors file (or upload one) to see it on the map.")
    st.stop()
points = coords = None
with state.user_errors():
    options = panels.parquet_options(path) if path.lower().endswith(".parquet") else {}
    points = panels.table(path, metadata, options)
if points is None:
    st.stop()
dims_n = 0 if points.vectors is None else int(points.vectors.shape[1])
dims = f"{dims_n} dimensions" if dims_n else "no vectors"
st.caption(f"{len(points):,} points · {dims} · metadata: {', '.join(map(str, points.metadata.columns))}.")

defaults = vectors.DEFAULTS
if points.coords is None:
    left, mid, right = st.columns(3)
    method = left.selectbox(
        "Layout",
        vectors.METHODS,
        key="yv-method",
        format_func={"tsne": "t-SNE (openTSNE)", "umap": "UMAP", "pca": "PCA"}.get,
    )
    pca = mid.number_input(
        "PCA components first",
        0,
        500,
        defaults.pca,
        key="yv-pca",
        help="Rows are scaled to unit length, then reduced by PCA before t-SNE or UMAP (0: off).",
    )
    spread = right.number_input(
        "Perplexity (t-SNE) / neighbours (UMAP)", 2, 100, int(defaults.perplexity), key="yv-perplexity"
    )
    settings = vectors.VectorMapSettings(method, int(pca), float(spread), int(spread), defaults.random_state)
else:
    settings = defaults
with state.user_errors():
    coords = panels.fitted_coords(points, settings)
if coords is None:
    st.stop()

columns = list(points.metadata.columns)
left, mid = st.columns(2)
colour = left.selectbox(
    "Colour by",
    [panels.NONE, *columns],
    key="yv-colour",
    help="Numbers on a sequential scale (colour bar); text as categories, the 20 most common.",
)
hover = mid.selectbox("Hover shows", columns, index=columns.index(panels.text_column(points.metadata)), key="yv-hover")
left, mid = st.columns([3, 1])
pattern = left.text_input("Search (regular expression, case-insensitive)", key="yv-search")
where = mid.selectbox("in", ["any column", *columns], key="yv-search-column")
matches = None
if pattern:
    with state.user_errors():
        matches = vectors.search(points.metadata, pattern, None if where == "any column" else where)
        st.caption(f"{len(matches):,} points match «{pattern}» (ringed in red).")
title = f"{len(points):,} points · " + ("positions as given" if points.coords is not None else settings.method)
fig, rows_by_trace = vector_map_figure(
    coords, points.metadata, None if colour == panels.NONE else colour, hover, matches, None, title
)
selected = selected_rows(panels.selection_points("yv-map"), rows_by_trace)  # as the chart sent it back
chosen = panels.chosen_point(len(points), pattern, matches, selected)
mark_chosen(fig, rows_by_trace, coords, chosen)
charts.show(fig, key="yv-map", on_select="rerun", selection_mode=("points", "box", "lasso"))
chosen = st.number_input(
    "Point (its row number; click a point on the map to choose it)", 0, len(points) - 1, key="yv-point"
)
panels.neighbour_panel(points, int(chosen))
panels.selection_panel(points, coords, selected)

with st.expander("Make an image dataset of these points (text as images, without the encoder)"):
    st.caption(
        "Each point's vector becomes an image as a sentence's pooled hidden state does: a feature layout fitted on the "
        "training rows (stratified 80/20 split, seed 42), one pixel per group of dimensions. The dataset is listed on "
        "the Train page; Classify cannot use it (there is no encoder to embed typed text)."
    )
    left, right = st.columns(2)
    label = left.selectbox("Class column", columns, key="yv-ds-label")
    side = right.number_input("Pixels per side", 2, 128, max(2, math.ceil(dims_n**0.5)), key="yv-ds-px")
    if st.button("Build the image dataset", key="yv-ds-build", disabled=points.vectors is None):
        from core.text_to_image import datasets  # torch: loaded only when a dataset is built
        from core.text_to_image.vector_datasets import VectorDatasetSettings, build_vector_dataset

        with state.user_errors():
            settings = VectorDatasetSettings(layout={"pixels": int(side)})
            built = build_vector_dataset(points, label, hover, settings, state.progress_callback("Building"))
            st.success(
                f"Dataset {built.id} built: {datasets.dataset_label(built)}. Train a model on it on the Train page."
            )
