"""Image datasets: a labelled corpus turned into a split set of sentence images.

A dataset is a ``datasets`` artifact: ``images.npy`` (n, H, W) float16 (or (n, 3, H, W) with per-layer channels,
the lab's extension: see :data:`CHANNELS`), ``labels.npy``,
``is_test.npy`` (the held-out rows), the fitted ``layout/`` and a ``config.json`` with the corpus,
the encoder, layers, pooling, layout settings, split, quality figures and provenance. The split is
stratified and seeded; the layout is fitted on the training rows only unless the paper's leak is
asked for (``fit_on="all"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from core import jobs, store
from core.encoders import POOLINGS, TextEncoder
from core.errors import Interrupted
from core.layout import FeatureLayout
from core.store import Artifact, Callback
from core.text_to_image import imaging

DATASETS = "datasets"

FIT_ON = ("train", "all")
CHANNELS = ("grey", "layers")
"""What an image's channels hold: ``grey``, one image of every layer's features together, which the backbone reads
as the same grey image in its three input channels (the paper's); or ``layers`` (the lab's extension, not the
paper's), exactly three layers, each its own channel (red, green, blue) of one layout fitted on a layer's
features, every layer's vector counted as a sample."""
SPLITS = ("stratified", "random_split")
"""How rows are split into training and test: scikit-learn's stratified ``train_test_split`` seeded with the
seed (the lab's), or ``torch.utils.data.random_split`` right after ``torch.manual_seed(seed)``, as the paper's
code split its 50,000 reviews (same rows as its split for the same rows in the same order)."""


def check_stratifiable(labels: np.ndarray, test_size: float) -> None:
    """Raise a ValueError saying what to change when a stratified split of ``labels`` is impossible: a class with a
    single row (often the wrong label column: an id or the texts themselves), or fewer test rows than classes."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    single = int((counts < 2).sum())
    if single:
        hint = (
            " Almost every row has its own label: is the label column the right one (not an id or the text)?"
            if len(values) > len(labels) / 2
            else " Remove those rows or add more of each class."
        )
        raise ValueError(
            f"{single} of the {len(values)} classes have a single row, and a stratified split needs at least two "
            f"rows of every class.{hint} (Or choose the random split.)"
        )
    n_test = int(np.ceil(test_size * len(labels)))
    if n_test < len(values):
        raise ValueError(
            f"the test share {test_size:.0%} of {len(labels)} rows is {n_test} rows, fewer than the {len(values)} "
            "classes it must hold one of each of: raise the test share or use more rows."
        )


def split_rows(
    labels: np.ndarray, test_size: float, seed: int, method: str = "stratified"
) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, test rows) of ``labels`` by ``method`` (see :data:`SPLITS`)."""
    if method not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {method!r}.")
    rows = np.arange(len(labels))
    if method == "stratified":
        from sklearn.model_selection import train_test_split

        check_stratifiable(labels, test_size)

        return train_test_split(rows, test_size=test_size, stratify=labels, random_state=seed)
    import torch

    n_train = int((1 - test_size) * len(rows))
    generator = torch.Generator().manual_seed(seed)  # what the default generator is after torch.manual_seed(seed)
    order = torch.randperm(len(rows), generator=generator).numpy()
    return order[:n_train], order[n_train:]


@dataclass(frozen=True)
class DatasetSettings:
    """How a labelled corpus becomes an image dataset; pages and the CLI read their defaults from here
    (the split: 80/20, seed 42, as the paper's).

    Attributes:
        layers: ``hidden_states`` indices (None: the encoder's default layers).
        pooling: ``cls`` or ``mean``.
        layout: :class:`core.layout.FeatureLayout` keyword arguments (missing ones take its defaults).
        test_size: the held-out share.
        seed: the seed of the split.
        fit_on: ``train``: the layout sees the training rows only; ``all`` repeats the paper's code, whose layout
            also saw the test rows.
        split: how rows are split (see :data:`SPLITS`).
        channels: ``grey`` or ``layers`` (see :data:`CHANNELS`; ``layers`` needs exactly three layers).
    """

    layers: tuple[int, ...] | None = None
    pooling: str = "cls"
    layout: dict[str, Any] = field(default_factory=dict)
    test_size: float = 0.2
    seed: int = 42
    fit_on: str = "train"
    split: str = "stratified"
    channels: str = "grey"

    def check(self) -> None:
        """Raise ValueError naming the first bad setting, before any costly work."""
        if self.fit_on not in FIT_ON:
            raise ValueError(f"fit_on must be one of {FIT_ON}, got {self.fit_on!r}.")
        if not 0 < self.test_size < 1:
            raise ValueError(f"test_size must be between 0 and 1, got {self.test_size!r}.")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}.")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}.")
        if self.channels not in CHANNELS:
            raise ValueError(f"channels must be one of {CHANNELS}, got {self.channels!r}.")
        if self.channels == "layers" and (self.layers is None or len(self.layers) != 3):
            raise ValueError(
                "per-layer channels need exactly three layers, one per colour channel: give three "
                f"(for example -5 -3 -1), got {'the encoder default' if self.layers is None else list(self.layers)}."
            )
        imaging.check_settings(dict(self.layout or {}))


DATASET_DEFAULTS = DatasetSettings()


def build_dataset(
    encoder: TextEncoder,
    corpus: pd.DataFrame,
    settings: DatasetSettings = DATASET_DEFAULTS,
    callback: Callback | None = None,
) -> Artifact:
    """Turn a labelled corpus into a split image dataset (combined grid) and save it as an artifact.

    The texts are embedded once (cached, resumable), split with a stratified, seeded split, and the
    layout is fitted on the training rows only, unless ``fit_on="all"`` asks for the paper's way
    (its layout saw every row, test rows included). Images are stored as float16. ``split``: see
    :data:`SPLITS`.

    Returns:
        The ``datasets`` artifact: ``images.npy`` (n, H, W) float16, ``labels.npy``, ``is_test.npy``,
        ``layout/`` and ``config.json`` (split, counts, layout quality, provenance).
    """
    from core.corpora import check_labels

    settings.check()
    check_labels(corpus)
    layers = list(settings.layers) if settings.layers is not None else None
    pooling, fit_on, split = settings.pooling, settings.fit_on, settings.split
    layout_params = dict(settings.layout or {})
    embeddings = imaging.embed_corpus(encoder, corpus, layers, pooling, callback=callback)
    features = imaging.load_embeddings(embeddings)
    labels = corpus["label"].to_numpy()
    train, test = split_rows(labels, settings.test_size, settings.seed, split)
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test] = True
    config = {
        "embeddings": embeddings.id,
        "corpus": embeddings.config["corpus"],
        "label_names": list(corpus.attrs.get("label_names", [])),
        "encoder": embeddings.config["encoder"],
        "layers": embeddings.config["layers"],
        "pooling": pooling,
        "layout": imaging.layout_record(layout_params),
        "split": {
            "test_size": settings.test_size,
            "seed": settings.seed,
            "train": int(len(train)),
            "test": int(len(test)),
            **({"method": split} if split != "stratified" else {}),
        },
        "fit_on": fit_on,
        **({"channels": settings.channels} if settings.channels != "grey" else {}),
    }
    n_layers = layout_rows(config)

    def build(artifact_id: str) -> tuple[dict[str, Any], jobs.Writer]:
        fit_rows = np.sort(train) if fit_on == "train" else np.arange(len(labels))
        layout = FeatureLayout(**layout_params).fit(
            imaging.stack_layers(features[fit_rows], n_layers), callback=callback
        )
        if layout.stopped_early_:  # never publish a half-fitted layout; the embeddings stay cached for the next run
            raise Interrupted(
                "The layout fit was stopped; build the dataset again to refit it (the embeddings are kept)."
            )

        def write(folder: Path) -> None:
            images = images_of(layout, features, config).astype(np.float16)
            np.save(folder / "images.npy", images, allow_pickle=False)
            np.save(folder / "labels.npy", labels.astype(np.int64), allow_pickle=False)
            np.save(folder / "is_test.npy", is_test, allow_pickle=False)
            layout.save(folder / "layout")

        quality = layout.quality(imaging.stack_layers(features[fit_rows], n_layers))
        return {"quality": quality, "provenance": store.provenance()}, write

    return jobs.build_or_load(DATASETS, config, build)


def channels_of(config: dict[str, Any]) -> str:
    """What a dataset's (or a model's dataset's) image channels hold (see :data:`CHANNELS`)."""
    return str(config.get("channels", "grey"))


def layout_rows(config: dict[str, Any]) -> int:
    """How many rows of its layout one feature vector of a dataset with ``config`` makes: one (grey), or one per
    layer (one layer per channel: the layout places one layer's dimensions)."""
    return len(config["layers"]) if channels_of(config) == "layers" else 1


def channel_titles(config: dict[str, Any]) -> list[str] | None:
    """The panel titles of a dataset's image channels, one per layer with its colour (None for grey images)."""
    from core.figures import channel_titles as titles

    if channels_of(config) != "layers":
        return None
    return titles(len(config["layers"]), [f"layer {layer}" for layer in config["layers"]])


def hover_names(config: dict[str, Any]) -> list[tuple[int | None, int]]:
    """(layer, dimension) of the features on a dataset's layout, in the layout's order: every layer's for grey
    images; one layer's dimensions (None: each channel its own layer) for images of one layer per channel."""
    return imaging.feature_names(config, "per_layer" if channels_of(config) == "layers" else "combined")


def images_of(layout: FeatureLayout, features: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """The images of feature vectors (n, L * hidden) made as a dataset with ``config`` made its own: (n, H, W)
    grey, or (n, 3, H, W) with one channel per layer."""
    rows = layout_rows(config)
    if rows == 1:
        return layout.transform(features)
    per_layer = layout.transform(imaging.stack_layers(features, rows))
    return per_layer.reshape(len(features), rows, *per_layer.shape[1:])


def load_dataset(artifact: Artifact) -> dict[str, np.ndarray]:
    """The arrays of a ``datasets`` artifact: images (float16), labels and the test mask."""
    return {name: np.load(artifact.file(f"{name}.npy"), allow_pickle=False) for name in ("images", "labels", "is_test")}


@dataclass(frozen=True)
class Split:
    """A dataset's images and labels, split as it was built."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def load_split(dataset: Artifact) -> Split:
    """The dataset's images (float16) and labels, split by its stored test mask."""
    arrays = load_dataset(dataset)
    images, labels, is_test = (
        torch.from_numpy(arrays["images"]),
        torch.from_numpy(arrays["labels"]),
        torch.from_numpy(arrays["is_test"]),
    )
    return Split(images[~is_test], labels[~is_test], images[is_test], labels[is_test])


def label_names(dataset: Artifact) -> list[str]:
    """The dataset's class names (their numbers when it has none)."""
    names = list(dataset.config.get("label_names") or [])
    if names:
        return names
    return [str(i) for i in range(int(np.load(dataset.file("labels.npy")).max()) + 1)]


def find_dataset(dataset_id: str) -> Artifact:
    """The image dataset ``dataset_id``; ValueError naming the datasets built here when there is none."""
    found = store.load(DATASETS, dataset_id)
    if found is None:
        known = ", ".join(a.id for a in list_datasets()) or "none yet (python -m core t2i-build-dataset)"
        raise ValueError(f"no dataset {dataset_id!r}; built datasets: {known}.")
    return found


def list_datasets() -> list[Artifact]:
    """Built image datasets, newest first."""
    return store.list_artifacts(DATASETS)


def dataset_label(artifact: Artifact) -> str:
    """A one-line description of an image dataset (for select boxes)."""
    config = artifact.config
    corpus, layout, split = config.get("corpus", {}), config.get("layout", {}), config.get("split", {})
    return (
        f"{corpus.get('corpus', 'images')} ({split.get('train', 0):,} + {split.get('test', 0):,}) · "
        f"{config.get('encoder', {}).get('name', '-')} · {config.get('pooling', '-')} · "
        f"{layout.get('method', 'tsne')} {layout.get('pixels', 50)} px · "
        f"{'one layer per RGB channel · ' if channels_of(config) == 'layers' else ''}"
        f"fit on {config.get('fit_on', '-')} · {artifact.id}"
    )


def dataset_texts(dataset: Artifact) -> list[str] | None:
    """The texts behind a dataset's images, in row order (None when its embeddings are gone or it has none)."""
    embeddings = store.load(imaging.EMBEDDINGS, str(dataset.config.get("embeddings", "")))
    if embeddings is None or not embeddings.file("corpus.parquet").is_file():
        return None
    return pd.read_parquet(embeddings.file("corpus.parquet"), columns=["text"])["text"].tolist()


def class_means(images: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """The mean image of each class, (classes, H, W) float32 (zeros for a class with no image)."""
    means = np.zeros((classes, *images.shape[1:]), dtype=np.float32)
    for index in range(classes):
        rows = labels == index
        if rows.any():
            means[index] = images[rows].astype(np.float32).mean(0)
    return means
