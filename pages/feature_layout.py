"""Feature Layout: where every feature sits, how good the map is, refitting, and comparing two maps."""

import streamlit as st

from core import imaging, store
from core.figures import layout_scatter, occupancy_figure
from core.layout import neighbour_agreement
from ui import forms, panels, state

st.title("Feature Layout")
st.caption(
    "A layout places every feature (a layer's dimension) on a pixel: t-SNE (or UMAP, PCA) over the feature axis of "
    "corpus embeddings, rotated to its minimum-area rectangle, then binned or assigned to the grid."
)

fitted_all = imaging.list_imagers()
labels = {a.id: imaging.imager_label(a) for a in fitted_all}
which = st.radio("Grid", ["combined", "per_layer"], horizontal=True, key="fl-which",
                 format_func={"combined": "combined (all layers on one grid)", "per_layer": "per layer (shared by every layer)"}.get)


def show(artifact: store.Artifact, where) -> None:
    fitted = state.imager(artifact.id)
    layout = fitted.combined if which == "combined" else fitted.per_layer
    names = [fitted.feature_name(i) for i in range(layout.n_features_in_)] if which == "combined" else [(None, d) for d in range(fitted.hidden)]
    panels.layout_quality(artifact, which, where)
    quality = artifact.config["quality"][which]
    where.caption(f"{layout.shape_[0]}×{layout.shape_[1]} px, {layout.n_features_in_} features, fitted in {quality['fit_seconds']:.1f} s"
                  + (" (stopped early)" if quality["stopped_early"] else ""))
    where.plotly_chart(layout_scatter(layout, names, "feature positions"), key=f"scatter-{artifact.id}-{where is st}")
    where.plotly_chart(occupancy_figure(layout.occupancy(), "features per pixel"), key=f"occ-{artifact.id}-{where is st}", width="content")


if not fitted_all:
    st.info("No layout is fitted yet: fit one below (the default settings reproduce the paper's layout on the offline corpus).")
else:
    chosen = st.selectbox("Layout", list(labels), format_func=labels.get, key="fl-main")
    compare = st.toggle("Compare with a second layout", key="fl-compare", disabled=len(fitted_all) < 2,
                        help="Fit a second layout (e.g. another seed) to compare.")
    with state.user_errors():
        if compare:
            other = st.selectbox("Second layout", [i for i in labels if i != chosen], format_func=labels.get, key="fl-other")
            a, b = state.imager(chosen), state.imager(other)
            la, lb = (a.combined, b.combined) if which == "combined" else (a.per_layer, b.per_layer)
            if la.n_features_in_ == lb.n_features_in_:
                st.metric("Neighbourhood agreement", f"{neighbour_agreement(la, lb):.3f}",
                          help="Mean share of each feature's 10 nearest neighbours in one layout that are also among its 10 nearest in the other (1 = the same map up to rotation and scale).")
            left, right = st.columns(2)
            show(store.load(imaging.IMAGERS, chosen), left)
            show(store.load(imaging.IMAGERS, other), right)
        else:
            show(store.load(imaging.IMAGERS, chosen), st)

with st.expander("Fit a layout", expanded=not fitted_all):
    with state.user_errors():
        corpus = forms.corpus_picker()
    encoder_name, pooling = forms.encoder_picker()
    params = forms.layout_settings()
    st.caption("Embeddings are cached in shards: a stopped fit resumes where it left off; the same settings are never fitted twice.")
    if st.button("Fit", type="primary", key="fl-fit"):
        with state.user_errors():
            if corpus is None:
                raise ValueError("Upload a CSV and choose its text and label columns first.")
            new_id = panels.fit_imager(corpus, encoder_name, pooling, params)
            st.success(f"Fitted layout {new_id}; choose it above.")
            st.rerun()
