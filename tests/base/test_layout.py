"""FeatureLayout: the science (reproducible, faithful, trustworthy) and the estimator contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from core.layout import (
    FeatureLayout,
    assign_coordinates,
    bin_coordinates,
    minimum_area_rotation,
)


class FixedEmbedding:
    """A 2-D 'method' that returns a given embedding, to test everything after the embedding."""

    def __init__(self, embedding: np.ndarray) -> None:
        self.embedding = embedding

    def fit_transform(self, points: np.ndarray) -> np.ndarray:
        return self.embedding


def clustered_matrix(n_samples: int = 200, n_groups: int = 4, per_group: int = 40, seed: int = 0) -> np.ndarray:
    """Samples x features where features come in groups that move together: a known structure."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_samples, n_groups))
    X = base[:, np.repeat(np.arange(n_groups), per_group)] + 0.3 * rng.normal(size=(n_samples, n_groups * per_group))
    return X


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return clustered_matrix()


@pytest.fixture(scope="module")
def fitted(X: np.ndarray) -> FeatureLayout:
    return FeatureLayout(pixels=20, random_state=3).fit(X)


def test_same_random_state_gives_identical_coords(X, fitted):
    again = FeatureLayout(pixels=20, random_state=3).fit(X)
    np.testing.assert_array_equal(fitted.coords_, again.coords_)
    np.testing.assert_array_equal(fitted.embedding_, again.embedding_)


def test_transform_is_per_pixel_mean_by_hand():
    X = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 4.0, 8.0, 2.0, 6.0]])
    coords = np.array([[0, 0], [0, 0], [1, 2], [2, 1], [0, 0]])
    embedding = coords.astype(float) + 0.5
    layout = FeatureLayout(method=FixedEmbedding(embedding), pixels=3, scaler=None, reduce_dim=None).fit(X)
    layout.coords_ = coords
    layout._build_matrix()
    images = layout.transform(X)
    expected = np.zeros((2, 3, 3), dtype=np.float32)
    expected[0, 0, 0] = (1 + 2 + 5) / 3
    expected[0, 1, 2] = 3
    expected[0, 2, 1] = 4
    expected[1, 0, 0] = (0 + 4 + 6) / 3
    expected[1, 1, 2] = 8
    expected[1, 2, 1] = 2
    assert images.dtype == np.float32 and images.shape == (2, 3, 3)
    np.testing.assert_allclose(images, expected, rtol=1e-6)


def test_transform_range_and_shape(X, fitted):
    images = fitted.transform(X[:7])
    assert images.shape == (7, 20, 20) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    empty = fitted.occupancy() == 0
    assert np.all(images[:, empty] == 0)


def test_trustworthiness_on_structured_matrix(X, fitted):
    quality = fitted.quality(X)
    assert quality["trustworthiness"] > 0.9
    occupancy = fitted.occupancy()
    assert quality["occupied_pct"] == pytest.approx(100 * (occupancy > 0).mean())
    assert quality["max_collisions"] == occupancy.max()
    assert quality["max_collisions"] >= quality["mean_collisions"] >= 1


def test_groups_of_features_land_together(X, fitted):
    """Features that move together sit closer to each other than to other groups."""
    groups = np.repeat(np.arange(4), 40)
    centres = np.array([fitted.embedding_[groups == g].mean(axis=0) for g in range(4)])
    within = np.mean([np.linalg.norm(fitted.embedding_[groups == g] - centres[g], axis=1).mean() for g in range(4)])
    between = np.mean([np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1 :]])
    assert within < between / 2


def test_minimum_area_rotation_beats_every_other_angle():
    rng = np.random.default_rng(1)
    tilt = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    points = (rng.normal(size=(300, 2)) * [3, 1]) @ tilt.T

    def area(p):
        extent = p.max(axis=0) - p.min(axis=0)
        return extent[0] * extent[1]

    rotation = minimum_area_rotation(points)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(2), atol=1e-12)
    best = area(points @ rotation.T)
    angles = np.linspace(0, np.pi / 2, 5001)
    brute = min(area(points @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]).T) for a in angles)
    assert best <= brute + 1e-9
    assert best < area(points)


def test_bin_coordinates_cover_the_grid_edges():
    points = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.25], [0.999, 0.0]])
    coords = bin_coordinates(points, (4, 8))
    np.testing.assert_array_equal(coords, [[0, 0], [3, 7], [2, 2], [3, 0]])


def test_assignment_gives_one_feature_per_pixel_when_room():
    rng = np.random.default_rng(2)
    coords = assign_coordinates(rng.normal(size=(30, 2)), (6, 6), random_state=0)
    assert len({tuple(c) for c in coords}) == 30
    assert coords.min() >= 0 and coords[:, 0].max() < 6 and coords[:, 1].max() < 6


def test_assignment_groups_features_when_more_than_pixels():
    rng = np.random.default_rng(3)
    coords = assign_coordinates(rng.normal(size=(100, 2)), (5, 5), random_state=0)
    assert len({tuple(c) for c in coords}) == 25  # every pixel used by one group


def test_assignment_layout_fills_the_grid(X):
    layout = FeatureLayout(pixels=10, discretization="assignment", random_state=0).fit(X)
    assert layout.quality(X)["occupied_pct"] == 100.0


@pytest.mark.parametrize("method", ["pca", "kpca", "umap"])
def test_other_methods_fit(X, method):
    layout = FeatureLayout(method=method, pixels=12, random_state=0).fit(X)
    assert layout.coords_.shape == (X.shape[1], 2)
    assert layout.quality(X)["trustworthiness"] > 0.8


def test_inverse_lists_the_features_of_a_pixel(fitted):
    row, col = map(int, fitted.coords_[17])
    features = fitted.inverse(row, col)
    assert 17 in features
    assert np.all((fitted.coords_[features] == [row, col]).all(axis=1))
    assert sum(len(fitted.inverse(r, c)) for r in range(20) for c in range(20)) == fitted.n_features_in_


def test_save_and_load_roundtrip_without_pickle(tmp_path, X, fitted):
    fitted.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"layout.json", "layout.npz"}
    with np.load(tmp_path / "layout.npz", allow_pickle=False) as arrays:
        assert all(arrays[k].dtype != object for k in arrays.files)
    loaded = FeatureLayout.load(tmp_path)
    np.testing.assert_array_equal(loaded.coords_, fitted.coords_)
    np.testing.assert_array_equal(loaded.transform(X[:5]), fitted.transform(X[:5]))
    assert loaded.get_params() == fitted.get_params()


def test_load_rejects_a_damaged_file(tmp_path, fitted):
    fitted.save(tmp_path)
    (tmp_path / "layout.npz").write_bytes(b"not a numpy archive")
    with pytest.raises(ValueError, match="damaged"):
        FeatureLayout.load(tmp_path)


def test_callback_sees_progress_and_can_stop(X):
    seen = []

    def callback(step, total, metrics):
        seen.append((step, total, metrics.get("stage")))
        return step >= 100

    layout = FeatureLayout(pixels=10, random_state=0).fit(X, callback=callback)
    assert layout.stopped_early_
    assert any(stage == "tsne" for _, _, stage in seen)
    assert max(step for step, _, stage in seen if stage == "tsne") < 250
    assert layout.coords_.shape == (X.shape[1], 2)


def test_scalers():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 12))
    log = FeatureLayout(method="pca", pixels=4, scaler="log").fit(X)
    expected = np.log(X - X.min(axis=0) + 1) / np.log(X - X.min(axis=0) + 1).max()
    np.testing.assert_allclose(log.scale(X), expected)
    minmax = FeatureLayout(method="pca", pixels=4, scaler="minmax").fit(X)
    np.testing.assert_allclose(minmax.scale(X).min(axis=0), 0)
    np.testing.assert_allclose(minmax.scale(X).max(axis=0), 1)
    shifted = X + 5  # positive column minima: norm2 adds |min| where log subtracts min
    norm2 = FeatureLayout(method="pca", pixels=4, scaler="norm2").fit(shifted)
    expected = np.log(shifted + shifted.min(axis=0) + 1) / np.log(shifted + shifted.min(axis=0) + 1).max()
    np.testing.assert_allclose(norm2.scale(shifted), expected)
    np.testing.assert_allclose(FeatureLayout(method="pca", pixels=4).fit(shifted).scale(shifted), log.scale(X))
    raw = FeatureLayout(method="pca", pixels=4, scaler=None).fit(X)
    np.testing.assert_allclose(raw.scale(X), X)
    # new data outside the training range is clipped into [0, 1]
    assert log.scale(X * 10).max() <= 1.0 and log.scale(X * 10).min() >= 0.0


@pytest.mark.parametrize("shift", [0.0, 3.0])  # 3.0: every column minimum is positive
def test_matches_pydeepinsight_images_given_same_coordinates(shift):
    image_transformer = pytest.importorskip("pyDeepInsight").ImageTransformer
    from pyDeepInsight.utils import Norm2Scaler

    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 90)) @ rng.normal(size=(90, 90)) * 0.1 + shift
    scaler = Norm2Scaler().fit(X)
    reference = image_transformer(feature_extractor="pca", pixels=(12, 15))
    reference.fit(scaler.transform(X))
    ours = FeatureLayout(method="pca", pixels=(12, 15), scaler="norm2").fit(X)
    np.testing.assert_allclose(ours.scale(X), scaler.transform(X), rtol=1e-12)
    ours.coords_ = np.asarray(reference._coords, dtype=np.int64)
    ours._build_matrix()
    expected = reference.transform(scaler.transform(X), img_format="scalar")
    np.testing.assert_allclose(ours.transform(X), expected, atol=1e-6)


def test_sklearn_contract(X):
    layout = FeatureLayout(pixels=(8, 11), method="pca", random_state=0)
    assert clone(layout).get_params() == layout.get_params()
    layout.set_params(pixels=9)
    assert layout.pixels == 9
    with pytest.raises(NotFittedError):
        layout.transform(X)
    images = layout.fit_transform(X)
    assert images.shape == (len(X), 9, 9)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"method": "isomap"}, "method must be one of"),
        ({"method": object()}, "method must be one of"),
        ({"pixels": 1}, "at least 2"),
        ({"pixels": (10, 10, 3)}, "pixels must be"),
        ({"pixels": 2.5}, "pixels must be"),
        ({"discretization": "nearest"}, "discretization must be"),
        ({"scaler": "zscore"}, "scaler must be"),
        ({"reduce_dim": 1}, "reduce_dim must be"),
        ({"reduce_dim": -3}, "reduce_dim must be"),
        ({"perplexity": 0}, "perplexity must be"),
        ({"n_neighbors": 1}, "n_neighbors must be"),
        ({"n_iter": 0}, "n_iter must be"),
        ({"early_exaggeration_iter": -1}, "early_exaggeration_iter must be"),
        ({"metric": ""}, "metric must be"),
        ({"n_jobs": 0}, "n_jobs must be"),
    ],
)
def test_bad_parameters_raise(X, params, match):
    with pytest.raises(ValueError, match=match):
        FeatureLayout(**params).fit(X)


def test_bad_input_nan_raises(X):
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="finite"):
        FeatureLayout(method="pca").fit(bad)


def test_bad_input_one_sample_raises():
    with pytest.raises(ValueError, match="samples x features"):
        FeatureLayout(method="pca").fit(np.ones((1, 10)))


def test_bad_input_too_few_features_raises():
    with pytest.raises(ValueError, match="at least 4 features"):
        FeatureLayout(method="pca").fit(np.random.default_rng(0).normal(size=(10, 3)))


def test_bad_input_wrong_feature_count_raises(X, fitted):
    with pytest.raises(ValueError, match="fitted on 160"):
        fitted.transform(X[:, :100])


def test_duplicate_features_still_lay_out():
    """Exact duplicate columns tie in the neighbour search; each feature must still drop only itself."""
    rng = np.random.default_rng(6)
    base = rng.normal(size=(60, 20))
    X = np.concatenate([base, base, base[:, :5]], axis=1)
    layout = FeatureLayout(pixels=8, perplexity=5, random_state=0).fit(X)
    assert layout.coords_.shape == (45, 2) and np.all(np.isfinite(layout.embedding_))
    from scipy.spatial.distance import pdist

    twins = np.linalg.norm(layout.embedding_[:20] - layout.embedding_[20:40], axis=1)
    assert np.median(twins) < np.percentile(pdist(layout.embedding_), 10)


def test_bad_input_pixel_outside_grid_raises(fitted):
    with pytest.raises(ValueError, match="outside"):
        fitted.inverse(20, 0)


def test_neighbour_agreement_is_one_for_a_rotated_copy_and_low_for_noise(X, fitted):
    from core.layout import neighbour_agreement

    turned = FeatureLayout(pixels=20, random_state=3).fit(X)
    turned.embedding_ = fitted.embedding_ @ np.array([[0.0, -1.0], [1.0, 0.0]]) * 3.0
    assert neighbour_agreement(fitted, turned) == pytest.approx(1.0)
    noise = FeatureLayout(pixels=20, random_state=3).fit(X)
    noise.embedding_ = np.random.default_rng(0).normal(size=fitted.embedding_.shape)
    assert neighbour_agreement(fitted, noise) < 0.3


def test_neighbour_agreement_rejects_layouts_of_different_features(X, fitted):
    from core.layout import neighbour_agreement

    other = FeatureLayout(method="pca", pixels=8).fit(X[:, :50])
    with pytest.raises(ValueError, match="different features"):
        neighbour_agreement(fitted, other)


def test_describe_is_json_ready_even_for_a_custom_method(X):
    import json

    layout = FeatureLayout(method=FixedEmbedding(np.zeros((X.shape[1], 2))), pixels=(4, 5), reduce_dim=None)
    record = json.loads(json.dumps(layout.describe()))
    assert record["method"] == "object:FixedEmbedding" and record["pixels"] == [4, 5]
    assert FeatureLayout(random_state=np.int64(7)).describe()["random_state"] == 7  # numpy seeds kept, not dropped
    assert FeatureLayout(random_state=np.random.RandomState(0)).describe()["random_state"] == "object:RandomState"


def test_a_fit_that_fails_leaves_the_layout_unfitted(X):
    from sklearn.exceptions import NotFittedError

    layout = FeatureLayout(method=FixedEmbedding(np.zeros((3, 2))), pixels=10, reduce_dim=None)
    with pytest.raises(ValueError, match="expected"):
        layout.fit(X)
    with pytest.raises(NotFittedError):
        layout.transform(X)
    refitted = FeatureLayout(pixels=10, random_state=0).fit(X)
    refitted.set_params(method=FixedEmbedding(np.zeros((3, 2))))
    with pytest.raises(ValueError, match="expected"):
        refitted.fit(X)
    with pytest.raises(NotFittedError):  # no stale coordinates from the earlier fit
        refitted.transform(X)


def test_map_values_places_values_unscaled_and_equals_transform_without_a_scaler(X):
    layout = FeatureLayout(pixels=12, scaler=None, random_state=0).fit(X)
    np.testing.assert_allclose(layout.map_values(X[:5]), layout.transform(X[:5]), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="values must be"):
        layout.map_values(X[:5, :3])


def test_chance_agreement_is_what_random_layouts_give(X):
    from core.layout import chance_agreement, neighbour_agreement

    rng = np.random.default_rng(0)
    agreements = []
    for _ in range(3):
        a = FeatureLayout(method=FixedEmbedding(rng.normal(size=(X.shape[1], 2))), pixels=12, reduce_dim=None).fit(X)
        b = FeatureLayout(method=FixedEmbedding(rng.normal(size=(X.shape[1], 2))), pixels=12, reduce_dim=None).fit(X)
        agreements.append(neighbour_agreement(a, b))
    assert np.mean(agreements) == pytest.approx(chance_agreement(X.shape[1]), abs=0.02)
