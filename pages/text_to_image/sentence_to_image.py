"""Sentence → Image: each typed sentence as one image per layer and one combined image."""

import streamlit as st

from core.encoders import DEFAULTS as ENCODER_DEFAULTS
from core.encoders import POOLINGS, recommended_pooling
from core.figures import CONTRASTS
from core.text_to_image import imaging
from ui import links, state
from ui.text_to_image import cache, panels

EXAMPLES = (
    "A gripping, beautifully acted film that stays with you.\nA dull, lifeless script and not one laugh in two hours."
)

st.title("Sentence → Image")
links.sync({"pooling": "s2i-pooling", "layout": "s2i-imager", "texts": "s2i-text"})
st.caption(
    "Each sentence is encoded, the pooled vector of each chosen layer is taken, and a feature layout fitted on a "
    "corpus places every (layer, dimension) feature on a pixel. Hover a pixel to see its value and its features."
)

pooling = st.radio(
    "Pooling",
    POOLINGS,
    index=POOLINGS.index(recommended_pooling(ENCODER_DEFAULTS.name)),
    horizontal=True,
    format_func={
        "cls": "[CLS] token (the paper, for bert-base)",
        "mean": "mean over tokens (all-MiniLM-L6-v2's own)",
    }.get,
    key="s2i-pooling",
)
artifact_id = panels.choose_imager(pooling, key="s2i-imager")
contrast = st.radio(
    "Grey levels",
    CONTRASTS,
    horizontal=True,
    key="s2i-contrast",
    format_func={
        "equalize": "equalized (ranks)",
        "stretch": "stretched (1st–99th percentile)",
        "model": "as the model sees them (0–1)",
        "relative": "relative to the corpus (SDs from its mean)",
    }.get,
    help="Only the drawing changes: a few strong features can leave the rest nearly black at 0–1. "
    "Hover shows the true values in every mode.",
)
text = st.text_area("Sentences, one per line", EXAMPLES, height=110, key="s2i-text", persist_state="session")
texts = panels.sentences_to_show([line.strip() for line in text.splitlines() if line.strip()])

if artifact_id is None:
    st.stop()
if not texts:
    st.warning("Type at least one sentence (one per line).")
    st.stop()

with state.user_errors():
    ref = (artifact_id, cache.stamp(artifact_id))
    fitted = cache.imager(*ref)
    result = cache.images(*ref, tuple(texts))
    quality = fitted.config["quality"]["combined"]
    st.caption(
        f"{fitted.encoder.name}, layers {fitted.layers}, {pooling} pooling; layouts fitted on "
        f"{fitted.config['corpus'].get('rows')} {fitted.config['corpus'].get('corpus', '')} texts "
        f"(combined grid {fitted.combined.shape_[0]}×{fitted.combined.shape_[1]}, trustworthiness "
        f"{quality['trustworthiness']:.3f}; per-layer grid {fitted.per_layer.shape_[0]}×{fitted.per_layer.shape_[1]})."
    )
    for index, sentence in enumerate(texts):
        with st.container(border=True):
            panels.sentence_images(ref, index, sentence, result, contrast)
    left, right, _ = st.columns([1, 1, 2])
    left.download_button(
        "All combined images (NPY, n × H × W)", imaging.to_npy(result["combined"]), "combined.npy", key="all-combined"
    )
    right.download_button(
        "All layer images (NPY, n × layers × h × w)", imaging.to_npy(result["layers"]), "layers.npy", key="all-layers"
    )
    st.subheader("Compare two sentences")
    if len(texts) < 2:
        st.info("Type a second sentence to see their difference image.")
    else:
        panels.difference(ref, texts, result)
