"""The Streamlit caches of text -> image: fitted layouts and imagers, the images of sentences, image datasets,
trained models, a backbone's cut points and a sentence's word attributions.

Models and fitted layouts are ``st.cache_resource`` (loaded once per process, shared read-only); arrays and
tables are ``st.cache_data``, keyed by explicit arguments, among them when the artifact was written, so a
rewrite under the same id is seen.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core import store
from core.layout import FeatureLayout
from core.text_to_image import attributions, classify, training
from core.text_to_image.classifiers import SlicedClassifier
from core.text_to_image.datasets import DATASETS, hover_names, load_dataset
from core.text_to_image.figures import pixel_feature_text
from core.text_to_image.imaging import (
    IMAGERS,
    TextImager,
    feature_names,
    load_imager,
    load_layouts,
)
from ui.state import encoder


def stamp(artifact_id: str) -> str:
    """When a fitted imager was written: part of every cache key, so a refit under the same id is seen."""
    artifact = store.load(IMAGERS, artifact_id)
    if artifact is None:
        raise ValueError(f"No fitted layout {artifact_id!r} in {store.home()}; fit one on the Feature Layout page.")
    return str(artifact.config.get("provenance", {}).get("created", ""))


@st.cache_resource(show_spinner="Loading the fitted layouts…")
def layouts(artifact_id: str, written: str) -> dict[str, FeatureLayout]:
    """The combined and per-layer layouts of an imager (no encoder needed), loaded once per process."""
    return load_layouts(store.load(IMAGERS, artifact_id))


@st.cache_resource(show_spinner="Loading the encoder and the fitted layouts…")
def imager(artifact_id: str, written: str) -> TextImager:
    """A fitted text imager (encoder + layouts), loaded once per process."""
    artifact = store.load(IMAGERS, artifact_id)
    return load_imager(artifact, encoder(artifact.config["encoder"]["name"]), layouts(artifact_id, written))


@st.cache_data(show_spinner=False, max_entries=64)
def images(artifact_id: str, written: str, texts: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Images of some sentences under a fitted imager."""
    result = imager(artifact_id, written).images(list(texts))
    return {
        "features": result.features,
        "combined": result.combined,
        "layers": result.layers,
        "truncated": result.truncated,
        "relative_combined": result.relative_combined,
        "relative_layers": result.relative_layers,
    }


@st.cache_data(show_spinner=False, max_entries=16)
def hover_text(artifact_id: str, written: str, which: str) -> np.ndarray:
    """Which (layer, dimension) features sit on each pixel of the ``combined`` or ``per_layer`` grid."""
    config = store.load(IMAGERS, artifact_id).config
    return pixel_feature_text(layouts(artifact_id, written)[which], feature_names(config, which))


@st.cache_data(show_spinner="Loading the dataset…", max_entries=4)
def dataset_arrays(dataset_id: str, written: str) -> dict[str, np.ndarray]:
    """A dataset's images (float32), labels and test mask."""
    from core.text_to_image.datasets import dataset_texts

    artifact = store.load(DATASETS, dataset_id)
    arrays = load_dataset(artifact)
    texts = dataset_texts(artifact)
    return {**arrays, "images": arrays["images"].astype(np.float32), "texts": np.asarray(texts or [], dtype=object)}


@st.cache_data(show_spinner=False, max_entries=8)
def dataset_hover(dataset_id: str, written: str) -> np.ndarray:
    """Which (layer, dimension) features sit on each pixel of a dataset's images."""
    artifact = store.load(DATASETS, dataset_id)
    return pixel_feature_text(FeatureLayout.load(artifact.file("layout")), hover_names(artifact.config))


@st.cache_resource(show_spinner="Loading the encoder and the dataset's layout…")
def dataset_imager(dataset_id: str, written: str) -> classify.DatasetImager:
    """Turns typed texts into images exactly as the dataset's texts were, loaded once per process."""
    artifact = store.load(DATASETS, dataset_id)
    return classify.dataset_imager(artifact, encoder(artifact.config["encoder"]["name"]))


@st.cache_resource(show_spinner="Loading the trained model…", max_entries=16)
def model(model_id: str, written: str) -> SlicedClassifier:
    """A trained classifier, loaded once per process (on the CPU: one sentence at a time is fast there)."""
    return classify.load_model(store.load(training.MODELS, model_id).path)


@st.cache_data(show_spinner="Listing the backbone's cut points…", max_entries=16)
def cut_points(backbone: str) -> list[dict]:
    """The cut points of a backbone (a randomly initialised copy: shapes and sizes do not depend on weights)."""
    from dataclasses import asdict

    from core.text_to_image.backbones import build_backbone
    from core.text_to_image.backbones import cut_points as points

    return [asdict(p) for p in points(build_backbone(backbone, pretrained=False))]


@st.cache_data(show_spinner=False, max_entries=32)
def attribution(key: tuple[str, ...], text: str, target: int | None, settings: tuple, _imager, _model) -> dict:
    """The attribution and its deletion check, once per (dataset, model, sentence, class, settings) ``key``."""
    chosen = attributions.AttributionSettings(*settings).check()
    started = time.perf_counter()
    found = attributions.attribute(
        _imager, _model, text, target, chosen.method, chosen.steps, chosen.batch_size, chosen.rule, chosen.baseline
    )
    took = time.perf_counter() - started
    started = time.perf_counter()
    check = attributions.deletion_check(_imager, _model, text, found, chosen.random_orders, chosen.seed)
    return {"attribution": found, "seconds": took, "deletion": check, "check_seconds": time.perf_counter() - started}
