"""Training jobs, baselines, reloading, live classification and saliency."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core import store
from core.text_to_image import classify, datasets, results, training
from core.text_to_image.classifiers import preprocess_for
from core.text_to_image.training import TrainSettings


def test_a_sliced_classifier_learns_a_separable_dataset(separable_dataset):
    artifact = training.train_model(separable_dataset, TrainSettings("squeezenet1_1", epochs=4, batch_size=16))
    config = artifact.config
    assert config["status"] == "finished" and len(config["history"]) == 4
    assert config["metrics"]["accuracy"] >= 0.9  # chance is 0.5
    assert np.array(config["confusion"]).sum() == 24 and config["label_names"] == ["left", "right"]
    assert artifact.file("model.safetensors").is_file()
    probabilities = np.load(artifact.file("test_probabilities.npy"))
    assert probabilities.shape == (24, 2) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    # the best epoch is chosen on the validation share of the training split, and its held-out figures are reported
    chosen = max(config["history"], key=lambda r: r["val_accuracy"])
    assert config["best_epoch"] == chosen["epoch"] and config["metrics"]["accuracy"] == chosen["accuracy"]
    assert config["training"]["validation"] == 0.1 and config["training"]["best_epoch_chosen_on"] == "validation"
    assert (
        training.train_model(separable_dataset, TrainSettings("squeezenet1_1", epochs=4, batch_size=16)).id
        == artifact.id
    )


def test_stop_keeps_the_best_epoch_and_a_second_call_resumes_like_an_uninterrupted_run(
    separable_dataset, tmp_path, monkeypatch
):
    seen = []

    def stop_after_two(epoch, epochs, metrics):
        seen.append(epoch)
        return epoch == 2

    stopped = training.train_model(
        separable_dataset, TrainSettings("efficientnet_lite0", epochs=4, batch_size=16), callback=stop_after_two
    )
    assert stopped.config["status"] == "stopped" and len(stopped.config["history"]) == 2
    assert stopped.config["best_epoch"] in (1, 2)
    resumed = training.train_model(
        separable_dataset, TrainSettings("efficientnet_lite0", epochs=4, batch_size=16), callback=stop_after_two
    )
    assert seen == [1, 2, 3, 4] and resumed.id == stopped.id
    assert resumed.config["status"] == "finished" and [r["epoch"] for r in resumed.config["history"]] == [1, 2, 3, 4]
    assert not any(p.name.startswith(".partial") for p in resumed.path.parent.iterdir())

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "other"))
    from conftest import write_separable_dataset

    straight = training.train_model(
        write_separable_dataset("separable"), TrainSettings("efficientnet_lite0", epochs=4, batch_size=16)
    )
    for a, b in zip(resumed.config["history"], straight.config["history"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["accuracy"] == b["accuracy"]


def test_reloaded_model_gives_the_saved_probabilities(separable_dataset):
    artifact = training.train_model(separable_dataset, TrainSettings("squeezenet1_1", epochs=1, batch_size=16))
    model = classify.load_model(artifact.path)
    split = datasets.load_split(separable_dataset)
    again = training.predict(model, split.test_images, preprocess_for(model.config)).numpy()
    assert np.allclose(again, np.load(artifact.file("test_probabilities.npy")), atol=1e-5)


def test_checkpoints_from_elsewhere_are_refused_unless_safetensors_with_a_fitting_config(separable_dataset, tmp_path):
    import shutil

    artifact = training.train_model(separable_dataset, TrainSettings("squeezenet1_1", epochs=1, batch_size=16))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(artifact.file("config.json"), pickled / "config.json")
    torch.save({"weights": torch.zeros(1)}, pickled / "model.pt")
    with pytest.raises(ValueError, match="model.pt are pickle files, which are never loaded"):
        classify.load_model(pickled)

    other = tmp_path / "other-architecture"
    shutil.copytree(artifact.path, other)
    config = json.loads((other / "config.json").read_text())
    config["classifier"]["node"] = "features.4"  # weights for features.7's head do not fit
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="do not fit this model"):
        classify.load_model(other)

    (other / "config.json").write_text(json.dumps({"layout": {}}))
    with pytest.raises(ValueError, match="does not describe a trained text-as-image model"):
        classify.load_model(other)


def test_bad_training_inputs_are_clear_errors(separable_dataset):
    with pytest.raises(ValueError, match="Unknown backbone"):
        training.train_model(separable_dataset, TrainSettings("lenet"))
    with pytest.raises(ValueError, match="not a node of this backbone"):
        training.train_model(separable_dataset, TrainSettings("squeezenet1_1", node="layer9", epochs=1))
    with pytest.raises(ValueError, match="batch size at least 2"):
        training.train_model(separable_dataset, TrainSettings("squeezenet1_1", batch_size=1))
    model = classify.load_model(
        training.train_model(separable_dataset, TrainSettings("squeezenet1_1", epochs=1, batch_size=16)).path
    )
    with pytest.raises(ValueError, match="takes 24x24 grayscale images"):
        classify.classify({"m": model}, np.zeros((50, 50)))


def test_one_class_dataset_is_refused(tmp_path, monkeypatch):
    from core.text_to_image import datasets, training

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    with store.writing(datasets.DATASETS, "one-class", {"label_names": ["pos", "neg"]}) as folder:
        np.save(folder / "images.npy", np.random.rand(20, 24, 24).astype(np.float16))
        np.save(folder / "labels.npy", np.zeros(20, dtype=np.int64))
        np.save(folder / "is_test.npy", np.arange(20) % 4 == 0)
    with pytest.raises(ValueError, match="only one class"):
        training.train_model(store.load(datasets.DATASETS, "one-class"), TrainSettings("squeezenet1_1", epochs=1))


def test_baseline_and_results_table_on_the_same_split(small_dataset, small_model):
    from core import evidence

    baseline = training.logistic_baseline(small_dataset)
    test_rows = int(np.load(small_dataset.file("is_test.npy")).sum())
    assert np.array(baseline.config["confusion"]).sum() == test_rows
    assert baseline.config["features"] == 6 * 384
    rows = {row["id"]: row for row in results.results_table(small_dataset)}
    assert rows[baseline.id]["kind"] == "baseline: raw embeddings"
    assert rows[small_model.id]["kind"] == "sliced CNN (ImageNet)" and rows[small_model.id]["epochs run"] == "2/2"
    assert rows[small_model.id]["seed"] == small_model.config["training"]["seed"] and rows[baseline.id]["seed"] == ""
    assert all(0 <= rows[i]["accuracy"] <= 1 for i in rows)
    # each row's accuracy is its own stored held-out predictions' share right; the reference's is the majority share
    held_out = results.held_out_labels(small_dataset)
    assert len(held_out) == test_rows and rows[""]["kind"] == "reference: majority class"
    assert rows[""]["accuracy"] == pytest.approx(np.bincount(held_out).max() / test_rows)
    for i in (baseline.id, small_model.id):
        artifact = store.load(training.BASELINES if i == baseline.id else training.MODELS, i)
        predicted = np.load(artifact.file("test_probabilities.npy")).argmax(1)
        assert rows[i]["accuracy"] == artifact.config["metrics"]["accuracy"]
        assert rows[i]["accuracy"] == pytest.approx(float((predicted == held_out).mean()))
        interval = evidence.interval_over_examples((predicted == held_out).astype(int))
        assert rows[i]["accuracy 95% interval"] == f"[{interval.low:.3f}, {interval.high:.3f}]"
    assert results.detectable(small_dataset) == pytest.approx(
        evidence.detectable_difference(test_rows, 1, 0.5 + rows[""]["accuracy"] / 2)
    )


def test_saliency_maps_back_to_valid_features(small_dataset, small_model):
    from core.encoders import TextEncoder

    encoder = TextEncoder.from_name()
    imager = classify.dataset_imager(small_dataset, encoder)
    features, images = imager.images(["A tender, funny and beautifully acted film."])
    model = classify.load_model(small_model.path)
    saliency, probabilities = classify.saliency(model, images[0])
    assert saliency.shape == images[0].shape and saliency.max() > 0
    assert probabilities.sum() == pytest.approx(1, abs=1e-5)
    rows = classify.influential_features(imager.layout, saliency, imager.layers, encoder.hidden_size, features[0], k=5)
    assert len({r["pixel"] for r in rows}) == 5
    assert all(0 <= r["feature"] < features.shape[1] for r in rows)
    assert all(r["layer"] in imager.layers and 0 <= r["dimension"] < encoder.hidden_size for r in rows)
    for r in rows:  # each feature sits on its row's pixel, and is (layer, dimension) of the stacked layers
        assert tuple(int(v) for v in imager.layout.coords_[r["feature"]]) == r["pixel"]
        assert (r["layer"], r["dimension"]) == (
            imager.layers[r["feature"] // encoder.hidden_size],
            r["feature"] % encoder.hidden_size,
        )
    assert all(r["value"] == pytest.approx(features[0, r["feature"]]) for r in rows)
    assert [r["saliency"] for r in rows] == sorted((r["saliency"] for r in rows), reverse=True)
    top = rows[0]["pixel"]  # pixels that hold no feature (always 0 in every image) name nothing
    assert saliency[top] == saliency[imager.layout.occupancy() > 0].max()


def test_ensemble_averages_the_models(small_dataset, small_model):
    model = classify.load_model(small_model.path)
    image = np.load(small_dataset.file("images.npy"))[0].astype(np.float32)
    one = classify.classify({"a": model}, image)
    two = classify.classify({"a": model, "b": model}, image)
    assert np.allclose(two["mean"], one["mean"]) and two["votes"].sum() == 2
    with pytest.raises(ValueError, match="no trained model"):
        classify.classify({}, image)


def test_cli_train_results_and_classify(small_dataset, small_model, capsys):
    from core.cli import main

    assert main(["results", "--dataset", small_dataset.id]) == 0
    assert small_model.id in capsys.readouterr().out
    assert main(["classify", "--model", small_model.id, "a dull, lifeless film", "a joyous triumph"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and all(sum(r["mean_probability"].values()) == pytest.approx(1, abs=1e-4) for r in rows)
    assert main(["train", "--dataset", "no-such-dataset", "--backbone", "squeezenet1_1"]) == 2
    assert "no dataset 'no-such-dataset'" in capsys.readouterr().err
    assert main(["classify", "--model", "no-such-model", "text"]) == 2
    assert "neither a trained model id" in capsys.readouterr().err


def test_a_frozen_slice_computed_once_trains_like_the_slice_run_every_epoch(tmp_path, monkeypatch):
    """With the training split's normalisation the slice's outputs are computed once and reused every epoch;
    that gives the same training, up to floating-point rounding, as running the slice on every batch."""
    from conftest import write_separable_dataset

    from core.text_to_image import training

    settings = TrainSettings("squeezenet1_1", epochs=3, batch_size=16)
    found = {}
    for cached in (True, False):
        monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / str(cached)))
        if not cached:
            monkeypatch.setattr(training, "_can_cache", lambda *args: False)
        artifact = training.train_model(write_separable_dataset("separable"), settings)
        assert artifact.config["slice_outputs_cached"] is cached
        found[cached] = artifact.config
    assert found[True]["classifier"]["normalise_stats"] == found[False]["classifier"]["normalise_stats"]
    for once, every in zip(found[True]["history"], found[False]["history"], strict=True):
        assert once["accuracy"] == every["accuracy"] and once["val_accuracy"] == every["val_accuracy"]
        assert once["train_loss"] == pytest.approx(every["train_loss"], rel=1e-4)
        assert once["test_loss"] == pytest.approx(every["test_loss"], rel=1e-4)
    assert max(r["accuracy"] for r in found[True]["history"]) >= 0.9  # it learns the separable images


def test_split_normalisation_uses_the_training_rows_and_predictions_do_not_depend_on_the_batch(separable_dataset):
    from core.text_to_image import classify, training

    arrays = datasets.load_dataset(separable_dataset)
    pixels = arrays["images"][~arrays["is_test"]].astype(np.float64)
    mean, std = training.split_statistics(separable_dataset)
    assert mean == pytest.approx(pixels.mean(), abs=1e-6) and std == pytest.approx(pixels.std(), abs=1e-6)
    artifact = training.train_model(separable_dataset, TrainSettings("squeezenet1_1", epochs=1, batch_size=16))
    model = classify.load_model(artifact.path)
    images = arrays["images"][arrays["is_test"]].astype(np.float32)
    together = classify.classify({"m": model}, images[0])["per_model"]["m"]
    saved = np.load(artifact.file("test_probabilities.npy"))
    np.testing.assert_allclose(together, saved[0], atol=1e-5)  # one image alone = the same image in a batch
