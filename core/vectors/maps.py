"""Your own vectors on a map: the 2-D layout (fitted once, then loaded from the store), the nearest neighbours
of a point, a text search over the metadata, and a selection as CSV.

The layout follows the lab's sentence map: rows are scaled to unit length (so Euclidean distances order points as
cosine distances do), reduced by PCA to ``pca`` components, then laid out by openTSNE or UMAP (``pca``: the
first two components themselves). A fit is a ``vector-maps`` artifact keyed by the vectors' SHA-256 and the
settings, so opening the same vectors again loads it instantly.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core import jobs, store
from core.errors import Interrupted
from core.store import Artifact, Callback
from core.vectors.files import VectorTable, vectors_sha256

MAPS = "vector-maps"
UPLOADS = "vector-uploads"
METHODS = ("tsne", "umap", "pca")


@dataclass(frozen=True)
class VectorMapSettings:
    """How the 2-D layout is fitted; the page's widgets and the CLI read their defaults from here.

    Attributes:
        method: ``tsne`` (openTSNE), ``umap`` or ``pca``.
        pca: PCA components before t-SNE / UMAP (0: none; skipped when the vectors are already that small).
        perplexity: t-SNE's perplexity (lowered to (n - 1) / 3 for few points).
        n_neighbors: UMAP's neighbourhood.
        random_state: the seed.
    """

    method: str = "tsne"
    pca: int = 50
    perplexity: float = 30.0
    n_neighbors: int = 15
    random_state: int = 0

    def check(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.method not in METHODS:
            raise ValueError(f"the layout method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        if self.pca < 0 or self.pca == 1:
            raise ValueError(f"pca must be 0 (off) or at least 2 components, got {self.pca}.")
        if not 2 <= self.perplexity <= 100:
            raise ValueError(f"the perplexity must be between 2 and 100, got {self.perplexity}.")
        if self.n_neighbors < 2:
            raise ValueError(f"UMAP needs at least 2 neighbours, got {self.n_neighbors}.")


DEFAULTS = VectorMapSettings()


def _reduce(vectors: np.ndarray, settings: VectorMapSettings) -> np.ndarray:
    from sklearn.decomposition import PCA

    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    components = 2 if settings.method == "pca" else settings.pca
    if not components or components >= min(unit.shape):
        return unit.astype(np.float32)
    pca = PCA(components, svd_solver="randomized", iterated_power=3, random_state=settings.random_state)
    return pca.fit_transform(unit).astype(np.float32)


def fit_coords(vectors: np.ndarray, settings: VectorMapSettings = DEFAULTS, callback: Callback | None = None):
    """(n, 2) float64 positions of ``vectors`` (not cached; :func:`fit_map` caches).

    ``callback(step, total, metrics)`` hears of each stage and t-SNE's progress; returning True stops the fit
    (raises :class:`core.errors.Interrupted`; nothing is kept).
    """
    from core.device import cpu_threads

    settings.check()
    if len(vectors) < 4:
        raise ValueError(f"a map needs at least 4 points, got {len(vectors)}.")
    points = _reduce(np.asarray(vectors, dtype=np.float32), settings)
    if callback is not None and callback(1, 3, {"stage": "pca"}):
        raise Interrupted("the layout fit was stopped after PCA.")
    if settings.method == "pca":
        coords = points[:, :2].astype(np.float64)
    elif settings.method == "tsne":
        from openTSNE import TSNE

        stopped = []

        def relay(iteration: int, error: float, embedding: np.ndarray) -> bool:
            if callback is not None and callback(2, 3, {"stage": "tsne", "iteration": iteration, "kl": float(error)}):
                stopped.append(iteration)
            return bool(stopped)

        fitted = TSNE(
            perplexity=float(min(settings.perplexity, (len(points) - 1) / 3)),
            random_state=settings.random_state,
            n_jobs=cpu_threads(),
            callbacks=relay,
            callbacks_every_iters=50,
        ).fit(points)
        if stopped:  # never keep a half-optimised map
            raise Interrupted(f"the t-SNE fit was stopped at iteration {stopped[0]}; fit again to start over.")
        coords = np.asarray(fitted, dtype=np.float64)
    else:
        import umap

        reducer = umap.UMAP(n_neighbors=min(settings.n_neighbors, len(points) - 1), random_state=settings.random_state)
        coords = reducer.fit_transform(points).astype(np.float64)
    if callback is not None and callback(3, 3, {"stage": "done"}):
        raise Interrupted("the layout fit was stopped.")
    return coords


def map_config(vectors: np.ndarray, settings: VectorMapSettings) -> dict:
    """What defines a fitted map (and so its id): the vectors' fingerprint and shape, and the settings."""
    return {
        "vectors_sha256": vectors_sha256(vectors),
        "rows": int(len(vectors)),
        "dims": int(vectors.shape[1]),
        **asdict(settings),
    }


def find_map(vectors: np.ndarray, settings: VectorMapSettings = DEFAULTS) -> Artifact | None:
    """The stored map of these vectors and settings, or None when it was never fitted."""
    return store.load(MAPS, store.config_hash(map_config(vectors, settings)))


def fit_map(
    vectors: np.ndarray,
    settings: VectorMapSettings = DEFAULTS,
    source: dict | None = None,
    callback: Callback | None = None,
    force: bool = False,
) -> Artifact:
    """The map of ``vectors``: fitted once and stored (``coords.npy``, (n, 2)), then loaded."""
    settings.check()
    vectors = np.asarray(vectors, dtype=np.float32)
    config = map_config(vectors, settings)

    def build(artifact_id: str):
        started = time.perf_counter()
        coords = fit_coords(vectors, settings, callback)
        more = {
            "seconds": round(time.perf_counter() - started, 2),
            "source": source or {},
            "provenance": store.provenance(),
        }
        return more, lambda folder: np.save(folder / "coords.npy", coords, allow_pickle=False)

    return jobs.build_or_load(MAPS, config, build, force=force)


def load_coords(artifact: Artifact) -> np.ndarray:
    """The (n, 2) positions of a fitted map."""
    return np.load(artifact.file("coords.npy"), allow_pickle=False)


def coords_of(table: VectorTable, settings: VectorMapSettings = DEFAULTS, callback: Callback | None = None):
    """The table's positions: its precomputed ones, else its fitted (cached) map's."""
    if table.coords is not None:
        return np.asarray(table.coords, dtype=np.float64)
    if table.vectors is None:
        raise ValueError("these points have neither vectors nor x, y positions.")
    return load_coords(fit_map(table.vectors, settings, table.source, callback))


def keep_upload(name: str, data: bytes) -> Path:
    """Keep an uploaded file in the store (a ``vector-uploads`` artifact named by its SHA-256) and return its path,
    so uploads are read as files and their maps cached like any other."""
    import hashlib

    safe = Path(name).name or "upload"
    config = {"sha256": hashlib.sha256(data).hexdigest(), "name": safe}

    def build(artifact_id: str):
        return {"bytes": len(data), "provenance": store.provenance()}, lambda folder: (folder / safe).write_bytes(data)

    return jobs.build_or_load(UPLOADS, config, build).file(safe)


def neighbours(table: VectorTable, row: int, k: int = 10) -> pd.DataFrame:
    """The ``k`` nearest points of ``row`` (itself left out): by cosine similarity of the original vectors
    (scikit-learn's exact ``NearestNeighbors``), else the precomputed neighbours; with their metadata."""
    n = len(table)
    if not 0 <= row < n:
        raise ValueError(f"there is no point {row}; the points are 0..{n - 1}.")
    if table.vectors is not None:
        from sklearn.neighbors import NearestNeighbors

        index = NearestNeighbors(n_neighbors=min(k + 1, n), metric="cosine", algorithm="brute").fit(table.vectors)
        distances, found = index.kneighbors(table.vectors[row : row + 1])
        pairs = [(int(j), 1.0 - float(d)) for j, d in zip(found[0], distances[0], strict=True) if j != row][:k]
        rows, score = [j for j, _ in pairs], [s for _, s in pairs]
        name = "cosine similarity"
    elif table.neighbours is not None:
        rows = [int(j) for j in table.neighbours[row] if j >= 0 and j != row][:k]
        score, name = list(range(1, len(rows) + 1)), "rank (precomputed)"
    else:
        raise ValueError("these points have no vectors and no precomputed neighbours: no neighbours to list.")
    found_rows = table.metadata.iloc[rows].reset_index(drop=True)
    return pd.concat([pd.DataFrame({"point": rows, name: score}), found_rows], axis=1)


def search(metadata: pd.DataFrame, pattern: str, column: str | None = None, case: bool = False) -> np.ndarray:
    """The rows whose ``column`` (default: any column) matches the regular expression ``pattern``.

    Raises:
        ValueError: ``pattern`` is not a valid regular expression (the message says where), or no such column.
    """
    try:
        compiled = re.compile(pattern, 0 if case else re.IGNORECASE)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        raise ValueError(f"«{pattern}» is not a valid regular expression: {error.msg}{where}.") from None
    if column is not None and column not in metadata.columns:
        raise ValueError(f"there is no metadata column {column!r}; the columns are {', '.join(metadata.columns)}.")
    columns = [column] if column is not None else list(metadata.columns)
    hit = np.zeros(len(metadata), dtype=bool)
    for name in columns:
        hit |= metadata[name].astype(str).str.contains(compiled, na=False).to_numpy()
    return np.flatnonzero(hit)


def selection_frame(table: VectorTable, coords: np.ndarray, rows) -> pd.DataFrame:
    """The chosen points as a table: their row number, x, y and metadata, in row order."""
    rows = np.unique(np.asarray(list(rows), dtype=np.int64))
    if len(rows) and (rows.min() < 0 or rows.max() >= len(table)):
        raise ValueError(f"a selected point is outside 0..{len(table) - 1}.")
    frame = pd.DataFrame({"point": rows, "x": coords[rows, 0], "y": coords[rows, 1]})
    return pd.concat([frame, table.metadata.iloc[rows].reset_index(drop=True)], axis=1)


def selection_csv(table: VectorTable, coords: np.ndarray, rows) -> bytes:
    """:func:`selection_frame` as UTF-8 CSV."""
    return selection_frame(table, coords, rows).to_csv(index=False).encode("utf-8")


def write_coords(coords: np.ndarray, table: VectorTable, out: str | Path) -> Path:
    """The positions with each point's metadata, as Parquet (``.parquet``) or CSV (anything else)."""
    out = Path(out)
    frame = selection_frame(table, coords, range(len(table)))
    buffer = frame.to_parquet(index=False) if out.suffix.lower() == ".parquet" else frame.to_csv(index=False).encode()
    return store.atomic_write_bytes(out, buffer)
