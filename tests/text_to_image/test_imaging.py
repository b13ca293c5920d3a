"""Sentences to images: cached and resumable corpus embeddings, fitted imagers, downloads."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core import store
from core.errors import Interrupted
from core.layout import FeatureLayout
from core.text_to_image import datasets, imaging
from core.text_to_image.datasets import DatasetSettings


@pytest.fixture(scope="module")
def encoder():
    from core.encoders import TextEncoder

    return TextEncoder.from_name()


@pytest.fixture()
def private_home(monkeypatch, tmp_path):
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path))
    return tmp_path


def small_corpus(n: int = 40) -> pd.DataFrame:
    words = ["good", "bad", "dull", "bright", "slow", "funny", "sad", "warm"]
    texts = [f"a {words[i % 8]} film number {i} with {words[(i * 3) % 8]} acting" for i in range(n)]
    frame = pd.DataFrame({"text": texts, "label": [i % 2 for i in range(n)]})
    frame.attrs["source"] = {"corpus": "toy"}
    return frame


def test_embed_corpus_caches_with_provenance(private_home, encoder):
    corpus = small_corpus()
    artifact = imaging.embed_corpus(encoder, corpus, shard_size=16)
    matrix = imaging.load_embeddings(artifact)
    assert matrix.shape == (40, 6 * 384) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix[:5], encoder.embed(corpus["text"][:5].tolist()), atol=1e-5)
    assert artifact.config["corpus"]["texts_sha256"] == imaging.texts_sha256(corpus["text"].tolist())
    assert artifact.config["encoder"]["model_id"] and artifact.config["provenance"]["packages"]
    assert pd.read_parquet(artifact.file("corpus.parquet"))["text"].tolist() == corpus["text"].tolist()
    calls = []
    original = type(encoder).embed
    try:
        type(encoder).embed = lambda self, texts, **kw: calls.append(texts) or original(self, texts, **kw)
        again = imaging.embed_corpus(encoder, corpus, shard_size=16)
    finally:
        type(encoder).embed = original
    assert again.id == artifact.id and calls == []  # served from the store, nothing embedded again


def test_interrupted_embedding_resumes_without_redoing_shards(private_home, encoder, monkeypatch):
    corpus = small_corpus()
    with pytest.raises(Interrupted, match="16 of 40"):
        imaging.embed_corpus(encoder, corpus, shard_size=16, callback=lambda step, total, m: "shard" in m)
    calls = []
    original = type(encoder).embed

    def counting(self, texts, **kwargs):
        calls.append(len(texts))
        return original(self, texts, **kwargs)

    monkeypatch.setattr(type(encoder), "embed", counting)
    resumed = imaging.load_embeddings(imaging.embed_corpus(encoder, corpus, shard_size=16))
    assert calls == [16, 8]  # the first shard was kept, not recomputed
    monkeypatch.undo()
    fresh_home = private_home / "fresh"
    monkeypatch.setenv(store.HOME_ENV, str(fresh_home))
    straight = imaging.load_embeddings(imaging.embed_corpus(encoder, corpus, shard_size=16))
    np.testing.assert_array_equal(resumed, straight)


def test_embed_corpus_rejects_an_empty_corpus(private_home, encoder):
    with pytest.raises(ValueError, match="empty"):
        imaging.embed_corpus(encoder, pd.DataFrame({"text": [], "label": []}))


def test_fitted_imager_shapes_and_names(small_imager):
    result = small_imager.images(["A warm, funny and sharply written comedy.", "Tedious."])
    hidden = small_imager.hidden
    assert result.features.shape == (2, 6 * hidden)
    assert result.combined.shape == (2, 24, 24)
    side = imaging.default_layer_pixels(hidden)
    assert result.layers.shape == (2, 6, side, side)
    assert result.truncated.tolist() == [False, False]
    names = imaging.feature_names(small_imager.config, "combined")
    assert names[0] == (small_imager.layers[0], 0) and names[hidden + 5] == (small_imager.layers[1], 5)
    # the per-layer image of layer j is the shared per-layer layout applied to that layer's slice
    layer_two = result.features[:, 2 * hidden : 3 * hidden]
    np.testing.assert_allclose(result.layers[:, 2], small_imager.per_layer.transform(layer_two))
    np.testing.assert_allclose(result.combined, small_imager.combined.transform(result.features))


def test_imager_artifact_records_corpus_quality_and_provenance(small_imager):
    config = small_imager.config
    assert config["corpus"]["corpus"] == "rotten_tomatoes" and config["corpus"]["rows"] == 120
    features = imaging.load_embeddings(store.load(imaging.EMBEDDINGS, config["embeddings"]))
    matrices = {"combined": features, "per_layer": imaging.stack_layers(features, len(config["layers"]))}
    for name, layout in (("combined", small_imager.combined), ("per_layer", small_imager.per_layer)):
        quality = config["quality"][name]  # what was recorded is what the saved layout measures
        again = layout.quality(matrices[name], n_neighbors=imaging.DEFAULTS.neighbours)
        for key in ("occupied_pct", "trustworthiness", "max_collisions", "mean_collisions"):
            assert quality[key] == pytest.approx(again[key]), (name, key)
        assert quality["trustworthiness"] > 0.5  # t-SNE keeps neighbours better than a random placement (~0.5)
    assert config["layout"]["pixels"] == 24 and config["provenance"]["packages"]["openTSNE"]


def test_fit_imager_reuses_an_identical_fit(lab_home, small_imager):
    embeddings = store.load(imaging.EMBEDDINGS, small_imager.config["embeddings"])
    again = imaging.fit_imager(embeddings, {"pixels": 24, "random_state": 0})
    assert again.id == small_imager.artifact_id


def test_fit_imager_rejects_bad_layout_params(lab_home, small_imager):
    embeddings = store.load(imaging.EMBEDDINGS, small_imager.config["embeddings"])
    with pytest.raises(ValueError, match="pixels"):
        imaging.fit_imager(embeddings, {"pixels": 1})


def test_load_imager_refuses_another_encoder(lab_home, small_imager, tmp_path):
    class Other:
        def describe(self):
            return {"model_id": "someone/else"}

    artifact = store.load(imaging.IMAGERS, small_imager.artifact_id)
    with pytest.raises(ValueError, match="fitted for"):
        imaging.load_imager(artifact, Other())


def test_stack_layers_makes_each_layer_a_sample():
    features = np.arange(2 * 3 * 4).reshape(2, 12)
    stacked = imaging.stack_layers(features, 3)
    assert stacked.shape == (6, 4)
    np.testing.assert_array_equal(stacked[4], features[1, 4:8])


def test_png_and_npy_downloads_roundtrip():
    image = np.array([[0.0, 0.5], [1.0, 2.0]], dtype=np.float32)
    png = Image.open(io.BytesIO(imaging.to_png(image)))
    assert png.mode == "L" and png.size == (2, 2)
    np.testing.assert_array_equal(np.asarray(png), [[0, 128], [255, 255]])
    assert Image.open(io.BytesIO(imaging.to_png(image, scale=3))).size == (6, 6)
    np.testing.assert_array_equal(np.load(io.BytesIO(imaging.to_npy(image))), image)
    with pytest.raises(ValueError, match="2-D image"):
        imaging.to_png(np.zeros((2, 2, 2)))


def test_imager_label_names_corpus_encoder_and_settings(lab_home, small_imager):
    artifact = store.load(imaging.IMAGERS, small_imager.artifact_id)
    label = imaging.imager_label(artifact)
    for part in ("rotten_tomatoes", "120 texts", "all-MiniLM-L6-v2", "mean", "tsne 24 px", "seed 0", artifact.id):
        assert part in label


def test_imager_id_records_every_layout_setting(lab_home, small_imager):
    """A changed default must not silently reuse a layout fitted under the old default."""
    embeddings = store.load(imaging.EMBEDDINGS, small_imager.config["embeddings"])
    config = imaging.imager_config(embeddings, {"pixels": 24, "random_state": 0}, None)
    assert config["layout"]["n_iter"] == FeatureLayout().n_iter and config["layout"]["method"] == "tsne"
    explicit = imaging.imager_config(embeddings, FeatureLayout(pixels=24, random_state=0).get_params(), None)
    assert store.config_hash(config) == store.config_hash(explicit)


def test_resume_never_mixes_shards_of_another_size_or_a_damaged_shard(private_home, encoder):
    corpus = small_corpus(20)
    with pytest.raises(Interrupted):
        imaging.embed_corpus(encoder, corpus, shard_size=16, callback=lambda step, total, m: "shard" in m)
    # a run with another shard size starts its own shards instead of reusing the 16-row one
    partials = sorted(p.name for p in (private_home / "runs" / "embeddings").iterdir())
    assert len(partials) == 1 and partials[0].endswith("-16")
    shard = next((private_home / "runs" / "embeddings").iterdir()) / "shard-00000.npy"
    shard.write_bytes(b"torn write")  # a damaged shard is redone, not trusted
    resumed = imaging.load_embeddings(imaging.embed_corpus(encoder, corpus, shard_size=16))
    other = imaging.load_embeddings(imaging.embed_corpus(encoder, corpus, shard_size=7))
    np.testing.assert_allclose(resumed, encoder.embed(corpus["text"].tolist()), atol=1e-5)
    np.testing.assert_array_equal(resumed, other)


def test_embed_corpus_needs_labels(private_home, encoder):
    with pytest.raises(ValueError, match="'label'"):
        imaging.embed_corpus(encoder, pd.DataFrame({"text": ["a film"]}))


def test_stopped_fit_is_kept_but_refitted_next_time(private_home, encoder):
    embeddings = imaging.embed_corpus(encoder, small_corpus(30))
    params = {"pixels": 10, "random_state": 0}
    stopped = imaging.fit_imager(embeddings, params, callback=lambda step, total, m: m.get("stage") == "tsne")
    assert stopped.config["quality"]["combined"]["stopped_early"]
    finished = imaging.fit_imager(embeddings, params)
    assert finished.id == stopped.id
    assert not any(q["stopped_early"] for q in finished.config["quality"].values())


def test_settings_are_checked_for_both_grids_before_any_work():
    with pytest.raises(ValueError, match="at least 2"):
        imaging.check_settings({"pixels": 30}, layer_pixels=1)
    imaging.check_settings({"pixels": 30}, layer_pixels=None)


def test_threads_do_not_change_an_imager_id(lab_home, small_imager):
    embeddings = store.load(imaging.EMBEDDINGS, small_imager.config["embeddings"])
    one = imaging.imager_config(embeddings, {"pixels": 24, "random_state": 0, "n_jobs": 1}, None)
    all_cores = imaging.imager_config(embeddings, {"pixels": 24, "random_state": 0}, None)
    explicit_side = imaging.imager_config(embeddings, {"pixels": 24, "random_state": 0}, 20)
    assert store.config_hash(one) == store.config_hash(all_cores) == store.config_hash(explicit_side)
    assert "n_jobs" not in one["layout"]


def test_feature_names_and_same_features(small_imager):
    config = small_imager.config
    names = imaging.feature_names(config, "combined")
    assert len(names) == 6 * small_imager.hidden and names[small_imager.hidden + 3] == (config["layers"][1], 3)
    assert imaging.feature_names(config, "per_layer")[:2] == [(None, 0), (None, 1)]
    other_layers = {**config, "layers": [0, 1, 2, 3, 4, 5]}
    assert imaging.same_features(config, config, "combined")
    assert not imaging.same_features(config, other_layers, "combined")
    assert imaging.same_features(config, other_layers, "per_layer")
    other_model = {**config, "encoder": {**config["encoder"], "model_id": "someone/else"}}
    assert not imaging.same_features(config, other_model, "per_layer")


def test_load_imager_refuses_other_weights(lab_home, small_imager):
    class Retrained:
        def describe(self):
            return {**small_imager.encoder.describe(), "revision": "0" * 64}

    artifact = store.load(imaging.IMAGERS, small_imager.artifact_id)
    with pytest.raises(ValueError, match="fit the layout again"):
        imaging.load_imager(artifact, Retrained())


def test_dataset_split_is_stratified_and_images_are_compact(private_home, encoder):
    corpus = small_corpus(40)
    artifact = datasets.build_dataset(encoder, corpus, DatasetSettings(layout={"method": "pca", "pixels": 12}))
    data = datasets.load_dataset(artifact)
    assert data["images"].shape == (40, 12, 12) and data["images"].dtype == np.float16
    np.testing.assert_array_equal(data["labels"], corpus["label"].to_numpy())
    assert data["is_test"].sum() == 8 and data["labels"][data["is_test"]].sum() == 4  # 20 %, half of each class
    assert artifact.config["split"] == {"test_size": 0.2, "seed": 42, "train": 32, "test": 8}
    one_thread = datasets.build_dataset(
        encoder, corpus, DatasetSettings(layout={"method": "pca", "pixels": 12, "n_jobs": 1})
    )
    assert one_thread.id == artifact.id and "n_jobs" not in artifact.config["layout"]  # threads are not a setting


def test_dataset_layout_never_sees_the_test_rows_unless_asked(private_home, encoder):
    corpus = small_corpus(40)
    features = imaging.load_embeddings(imaging.embed_corpus(encoder, corpus))
    honest = datasets.build_dataset(encoder, corpus, DatasetSettings(layout={"method": "pca", "pixels": 12}))
    is_test = datasets.load_dataset(honest)["is_test"]
    layout = FeatureLayout.load(honest.file("layout"))
    # the log scaler learns each column's minimum from the rows it was fitted on
    np.testing.assert_array_equal(layout.scale_min_, features[~is_test].min(axis=0))
    assert np.any(features[~is_test].min(axis=0) != features.min(axis=0))  # the test rows would have changed it
    paper = datasets.build_dataset(
        encoder, corpus, DatasetSettings(layout={"method": "pca", "pixels": 12}, fit_on="all")
    )
    assert paper.id != honest.id and paper.config["fit_on"] == "all"
    np.testing.assert_array_equal(FeatureLayout.load(paper.file("layout")).scale_min_, features.min(axis=0))


def test_dataset_build_is_reproducible(private_home, encoder, monkeypatch):
    corpus = small_corpus(30)
    first = datasets.load_dataset(
        datasets.build_dataset(encoder, corpus, DatasetSettings(layout={"pixels": 10, "random_state": 0}))
    )
    monkeypatch.setenv(store.HOME_ENV, str(private_home / "again"))
    second = datasets.load_dataset(
        datasets.build_dataset(encoder, corpus, DatasetSettings(layout={"pixels": 10, "random_state": 0}))
    )
    for name in ("images", "labels", "is_test"):
        np.testing.assert_array_equal(first[name], second[name])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fit_on": "test"}, "fit_on must be"),
        ({"test_size": 1.5}, "test_size must be"),
        ({"layout": {"pixels": 1}}, "at least 2"),
    ],
)
def test_dataset_bad_parameters(private_home, encoder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.build_dataset(encoder, small_corpus(20), DatasetSettings(**kwargs))


def test_dataset_needs_two_classes(private_home, encoder):
    corpus = small_corpus(20)
    corpus["label"] = 1
    with pytest.raises(ValueError, match="only one class"):
        datasets.build_dataset(encoder, corpus)


def test_interrupted_dataset_build_resumes_to_identical_arrays(private_home, encoder, monkeypatch):
    import functools

    corpus = small_corpus(40)
    params = {"pixels": 10, "random_state": 0}
    monkeypatch.setattr(imaging, "embed_corpus", functools.partial(imaging.embed_corpus, shard_size=16))  # 3 shards
    embedded = []
    original = encoder.embed
    monkeypatch.setattr(encoder, "embed", lambda texts, **kw: embedded.append(len(texts)) or original(texts, **kw))

    stops = [True]

    def stop_after_first_shard(step, total, metrics):  # once: the resumed build passes shard 0 again
        return metrics.get("shard") == 0 and bool(stops) and stops.pop()

    with pytest.raises(Interrupted, match="16 of 40"):
        datasets.build_dataset(encoder, corpus, DatasetSettings(layout=params), callback=stop_after_first_shard)
    assert store.list_artifacts(datasets.DATASETS) == []  # nothing half-built is published
    assert embedded == [16]
    resumed = datasets.load_dataset(
        datasets.build_dataset(encoder, corpus, DatasetSettings(layout=params), callback=stop_after_first_shard)
    )
    assert embedded == [16, 16, 8]  # the finished shard was not embedded again
    monkeypatch.setenv(store.HOME_ENV, str(private_home / "straight"))
    straight = datasets.load_dataset(datasets.build_dataset(encoder, corpus, DatasetSettings(layout=params)))
    for name in ("images", "labels", "is_test"):
        np.testing.assert_array_equal(resumed[name], straight[name])


def test_a_stopped_layout_fit_publishes_no_dataset(private_home, encoder):
    corpus = small_corpus(40)
    params = {"pixels": 10, "random_state": 0}
    with pytest.raises(Interrupted, match="layout fit was stopped"):
        datasets.build_dataset(
            encoder,
            corpus,
            DatasetSettings(layout=params),
            callback=lambda step, total, metrics: metrics.get("stage") == "tsne",
        )
    assert store.list_artifacts(datasets.DATASETS) == []
    assert (
        len(datasets.build_dataset(encoder, corpus, DatasetSettings(layout=params)).config["quality"]) > 0
    )  # the next build fits it whole


def test_relative_images_are_deviations_from_the_corpus_in_standard_deviations(small_imager):
    mean, std = small_imager.corpus_stats
    combined, layers = small_imager.relative(np.stack([mean, mean + std]))
    assert np.allclose(combined[0], 0) and np.allclose(layers[0], 0)  # the corpus mean: no deviation anywhere
    occupied = small_imager.combined.occupancy() > 0
    assert np.allclose(combined[1][occupied], 1.0, atol=1e-5)  # one SD above in every feature
    result = small_imager.images(["A warm, funny film.", "A dull, joyless mess."])
    assert result.relative_combined.shape == result.combined.shape
    assert result.relative_layers.shape == result.layers.shape
