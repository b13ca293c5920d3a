"""Shared fixtures: a private artifact store holding one small fitted imager."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SMALL_CORPUS = 120
SMALL_LAYOUT = {"pixels": 24, "random_state": 0}


@pytest.fixture(scope="session")
def lab_home(tmp_path_factory) -> Path:
    """A CROSSMODAL_HOME with a small imager fitted on Rotten Tomatoes (cls pooling), for the whole session."""
    home = tmp_path_factory.mktemp("lab-home")
    previous = os.environ.get("CROSSMODAL_HOME")
    os.environ["CROSSMODAL_HOME"] = str(home)
    from core import corpora, imaging
    from core.encoders import TextEncoder

    encoder = TextEncoder.from_name()
    corpus = corpora.load_corpus("rotten_tomatoes", n=SMALL_CORPUS, seed=0)
    embeddings = imaging.embed_corpus(encoder, corpus, pooling="cls")
    artifact = imaging.fit_imager(embeddings, SMALL_LAYOUT)
    (home / "small-imager-id").write_text(artifact.id)
    yield home
    if previous is None:
        os.environ.pop("CROSSMODAL_HOME", None)
    else:
        os.environ["CROSSMODAL_HOME"] = previous


@pytest.fixture(scope="session")
def small_imager(lab_home):
    """The fitted small imager, loaded (other tests may add imagers to the same store)."""
    from core import imaging, store

    artifact_id = (lab_home / "small-imager-id").read_text()
    return imaging.load_imager(store.load(imaging.IMAGERS, artifact_id))
