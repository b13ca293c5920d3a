"""The sentence map: a corpus's sentences on a 2-D map, one map per layer, and typed sentences placed into it.

Each sentence is the pooled hidden state of one layer of the encoder (every layer is embedded once, with
the corpus's cached shards, :func:`core.text_to_image.imaging.embed_corpus`). A layer's map is fitted once
with openTSNE (cosine distance; UMAP as an option) and stored as an artifact (``sentence-maps``: the 2-D
positions as ``.npy`` and the settings). New sentences are placed into the frozen map without moving it:
openTSNE's ``TSNEEmbedding.transform`` (each new point starts at the median of its nearest corpus points and
is optimised against the fixed map) or UMAP's ``transform``; their nearest corpus sentences are listed by
cosine similarity of the embeddings themselves, not of the 2-D positions.

Loading a map rebuilds what ``transform`` needs from the stored positions and embeddings (openTSNE: the
perplexity-based neighbour affinities; UMAP: the same fit again from its seed), so nothing is pickled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from core import hub, jobs, store
from core.device import cpu_threads
from core.store import Artifact, Callback

MAPS = "sentence-maps"
PLACE_STEPS = 100
"""Optimisation steps that place a new sentence into a t-SNE map."""
METHODS = ("tsne", "umap")


@dataclass(frozen=True)
class MapSettings:
    """Which sentences, how they are embedded, and how the map is fitted.

    Args:
        corpus: a corpus name (:func:`core.corpora.load_corpus`).
        n: sentences (a stratified, seeded sample; None: all).
        sample_seed: the seed of that sample.
        encoder: the text encoder.
        pooling: ``mean`` or ``cls``.
        method: ``tsne`` (openTSNE) or ``umap``.
        perplexity: t-SNE's perplexity (UMAP: its number of neighbours is ``perplexity // 2``).
        random_state: the map's seed.
    """

    corpus: str = "rotten_tomatoes"
    n: int | None = 2000
    sample_seed: int = 0
    encoder: str = hub.DEFAULT_TEXT_MODEL
    pooling: str = "mean"
    method: str = "tsne"
    perplexity: float = 30.0
    random_state: int = 0

    def check(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"the map's method must be one of {METHODS}, got {self.method!r}.")
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}.")
        if not 2 <= self.perplexity <= 100:
            raise ValueError(f"the perplexity must be between 2 and 100, got {self.perplexity}.")
        if self.n is not None and self.n < 3 * self.perplexity:
            raise ValueError(
                f"{self.n} sentences are too few for perplexity {self.perplexity:g}: use at least 3x as many."
            )


def embed_all_layers(
    settings: MapSettings, encoder: Any, progress: Callback | None = None
) -> tuple[Artifact, list[str]]:
    """Every hidden state (embeddings layer through the last) of the corpus's sentences, cached; and the
    names of the corpus's labels."""
    from core.corpora import load_corpus
    from core.text_to_image.imaging import embed_corpus

    corpus = load_corpus(settings.corpus, settings.n, settings.sample_seed)
    layers = list(range(encoder.num_layers + 1))
    found = embed_corpus(encoder, corpus, layers=layers, pooling=settings.pooling, callback=progress)
    return found, [str(name) for name in corpus.attrs.get("label_names", [])]


def layer_vectors(embeddings: np.ndarray, layer: int, hidden: int) -> np.ndarray:
    """One layer's vectors out of the concatenated per-layer embeddings (layer 0: the embeddings layer)."""
    return np.ascontiguousarray(embeddings[:, layer * hidden : (layer + 1) * hidden], dtype=np.float32)


def _fit(vectors: np.ndarray, settings: MapSettings) -> np.ndarray:
    if settings.method == "tsne":
        from openTSNE import TSNE

        fitted = TSNE(
            perplexity=settings.perplexity,
            metric="cosine",
            random_state=settings.random_state,
            n_jobs=cpu_threads(),
        ).fit(vectors)
        return np.asarray(fitted, dtype=np.float64)
    return _umap(vectors, settings).embedding_.astype(np.float64)


def _umap(vectors: np.ndarray, settings: MapSettings):
    import umap

    model = umap.UMAP(
        n_neighbors=max(2, int(settings.perplexity // 2)), metric="cosine", random_state=settings.random_state
    )
    return model.fit(vectors)


def fit_map(settings: MapSettings, encoder: Any, layer: int, progress: Callback | None = None) -> Artifact:
    """The map of one layer (fitted once, then loaded): ``coords.npy`` (n, 2) in corpus order."""
    settings.check()
    embeddings, label_names = embed_all_layers(settings, encoder, progress)
    if not 0 <= layer <= encoder.num_layers:
        raise ValueError(f"{encoder.name} has layers 0 (embeddings) to {encoder.num_layers}, got {layer}.")
    config = {"embeddings": embeddings.id, "layer": int(layer), **asdict(settings)}

    def build(artifact_id: str):
        from core.text_to_image.imaging import load_embeddings

        vectors = layer_vectors(load_embeddings(embeddings), layer, encoder.hidden_size)
        coords = _fit(vectors, settings)
        more = {
            "hidden": encoder.hidden_size,
            "rows": len(coords),
            "label_names": label_names,
            "provenance": store.provenance(),
        }
        return more, lambda folder: np.save(folder / "coords.npy", coords, allow_pickle=False)

    return jobs.build_or_load(MAPS, config, build)


class SentenceMap:
    """A fitted map with its sentences, ready to place new ones (see the module doc)."""

    def __init__(self, artifact: Artifact) -> None:
        from core.text_to_image.imaging import EMBEDDINGS, load_embeddings

        config = artifact.config
        self.artifact = artifact
        self.settings = MapSettings(**{k: config[k] for k in MapSettings.__dataclass_fields__})
        self.layer = int(config["layer"])
        embeddings = store.load(EMBEDDINGS, config["embeddings"])
        if embeddings is None:
            raise ValueError(f"the embeddings of map {artifact.id} are gone; fit the map again.")
        self.vectors = layer_vectors(load_embeddings(embeddings), self.layer, int(config["hidden"]))
        corpus = pd.read_parquet(embeddings.file("corpus.parquet"))
        self.texts = corpus["text"].tolist()
        self.labels = corpus["label"].to_numpy()
        self.label_names = list(config.get("label_names") or [str(v) for v in sorted(set(self.labels.tolist()))])
        self.coords = np.load(artifact.file("coords.npy"), allow_pickle=False)
        self._unit = self.vectors / np.maximum(np.linalg.norm(self.vectors, axis=1, keepdims=True), 1e-12)
        self._placer = None

    def _build_placer(self):
        if self.settings.method == "tsne":
            from openTSNE import TSNEEmbedding
            from openTSNE.affinity import PerplexityBasedNN

            affinities = PerplexityBasedNN(
                self.vectors,
                perplexity=self.settings.perplexity,
                metric="cosine",
                random_state=self.settings.random_state,
                n_jobs=cpu_threads(),
            )
            return TSNEEmbedding(self.coords, affinities, random_state=self.settings.random_state)
        return _umap(self.vectors, self.settings)

    def warm(self) -> SentenceMap:
        """Build what placing needs now (neighbour index, or UMAP's fit), so the first placement is fast."""
        if self._placer is None:
            self._placer = self._build_placer()
        return self

    def place(self, vectors: np.ndarray) -> np.ndarray:
        """2-D positions of new sentences' vectors (this layer's), the map itself unchanged."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if vectors.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"vectors have {vectors.shape[1]} values; this map's layer has {self.vectors.shape[1]}.")
        placer = self.warm()._placer
        if self.settings.method == "tsne":  # 100 steps place as well as openTSNE's default 250, in 40 % of the time
            return np.asarray(placer.transform(vectors, n_iter=PLACE_STEPS), dtype=np.float64)
        return np.asarray(placer.transform(vectors), dtype=np.float64)

    def neighbours(self, vectors: np.ndarray, k: int = 5) -> list[list[tuple[int, float]]]:
        """For each vector, the ``k`` most similar corpus sentences (row, cosine similarity), best first."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        similarity = unit @ self._unit.T
        order = np.argsort(-similarity, axis=1)[:, :k]
        return [[(int(j), float(similarity[i, j])) for j in row] for i, row in enumerate(order)]


def sentence_vectors(encoder: Any, texts: list[str], layer: int, pooling: str) -> np.ndarray:
    """The pooled vectors of one layer for typed sentences (as the map's corpus was embedded)."""
    return encoder.embed(texts, layers=[layer], pooling=pooling)


def list_maps() -> list[Artifact]:
    return store.list_artifacts(MAPS)


def model_predictions(model: Artifact, texts: list[str], encoder: Any = None) -> list[str]:
    """A trained text-as-image model's predicted class name for each text (imaged exactly as its dataset's texts
    were; ``encoder`` reused when it is the dataset's)."""
    import torch

    from core.text_to_image import classify, datasets
    from core.text_to_image.classifiers import preprocess_for
    from core.train import predict

    dataset = store.load(datasets.DATASETS, model.config["dataset"])
    if dataset is None:
        raise ValueError(f"the dataset of model {model.id} is gone; its predictions cannot be made.")
    try:
        imager = classify.dataset_imager(dataset, encoder)
    except ValueError:
        imager = classify.dataset_imager(dataset)  # the map's encoder is not the dataset's: load the dataset's
    _, images = imager.images(texts)
    network = classify.load_model(model.path)
    probabilities = predict(network, torch.as_tensor(images), preprocess_for(network.config))
    names = datasets.label_names(dataset)
    return [names[int(i)] for i in probabilities.argmax(1)]


def find_map(settings: MapSettings, layer: int) -> Artifact | None:
    """The stored map of ``settings`` and ``layer`` (the newest), or None when it was never fitted."""
    wanted = {**asdict(settings), "layer": int(layer)}
    return next((a for a in list_maps() if all(a.config.get(k) == v for k, v in wanted.items())), None)
