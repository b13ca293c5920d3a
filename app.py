"""Crossmodal Lab: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="Crossmodal Lab", page_icon=":material/blur_on:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/sentence_to_image.py", title="Sentence → Image", icon=":material/image:"),
    st.Page("pages/feature_layout.py", title="Feature Layout", icon=":material/scatter_plot:"),
]

st.navigation(PAGES).run()
