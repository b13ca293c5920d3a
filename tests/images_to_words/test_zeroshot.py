"""Images into word-vector space: SimpNet, GloVe tables, leave-one-out studies, Ray, bad inputs."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from conftest import tiny_config, tiny_imageset, write_image_folder

from core import imagesets, sweeps
from core.errors import Interrupted, ResourceUnavailable
from core.images_to_words import analysis, folds, loo, simpnet
from core.images_to_words.settings import DEFAULTS, LAPTOP, StudySettings
from core.wordvectors import FROM_NAMES, WORD_MODES, class_table, class_vectors, load_glove, names_table, study_table


def test_simpnet_shapes_and_parameters_at_full_width():
    counts = simpnet.parameter_count(1.0, 3)
    assert 5_300_000 < counts["body"] < 5_600_000  # SimpNet's CIFAR body: ~5.4-5.5M parameters
    model = simpnet.SimpNet(3, 50, 1.0).eval()
    with torch.inference_mode():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 50)
        assert simpnet.SimpNet(1, 50, 0.25).eval()(torch.zeros(3, 1, 28, 28)).shape == (3, 50)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and [c.out_channels for c in convs][-3:] == [288, 355, 432]
    assert simpnet.parameter_count(0.25, 3)["body"] < counts["body"] / 10


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
    assert (
        len(class_table("cifar100")) == 100
        and class_table("cifar100").set_index("class").loc["pickup_truck", "best"] == "truck"
    )
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
    with pytest.raises(
        ValueError, match="class 'zorb': qqqzzzxx is not in the GloVe vocabulary; edit the class-name table"
    ):
        class_vectors(["cat", "zorb"], table)
    with pytest.raises(ValueError, match="'dog' is not in the class-name table"):
        class_vectors(["dog"], table)
    with pytest.raises(ValueError, match="mode must be one of"):
        class_vectors(["cat"], table, "median")
    (tmp_path / "same.csv").write_text("class,best,words\nT-shirt,shirt,shirt\nShirt,shirt,shirt\ncat,cat,cat\n")
    with pytest.raises(ValueError, match="classes T-shirt, Shirt map to the same word vector"):
        class_vectors(["T-shirt", "Shirt", "cat"], class_table(tmp_path / "same.csv"))
    with pytest.raises(FileNotFoundError, match="packaged tables: cifar10, cifar100, fashion_mnist"):
        class_table("nope")
    (tmp_path / "bad.csv").write_text("name,word\ncat,cat\n")
    with pytest.raises(ValueError, match="lacks the column"):
        class_table(tmp_path / "bad.csv")


def test_a_tiny_study_runs_end_to_end_and_records_every_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    study = loo.run_study(images, tiny_config(images, classes=["cat", "car"], epochs=2))
    assert study.complete and sorted(f["class"] for f in study.folds.values()) == ["car", "cat"]
    for fold in study.folds.values():
        assert fold["relative_change"] == pytest.approx(fold["loss_after"] / fold["loss_before"] - 1)
        assert [r["epoch"] for r in fold["history"]] == [1, 2] and fold["loss_after"] == fold["history"][-1][
            "held_out_loss"
        ]
        # three classes in the image set: a fold trains on the other two and ranks the held-out class among all
        # three, so top-5 holds every image and the mean rank lies between 2 - top1 and 3 - 2 * top1
        assert fold["top5"] == 1.0 and fold["rank_median"] in (1.0, 2.0, 3.0)
        assert 2 - fold["top1"] - 1e-9 <= fold["rank_mean"] <= 3 - 2 * fold["top1"] + 1e-9
        assert (fold["test_accuracy_trained"] * 30) == pytest.approx(round(fold["test_accuracy_trained"] * 30))
        assert len(fold["nearest_words"]) == 10
        assert fold["nearest_trained_class"] in {"cat", "dog", "car"} - {fold["class"]}
        if fold["class"] == "cat":
            assert fold["nearest_trained_class"] == "dog"  # in GloVe, "cat" lies nearer "dog" than "car"
        assert fold["held_out_images"] == 60 + 15  # the class's training and test images
    summary = analysis.summary(study)
    assert summary["folds"] == 2 and summary["best_change"] <= summary["median_change"] <= summary["worst_change"]


def test_an_interrupted_study_resumes_without_recomputing_finished_folds(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    config = tiny_config(images)
    with pytest.raises(Interrupted, match="1 of 3"):
        loo.run_study(images, config, callback=lambda done, total, m: "epoch" not in m)
    study_id = loo.store.config_hash(config)
    first = loo.study_dir(study_id) / "folds" / "000.json"
    before = first.read_bytes()
    calls = []
    original = folds.run_fold
    monkeypatch.setattr(
        folds,
        "run_fold",
        lambda config, held, *rest, **keywords: calls.append(held) or original(config, held, *rest, **keywords),
    )
    study = loo.run_study(images, config)
    assert calls == [1, 2] and study.complete and first.read_bytes() == before
    loo.run_study(images, config)
    assert calls == [1, 2]  # a finished study computes nothing
    loo.run_study(images, config, redo=["dog"])
    assert calls == [1, 2, 1]


@pytest.mark.slow
@pytest.mark.ray
def test_folds_give_the_same_numbers_through_ray(tmp_path, monkeypatch, request):
    """Through the session's Ray head, started as its own process: one task per fold."""
    images = tiny_imageset()
    config = tiny_config(images, classes=["dog", "car"])
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "plain"))
    plain = loo.run_study(images, config)
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "ray"))
    request.getfixturevalue("ray_address")  # from here on, $RAY_ADDRESS names the session's Ray head
    through_ray = loo.run_study(images, config, use_ray=True)
    for index, fold in plain.folds.items():
        other = through_ray.folds[index]
        for key in ("loss_before", "loss_after", "test_accuracy_trained", "top5"):
            assert other[key] == fold[key], key


def _count_folds(monkeypatch) -> list[int]:
    """Record the held-out class index of every fold run from now on."""
    calls: list[int] = []
    original = folds.run_fold
    monkeypatch.setattr(
        folds,
        "run_fold",
        lambda config, held, *rest, **keywords: calls.append(held) or original(config, held, *rest, **keywords),
    )
    return calls


def test_a_damaged_fold_file_is_a_clear_error_and_redo_recomputes_only_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    config = tiny_config(images, classes=["cat", "dog"])
    study = loo.run_study(images, config)
    folds = loo.study_dir(study.id) / "folds"
    (folds / "001.json").write_text('{"index": 1, "class": "dog", "loss_bef')
    kept = (folds / "000.json").read_bytes()
    with pytest.raises(
        ValueError,
        match=(
            "001.json is damaged.*delete it, or redo that class "
            f"\\(python -m core loo-run --resume {study.id} --redo dog\\)"
        ),
    ):
        loo.run_study(images, config)
    with pytest.raises(ValueError, match="is damaged"):
        loo.load_study(study.id)
    with pytest.raises(ValueError, match="is damaged"):
        loo.run_study(images, config, redo=["cat"])  # redoing another class does not repair it
    assert (folds / "000.json").read_bytes() == kept and (folds / "001.json").exists()
    listed = {s.id: s for s in loo.list_studies()}[study.id]  # still listed, with its intact folds
    assert listed.damaged == [folds / "001.json"] and list(listed.folds) == [0] and not listed.complete
    assert "1 damaged" in listed.label() and "001.json is damaged" in listed.damaged_message()
    calls = _count_folds(monkeypatch)
    repaired = loo.run_study(images, config, redo=["dog"])
    assert calls == [1] and repaired.complete and not repaired.damaged
    assert (folds / "000.json").read_bytes() == kept and loo.store.read_json(folds / "001.json")["class"] == "dog"


def test_an_image_set_without_a_packaged_table_gets_one_from_its_class_names(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    assert names_table(["pickup_truck", "Maple-Tree", "cat"]).to_dict("records") == [
        {"class": "pickup_truck", "best": "truck", "words": "pickup truck"},
        {"class": "Maple-Tree", "best": "tree", "words": "maple tree"},
        {"class": "cat", "best": "cat", "words": "cat"},
    ]
    images = tiny_imageset(per_class=8)
    images.name, images.class_names = "folder", ["pickup_truck", "maple_tree", "cat"]
    config = loo.study_config(images, StudySettings(epochs=1, width=0.125))
    assert config["words"]["table"] == FROM_NAMES
    assert config["words"]["entries"] == {"pickup_truck": "truck", "maple_tree": "tree", "cat": "cat"}
    averaged = loo.study_config(images, StudySettings(words="average"))
    assert averaged["words"]["entries"]["pickup_truck"] == "pickup truck"
    glove = load_glove()
    average = class_vectors(images.class_names, study_table(FROM_NAMES, "folder", images.class_names)[1], "average")
    np.testing.assert_allclose(average[0], (glove.vector("pickup") + glove.vector("truck")) / 2, rtol=1e-6)
    assert study_table(None, "cifar100", ["apple"])[0] == "cifar100"  # a packaged table comes first
    (tmp_path / "words.csv").write_text(
        "class,best,words\npickup_truck,pickup,pickup\nmaple_tree,maple,maple\ncat,cat,cat\n"
    )
    tabled = loo.study_config(images, StudySettings(table=str(tmp_path / "words.csv")))
    assert tabled["words"]["entries"]["maple_tree"] == "maple"
    images.class_names = ["cat", "dog", "zorb_qqqzzzxx"]
    config = loo.study_config(images, StudySettings(epochs=1, width=0.125))
    with pytest.raises(
        ValueError, match="class 'zorb_qqqzzzxx': qqqzzzxx is not in the GloVe vocabulary; .*supply a class-name table"
    ):
        loo.run_study(images, config)
    assert not loo.study_dir(loo.store.config_hash(config)).exists()  # refused before anything is written


def test_resume_finishes_a_partial_study_under_its_id_with_its_recorded_settings(tmp_path, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    folder = write_image_folder(tmp_path / "set", ("cat", "dog", "car"), per_class=8)
    images = imagesets.load_imageset("folder", folder).subsample(6, seed=3)
    config = loo.study_config(
        images, StudySettings(epochs=1, width=0.125, batch_size=4, lr=3e-3, threads=1)
    )  # not the defaults
    with pytest.raises(Interrupted):
        loo.run_study(images, config, callback=lambda done, total, metrics: "epoch" not in metrics)
    study_id = loo.store.config_hash(config)
    first = loo.study_dir(study_id) / "folds" / "000.json"
    before = (first.read_bytes(), first.stat().st_mtime_ns)
    calls = _count_folds(monkeypatch)
    study = loo.resume_study(study_id)
    assert study.id == study_id and study.complete and calls == [1, 2]
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    assert [s.id for s in loo.list_studies()] == [study_id]
    assert main(["loo", "--resume", study_id]) == 0 and calls == [1, 2]  # finished: nothing to compute
    assert json.loads(capsys.readouterr().out)["id"] == study_id
    (first.parent / "001.json").write_text("{")
    assert main(["loo", "--resume", study_id, "--redo", "cat"]) == 0 and calls == [1, 2, 1]  # classes: car, cat, dog
    assert loo.load_study(study_id).complete and (first.read_bytes(), first.stat().st_mtime_ns) == before
    capsys.readouterr()
    assert main(["loo", "--resume", study_id, "--epochs", "2", "--lr", "0.1"]) == 2
    assert "drop --epochs, --lr" in capsys.readouterr().err
    write_image_folder(folder, ("bus",), per_class=8)
    with pytest.raises(ValueError, match=f"is not the one study {study_id} ran on"):
        loo.resume_study(study_id)
    with pytest.raises(ValueError, match="cannot be loaded again"):
        imagesets.load_source({"imageset": "tiny"})


def test_ray_tasks_reserve_at_most_the_cpus_of_one_gpu():
    assert sweeps.task_resources({"CPU": 16.0, "GPU": 4.0}, 16) == (4, 1)
    assert sweeps.task_resources({"CPU": 8.0, "GPU": 1.0}, 2) == (2, 1)
    assert sweeps.task_resources({"CPU": 2.0, "GPU": 4.0}, 8) == (1, 1)
    assert sweeps.task_resources({"CPU": 16.0}, 16) == (16, 0)
    assert sweeps.task_resources({"CPU": 4.0}, 16) == (4, 0)


@pytest.mark.parametrize(
    ("flags", "address", "expected"), [([], None, False), (["--ray"], None, True), ([], "auto", True)]
)
def test_cli_loo_uses_ray_when_asked_or_when_ray_address_is_set(monkeypatch, tmp_path, flags, address, expected):
    from core.cli import main

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    if address:
        monkeypatch.setenv(sweeps.RAY_ADDRESS_ENV, address)
    else:
        monkeypatch.delenv(sweeps.RAY_ADDRESS_ENV, raising=False)
    seen = []

    def run_study(imageset, config, use_ray=False, **rest):
        seen.append(use_ray)
        raise ValueError("seen")

    monkeypatch.setattr(imagesets, "load_imageset", lambda name, path: tiny_imageset())
    monkeypatch.setattr(loo, "run_study", run_study)
    assert main(["loo", "--epochs", "1", *flags]) == 2
    assert seen == [expected]


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
    from core.cli import main

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    write_image_folder(tmp_path / "set", ("cat", "dog"), per_class=12)
    args = [
        "loo",
        "--imageset",
        "folder",
        "--path",
        str(tmp_path / "set"),
        "--epochs",
        "1",
        "--width",
        "0.125",
        "--batch-size",
        "8",
        "--table",
        str(tmp_path / "words.csv"),
        "--threads",
        "1",
    ]
    (tmp_path / "words.csv").write_text("class,best,words\ncat,cat,cat\ndog,dog,dog\n")
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["folds"] == 2 and "median_change" in result
    assert main(["loo", "--imageset", "folder", "--path", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["studies"]) == 0 and result["id"] in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--laptop", "--epochs", "2"],
            {
                "imageset": "fashion_mnist",
                "per_class": LAPTOP.per_class,
                "epochs": 2,
                "width": LAPTOP.width,
            },
        ),
        (
            [],
            {
                "imageset": "fashion_mnist",
                "per_class": None,
                "epochs": DEFAULTS.epochs,
                "width": DEFAULTS.width,
            },
        ),
    ],
)
def test_cli_loo_laptop_preset_fills_only_the_settings_not_given(monkeypatch, tmp_path, flags, expected):
    from core.cli import main

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    seen = {}

    def load(name, path):
        seen["imageset"] = name
        return tiny_imageset()

    def settings(imageset, chosen):
        seen.update(per_class=imageset.source.get("per_class"), epochs=chosen.epochs, width=chosen.width)
        raise ValueError("settings seen")

    monkeypatch.setattr(imagesets, "load_imageset", load)
    monkeypatch.setattr(loo, "study_config", settings)
    assert main(["loo", *flags]) == 2
    assert seen == expected


def test_cifar100_counts_as_available_once_it_is_in_the_store(monkeypatch, tmp_path):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))

    def ready() -> bool:
        return {row["name"]: row["available"] for row in imagesets.available_imagesets()}["cifar100"]

    assert imagesets.cifar100_root() == tmp_path / "data" / "cifar100" and not ready()
    (tmp_path / "data" / "cifar100" / "cifar-100-python").mkdir(parents=True)
    (tmp_path / "data" / "cifar100" / "cifar-100-python" / "train").write_bytes(b"")
    assert ready()
