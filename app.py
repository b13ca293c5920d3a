"""Crossmodal Lab: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="Crossmodal Lab", page_icon=":material/blur_on:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/sentence_to_image.py", title="Sentence → Image", icon=":material/image:"),
    st.Page("pages/feature_layout.py", title="Feature Layout", icon=":material/scatter_plot:"),
    st.Page("pages/image_dataset.py", title="Image Dataset", icon=":material/photo_library:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/results.py", title="Results", icon=":material/leaderboard:"),
    st.Page("pages/classify.py", title="Classify", icon=":material/label:"),
    st.Page("pages/images_to_words.py", title="Images → Words", icon=":material/translate:"),
]

st.navigation(PAGES).run()
