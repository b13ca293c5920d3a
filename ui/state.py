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
from core.figures import pixel_feature_text
from core.imaging import IMAGERS, TextImager, feature_names, load_imager, load_layouts
from core.layout import FeatureLayout


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
    return {"features": result.features, "combined": result.combined, "layers": result.layers, "truncated": result.truncated}


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
