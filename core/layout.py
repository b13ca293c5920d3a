"""FeatureLayout: the DeepInsight-style map from feature vectors to 2-D images.

Each *feature* (a column of the samples x features matrix) becomes a point: the matrix is
transposed, optionally reduced by PCA over the sample axis, and embedded in 2-D (t-SNE via
openTSNE, UMAP, PCA, kernel PCA, or any object with ``fit_transform``). The cloud is rotated so
that its minimum-area bounding rectangle is axis-aligned, and every feature is given a pixel of an
H x W grid, either by binning (``bin``) or by an optimal one-to-one assignment of features (or of
feature groups, when there are more features than pixels) to pixel centres (``assignment``).
An image is then the per-pixel mean of the scaled features that landed there; empty pixels are 0.

Given the same coordinates and scaling, ``transform`` produces the same images as pyDeepInsight's
``ImageTransformer.transform(..., img_format="scalar")``. The ``log`` scaler is DeepInsight's
norm-2 as its paper defines it, ``log(x - column min + 1) / global max``; ``norm2`` is exactly
pyDeepInsight's ``Norm2Scaler`` (the paper's code), ``log(x + |column min| + 1) / global max``,
which differs from ``log`` only for columns whose minimum is positive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from core.store import Callback, atomic_write_bytes, atomic_write_json, read_json

METHODS = ("tsne", "umap", "pca", "kpca", "sklearn_tsne")
DISCRETIZATIONS = ("bin", "assignment", "digitize")
ROTATIONS = ("minimum", "pydeepinsight2021")
SCALERS = ("log", "norm2", "minmax", None)
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class LayoutDefaults:
    """Default settings of a FeatureLayout; the app's widgets read theirs from here."""

    method: str = "tsne"
    pixels: int = 50
    discretization: str = "bin"
    scaler: str | None = "log"
    reduce_dim: int | None = 50
    metric: str = "cosine"
    perplexity: float = 30.0
    n_neighbors: int = 15
    n_iter: int = 150
    early_exaggeration_iter: int = 100
    random_state: int | None = 1701
    n_jobs: int = -1
    rotation: str = "minimum"


DEFAULTS = LayoutDefaults()


def _as_shape(pixels: Any) -> tuple[int, int]:
    if isinstance(pixels, (int, np.integer)) and not isinstance(pixels, bool):
        shape = (int(pixels), int(pixels))
    elif (
        isinstance(pixels, (tuple, list))
        and len(pixels) == 2
        and all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pixels)
    ):
        shape = (int(pixels[0]), int(pixels[1]))
    else:
        raise ValueError(f"pixels must be an int or a (height, width) pair of ints, got {pixels!r}.")
    if min(shape) < 2:
        raise ValueError(f"pixels must be at least 2 on each side, got {shape}.")
    return shape


def minimum_area_rotation(points: np.ndarray) -> np.ndarray:
    """The rotation matrix that makes the minimum-area bounding rectangle of ``points`` axis-aligned.

    The minimum-area rectangle has one side on an edge of the convex hull, so every hull edge's
    direction is tried (Freeman and Shapira, 1975).

    Args:
        points: (n, 2) coordinates.

    Returns:
        A (2, 2) matrix ``R``; ``points @ R.T`` are the rotated points.
    """
    return _hull_edge_rotation(points, closing_edge=True, sign=-1)


def _hull_edge_rotation(points: np.ndarray, closing_edge: bool, sign: int) -> np.ndarray:
    """The rotation, among those by ``sign`` x each hull edge's angle (mod 90 degrees), that gives the
    smallest axis-aligned box; ``closing_edge``: the edge from the last hull vertex back to the first is
    tried too. The identity when there is no hull (collinear or too few points)."""
    try:
        hull = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):
        return np.eye(2)
    edges = (np.roll(hull, -1, axis=0) - hull) if closing_edge else np.diff(hull, axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    cos, sin = np.cos(angles), sign * np.sin(angles)
    # rotation by sign * angle: -angle puts an edge of that direction on the x axis
    rotations = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], axis=1)
    rotated = np.einsum("kij,nj->kni", rotations, hull)
    extent = rotated.max(axis=1) - rotated.min(axis=1)
    return rotations[int(np.argmin(extent[:, 0] * extent[:, 1]))]


def pydeepinsight2021_rotation(points: np.ndarray) -> np.ndarray:
    """The rotation pyDeepInsight's ``ImageTransformer`` used in 2021 (the version the text-as-image paper ran).

    Like :func:`minimum_area_rotation`, it tries the directions of the convex hull's edges, but it rotates by
    +angle where -angle would lay the edge on the x axis, and only the edges between consecutive hull
    vertices are tried (the closing edge, last vertex back to the first, never is), so the box it picks is
    usually not the minimum one.

    Returns:
        A (2, 2) matrix ``R``; ``points @ R.T`` are the rotated points.
    """
    return _hull_edge_rotation(points, closing_edge=False, sign=1)


def digitize_coordinates(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixel (row, col) of each point as pyDeepInsight's 2021 ``ImageTransformer`` computed it:
    ``np.digitize`` against ``np.linspace(min, max, pixels)``, minus one.

    Cells are range / (pixels - 1) wide, so the last row and column hold only the points at the maximum.
    """
    columns = []
    for axis, size in enumerate(shape):
        values = points[:, axis]
        columns.append(np.digitize(values, np.linspace(values.min(), values.max(), size)) - 1)
    return np.stack(columns, axis=1).astype(np.int64)


def _scale_to_grid(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return (points - low) / span * np.asarray(shape, dtype=float)


def bin_coordinates(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixel (row, col) of each point: scale each axis to the grid and floor; the maximum goes to the last pixel."""
    scaled = _scale_to_grid(points, shape)
    binned = np.floor(scaled).astype(np.int64)
    return np.minimum(binned, np.asarray(shape) - 1)


def assign_coordinates(points: np.ndarray, shape: tuple[int, int], random_state: Any = None) -> np.ndarray:
    """Pixel (row, col) of each point by an optimal assignment to pixel centres.

    With at most H*W points each gets a pixel of its own (linear sum assignment on squared
    distances to pixel centres). With more points than pixels, points are first grouped into H*W
    clusters by k-means and each cluster gets a pixel of its own.
    """
    from sklearn.cluster import KMeans

    n_pixels = shape[0] * shape[1]
    scaled = _scale_to_grid(points, shape)
    rows, cols = np.divmod(np.arange(n_pixels), shape[1])
    centres = np.stack([rows, cols], axis=1) + 0.5
    if len(points) > n_pixels:
        kmeans = KMeans(n_clusters=n_pixels, n_init=1, random_state=check_random_state(random_state))
        groups = kmeans.fit_predict(scaled)
        sites = kmeans.cluster_centers_
    else:
        groups = np.arange(len(points))
        sites = scaled
    site_idx, pixel_idx = linear_sum_assignment(cdist(sites, centres, "sqeuclidean"))
    pixel_of_site = np.empty(len(sites), dtype=np.int64)
    pixel_of_site[site_idx] = pixel_idx
    pixel = pixel_of_site[groups]
    return np.stack([pixel // shape[1], pixel % shape[1]], axis=1)


class _Progress:
    """Adapts openTSNE's callback to the lab's ``callback(step, total, metrics)``."""

    def __init__(self, callback: Callback | None, total: int, every: int) -> None:
        self.callback, self.total, self.every, self.step = callback, total, every, 0
        self.stopped = False

    def __call__(self, iteration: int, error: float, embedding: np.ndarray) -> bool:
        self.step = min(self.step + self.every, self.total)
        if self.callback is not None and self.callback(self.step, self.total, {"stage": "tsne", "kl": float(error)}):
            self.stopped = True
        return self.stopped


class FeatureLayout(TransformerMixin, BaseEstimator):
    """DeepInsight-style feature-to-pixel layout, as a scikit-learn estimator.

    Args:
        method: "tsne" (openTSNE), "umap", "pca", "kpca" (RBF kernel PCA), "sklearn_tsne"
            (scikit-learn's Barnes-Hut TSNE with its 2021 defaults: random start,
            learning rate 200; ``early_exaggeration_iter + n_iter`` iterations in all, of which
            scikit-learn always spends 250 exaggerated), or an object with ``fit_transform`` that
            maps (n_features, d) to (n_features, 2).
        pixels: image size, an int or (height, width).
        discretization: "bin" (floor of the scaled coordinates; features may share a pixel),
            "assignment" (one feature, or one group of features, per pixel) or "digitize"
            (pyDeepInsight 2021's binning, see :func:`digitize_coordinates`).
        scaler: "log" (DeepInsight's norm-2: log(x - column min + 1) / global max, clipped to
            [0, 1]), "norm2" (pyDeepInsight's Norm2Scaler: log(x + |column min| + 1) / global max),
            "minmax" (per feature, clipped to [0, 1]) or None (values as they are).
        reduce_dim: PCA over the sample axis to this many components before the 2-D method runs
            on the features (None or 0: off; skipped when the matrix is already that small).
        metric: distance between features for t-SNE, UMAP and the trustworthiness score.
        perplexity: t-SNE perplexity (lowered to (n_features - 1) / 3 when too large).
        n_neighbors: UMAP neighbourhood size.
        n_iter: t-SNE iterations after early exaggeration.
        early_exaggeration_iter: t-SNE iterations with early exaggeration (openTSNE's default is
            250 + 500; 100 + 150 from a PCA start reaches the same trustworthiness on sentence
            embeddings, see docs/benchmarks.md).
        random_state: seed for every random step.
        n_jobs: threads for the neighbour search and t-SNE (-1: :func:`core.device.cpu_threads`, every core
            unless ``OMP_NUM_THREADS`` asks for fewer).
        rotation: "minimum" (the minimum-area bounding box, every hull edge tried) or
            "pydeepinsight2021" (the 2021 code's rotation, see :func:`pydeepinsight2021_rotation`).
    """

    def __init__(
        self,
        method: Any = DEFAULTS.method,
        pixels: int | tuple[int, int] = DEFAULTS.pixels,
        discretization: str = DEFAULTS.discretization,
        scaler: str | None = DEFAULTS.scaler,
        reduce_dim: int | None = DEFAULTS.reduce_dim,
        metric: str = DEFAULTS.metric,
        perplexity: float = DEFAULTS.perplexity,
        n_neighbors: int = DEFAULTS.n_neighbors,
        n_iter: int = DEFAULTS.n_iter,
        early_exaggeration_iter: int = DEFAULTS.early_exaggeration_iter,
        random_state: Any = DEFAULTS.random_state,
        n_jobs: int = DEFAULTS.n_jobs,
        rotation: str = DEFAULTS.rotation,
    ) -> None:
        self.method = method
        self.pixels = pixels
        self.discretization = discretization
        self.scaler = scaler
        self.reduce_dim = reduce_dim
        self.metric = metric
        self.perplexity = perplexity
        self.n_neighbors = n_neighbors
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.rotation = rotation

    # ----------------------------------------------------------------- validation
    def check_params(self) -> tuple[int, int]:
        """Raise ValueError for a bad parameter (before any costly work); returns (height, width)."""
        if isinstance(self.method, str):
            if self.method not in METHODS:
                raise ValueError(
                    f"method must be one of {METHODS} or an object with fit_transform, got {self.method!r}."
                )
        elif not callable(getattr(self.method, "fit_transform", None)):
            raise ValueError(f"method must be one of {METHODS} or an object with fit_transform.")
        shape = _as_shape(self.pixels)
        if self.discretization not in DISCRETIZATIONS:
            raise ValueError(f"discretization must be one of {DISCRETIZATIONS}, got {self.discretization!r}.")
        if self.rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, got {self.rotation!r}.")
        if self.scaler not in SCALERS:
            raise ValueError(f"scaler must be one of {SCALERS}, got {self.scaler!r}.")
        if self.reduce_dim is not None and (
            not isinstance(self.reduce_dim, (int, np.integer)) or self.reduce_dim < 0 or self.reduce_dim == 1
        ):
            raise ValueError(f"reduce_dim must be None, 0 or an int >= 2, got {self.reduce_dim!r}.")
        if not (isinstance(self.perplexity, (int, float)) and self.perplexity > 0):
            raise ValueError(f"perplexity must be a positive number, got {self.perplexity!r}.")
        if not (isinstance(self.n_neighbors, (int, np.integer)) and self.n_neighbors >= 2):
            raise ValueError(f"n_neighbors must be an int >= 2, got {self.n_neighbors!r}.")
        if not (isinstance(self.n_iter, (int, np.integer)) and self.n_iter >= 1):
            raise ValueError(f"n_iter must be a positive int, got {self.n_iter!r}.")
        if not (isinstance(self.early_exaggeration_iter, (int, np.integer)) and self.early_exaggeration_iter >= 0):
            raise ValueError(f"early_exaggeration_iter must be an int >= 0, got {self.early_exaggeration_iter!r}.")
        if not isinstance(self.n_jobs, (int, np.integer)) or self.n_jobs == 0 or self.n_jobs < -1:
            raise ValueError(f"n_jobs must be a positive int or -1 (all cores), got {self.n_jobs!r}.")
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"metric must be a distance name such as 'cosine', got {self.metric!r}.")
        return shape

    def _check_X(self, X: Any, *, fitting: bool) -> np.ndarray:
        try:
            X = check_array(X, dtype=(np.float64, np.float32), ensure_min_samples=2 if fitting else 1)
        except ValueError as error:
            raise ValueError(f"X must be a finite samples x features matrix: {error}") from error
        if fitting and X.shape[1] < 4:
            raise ValueError(f"X needs at least 4 features (columns) to lay out, got {X.shape[1]}.")
        if not fitting and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features but this layout was fitted on {self.n_features_in_}; "
                "use the same encoder, layers and pooling as the layout."
            )
        return X

    # ----------------------------------------------------------------- scaling
    def _log_shift(self) -> np.ndarray:
        """What the log scalers add to x before log(. + 1): minus the column min, or its magnitude."""
        return -self.scale_min_ if self.scaler == "log" else np.abs(self.scale_min_)

    def _fit_scaler(self, X: np.ndarray) -> None:
        self.scale_min_ = X.min(axis=0).astype(np.float64)
        if self.scaler in ("log", "norm2"):
            self.scale_max_ = float(np.log(X + self._log_shift() + 1).max()) or 1.0
        elif self.scaler == "minmax":
            span = X.max(axis=0) - self.scale_min_
            self.scale_span_ = np.where(span > 0, span, 1.0).astype(np.float64)

    def scale(self, X: Any) -> np.ndarray:
        """Apply the fitted scaler to samples x features ``X``."""
        check_is_fitted(self, "coords_")
        return self._scale(self._check_X(X, fitting=False))

    def _scale(self, X: np.ndarray) -> np.ndarray:
        if self.scaler in ("log", "norm2"):
            logged = np.log(np.clip(X + self._log_shift() + 1, 1.0, None))
            return np.clip(logged / self.scale_max_, 0.0, 1.0)
        if self.scaler == "minmax":
            return np.clip((X - self.scale_min_) / self.scale_span_, 0.0, 1.0)
        return np.asarray(X, dtype=np.float64)

    # ----------------------------------------------------------------- fitting
    def _affinities(self, points: np.ndarray) -> Any:
        """t-SNE affinities from exact nearest neighbours (scikit-learn, brute force).

        Exact search over a few thousand features is faster than building an approximate index,
        and gives the same neighbours on every run.
        """
        from openTSNE.affinity import PerplexityBasedNN
        from openTSNE.nearest_neighbors import PrecomputedNeighbors
        from sklearn.neighbors import NearestNeighbors

        k = min(len(points) - 1, int(3 * self.perplexity_))
        search = NearestNeighbors(n_neighbors=k + 1, metric=self.metric, algorithm="brute", n_jobs=self._jobs())
        distances, indices = search.fit(points).kneighbors(points)
        # drop each point itself (first column, barring exact duplicates, which then swap places)
        keep = indices != np.arange(len(points))[:, None]
        keep[keep.sum(axis=1) > k, -1] = False
        indices = indices[keep].reshape(len(points), k)
        distances = distances[keep].reshape(len(points), k)
        return PerplexityBasedNN(
            knn_index=PrecomputedNeighbors(indices, distances), perplexity=self.perplexity_, n_jobs=self._jobs()
        )

    def _embed(self, points: np.ndarray, callback: Callback | None) -> np.ndarray:
        seed = self.random_state
        if not isinstance(self.method, str):
            return np.asarray(self.method.fit_transform(points), dtype=np.float64)
        if self.method == "tsne":
            from openTSNE import TSNE

            self.perplexity_ = float(min(self.perplexity, (len(points) - 1) / 3))
            every = 50
            progress = _Progress(callback, int(self.early_exaggeration_iter) + int(self.n_iter), every)
            tsne = TSNE(
                n_components=2,
                perplexity=self.perplexity_,
                metric=self.metric,
                n_iter=int(self.n_iter),
                early_exaggeration_iter=int(self.early_exaggeration_iter),
                n_jobs=self._jobs(),
                random_state=check_random_state(seed).randint(2**31 - 1) if seed is not None else None,
                callbacks=progress,
                callbacks_every_iters=every,
            )
            embedding = np.asarray(tsne.fit(points, affinities=self._affinities(points)), dtype=np.float64)
            self.stopped_early_ = progress.stopped
            return embedding
        if self.method == "sklearn_tsne":
            from sklearn.manifold import TSNE as SklearnTSNE

            self.perplexity_ = float(min(self.perplexity, (len(points) - 1) / 3))
            tsne = SklearnTSNE(
                n_components=2,
                perplexity=self.perplexity_,
                metric=self.metric,
                max_iter=int(self.early_exaggeration_iter) + int(self.n_iter),
                init="random",
                learning_rate=200.0,
                random_state=seed,
                n_jobs=self._jobs(),
            )
            return np.asarray(tsne.fit_transform(points), dtype=np.float64)
        if self.method == "umap":
            import umap

            reducer = umap.UMAP(
                n_components=2,
                n_neighbors=min(int(self.n_neighbors), len(points) - 1),
                metric=self.metric,
                random_state=seed,
            )
            return np.asarray(reducer.fit_transform(points), dtype=np.float64)
        if self.method == "pca":
            from sklearn.decomposition import PCA

            return PCA(n_components=2, random_state=seed).fit_transform(points)
        from sklearn.decomposition import KernelPCA

        return KernelPCA(n_components=2, kernel="rbf", random_state=seed).fit_transform(points)

    def _jobs(self) -> int:
        from core.device import cpu_threads

        return cpu_threads() if self.n_jobs == -1 else int(self.n_jobs)

    def fit(self, X: Any, y: Any = None, callback: Callback | None = None) -> FeatureLayout:
        """Learn the scaler and each feature's pixel from samples x features ``X``.

        Args:
            X: training samples x features (never the test rows).
            y: ignored.
            callback: ``callback(step, total, metrics)``; returning True stops t-SNE early and
                the layout is finished from the embedding reached so far (``stopped_early_``).

        Returns:
            self
        """
        shape = self.check_params()
        X = self._check_X(X, fitting=True)
        started = time.perf_counter()
        self.n_features_in_ = X.shape[1]
        self.shape_ = shape
        self.stopped_early_ = False
        self.perplexity_ = float(self.perplexity)
        self.__dict__.pop("coords_", None)  # a fit that fails leaves the layout unfitted, not half-fitted
        self._fit_scaler(X)
        points = self._scale(X).T
        if self.reduce_dim and self.reduce_dim < min(points.shape):
            from sklearn.decomposition import PCA

            # three power iterations are plenty for a t-SNE input, and twice as fast as the default
            pca = PCA(int(self.reduce_dim), svd_solver="randomized", iterated_power=3, random_state=self.random_state)
            points = pca.fit_transform(points)
        embedding = self._embed(points, callback)
        if embedding.shape != (X.shape[1], 2) or not np.all(np.isfinite(embedding)):
            raise ValueError(f"method returned {embedding.shape} or non-finite values; expected ({X.shape[1]}, 2).")
        rotate = minimum_area_rotation if self.rotation == "minimum" else pydeepinsight2021_rotation
        self.rotation_ = rotate(embedding)
        self.embedding_ = embedding @ self.rotation_.T
        if self.discretization == "bin":
            self.coords_ = bin_coordinates(self.embedding_, shape)
        elif self.discretization == "digitize":
            self.coords_ = digitize_coordinates(self.embedding_, shape)
        else:
            self.coords_ = assign_coordinates(self.embedding_, shape, self.random_state)
        self._build_matrix()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _build_matrix(self) -> None:
        pixel = self.coords_[:, 0] * self.shape_[1] + self.coords_[:, 1]
        counts = np.bincount(pixel, minlength=self.shape_[0] * self.shape_[1])
        n = len(pixel)
        self._matrix = sparse.csr_matrix(
            (1.0 / counts[pixel], (np.arange(n), pixel)), shape=(n, self.shape_[0] * self.shape_[1])
        )
        self._pixel_features = sparse.csr_matrix(
            (np.ones(n, dtype=np.int8), (pixel, np.arange(n))), shape=(self.shape_[0] * self.shape_[1], n)
        )

    # ----------------------------------------------------------------- transform
    def transform(self, X: Any) -> np.ndarray:
        """Images of samples x features ``X``: float32 (n, H, W), each pixel the mean of its features."""
        check_is_fitted(self, "coords_")
        scaled = self.scale(X)
        flat = np.asarray(self._matrix.T.dot(scaled.T).T)
        return flat.reshape(len(scaled), *self.shape_).astype(np.float32)

    def map_values(self, values: Any) -> np.ndarray:
        """Per-feature values (n, features) placed on the grid as they are, unscaled: each pixel the mean of
        its features' values, empty pixels 0 (e.g. each feature's deviation from the corpus mean)."""
        check_is_fitted(self, "coords_")
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.n_features_in_:
            raise ValueError(f"values must be (n, {self.n_features_in_}), got {values.shape}.")
        flat = np.asarray(self._matrix.T.dot(values.T).T)
        return flat.reshape(len(values), *self.shape_).astype(np.float32)

    def fit_transform(self, X: Any, y: Any = None, callback: Callback | None = None) -> np.ndarray:
        """Fit on ``X`` and return its images."""
        return self.fit(X, callback=callback).transform(X)

    # ----------------------------------------------------------------- inspection
    def inverse(self, row: int, col: int) -> np.ndarray:
        """Indices of the features that sit on pixel (row, col)."""
        check_is_fitted(self, "coords_")
        height, width = self.shape_
        if not (0 <= row < height and 0 <= col < width):
            raise ValueError(f"pixel ({row}, {col}) is outside the {height} x {width} grid.")
        return self._pixel_features[row * width + col].indices.copy()

    def occupancy(self) -> np.ndarray:
        """(H, W) count of features on each pixel."""
        check_is_fitted(self, "coords_")
        pixel = self.coords_[:, 0] * self.shape_[1] + self.coords_[:, 1]
        return np.bincount(pixel, minlength=self.shape_[0] * self.shape_[1]).reshape(self.shape_)

    def quality(self, X: Any, n_neighbors: int = 5) -> dict[str, float]:
        """The figures that judge a layout.

        Args:
            X: samples x features the layout is judged on (usually its training matrix).
            n_neighbors: neighbourhood size for trustworthiness.

        Returns:
            occupied_pct (pixels holding at least one feature, % of the grid), max_collisions and
            mean_collisions (features per occupied pixel), and trustworthiness: sklearn's
            trustworthiness of the 2-D feature embedding with respect to the scaled features,
            each feature a point described by its values over the samples, with ``metric``.
        """
        from sklearn.manifold import trustworthiness

        counts = self.occupancy()
        occupied = counts[counts > 0]
        features = self.scale(X).T
        k = max(1, min(int(n_neighbors), len(features) // 2 - 1))
        return {
            "occupied_pct": 100.0 * occupied.size / counts.size,
            "max_collisions": int(occupied.max()),
            "mean_collisions": float(occupied.mean()),
            "trustworthiness": float(trustworthiness(features, self.embedding_, n_neighbors=k, metric=self.metric)),
        }

    # ----------------------------------------------------------------- persistence
    def _param_record(self) -> dict[str, Any]:
        params = self.get_params()
        if not isinstance(params["method"], str):
            params["method"] = f"object:{type(params['method']).__name__}"
        seed = params["random_state"]
        if isinstance(seed, np.integer):
            params["random_state"] = int(seed)
        elif not isinstance(seed, (int, type(None))):
            params["random_state"] = f"object:{type(seed).__name__}"  # a RandomState cannot be recorded
        params["pixels"] = list(params["pixels"]) if isinstance(params["pixels"], (tuple, list)) else params["pixels"]
        return params

    def save(self, folder: str | Path) -> Path:
        """Write ``layout.json`` (parameters, fitted scalars) and ``layout.npz`` (arrays) into ``folder``."""
        check_is_fitted(self, "coords_")
        folder = Path(folder)
        arrays = {
            "coords": self.coords_,
            "embedding": self.embedding_,
            "rotation": self.rotation_,
            "scale_min": self.scale_min_,
        }
        if self.scaler == "minmax":
            arrays["scale_span"] = self.scale_span_
        import io

        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(folder / "layout.npz", buffer.getvalue())
        record = {
            "format": _FORMAT_VERSION,
            "params": self._param_record(),
            "shape": list(self.shape_),
            "n_features_in": int(self.n_features_in_),
            "scale_max": getattr(self, "scale_max_", None),
            "perplexity": self.perplexity_,
            "stopped_early": bool(self.stopped_early_),
            "fit_seconds": float(self.fit_seconds_),
        }
        atomic_write_json(folder / "layout.json", record)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> FeatureLayout:
        """Read a layout written by :meth:`save` (no pickle involved)."""
        folder = Path(folder)
        record = read_json(folder / "layout.json")
        if record.get("format") != _FORMAT_VERSION:
            raise ValueError(f"{folder} holds a layout of format {record.get('format')}; expected {_FORMAT_VERSION}.")
        params = dict(record["params"])
        if isinstance(params.get("pixels"), list):
            params["pixels"] = tuple(params["pixels"])
        if isinstance(params.get("random_state"), str):  # a RandomState object was used; it cannot be restored
            params["random_state"] = None
        layout = cls(**params)
        try:
            with np.load(folder / "layout.npz", allow_pickle=False) as arrays:
                layout.coords_ = arrays["coords"].astype(np.int64)
                layout.embedding_ = arrays["embedding"]
                layout.rotation_ = arrays["rotation"]
                layout.scale_min_ = arrays["scale_min"]
                if "scale_span" in arrays:
                    layout.scale_span_ = arrays["scale_span"]
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{folder / 'layout.npz'} is missing or damaged ({error}); refit the layout.") from error
        if record["scale_max"] is not None:
            layout.scale_max_ = float(record["scale_max"])
        layout.shape_ = tuple(record["shape"])
        layout.n_features_in_ = int(record["n_features_in"])
        layout.perplexity_ = float(record["perplexity"])
        layout.stopped_early_ = bool(record["stopped_early"])
        layout.fit_seconds_ = float(record["fit_seconds"])
        if layout.coords_.shape != (layout.n_features_in_, 2):
            raise ValueError(
                f"{folder} is inconsistent: coords for {len(layout.coords_)} features, "
                f"expected {layout.n_features_in_}."
            )
        layout._build_matrix()
        return layout

    def describe(self) -> dict[str, Any]:
        """Parameters as plain JSON-able values (for provenance records and captions)."""
        return self._param_record()


def neighbour_agreement(first: FeatureLayout, second: FeatureLayout, k: int = 10) -> float:
    """How alike two layouts of the same features are, whatever their rotation, reflection or scale.

    Returns the mean, over features, of the share of a feature's ``k`` nearest neighbours in the
    first layout's 2-D positions that are also among its ``k`` nearest in the second's (1 = same
    neighbourhoods; about k / n_features for unrelated maps).
    """
    from sklearn.neighbors import NearestNeighbors

    check_is_fitted(first, "embedding_")
    check_is_fitted(second, "embedding_")
    if first.n_features_in_ != second.n_features_in_:
        raise ValueError(
            f"The layouts place different features ({first.n_features_in_} vs {second.n_features_in_}); "
            "compare layouts of the same encoder, layers and grid."
        )
    k = min(int(k), first.n_features_in_ - 1)
    if k < 1:
        raise ValueError("neighbour_agreement needs k >= 1 and at least two features.")

    def neighbours(layout: FeatureLayout) -> np.ndarray:
        index = NearestNeighbors(n_neighbors=k + 1).fit(layout.embedding_)
        return index.kneighbors(layout.embedding_, return_distance=False)[:, 1:]

    a, b = neighbours(first), neighbours(second)
    shared = [len(np.intersect1d(row_a, row_b, assume_unique=True)) for row_a, row_b in zip(a, b, strict=True)]
    return float(np.mean(shared) / k)


def chance_agreement(n_features: int, k: int = 10) -> float:
    """The :func:`neighbour_agreement` two unrelated (random) layouts of ``n_features`` give on average:
    a random set of ``k`` neighbours shares ``k * k / (n_features - 1)`` of the other's ``k``."""
    k = min(int(k), n_features - 1)
    return k / (n_features - 1)
