"""Widgets and caches of the Sentence Map page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import corpora, store
from core.encoders import available_encoders
from core.text_to_image import results, sentence_map
from core.text_to_image.sentence_map import MAPS, MapSettings
from ui import inputs, state

DEFAULTS = MapSettings()


def settings_form() -> MapSettings:
    """Which sentences and how the map is made (defaults: 2,000 Rotten Tomatoes snippets, MiniLM, t-SNE)."""
    with st.expander("Sentences and map settings", expanded=False):
        left, middle, right = st.columns(3)
        names = [c["name"] for c in corpora.available_corpora() if c["available"] and c["name"] != "csv"]
        corpus = left.selectbox(
            "Corpus", names, index=names.index(DEFAULTS.corpus) if DEFAULTS.corpus in names else 0, key="sm-corpus"
        )
        n = inputs.number(left, "Sentences (a stratified sample)", 100, 20_000, DEFAULTS.n, 100, key="sm-n")
        encoders = [e["name"] for e in available_encoders() if e["available"]]
        encoder = middle.selectbox("Encoder", encoders, key="sm-encoder")
        pooling = middle.radio("Pooling", ["mean", "cls"], horizontal=True, key="sm-pooling")
        method = right.radio(
            "Map",
            sentence_map.METHODS,
            horizontal=True,
            key="sm-method",
            format_func=lambda m: {"tsne": "t-SNE (openTSNE)", "umap": "UMAP"}[m],
        )
        seed = inputs.number(right, "Map seed", 0, 10_000, DEFAULTS.random_state, key="sm-seed")
    return MapSettings(corpus=corpus, n=int(n), encoder=encoder, pooling=pooling, method=method, random_state=int(seed))


@st.cache_resource(show_spinner="Loading the map and its neighbour index…", max_entries=8)
def loaded_map(artifact_id: str) -> sentence_map.SentenceMap:
    """A fitted map, ready to place sentences (built once per process)."""
    return sentence_map.SentenceMap(store.load(MAPS, artifact_id)).warm()


@st.cache_data(show_spinner="Predicting every sentence of the map with the model…", max_entries=8)
def predictions(model_id: str, map_id: str) -> list[str]:
    model = store.load("models", model_id)
    found = loaded_map(map_id)
    return sentence_map.model_predictions(model, found.texts, state.encoder(found.settings.encoder))


def fit(settings: MapSettings, layers: list[int]) -> None:
    """Fit the maps of ``layers`` (embedding the corpus once), with progress."""
    encoder = state.encoder(settings.encoder)
    embed = state.progress_callback("Embedding every layer of the corpus (once)")
    bar = st.progress(0.0, text="Fitting the maps")
    for done, layer in enumerate(layers):
        bar.progress(done / len(layers), text=f"Fitting the map of layer {layer} ({done + 1} of {len(layers)})")
        sentence_map.fit_map(settings, encoder, layer, embed)
    bar.empty()


def colours(found: sentence_map.SentenceMap) -> tuple[list[str], np.ndarray | None, str]:
    """What the points are coloured by (labels or a model's predictions), which are wrong, and a caption."""
    truth = [found.label_names[int(v)] if int(v) < len(found.label_names) else str(v) for v in found.labels]
    models = {a.id: a for a in results.list_models()}
    choice = st.radio("Colour by", ["label", "a trained model's prediction"], horizontal=True, key="sm-colour")
    if choice == "label" or not models:
        if choice != "label":
            st.info("No trained model yet: train one on the Train page to colour the map by its predictions.")
        return truth, None, "Coloured by the corpus's labels."
    model_id = st.selectbox("Model", list(models), format_func=lambda i: results.model_label(models[i]), key="sm-model")
    predicted = predictions(model_id, found.artifact.id)
    wrong = np.asarray([p != t for p, t in zip(predicted, truth, strict=True)])
    caption = (
        f"Coloured by the model's prediction; crosses: wrong ({wrong.mean():.1%} of the map's sentences; sentences "
        "the model was trained on are among them, so this is not a held-out error rate)."
    )
    return predicted, wrong, caption


def neighbour_table(found: sentence_map.SentenceMap, texts: list[str], vectors: np.ndarray, k: int) -> pd.DataFrame:
    rows = []
    for number, (text, near) in enumerate(zip(texts, found.neighbours(vectors, k), strict=True), start=1):
        for rank, (row, similarity) in enumerate(near, start=1):
            label = found.label_names[int(found.labels[row])] if found.label_names else str(found.labels[row])
            rows.append(
                {
                    "sentence": f"{number}. {text}",
                    "rank": rank,
                    "cosine": round(similarity, 3),
                    "label": label,
                    "neighbour": found.texts[row],
                }
            )
    return pd.DataFrame(rows)
