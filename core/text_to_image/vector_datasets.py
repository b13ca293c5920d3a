"""An image dataset straight from precomputed vectors and labels: the text-as-image method without the encoder.

The vectors (any file :func:`core.vectors.load_vectors` reads) stand in for the encoder's pooled hidden states:
:class:`PrecomputedVectors` answers ``embed`` by looking each point's vector up, so
:func:`core.text_to_image.datasets.build_dataset` runs unchanged and writes the same two artifacts as from a
corpus: an ``embeddings`` artifact (the vectors, and each point's name and label) and a ``datasets`` artifact
(images, labels, the stratified split, the layout fitted on the training rows), which the Train page, the
logistic-regression baseline and the Results page use as they are. Classifying typed sentences needs a real
encoder, so the Classify page cannot use such a dataset.

``python -m core t2i-vectors-dataset --vectors FILE --label-column COLUMN`` builds one.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from core.store import Artifact, Callback
from core.text_to_image import datasets
from core.vectors import VectorTable, vectors_sha256

PRECOMPUTED = "precomputed"
"""The pooling recorded for precomputed vectors (their maker pooled them, if at all)."""


class PrecomputedVectors:
    """Stands in for a :class:`core.encoders.TextEncoder` whose "texts" are the points' names: ``embed`` returns
    each name's own vector. One layer (0), of the vectors' width."""

    def __init__(self, vectors: np.ndarray, names: list[str], source: str) -> None:
        import torch

        if len(set(names)) != len(names):
            raise ValueError("the points' names must be unique to look their vectors up.")
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.row = {name: i for i, name in enumerate(names)}
        self.sha256 = vectors_sha256(self.vectors)
        self.name = f"precomputed vectors ({source})"
        self.hidden_size, self.num_layers, self.default_layers = int(self.vectors.shape[1]), 0, (0,)
        self.device = torch.device("cpu")

    def normalise_layers(self, layers: Any = None) -> list[int]:
        if layers is not None and list(layers) != [0]:
            raise ValueError("precomputed vectors have one layer (0); leave the layers out.")
        return [0]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "model_id": f"precomputed:{self.sha256[:16]}",
            "revision": self.sha256,
            "num_layers": 0,
            "hidden_size": self.hidden_size,
            "max_length": None,
        }

    def embed(self, texts: list[str], layers: Any = None, pooling: str = PRECOMPUTED, **_: Any) -> np.ndarray:
        return self.vectors[[self.row[text] for text in texts]]


@dataclass(frozen=True)
class VectorDatasetSettings(datasets.DatasetSettings):
    """:class:`core.text_to_image.datasets.DatasetSettings` for precomputed vectors (no layers, no pooling)."""

    pooling: str = PRECOMPUTED

    def check(self) -> None:
        if self.pooling != PRECOMPUTED or self.layers is not None:
            raise ValueError("precomputed vectors have no layers or pooling to choose.")
        datasets.DatasetSettings.check(replace(self, pooling="mean"))


def labelled_points(table: VectorTable, label_column: str, name_column: str | None = None) -> pd.DataFrame:
    """The corpus frame ``build_dataset`` reads: ``text`` (each point's unique name) and ``label`` (class numbers,
    the names in ``attrs["label_names"]``, sorted)."""
    if table.vectors is None:
        raise ValueError("these points have no vectors to make images of.")
    columns = list(table.metadata.columns)
    for column in (label_column, name_column):
        if column is not None and column not in columns:
            raise ValueError(f"there is no metadata column {column!r}; the columns are {', '.join(columns)}.")
    values = table.metadata[label_column]
    if values.isna().any():
        raise ValueError(f"column {label_column!r}: row {int(np.argmax(values.isna().to_numpy())) + 1} has no label.")
    names = sorted(values.astype(str).unique())
    texts = table.metadata[name_column].astype(str) if name_column else pd.Series(np.arange(len(table)).astype(str))
    repeated = texts.duplicated(keep=False).to_numpy()
    texts = texts.where(~repeated, texts + " #" + pd.Series(np.arange(len(table)).astype(str)))
    corpus = pd.DataFrame({"text": texts.to_numpy(), "label": values.astype(str).map(names.index).to_numpy()})
    corpus.attrs["label_names"] = names
    corpus.attrs["source"] = {
        "corpus": "vectors",
        **{k: v for k, v in table.source.items() if v},
        "label_column": label_column,
        "name_column": name_column,
    }
    return corpus


def build_vector_dataset(
    table: VectorTable,
    label_column: str,
    name_column: str | None = None,
    settings: VectorDatasetSettings | None = None,
    callback: Callback | None = None,
) -> Artifact:
    """The image dataset of ``table``'s vectors, labelled by ``label_column`` (see the module doc)."""
    settings = settings or VectorDatasetSettings()
    settings.check()
    corpus = labelled_points(table, label_column, name_column)
    source = str(table.source.get("path") or table.source.get("vectors") or "vectors")
    encoder = PrecomputedVectors(table.vectors, corpus["text"].tolist(), source.rsplit("/", 1)[-1])
    return datasets.build_dataset(encoder, corpus, settings, callback)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``t2i-vectors-dataset`` to the lab's command line."""
    from core.layout import DEFAULTS as LAYOUT
    from core.vectors.cli import add_source

    command = commands.add_parser(
        "t2i-vectors-dataset",
        help="an image dataset (for t2i-train) from precomputed vectors and a label column, no encoder",
    )
    add_source(command)
    command.add_argument("--label-column", required=True, help="the metadata column holding each point's class")
    command.add_argument("--name-column", help="the column naming each point (default: its row number)")
    command.add_argument("--method", choices=("tsne", "umap", "pca"), default=LAYOUT.method, help="the feature layout")
    command.add_argument("--pixels", type=int, default=LAYOUT.pixels)
    command.add_argument("--test-size", type=float, default=datasets.DATASET_DEFAULTS.test_size)
    command.add_argument("--split-seed", type=int, default=datasets.DATASET_DEFAULTS.seed)
    command.add_argument("--layout-seed", type=int, default=LAYOUT.random_state)
    command.set_defaults(run=_build)


def _build(args: argparse.Namespace) -> dict:
    from core.vectors.cli import lazy_progress, read_source

    table = read_source(args)
    layout = {"method": args.method, "pixels": args.pixels, "random_state": args.layout_seed}
    settings = VectorDatasetSettings(layout=layout, test_size=args.test_size, seed=args.split_seed)
    artifact = build_vector_dataset(table, args.label_column, args.name_column, settings, lazy_progress("dataset"))
    return {
        "id": artifact.id,
        "path": str(artifact.path),
        "label_names": artifact.config["label_names"],
        "split": artifact.config["split"],
        "quality": artifact.config["quality"],
        "next": f"python -m core t2i-train --dataset {artifact.id} --backbone efficientnet_lite0",
    }
