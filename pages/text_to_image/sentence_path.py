"""A Sentence's Path: one sentence followed through the whole text-as-image method, step by step."""

import streamlit as st

from core.text_to_image import datasets, imaging, results, sentence_path, training
from ui import charts, links, state
from ui.text_to_image import cache, panels
from ui.text_to_image import calibration as calibrated
from ui.text_to_image import path as steps

st.title("A Sentence's Path")
links.sync(
    {
        "dataset": "sp-dataset",
        "model": "sp-model",
        "grid": "sp-imager",
        "text": "sp-text",
        "raw": ("sp-raw", bool),
        "layer": ("sp-att-layer", int),
        "head": ("sp-att-head", int),
    }
)
st.caption(
    "One sentence, followed through the whole method: tokens → the hidden state of every layer → the pooled "
    "vectors → the feature layout → the image → the vision model's slice → the prediction and what it depends on. "
    "Each step is drawn, with a caption to read out in a workshop."
)

dataset, models = panels.choose_trained_dataset("sp-dataset")
dataset_id = dataset.id
model_id = st.selectbox("Model", list(models), format_func=lambda i: results.model_label(models[i]), key="sp-model")
# the per-layer strip needs a layout over the encoder's hidden dimensions: a fitted imager of the same encoder
same_encoder = {
    a.id: a for a in imaging.list_imagers() if a.config["encoder"]["model_id"] == dataset.config["encoder"]["model_id"]
}
if same_encoder:
    imager_id = st.selectbox(
        "Grid of the per-layer images (a fitted layout of the same encoder)",
        list(same_encoder),
        format_func=lambda i: imaging.imager_label(same_encoder[i]),
        key="sp-imager",
    )
else:
    imager_id = panels.choose_imager(dataset.config["pooling"], "sp-imager")
if imager_id is None:
    st.stop()
text = st.text_input(
    "Sentence", "A tender, funny and beautifully acted film.", key="sp-text", persist_state="session"
).strip()
if not text:
    st.warning("Type a sentence to follow.")
    st.stop()
raw = st.toggle(
    "Raw probabilities",
    key="sp-raw",
    help="Off: divided by the model's temperature, fitted on its validation split, as on Classify.",
)

with state.user_errors(), charts.view(f"A Sentence's Path: «{text}»", "sp-html"):
    charts.add(f"Dataset: {datasets.dataset_label(dataset)}. Model: {results.model_key(models[model_id])}.")
    ref = (dataset_id, state.artifact_stamp(datasets.DATASETS, dataset_id))
    imager = cache.dataset_imager(*ref)
    consequence = "so every step below, the prediction included, says little about its meaning"
    panels.unreadable_warning(imager.encoder, text, consequence)
    per_layer = cache.layouts(imager_id, cache.stamp(imager_id))["per_layer"]
    model = cache.model(model_id, state.artifact_stamp(training.MODELS, model_id))
    path = sentence_path.trace(imager, per_layer, model, text)
    hover = cache.dataset_hover(*ref)
    steps.tokens(path)
    steps.layers(path, imager.encoder.name)
    steps.attention(path, imager.encoder.name)
    steps.vectors(path, imager.layers, imager.encoder.hidden_size)
    titles = datasets.channel_titles(dataset.config)
    steps.layout_and_image(path, hover, titles)
    steps.slice_maps(path, model.config["backbone"])
    temperature = (calibrated.temperatures({model_id: models[model_id]}, raw) or {}).get(model_id)
    steps.prediction(path, datasets.label_names(dataset), hover, temperature, titles)
