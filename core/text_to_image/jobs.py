"""The long tasks of text -> image, each one function called alike by the CLI and the pages.

Training a classifier and fitting the logistic-regression baseline are
:func:`core.text_to_image.training.train_model` and
:func:`core.text_to_image.training.logistic_baseline`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from core import jobs
from core.encoders import TextEncoder
from core.settings import from_record, to_record
from core.store import Artifact
from core.text_to_image import datasets, imaging

EncoderSource = TextEncoder | str | Callable[[], TextEncoder]
"""An encoder, its name, or a function that loads it (e.g. a cached loader): loaded only once the
settings are checked.
"""


FITS = "layout-fits"
RELOADABLE = ("rotten_tomatoes", "imdb")


def _encoder(encoder: EncoderSource) -> TextEncoder:
    if isinstance(encoder, TextEncoder):
        return encoder
    return TextEncoder.from_name(encoder) if isinstance(encoder, str) else encoder()


def fit_layout(
    corpus: pd.DataFrame,
    encoder: EncoderSource,
    settings: imaging.LayoutFitSettings,
    progress: jobs.Progress = jobs.no_progress,
    force: bool = False,
) -> Artifact:
    """Embed a corpus (cached, resumable) and fit its combined and per-layer layouts: an ``imagers`` artifact.

    The settings are checked before the encoder is loaded or anything is embedded. ``force`` refits even if
    these settings were fitted before.
    """
    settings.check()
    encoder = _encoder(encoder)
    source = corpus.attrs.get("source", {})
    layers = list(settings.layers) if settings.layers is not None else None
    layout_params = dict(settings.layout or {})
    key = None
    if source.get("corpus") in RELOADABLE:  # a corpus that can be loaded again: a stopped fit can be resumed
        record = {
            "corpus": {"name": source["corpus"], "n": source.get("n_requested"), "seed": source.get("seed", 0)},
            "encoder": encoder.name,
            **to_record(settings),
        }
        key = jobs.record_pending(FITS, record)
    embeddings = imaging.embed_corpus(
        encoder, corpus, layers, settings.pooling, callback=progress("Embedding the corpus")
    )
    artifact = imaging.fit_imager(
        embeddings, layout_params, settings.layer_pixels, callback=progress("Fitting the layouts"), force=force
    )
    if key is not None and not any(q["stopped_early"] for q in artifact.config["quality"].values()):
        jobs.clear_pending(FITS, key)
    return artifact


def pending_fits() -> list[tuple[str, dict[str, Any]]]:
    """Layout fits that started and did not finish (their embedding shards are kept), newest first: each
    key and record (the corpus, the encoder's name, and the :class:`~core.text_to_image.imaging.LayoutFitSettings`
    fields)."""
    return jobs.list_pending(FITS)


def resume_fit(key: str, progress: jobs.Progress = jobs.no_progress, encoder: EncoderSource | None = None) -> Artifact:
    """Run a stopped layout fit again with exactly its settings; finished embedding shards are reused."""
    from core import corpora

    found = dict(pending_fits())
    if key not in found:
        raise ValueError(f"no stopped layout fit {key!r}; it may have finished meanwhile.")
    s = found[key]
    corpus = corpora.load_corpus(s["corpus"]["name"], n=s["corpus"]["n"], seed=s["corpus"]["seed"])
    settings = from_record(imaging.LayoutFitSettings, s)
    return fit_layout(corpus, encoder or s["encoder"], settings, progress=progress)


def build_dataset(
    corpus: pd.DataFrame,
    encoder: EncoderSource,
    settings: datasets.DatasetSettings = datasets.DATASET_DEFAULTS,
    progress: jobs.Progress = jobs.no_progress,
) -> Artifact:
    """A split image dataset of a labelled corpus (see :func:`core.text_to_image.datasets.build_dataset`).

    The labels and settings are checked before the encoder is loaded.
    """
    from core.corpora import check_labels

    check_labels(corpus)
    settings.check()
    return datasets.build_dataset(_encoder(encoder), corpus, settings, callback=progress("Building the dataset"))
