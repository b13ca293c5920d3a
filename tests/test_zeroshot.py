"""Images into word-vector space: SimpNet, GloVe tables, leave-one-out studies, Ray, bad inputs."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from conftest import TINY_CLASSES, tiny_config, tiny_imageset

from core import imagesets, zeroshot
from core.errors import Interrupted, ResourceUnavailable
from core.wordvectors import WORD_MODES, class_table, class_vectors, load_glove


def test_simpnet_shapes_and_parameters_at_full_width():
    counts = zeroshot.parameter_count(1.0, 3)
    assert 5_300_000 < counts["body"] < 5_600_000  # SimpNet's CIFAR body: ~5.4-5.5M parameters
    model = zeroshot.SimpNet(3, 50, 1.0).eval()
    with torch.inference_mode():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 50)
        assert zeroshot.SimpNet(1, 50, 0.25).eval()(torch.zeros(3, 1, 28, 28)).shape == (3, 50)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and [c.out_channels for c in convs][-3:] == [288, 355, 432]
    assert zeroshot.parameter_count(0.25, 3)["body"] < counts["body"] / 10


def test_glove_is_the_official_vectors_and_every_table_word_is_in_it():
    glove = load_glove()
    assert len(glove.words) == 400_000 and glove.vectors.shape == (400_000, 50)
    np.testing.assert_allclose(glove.vector("the")[:2], [0.418, 0.24968], rtol=1e-5)
    for name in ("fashion_mnist", "cifar100"):
        table = class_table(name)
        words = set(table["best"]) | {w for entry in table["words"] for w in entry.split()}
        assert not [w for w in words if w.lower() not in glove.index], name
        for mode in WORD_MODES:
            assert class_vectors(list(table["class"]), table, mode).shape == (len(table), 50)
    assert len(class_table("cifar100")) == 100 and class_table("cifar100").set_index("class").loc["pickup_truck", "best"] == "truck"
    assert glove.nearest(glove.vector("willow"), 3)[0][0] == "willow"


def test_class_vectors_best_and_average():
    table = class_table("cifar100")
    glove = load_glove()
    best, average = (class_vectors(["maple_tree"], table, mode)[0] for mode in WORD_MODES)
    np.testing.assert_allclose(best, glove.vector("maple"))
    np.testing.assert_allclose(average, (glove.vector("maple") + glove.vector("tree")) / 2, rtol=1e-6)


def test_bad_class_words_are_clear_errors(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text("class,best,words\ncat,cat,cat\nzorb,qqqzzzxx,qqqzzzxx\n")
    table = class_table(path)
    with pytest.raises(ValueError, match="class 'zorb': qqqzzzxx is not in the GloVe vocabulary; edit the class-name table"):
        class_vectors(["cat", "zorb"], table)
    with pytest.raises(ValueError, match="'dog' is not in the class-name table"):
        class_vectors(["dog"], table)
    with pytest.raises(ValueError, match="mode must be one of"):
        class_vectors(["cat"], table, "median")
    (tmp_path / "same.csv").write_text("class,best,words\nT-shirt,shirt,shirt\nShirt,shirt,shirt\ncat,cat,cat\n")
    with pytest.raises(ValueError, match="classes T-shirt, Shirt map to the same word vector"):
        class_vectors(["T-shirt", "Shirt", "cat"], class_table(tmp_path / "same.csv"))
    with pytest.raises(FileNotFoundError, match="packaged tables: cifar100, fashion_mnist"):
        class_table("nope")
    (tmp_path / "bad.csv").write_text("name,word\ncat,cat\n")
    with pytest.raises(ValueError, match="lacks the column"):
        class_table(tmp_path / "bad.csv")


def test_a_tiny_study_runs_end_to_end_and_records_every_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    study = zeroshot.run_study(images, tiny_config(images, classes=["cat", "car"], epochs=2))
    assert study.complete and sorted(f["class"] for f in study.folds.values()) == ["car", "cat"]
    for fold in study.folds.values():
        assert fold["relative_change"] == pytest.approx(fold["loss_after"] / fold["loss_before"] - 1)
        assert [r["epoch"] for r in fold["history"]] == [1, 2] and fold["loss_after"] == fold["history"][-1]["held_out_loss"]
        assert 0 <= fold["test_accuracy_trained"] <= 1 and 1 <= fold["rank_median"] <= 3 and 0 <= fold["top1"] <= fold["top5"] <= 1
        assert len(fold["nearest_words"]) == 10 and fold["nearest_trained_class"] in TINY_CLASSES
        assert fold["held_out_images"] == 60 + 15  # the class's training and test images
    summary = zeroshot.summary(study)
    assert summary["folds"] == 2 and summary["best_change"] <= summary["median_change"] <= summary["worst_change"]


def test_an_interrupted_study_resumes_without_recomputing_finished_folds(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    config = tiny_config(images)
    with pytest.raises(Interrupted, match="1 of 3"):
        zeroshot.run_study(images, config, callback=lambda done, total, m: "epoch" not in m)
    study_id = zeroshot.store.config_hash(config)
    first = zeroshot.study_dir(study_id) / "folds" / "000.json"
    before = first.read_bytes()
    calls = []
    original = zeroshot.run_fold
    monkeypatch.setattr(zeroshot, "run_fold", lambda config, held, *rest: calls.append(held) or original(config, held, *rest))
    study = zeroshot.run_study(images, config)
    assert calls == [1, 2] and study.complete and first.read_bytes() == before
    zeroshot.run_study(images, config)
    assert calls == [1, 2]  # a finished study computes nothing
    zeroshot.run_study(images, config, redo=["dog"])
    assert calls == [1, 2, 1]


@pytest.mark.slow
def test_folds_give_the_same_numbers_through_ray(tmp_path, monkeypatch):
    """A local Ray instance (Ray 2.60 has no in-process local mode any more): one task per fold."""
    ray = pytest.importorskip("ray")
    images = tiny_imageset()
    config = tiny_config(images, classes=["dog", "car"])
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "plain"))
    plain = zeroshot.run_study(images, config)
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "ray"))
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        through_ray = zeroshot.run_study(images, config, use_ray=True)
    finally:
        ray.shutdown()
    for index, fold in plain.folds.items():
        other = through_ray.folds[index]
        for key in ("loss_before", "loss_after", "test_accuracy_trained", "top5"):
            assert other[key] == fold[key], key


def test_a_damaged_fold_file_is_a_clear_error_and_nothing_is_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    config = tiny_config(images, classes=["cat", "dog"])
    study = zeroshot.run_study(images, config)
    folds = zeroshot.study_dir(study.id) / "folds"
    (folds / "001.json").write_text('{"index": 1, "class": "dog", "loss_bef')
    kept = (folds / "000.json").read_bytes()
    with pytest.raises(ValueError, match="001.json is damaged.*delete it, or redo that class"):
        zeroshot.run_study(images, config)
    with pytest.raises(ValueError, match="is damaged"):
        zeroshot.load_study(study.id)
    assert (folds / "000.json").read_bytes() == kept and (folds / "001.json").exists()
    assert study.id not in [s.id for s in zeroshot.list_studies()]  # listing skips it rather than failing


def test_bad_study_settings_are_clear_errors(tmp_path):
    images = tiny_imageset()
    with pytest.raises(ValueError, match="unknown class\\(es\\) horse"):
        tiny_config(images, classes=["horse"])
    with pytest.raises(ValueError, match="loss must be one of"):
        tiny_config(images, loss="l1")
    empty = tiny_imageset()
    keep = empty.train_labels != 2
    empty.train_images, empty.train_labels = empty.train_images[keep], empty.train_labels[keep]
    with pytest.raises(ValueError, match="car have no training images"):
        tiny_config(empty)


def test_image_folders_load_and_bad_folders_are_clear_errors(tmp_path):
    from PIL import Image

    for name, colour in (("red", (200, 0, 0)), ("blue", (0, 0, 200))):
        (tmp_path / "set" / name).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (20, 24), colour).save(tmp_path / "set" / name / f"{i}.png")
    loaded = imagesets.load_image_folder(tmp_path / "set", size=16, test_size=0.2)
    assert loaded.class_names == ["blue", "red"] and loaded.shape == (3, 16, 16)
    assert len(loaded.train_labels) == 8 and len(loaded.test_labels) == 2 and loaded.train_images.dtype == np.uint8
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        imagesets.load_imageset("folder", tmp_path / "missing")
    (tmp_path / "set" / "green").mkdir()
    with pytest.raises(ValueError, match="class folder\\(s\\) green .* hold no images"):
        imagesets.load_image_folder(tmp_path / "set")
    with pytest.raises(ValueError, match="unknown image set"):
        imagesets.load_imageset("mnist")


def _idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reader_on_small_idx_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    _idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (20, 28, 28)))
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(20) % 10)
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (10, 28, 28)))
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(10))
    monkeypatch.setenv(imagesets.FASHION_ENV, str(tmp_path))
    loaded = imagesets.load_fashion_mnist()
    assert loaded.train_images.shape == (20, 1, 28, 28) and loaded.test_labels.tolist() == list(range(10))
    assert loaded.class_names[0] == "T-shirt/top" and loaded.subsample(1).train_images.shape[0] == 10
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x0a\x01"))
    with pytest.raises(ValueError, match="truncated"):
        imagesets.load_fashion_mnist()
    with pytest.raises(ResourceUnavailable, match="apt-get install dataset-fashion-mnist"):
        imagesets.load_fashion_mnist(tmp_path / "nowhere")


def test_cli_loo_on_an_image_folder(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from core.cli import main

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    for name, row in (("cat", 0), ("dog", 8)):
        (tmp_path / "set" / name).mkdir(parents=True)
        for i in range(12):
            pixels = np.random.default_rng(i).integers(0, 60, (16, 16, 3)).astype(np.uint8)
            pixels[row : row + 6] = 220
            Image.fromarray(pixels).save(tmp_path / "set" / name / f"{i}.png")
    args = ["loo", "--imageset", "folder", "--path", str(tmp_path / "set"), "--epochs", "1", "--width", "0.125", "--batch-size", "8",
            "--table", str(tmp_path / "words.csv"), "--threads", "1"]
    (tmp_path / "words.csv").write_text("class,best,words\ncat,cat,cat\ndog,dog,dog\n")
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["folds"] == 2 and "median_change" in result
    assert main(["loo", "--imageset", "folder", "--path", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["studies"]) == 0 and result["id"] in capsys.readouterr().out
