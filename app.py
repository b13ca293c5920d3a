"""Crossmodal Lab: `streamlit run app.py`.

The navigation has one section per method; each method's pages live in ``pages/<method>/``. Adding a
method is one package in ``core/``, its pages, and one section here.
"""

import streamlit as st

from ui import inputs, links

st.set_page_config(page_title="Crossmodal Lab", page_icon=":material/blur_on:", layout="wide")


def page(path: str, title: str, icon: str, **kwargs) -> st.Page:
    """A page whose URL is its file's name (e.g. /classify)."""
    return st.Page(path, title=title, icon=icon, url_path=path.rsplit("/", 1)[-1].removesuffix(".py"), **kwargs)


SECTIONS = {
    "": [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)],
    "Text → image (Benarab 2021)": [
        page("pages/text_to_image/sentence_to_image.py", "Sentence → Image", ":material/image:"),
        page("pages/text_to_image/sentence_map.py", "Sentence Map", ":material/bubble_chart:"),
        page("pages/text_to_image/feature_layout.py", "Feature Layout", ":material/scatter_plot:"),
        page("pages/text_to_image/image_dataset.py", "Image Dataset", ":material/photo_library:"),
        page("pages/text_to_image/train.py", "Train", ":material/model_training:"),
        page("pages/text_to_image/results.py", "Results", ":material/leaderboard:"),
        page("pages/text_to_image/classify.py", "Classify", ":material/label:"),
        page("pages/text_to_image/sentence_path.py", "A Sentence's Path", ":material/route:"),
        page("pages/text_to_image/demos.py", "Portable Demos", ":material/inventory_2:"),
    ],
    "Images → words (Baughman 2021)": [
        page("pages/images_to_words/images_to_words.py", "Images → Words", ":material/translate:"),
    ],
    "Non-text tokens (Kao & Lee 2021)": [
        page("pages/nontext/bert_nontext.py", "BERT on DNA, proteins and music", ":material/genetics:"),
        page("pages/nontext/scrambled_text.py", "Text with scrambled token ids", ":material/shuffle:"),
    ],
    "Hybrid (Liu, Chui & Lee 2023)": [
        page("pages/hybrid/hybrid.py", "BERT + vision transformer", ":material/merge:"),
    ],
    "Across methods": [page("pages/views/your_vectors.py", "Your Vectors", ":material/hub:")],
}

inputs.start_run()
links.clear()
try:
    st.navigation(SECTIONS).run()
finally:  # the page's choices into the URL, also when it stopped early (st.stop)
    links.publish()
