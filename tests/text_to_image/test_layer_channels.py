"""Images with one layer per channel (the lab's extension): three layers as the image's red, green and blue, one
layout fitted on a layer's features; built, trained, classified, explained and decomposed as grey images are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

LAYERS = (-3, -2, -1)


@pytest.fixture(scope="module")
def layered(tmp_path_factory):
    """A store of this module's own: a small Rotten Tomatoes dataset of per-layer channels and a SqueezeNet-slice
    CNN trained on it for one epoch."""
    from conftest import SMALL_CORPUS, SMALL_DATASET_LAYOUT

    from core import corpora
    from core.encoders import TextEncoder
    from core.text_to_image import datasets, training

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(tmp_path_factory.mktemp("layer-channels-home")))
        encoder = TextEncoder.from_name()
        corpus = corpora.load_corpus("rotten_tomatoes", n=SMALL_CORPUS, seed=0)
        settings = datasets.DatasetSettings(
            layers=LAYERS, pooling="mean", layout=SMALL_DATASET_LAYOUT, channels="layers"
        )
        dataset = datasets.build_dataset(encoder, corpus, settings)
        model = training.train_model(dataset, training.TrainSettings("squeezenet1_1", epochs=1, batch_size=16))
        yield encoder, dataset, model


def test_channels_need_exactly_three_layers():
    from core.text_to_image.datasets import DatasetSettings

    with pytest.raises(ValueError, match="exactly three layers"):
        DatasetSettings(channels="layers").check()
    with pytest.raises(ValueError, match=r"got \[-2, -1\]"):
        DatasetSettings(layers=(-2, -1), channels="layers").check()
    with pytest.raises(ValueError, match="channels must be one of"):
        DatasetSettings(layers=LAYERS, channels="rgb").check()


def test_grey_datasets_keep_their_ids():
    """The default records no ``channels`` (datasets built before it existed keep their ids)."""
    from core.text_to_image.datasets import DatasetSettings, channels_of

    assert DatasetSettings().channels == "grey"
    assert channels_of({}) == "grey"


def test_each_channel_is_one_layer_through_the_one_layout(layered):
    from core import store
    from core.layout import FeatureLayout
    from core.text_to_image import datasets, imaging

    _, dataset, _ = layered
    images = datasets.load_dataset(dataset)["images"]
    features = imaging.load_embeddings(store.load(imaging.EMBEDDINGS, dataset.config["embeddings"]))
    layout = FeatureLayout.load(dataset.file("layout"))
    hidden = features.shape[1] // 3
    side = dataset.config["layout"]["pixels"]
    assert dataset.config["channels"] == "layers"
    assert images.shape == (len(features), 3, side, side)
    assert len(layout.coords_) == hidden  # the layout places one layer's features
    for channel in range(3):
        alone = layout.transform(features[:, channel * hidden : (channel + 1) * hidden])
        np.testing.assert_allclose(images[:, channel].astype(np.float32), alone, atol=1e-3)
    assert not np.allclose(images[:, 0], images[:, 2], atol=1e-2)  # the layers differ, so do the channels
    assert "one layer per RGB channel" in datasets.dataset_label(dataset)


def test_a_model_of_layer_channels_takes_its_own_images_only(layered):
    from core.text_to_image.classifiers import check_images

    _, dataset, model = layered
    config = model.config["classifier"]
    assert config["channels"] == 3 and config["image_shape"] == [24, 24]
    check_images(config, torch.zeros(2, 3, 24, 24))
    with pytest.raises(ValueError, match="images of 3 channels"):
        check_images(config, torch.zeros(2, 24, 24))


def test_typed_text_is_imaged_and_classified_as_the_dataset_was(layered):
    from core.text_to_image import classify

    encoder, dataset, model_artifact = layered
    imager = classify.dataset_imager(dataset, encoder)
    features, images = imager.images(["A tender, funny and beautifully acted film."])
    assert images.shape == (1, 3, 24, 24)
    model = classify.load_model(model_artifact.path)
    outcome = classify.classify({"cnn": model}, images[0])
    assert outcome["per_model"]["cnn"].shape == (2,)
    assert np.isclose(outcome["per_model"]["cnn"].sum(), 1.0, atol=1e-5)


def test_attributions_image_the_text_as_the_dataset_does(layered):
    """The torch layout of the attribution chain gives the stored images' arithmetic, channel by channel, and
    integrated gradients still add up to the logit's change."""
    from core.text_to_image import attributions, classify, datasets

    encoder, dataset, model_artifact = layered
    imager = classify.dataset_imager(dataset, encoder)
    features = encoder.embed(["Not bad at all.", "A tedious mess."], layers=list(LAYERS), pooling="mean")
    torch_images = attributions.LayoutImages(imager.layout, 3)(torch.as_tensor(features, dtype=torch.float32))
    expected = datasets.images_of(imager.layout, features, dataset.config)
    np.testing.assert_allclose(torch_images.numpy(), expected, atol=1e-5)
    model = classify.load_model(model_artifact.path)
    found = attributions.attribute(imager, model, "Not bad at all.", steps=64, rule="midpoint")
    assert found.relative_gap < 0.2


def test_the_decomposition_reads_every_layer_back_from_its_channel(layered):
    from core.text_to_image import decomposition

    _, dataset, model = layered
    loss = decomposition.layout_loss(dataset)
    assert (loss["features"], loss["pixels"]) == (384, 24 * 24)  # one layer's features on the grid
    assert loss["reconstruction_mae"] < loss["mean_predictor_mae"]
    steps = decomposition.decompose(dataset, model).config["steps"]
    assert {"raw", "pixels", "slice", "cnn"} <= set(steps)
    assert all(0 <= step["accuracy"] <= 1 for step in steps.values())


def test_a_portable_demo_carries_it_and_predicts_the_same_elsewhere(layered, tmp_path, monkeypatch):
    from core import store
    from core.text_to_image import classify, datasets, demos, training

    encoder, dataset, model_artifact = layered

    def predict() -> np.ndarray:
        here = store.load(datasets.DATASETS, dataset.id)
        _, images = classify.dataset_imager(here, encoder).images(["Not bad at all."])
        model = classify.load_model(store.load(training.MODELS, model_artifact.id).path)
        return classify.classify({"m": model}, images[0])["per_model"]["m"]

    expected = predict()
    archive = tmp_path / "demo.zip"
    demos.export_demo(archive, dataset.id, [model_artifact.id], [])
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "elsewhere"))
    imported = demos.import_demo(archive)
    assert ("datasets", dataset.id, True) in imported and ("models", model_artifact.id, True) in imported
    moved = store.load(datasets.DATASETS, dataset.id)
    assert datasets.channels_of(moved.config) == "layers"
    np.testing.assert_array_equal(predict(), expected)
