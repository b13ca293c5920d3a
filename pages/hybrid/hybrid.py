"""BERT + vision transformer: a text model's layers put to work in an image classifier, tuned by grid search."""

import os

import streamlit as st

from core import sweeps
from core.hybrid import search
from ui import inputs, links, state
from ui.hybrid import panels
from ui.reproductions import latest_table

st.title("BERT + vision transformer")
links.sync({"search": "hy-chosen"})
st.caption(
    "A text model's layers put to work in an image classifier. Liu, Chui & Lee (Electronics 12(15):3316, 2023) "
    "combine BERT and BEiT into an image classifier by cross-modality "
    "transfer learning, choose batch size x learning rate (48 pairs) and the optimizer (SGD with momentum or Adam) "
    "by a grid search with 5-fold cross-validation, and report accuracy, F1, precision and recall. Only the "
    "abstract is public: the wiring here is the lab's own, and the ablation below asks whether the text model's "
    "knowledge helps or just its extra depth."
)
st.markdown(
    "**How the hybrid reads an image (stack wiring):** the frozen vision transformer turns the image into tokens "
    "([CLS] + one per patch, computed once and cached) → a linear adapter to the text model's width → the text "
    "model's encoder layers → a linear head on the [CLS] position. **Parallel wiring:** the head reads the vision "
    "[CLS] vector and the text layers' [CLS] vector side by side."
)
latest_table("hybrid", "hy-reproduction")

st.subheader("1. Settings")
settings = panels.settings_form()

st.subheader("2. Search")
panels.resume_panel()
use_ray = st.toggle(
    "Run trials on Ray",
    value=bool(os.environ.get(sweeps.RAY_ADDRESS_ENV)),
    key="hy-ray",
    help="A local Ray instance, or the cluster at $RAY_ADDRESS when set: one trial per worker (one per GPU when "
    "the cluster has GPUs). Trials give the same numbers either way.",
)
st.caption(
    "Every (configuration, fold) trial is saved when it finishes. Stop (top right) or any click ends the search "
    "after the running epoch; running the same search again resumes at the next unfinished trial."
)
if settings is not None and inputs.button(st, "Run the search", type="primary", key="hy-run"):
    with state.user_errors():
        panels.run(settings, use_ray)

st.subheader("3. Results")
finished = search.list_searches()
if not finished:
    st.info(
        "No finished search yet: one is half done. Resume it in section 2 above; its finished trials are kept."
        if search.pending_searches()
        else "No search yet: run one above (the laptop preset takes about 10 minutes on two CPU cores)."
    )
    st.stop()
ids = [a.id for a in finished]
if st.session_state.get("hy-chosen") not in ids:
    st.session_state["hy-chosen"] = ids[0]
chosen = st.selectbox("Search", ids, format_func=lambda i: search.search_label(finished[ids.index(i)]), key="hy-chosen")
panels.results(finished[ids.index(chosen)])
