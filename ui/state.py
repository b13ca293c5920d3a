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
from core.imaging import IMAGERS, TextImager, load_imager


@st.cache_resource(show_spinner="Loading the text encoder…")
def encoder(name: str) -> TextEncoder:
    """A text encoder, loaded once per process."""
    return TextEncoder.from_name(name)


@st.cache_resource(show_spinner="Loading the fitted layouts…")
def imager(artifact_id: str) -> TextImager:
    """A fitted text imager (encoder + layouts), loaded once per process."""
    artifact = store.load(IMAGERS, artifact_id)
    if artifact is None:
        raise ValueError(f"No fitted layout {artifact_id!r} in {store.home()}; fit one on the Feature Layout page.")
    return load_imager(artifact, encoder(artifact.config["encoder"]["name"]))


@st.cache_data(show_spinner=False, max_entries=64)
def images(artifact_id: str, texts: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Images of some sentences under a fitted imager."""
    result = imager(artifact_id).images(list(texts))
    return {"features": result.features, "combined": result.combined, "layers": result.layers, "truncated": result.truncated}


@st.cache_data(show_spinner=False, max_entries=16)
def hover_text(artifact_id: str, which: str) -> np.ndarray:
    """Which (layer, dimension) features sit on each pixel of the ``combined`` or ``per_layer`` grid."""
    fitted = imager(artifact_id)
    if which == "combined":
        names = [fitted.feature_name(i) for i in range(fitted.combined.n_features_in_)]
        return pixel_feature_text(fitted.combined, names)
    names = [(None, d) for d in range(fitted.hidden)]
    return pixel_feature_text(fitted.per_layer, names)


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
