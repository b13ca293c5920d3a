"""Feature Layout: where every feature sits, how good the map is, refitting, and comparing two maps."""

import streamlit as st

from core import store
from core.layout import FeatureLayout, chance_agreement, neighbour_agreement
from core.text_to_image import imaging
from core.text_to_image.figures import layout_scatter, occupancy_figure
from ui import charts, inputs, links, state
from ui.text_to_image import cache, forms, panels

st.title("Feature Layout")
links.sync({"layout": "fl-main"})
st.caption(
    "A layout places every feature (a layer's dimension) on a pixel: t-SNE (or UMAP, PCA) over the feature axis of "
    "corpus embeddings, rotated to its minimum-area rectangle, then binned or assigned to the grid."
)

fitted_all = imaging.list_imagers()
labels = {a.id: imaging.imager_label(a) for a in fitted_all}
which = st.radio(
    "Grid",
    ["combined", "per_layer"],
    horizontal=True,
    key="fl-which",
    format_func={"combined": "combined (all layers on one grid)", "per_layer": "per layer (shared by every layer)"}.get,
)


def grid(artifact: store.Artifact) -> FeatureLayout:
    return cache.layouts(artifact.id, cache.stamp(artifact.id))[which]


def show(artifact: store.Artifact, where, columns: int = 4) -> None:
    layout = grid(artifact)
    if columns < 4:  # side by side: each column names its layout
        where.markdown(f"**{labels[artifact.id]}**")
    panels.layout_quality(artifact, which, where, columns)
    quality = artifact.config["quality"][which]
    where.caption(
        f"{layout.shape_[0]}×{layout.shape_[1]} px, {layout.n_features_in_} features, fitted in "
        f"{quality['fit_seconds']:.1f} s" + (" (stopped early)" if quality["stopped_early"] else "")
    )
    names = imaging.feature_names(artifact.config, which)
    scatter = layout_scatter(layout, names, "feature positions")
    charts.show(scatter, key=f"scatter-{artifact.id}-{where is st}", where=where)
    charts.show(
        occupancy_figure(layout.occupancy(), "features per pixel"),
        key=f"occ-{artifact.id}-{where is st}",
        width="content",
        where=where,
    )


panels.resume_fits()
just_fitted = st.session_state.pop("fl-fitted", None)
if just_fitted in labels:
    st.session_state["fl-main"] = just_fitted
    st.success(f"Fitted layout {just_fitted}; it is selected below.")
if not fitted_all:
    st.info(
        "No layout is fitted yet: fit one below, from the lab's defaults or from the paper's exact layout "
        "(docs/presets.md lists the differences)."
    )
else:
    chosen = st.selectbox("Layout", list(labels), format_func=labels.get, key="fl-main")
    compare = st.toggle(
        "Compare with a second layout",
        key="fl-compare",
        disabled=len(fitted_all) < 2,
        help="Fit a second layout (e.g. another seed) to compare.",
    )
    with state.user_errors():
        first = store.load(imaging.IMAGERS, chosen)
        if compare:
            other = st.selectbox(
                "Second layout", [i for i in labels if i != chosen], format_func=labels.get, key="fl-other"
            )
            second = store.load(imaging.IMAGERS, other)
            if imaging.same_features(first.config, second.config, which):
                st.metric(
                    "Neighbourhood agreement",
                    f"{neighbour_agreement(grid(first), grid(second)):.3f}",
                    delta=f"two random layouts: {chance_agreement(grid(first).n_features_in_):.4f}",
                    delta_color="off",
                    help="Mean share of each feature's 10 nearest neighbours in one layout that are also among its 10 "
                    "nearest in the other (1 = the same map up to rotation and scale).",
                )
            else:
                st.caption(
                    "These two layouts place different features (another encoder or other layers), so their "
                    "neighbourhoods cannot be compared."
                )
            left, right = st.columns(2)
            show(first, left, 2)
            show(second, right, 2)
        else:
            show(first, st)

with st.expander("Fit a layout", expanded=not fitted_all):
    load_corpus = None
    with state.user_errors():
        load_corpus = forms.corpus_picker()
    encoder_name, pooling = forms.encoder_picker()
    params = forms.layout_settings()
    st.caption(
        "Embeddings are cached in shards: a stopped fit resumes where it left off; the same settings are never fitted "
        "twice."
    )
    if inputs.button(st, "Fit", type="primary", key="fl-fit"):
        with state.user_errors():
            if load_corpus is None:
                raise ValueError("Upload a CSV and choose its text and label columns first.")
            st.session_state["fl-fitted"] = panels.fit_imager(load_corpus(), encoder_name, pooling, params)
            st.rerun()
