"""Sentences to layer images: corpus embeddings (cached, resumable) and fitted layouts as artifacts.

A *text imager* couples an encoder (with chosen layers and pooling) with two fitted layouts:

- ``combined``: all ``len(layers) x hidden`` features on one grid, as in the paper (6 x 768 =
  4,608 features for bert-base);
- ``per_layer``: the ``hidden`` dimensions of one layer on a smaller grid, fitted on the vectors
  of every chosen layer stacked (each layer's vector is a sample). All layers share this map, so
  the same pixel shows the same residual-stream dimension from layer to layer.

Both layouts are fitted on a real corpus, never on the sentences being imaged. Embeddings of a
corpus are cached in shards, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import io
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core import jobs, store
from core.encoders import POOLINGS, TextEncoder
from core.errors import Interrupted
from core.layout import FeatureLayout
from core.store import Artifact, Callback

EMBEDDINGS = "embeddings"

IMAGERS = "imagers"


@dataclass(frozen=True)
class ImagingDefaults:
    """Defaults of the text-to-image pipeline; widgets read theirs from here."""

    shard_size: int = 256
    layer_pixels: int | None = None  # None: the smallest square that holds ``hidden`` pixels
    neighbours: int = 5  # trustworthiness neighbourhood


DEFAULTS = ImagingDefaults()


def texts_sha256(texts: list[str]) -> str:
    """A fingerprint of an ordered list of texts."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _corpus_record(corpus: pd.DataFrame) -> dict[str, Any]:
    source = dict(corpus.attrs.get("source", {}))
    source["texts_sha256"] = texts_sha256(corpus["text"].tolist())
    source["rows"] = len(corpus)
    return source


def embed_corpus(
    encoder: TextEncoder,
    corpus: pd.DataFrame,
    layers: list[int] | None = None,
    pooling: str = "cls",
    callback: Callback | None = None,
    shard_size: int = DEFAULTS.shard_size,
) -> Artifact:
    """Embed every text of ``corpus`` once and cache the result as an ``embeddings`` artifact.

    The work is written in shards of ``shard_size`` texts; if it is interrupted (the callback
    returns True, or the process dies) the next call resumes at the first missing shard.

    Args:
        encoder: the text encoder.
        corpus: DataFrame with ``text`` and ``label`` columns (``attrs["source"]`` is recorded).
        layers: hidden-state indices (None: the encoder's default layers).
        pooling: "cls" or "mean".
        callback: ``callback(done, total, metrics)``; True stops (raises ``Interrupted``).
        shard_size: texts per shard.

    Returns:
        The artifact holding ``embeddings.npy`` (float32, rows in corpus order) and ``corpus.parquet``.
    """
    if corpus.empty or not {"text", "label"} <= set(corpus.columns):
        raise ValueError("The corpus is empty or lacks a 'text' or 'label' column; load a corpus with both first.")
    layers = encoder.normalise_layers(layers)
    config = {
        "corpus": _corpus_record(corpus),
        "encoder": encoder.describe(),
        "precision": "bf16" if encoder.device.type == "cuda" else "fp32",
        "layers": layers,
        "pooling": pooling,
    }

    def build(artifact_id: str) -> tuple[dict[str, Any], jobs.Writer]:
        texts = corpus["text"].tolist()
        width = len(layers) * encoder.hidden_size
        partial = store.shard_dir(EMBEDDINGS, f"{artifact_id}-{shard_size}")
        n_shards = math.ceil(len(texts) / shard_size)
        for index in range(n_shards):
            path = partial / f"shard-{index:05d}.npy"
            start = index * shard_size
            chunk = texts[start : start + shard_size]
            if _load_shard(path, (len(chunk), width)) is None:

                def relay(done: int, total: int, metrics: dict, start: int = start) -> bool | None:
                    return callback(start + done, len(texts), metrics) if callback else None

                array = encoder.embed(chunk, layers=layers, pooling=pooling, callback=relay)
                buffer = io.BytesIO()
                np.save(buffer, array.astype(np.float32), allow_pickle=False)
                store.atomic_write_bytes(path, buffer.getvalue())
            if callback is not None and callback(min(start + shard_size, len(texts)), len(texts), {"shard": index}):
                raise Interrupted(
                    f"Embedding stopped after {min(start + shard_size, len(texts))} of {len(texts)} texts."
                )
        shapes = [(len(texts[i * shard_size : (i + 1) * shard_size]), width) for i in range(n_shards)]
        arrays = [_load_shard(partial / f"shard-{i:05d}.npy", shape) for i, shape in enumerate(shapes)]
        if any(array is None for array in arrays):
            if (
                store.load(EMBEDDINGS, artifact_id) is not None
            ):  # another session finished the same embeddings meanwhile
                raise jobs.FoundMeanwhile(artifact_id)
            raise Interrupted(
                "Some embedding shards vanished while they were being read (another job cleaned them up)."
            )

        def write(folder: Path) -> None:
            np.save(folder / "embeddings.npy", np.concatenate(arrays), allow_pickle=False)
            corpus[["text", "label"]].to_parquet(folder / "corpus.parquet", index=False)
            shutil.rmtree(partial, ignore_errors=True)

        return {"provenance": store.provenance()}, write

    return jobs.build_or_load(EMBEDDINGS, config, build)


def _load_shard(path, shape: tuple[int, int]) -> np.ndarray | None:
    """A finished shard of the expected shape, or None when it is missing or unusable (then it is redone)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return array if array.shape == shape and array.dtype == np.float32 else None


def load_embeddings(artifact: Artifact) -> np.ndarray:
    """The embedding matrix of an ``embeddings`` artifact."""
    return np.load(artifact.file("embeddings.npy"), allow_pickle=False)


def stack_layers(features: np.ndarray, n_layers: int) -> np.ndarray:
    """(n, L * hidden) -> (n * L, hidden): every layer's vector becomes a sample."""
    n, width = features.shape
    return features.reshape(n * n_layers, width // n_layers)


def default_layer_pixels(hidden: int) -> int:
    """Side of the smallest square grid with at least ``hidden`` pixels."""
    return math.ceil(math.sqrt(hidden))


@dataclass
class TextImages:
    """Images of some texts: the features, the combined image and one image per layer."""

    texts: list[str]
    features: np.ndarray  # (n, L * hidden) float32
    combined: np.ndarray  # (n, H, W) float32
    layers: np.ndarray  # (n, L, h, w) float32
    truncated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    relative_combined: np.ndarray | None = None  # (n, H, W): each pixel's features in corpus SDs from their mean
    relative_layers: np.ndarray | None = None  # (n, L, h, w), the same per layer


@dataclass
class TextImager:
    """An encoder with its layers and pooling, and the two layouts fitted for them."""

    encoder: TextEncoder
    layers: list[int]
    pooling: str
    combined: FeatureLayout
    per_layer: FeatureLayout
    config: dict[str, Any]
    artifact_id: str | None = None
    corpus_stats: tuple[np.ndarray, np.ndarray] | None = None  # each feature's mean and SD over the corpus

    @property
    def hidden(self) -> int:
        return self.encoder.hidden_size

    def relative(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(combined, per-layer) images of each feature's deviation from its corpus mean, in corpus standard
        deviations: two sentences of opposite meaning differ where a 0-1 grey image looks alike."""
        if self.corpus_stats is None:
            raise ValueError("this imager has no corpus statistics; load it with load_imager.")
        mean, std = self.corpus_stats
        z = (features - mean) / std
        n_layers = len(self.layers)
        per_layer = self.per_layer.map_values(stack_layers(z, n_layers))
        return self.combined.map_values(z), per_layer.reshape(len(z), n_layers, *per_layer.shape[1:])

    def images_from_features(self, features: np.ndarray, texts: list[str] | None = None) -> TextImages:
        """Images of already computed feature vectors (n, L * hidden)."""
        n_layers = len(self.layers)
        per_layer = self.per_layer.transform(stack_layers(features, n_layers))
        return TextImages(
            texts=list(texts or []),
            features=features,
            combined=self.combined.transform(features),
            layers=per_layer.reshape(len(features), n_layers, *per_layer.shape[1:]),
        )

    def images(self, texts: list[str]) -> TextImages:
        """Embed ``texts`` and turn them into images."""
        features = self.encoder.embed(texts, layers=self.layers, pooling=self.pooling)
        result = self.images_from_features(features, texts)
        result.truncated = self.encoder.truncated(texts)
        if self.corpus_stats is not None:
            result.relative_combined, result.relative_layers = self.relative(features)
        return result


def imager_config(embeddings: Artifact, layout_params: dict[str, Any], layer_pixels: int | None) -> dict[str, Any]:
    """The config (and so the id) of an imager fitted on ``embeddings`` with these settings.

    The layout settings are recorded in full (defaults included), so a change of a default gives
    a new id rather than reusing a layout fitted under the old one.
    """
    hidden = embeddings.config["encoder"]["hidden_size"]
    return {
        "embeddings": embeddings.id,
        "corpus": embeddings.config["corpus"],
        "encoder": embeddings.config["encoder"],
        "layers": embeddings.config["layers"],
        "pooling": embeddings.config["pooling"],
        "layout": layout_record(layout_params),
        "layer_pixels": layer_pixels or default_layer_pixels(hidden),
    }


def layout_record(layout_params: dict[str, Any]) -> dict[str, Any]:
    """Every layout setting, defaults included, as recorded in an artifact's config (and so its id).

    Threads are left out: they change the speed, not the layout. The rotation is recorded only when it is
    not the default (settings recorded before it existed keep their ids).
    """
    record = FeatureLayout(**layout_params).describe()
    record.pop("n_jobs")
    if record.get("rotation") == "minimum":
        record.pop("rotation")
    return record


def check_settings(layout_params: dict[str, Any], layer_pixels: int | None = None) -> None:
    """Raise ValueError for bad layout settings before any costly work (both grids are checked)."""
    FeatureLayout(**layout_params).check_params()
    if layer_pixels is not None:
        FeatureLayout(**{**layout_params, "pixels": layer_pixels}).check_params()


@dataclass(frozen=True)
class LayoutFitSettings:
    """How a corpus's embeddings are fitted into layouts (what :func:`core.text_to_image.jobs.fit_layout` takes).

    Attributes:
        layers: ``hidden_states`` indices (None: the encoder's default layers).
        pooling: ``cls`` or ``mean``.
        layout: :class:`core.layout.FeatureLayout` keyword arguments of the combined grid (missing ones take its
            defaults).
        layer_pixels: side of the per-layer grid (None: just enough pixels for ``hidden``).
    """

    layers: tuple[int, ...] | None = None
    pooling: str = "cls"
    layout: dict[str, Any] = field(default_factory=dict)
    layer_pixels: int | None = DEFAULTS.layer_pixels

    def check(self) -> None:
        """Raise ValueError naming the first bad setting, before the encoder is loaded or anything is embedded."""
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}.")
        check_settings(dict(self.layout or {}), self.layer_pixels)


def fit_imager(
    embeddings: Artifact,
    layout_params: dict[str, Any] | None = None,
    layer_pixels: int | None = DEFAULTS.layer_pixels,
    callback: Callback | None = None,
    force: bool = False,
) -> Artifact:
    """Fit the combined and per-layer layouts on cached corpus embeddings and save them.

    Args:
        embeddings: an ``embeddings`` artifact (see :func:`embed_corpus`).
        layout_params: FeatureLayout keyword arguments (missing ones take LayoutDefaults).
        layer_pixels: side of the per-layer grid (None: just enough pixels for ``hidden``).
        callback: progress of both fits; True stops t-SNE early (the layout is kept).
        force: refit even if an imager with the same settings exists (one that was stopped early
            is always refitted).

    Returns:
        The ``imagers`` artifact: ``combined/`` and ``per_layer/`` layouts plus ``config.json``
        with provenance and the quality figures of both layouts.
    """
    layout_params = dict(layout_params or {})
    check_settings(layout_params, layer_pixels)
    config = imager_config(embeddings, layout_params, layer_pixels)

    def complete(found: Artifact) -> bool:
        return not any(q["stopped_early"] for q in found.config["quality"].values())

    def build(artifact_id: str) -> tuple[dict[str, Any], jobs.Writer]:
        features = load_embeddings(embeddings)
        n_layers = len(config["layers"])
        side = config["layer_pixels"]
        stages = [
            ("combined", features, layout_params),
            ("per_layer", stack_layers(features, n_layers), {**layout_params, "pixels": side}),
        ]
        fitted, quality = {}, {}
        for number, (name, matrix, params) in enumerate(stages):

            def relay(step: int, total: int, metrics: dict, name: str = name, number: int = number) -> bool | None:
                return callback(number * total + step, 2 * total, {**metrics, "layout": name}) if callback else None

            fitted[name] = FeatureLayout(**params).fit(matrix, callback=relay)
            quality[name] = fitted[name].quality(matrix, n_neighbors=DEFAULTS.neighbours)
            quality[name]["fit_seconds"] = fitted[name].fit_seconds_
            quality[name]["stopped_early"] = fitted[name].stopped_early_

        def write(folder: Path) -> None:
            for name, layout in fitted.items():
                layout.save(folder / name)

        return {"quality": quality, "provenance": store.provenance()}, write

    return jobs.build_or_load(IMAGERS, config, build, accept=complete, force=force)


def load_imager(
    artifact: Artifact, encoder: TextEncoder | None = None, layouts: dict[str, FeatureLayout] | None = None
) -> TextImager:
    """Rebuild a TextImager from its artifact (the encoder and the layouts are loaded unless given)."""
    config = artifact.config
    encoder = encoder or TextEncoder.from_name(config["encoder"]["name"])
    now, then = encoder.describe(), config["encoder"]
    if now["model_id"] != then["model_id"]:
        raise ValueError(f"This layout was fitted for {then['model_id']}, not {now['model_id']}.")
    if now["revision"] != then["revision"]:
        raise ValueError(
            f"This layout was fitted for revision {then['revision'][:12]} of {then['model_id']}, but the installed "
            f"weights are revision {now['revision'][:12]}; fit the layout again for these weights."
        )
    layouts = layouts or load_layouts(artifact)
    return TextImager(
        encoder=encoder,
        layers=list(config["layers"]),
        pooling=config["pooling"],
        combined=layouts["combined"],
        per_layer=layouts["per_layer"],
        config=config,
        artifact_id=artifact.id,
        corpus_stats=corpus_statistics(artifact),
    )


CORPUS_STATS = "corpus_stats.npz"
"""An imager's copy of its corpus statistics, so that it works where its corpus embeddings are not (a demo)."""


def corpus_statistics(artifact: Artifact) -> tuple[np.ndarray, np.ndarray] | None:
    """Each feature's mean and standard deviation over an imager's corpus embeddings: from the imager's own copy
    (:func:`keep_corpus_statistics`) when it has one, else from the embeddings (None if they are gone)."""
    kept = artifact.file(CORPUS_STATS)
    if kept.is_file():
        with np.load(kept, allow_pickle=False) as arrays:
            return arrays["mean"], arrays["std"]
    embeddings = store.load(EMBEDDINGS, artifact.config["embeddings"])
    if embeddings is None:
        return None
    features = load_embeddings(embeddings).astype(np.float64)
    std = features.std(axis=0)
    return features.mean(axis=0), np.where(std > 0, std, 1.0)


def keep_corpus_statistics(artifact: Artifact) -> None:
    """Give the imager its own copy of its corpus statistics (a few kB) if it lacks one and they can be computed."""
    import io

    kept = artifact.file(CORPUS_STATS)
    found = None if kept.is_file() else corpus_statistics(artifact)
    if found is not None:
        buffer = io.BytesIO()
        np.savez(buffer, mean=found[0], std=found[1])
        store.atomic_write_bytes(kept, buffer.getvalue())


def load_layouts(artifact: Artifact) -> dict[str, FeatureLayout]:
    """The ``combined`` and ``per_layer`` layouts of an imager artifact."""
    return {name: FeatureLayout.load(artifact.file(name)) for name in ("combined", "per_layer")}


def feature_names(config: dict[str, Any], which: str) -> list[tuple[int | None, int]]:
    """(layer, dimension) of each feature of an imager's ``combined`` grid, or (None, dimension) for
    its ``per_layer`` grid, where every layer shares the map."""
    hidden = config["encoder"]["hidden_size"]
    if which == "per_layer":
        return [(None, d) for d in range(hidden)]
    return [(layer, d) for layer in config["layers"] for d in range(hidden)]


def same_features(first: dict[str, Any], second: dict[str, Any], which: str) -> bool:
    """Whether two imagers' ``which`` grids place the same features (same encoder; same layers for ``combined``)."""
    if first["encoder"]["model_id"] != second["encoder"]["model_id"]:
        return False
    return which == "per_layer" or first["layers"] == second["layers"]


def imager_label(artifact: Artifact) -> str:
    """A one-line description of a fitted imager (for select boxes and listings)."""
    config = artifact.config
    corpus, layout = config["corpus"], config["layout"]
    return (
        f"{corpus.get('corpus', 'corpus')} ({corpus.get('rows', '?')} texts) · {config['encoder']['name']} · "
        f"{config['pooling']} · {layout.get('method', 'tsne')} {layout.get('pixels', 50)} px · "
        f"seed {layout.get('random_state')} · {artifact.id}"
    )


def list_imagers() -> list[Artifact]:
    """Every fitted imager, newest first."""
    return store.list_artifacts(IMAGERS)


def to_png(image: np.ndarray, scale: int = 1) -> bytes:
    """An 8-bit grayscale PNG of a [0, 1] image (values outside are clipped), upscaled ``scale`` x nearest."""
    from PIL import Image

    if image.ndim != 2:
        raise ValueError(f"to_png needs a 2-D image, got shape {image.shape}.")
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    if scale > 1:
        pixels = np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def to_npy(array: np.ndarray) -> bytes:
    """The bytes of ``array`` saved as a .npy file (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


MIN_OCCUPIED_PCT = 15.0
"""A layout whose features fill less than this share of the grid is flagged as degenerate."""


def layout_problem(quality: dict[str, Any], n_features: int) -> str:
    """Why a layout is degenerate ('' when it is not): its features crowd into few pixels, or one pixel
    averages away a large share of them."""
    problems = []
    if quality["occupied_pct"] < MIN_OCCUPIED_PCT:
        problems.append(f"its features fill only {quality['occupied_pct']:.1f} % of the grid")
    if quality["max_collisions"] > max(20, 0.05 * n_features):
        problems.append(f"one pixel averages {quality['max_collisions']} features")
    if not problems:
        return ""
    return (
        f"Degenerate layout: {' and '.join(problems)}, so most of what the encoder says is averaged away. Fit it "
        "again with t-SNE, the assignment discretization, or a smaller grid."
    )


def imager_problem(artifact: Artifact) -> str:
    """The combined layout's :func:`layout_problem` for an imager ('' when it is fine)."""
    config = artifact.config
    n_features = len(config["layers"]) * int(config["encoder"]["hidden_size"])
    return layout_problem(config["quality"]["combined"], n_features)


def recommended_imager(found: list[Artifact]) -> Artifact | None:
    """The imager a new session should start with: one fitted with every default setting on the default
    corpus and encoder if there is one, else the most trustworthy layout that is not degenerate, else the
    newest."""
    from dataclasses import asdict

    from core import corpora
    from core.encoders import DEFAULTS as ENCODER_DEFAULTS
    from core.layout import DEFAULTS as LAYOUT_DEFAULTS

    defaults = layout_record(asdict(LAYOUT_DEFAULTS))

    def is_default(a: Artifact) -> bool:
        c = a.config
        return (
            c["layout"] == defaults
            and c["encoder"].get("name") == ENCODER_DEFAULTS.name
            and c["corpus"].get("corpus") == corpora.DEFAULTS.name
            and c["corpus"].get("rows") == corpora.DEFAULTS.n
        )

    for candidates in ([a for a in found if is_default(a)], [a for a in found if not imager_problem(a)]):
        if candidates:
            return max(candidates, key=lambda a: a.config["quality"]["combined"]["trustworthiness"])
    return found[0] if found else None
