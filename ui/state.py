"""Every Streamlit cache of the app lives here.

Models, tokenizers and fitted layouts are ``st.cache_resource``: loaded once per process and
shared read-only by every browser session. Arrays and tables are ``st.cache_data``, keyed by
explicit arguments. Per-visitor state (sentences, settings) lives only in ``st.session_state``,
so two sessions never see each other's input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import streamlit as st

from core import store
from core.encoders import TextEncoder
from core.errors import USER_ERRORS, Interrupted
from core.imagesets import ImageSet
from core.layout import FeatureLayout
from core.text_to_image import classify, training
from core.text_to_image.classifiers import SlicedClassifier
from core.text_to_image.datasets import DATASETS, load_dataset
from core.text_to_image.figures import pixel_feature_text
from core.text_to_image.imaging import (
    IMAGERS,
    TextImager,
    feature_names,
    load_imager,
    load_layouts,
)


@st.cache_resource(show_spinner="Loading the text encoder…")
def encoder(name: str) -> TextEncoder:
    """A text encoder, loaded once per process."""
    return TextEncoder.from_name(name)


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


def progress_callback(label: str):
    """A ``callback(step, total, metrics)`` that drives an ``st.progress`` bar."""
    bar = st.progress(0.0, text=label)

    def callback(step: int, total: int, metrics: dict) -> None:
        detail = " · ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        bar.progress(min(1.0, step / max(total, 1)), text=f"{label}: {step}/{total} {detail}")

    return callback


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a user error (bad input, missing resource) as a message instead of a traceback."""
    try:
        yield
    except Interrupted as stop:
        st.warning(f"{stop} Work done so far is saved; run it again to resume.")
    except USER_ERRORS as error:
        st.error(str(error), icon=":material/error:")


# ----------------------------------------------------------------- image datasets and trained models


def artifact_stamp(kind: str, artifact_id: str) -> str:
    """When an artifact was written (part of cache keys, so a rewrite under the same id is seen)."""
    artifact = store.load(kind, artifact_id)
    if artifact is None:
        raise ValueError(f"No {kind} artifact {artifact_id!r} in {store.home()}.")
    return str(artifact.config.get("provenance", {}).get("created", ""))


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
    return pixel_feature_text(FeatureLayout.load(artifact.file("layout")), feature_names(artifact.config, "combined"))


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


# ----------------------------------------------------------------- image sets (images -> words)


@st.cache_resource(show_spinner="Loading the image set…", max_entries=2)
def imageset(name: str, path: str | None) -> ImageSet:
    """An image set, loaded once per process."""
    from core import imagesets

    return imagesets.load_imageset(name, path)


class LiveView:
    """A long job's ``callback(step, steps, metrics)`` that draws its progress after every step (an epoch, an
    evaluation) with :meth:`draw`.

    Streamlit ends a run when the visitor presses Stop or clicks anything: that arrives as an exception at
    the next page update. The callback then returns True, so the job stops cleanly and keeps what it has
    (it resumes when run again), and :meth:`finish` raises the exception again so Streamlit does what was
    asked.
    """

    def __init__(self, text: str) -> None:
        self.bar = st.progress(0.0, text=text)
        self.chart = st.empty()
        self.ended: list[BaseException] = []

    def draw(self, step: int, steps: int, metrics: dict) -> None:
        raise NotImplementedError

    def __call__(self, step: int, steps: int, metrics: dict) -> bool | None:
        try:
            self.draw(step, steps, metrics)
        except BaseException as stop:  # Stop, a click, or a closed tab
            self.ended.append(stop)
            return True
        return None

    def finish(self) -> None:
        """Re-raise a Stop that arrived during the job; else clear the live view (the page draws the result)."""
        if self.ended:
            raise self.ended[0]
        self.bar.empty()
        self.chart.empty()
