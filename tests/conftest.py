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


def _separable_images(n: int = 64, side: int = 20, seed: int = 0):
    """Class 0 is bright on the left half, class 1 on the right half, both under noise."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = 0.3 * torch.rand(n, side, side, generator=generator)
    images[labels == 0, :, : side // 2] += 0.6
    images[labels == 1, :, side // 2 :] += 0.6
    return images, labels


@pytest.fixture()
def separable():
    """A factory of small separable grayscale image sets: separable(n, side, seed) -> (images, labels)."""
    return _separable_images
