"""BERT on non-text tokens: pretrained vs randomly initialised BERT fine-tuned on DNA, peptides and music."""

import streamlit as st

from core.nontext import runs
from ui import inputs, links, state
from ui.nontext import panels
from ui.reproductions import latest_table

st.title("BERT on DNA, proteins and music")
links.sync({"comparison": "nt-chosen"})
st.caption(
    "Kao & Lee (Findings of EMNLP 2021): a BERT pretrained on English, fine-tuned on token sequences that are not "
    "language at all, learns faster and ends better than the same architecture randomly initialised. Pick a task, "
    "see how its symbols become the ids the model reads, and fine-tune the encoders side by side with the same data, "
    "split, seeds and steps."
)
latest_table("bert-nontext", "nt-reproduction")

st.subheader("1. Task")
base = panels.choose_task()
if base is None:
    st.stop()
found = None
with state.user_errors():
    found = panels.task(base)
if found is None:
    st.stop()
panels.describe(found)

st.subheader("2. Tokens")
with_mapping = panels.mapping_panel(base, found)

st.subheader("3. Fine-tune side by side")
panels.resume_panel()
settings = panels.run_settings(with_mapping)
st.caption(
    "Runs train one after another; Stop (top right) or any click ends the running one after its next evaluation "
    "and keeps it: running the same comparison again resumes it, and finished runs are never trained twice."
)
if inputs.button(st, "Run the comparison", type="primary", key="nt-run"):
    with state.user_errors():
        settings.check()
        panels.run(settings)

st.subheader("4. Results")
grouped = runs.comparisons()
if not grouped:
    st.info(panels.nothing_finished_yet())
    st.stop()
keys = list(grouped)
if st.session_state.get("nt-chosen") not in keys:
    st.session_state["nt-chosen"] = keys[0]
chosen = st.selectbox("Comparison", keys, format_func=lambda key: runs.comparison_label(grouped[key]), key="nt-chosen")
panels.results(grouped[chosen])

st.subheader("5. Representation similarity")
panels.similarity_panel(grouped[chosen])
