"""Text with scrambled token ids: Kao & Lee's first experiment, each encoder on scrambled text against itself."""

import streamlit as st

from ui import inputs, state
from ui.nontext import scrambled

st.title("Text with scrambled token ids")
st.caption(
    f"{scrambled.PAPER} Here: pick a text, a scramble and a budget; the lab fine-tunes every encoder on the text as it "
    "is and on the same text scrambled, with the same texts, split, seeds and steps, and pairs each encoder with "
    "itself on the same test examples."
)

st.subheader("1. Text and scramble")
chosen = scrambled.choose()
if chosen is not None:
    settings, scramble = chosen
    with state.user_errors():
        scrambled.show_preview(settings, scramble)
    st.caption(
        "Runs train one after another (the unscrambled arm first); Stop (top right) or any click ends the running one "
        "after its next evaluation and keeps it: running again resumes it, and finished runs are never trained twice."
    )
    if inputs.button(st, "Run unscrambled and scrambled", type="primary", key="st-run"):
        with state.user_errors():
            settings.check()
            scrambled.run(settings, scramble)

st.subheader("2. Each encoder against itself")
scrambled.results()
