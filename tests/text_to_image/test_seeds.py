"""Seeds as an axis of text as images: the ImageNet slice against a random-init slice (and logistic regression) over
seeds, each seed x variant one stored artifact, resumed after a stop, with the evidence core.evidence computes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"backbone": "squeezenet1_1", "epochs": 1, "batch_size": 16}


@pytest.fixture(scope="module")
def seed_dataset(tmp_path_factory):
    """A store of this module's own holding a small separable image dataset and the "embeddings" its images were
    made from (the flattened images under noise, for the logistic-regression baseline); no encoder is needed, and
    these sweeps' models do not show on other tests' pages."""
    from conftest import write_separable_dataset

    from core import store
    from core.text_to_image.datasets import DATASETS
    from core.text_to_image.imaging import EMBEDDINGS

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(tmp_path_factory.mktemp("seeds-home")))
        dataset = write_separable_dataset("seeds-separable", n=96, side=24)
        is_test = np.zeros(96, dtype=bool)
        is_test[::3] = True  # both classes held out (every fourth row would be one class only)
        np.save(dataset.file("is_test.npy"), is_test)
        split = {"train": int((~is_test).sum()), "test": int(is_test.sum())}
        images = np.load(dataset.file("images.npy")).astype(np.float32).reshape(96, -1)
        features = images + np.random.default_rng(0).normal(0, 1.0, images.shape).astype(np.float32)
        with store.writing(EMBEDDINGS, "seeds-embeddings", {"provenance": store.provenance()}) as folder:
            np.save(folder / "embeddings.npy", features)
        store.atomic_write_json(
            dataset.file(store.CONFIG_NAME), {**dataset.config, "split": split, "embeddings": "seeds-embeddings"}
        )
        yield store.load(DATASETS, dataset.id)


@pytest.fixture(scope="module")
def finished_sweep(seed_dataset):
    """A finished sweep of two seeds: its settings and the evidence it returned."""
    from core.text_to_image import seeds

    settings = seeds.SeedSettings(seed_dataset.id, seeds=(0, 1), **SMALL)
    return settings, seeds.run_sweep(settings)


def _count_training(monkeypatch) -> list:
    from core.text_to_image import training

    calls: list = []
    original = training.train_model

    def counted(dataset, settings, callback=None):
        calls.append(settings)
        return original(dataset, settings, callback)

    monkeypatch.setattr(training, "train_model", counted)
    return calls


def _correct(model) -> np.ndarray:
    """Recomputed here: the stored held-out probabilities against the dataset's own labels and split."""
    from core import store
    from core.text_to_image.datasets import DATASETS

    dataset = store.load(DATASETS, model.config["dataset"])
    labels = np.load(dataset.file("labels.npy"))[np.load(dataset.file("is_test.npy"))]
    return (np.load(model.file("test_probabilities.npy")).argmax(1) == labels).astype(int)


def test_the_settings_round_trip_and_name_a_bad_value():
    from core.settings import from_record, to_record
    from core.text_to_image.seeds import SeedSettings

    settings = SeedSettings("d0", seeds=(3, 1), **SMALL)
    assert from_record(SeedSettings, to_record(settings)) == settings
    assert [(v, s) for v, s in settings.plan()] == [
        ("imagenet", 3),
        ("random", 3),
        ("imagenet", 1),
        ("random", 1),
        ("logistic", None),
    ]
    for bad, named in (
        ({"seeds": ()}, "()"),
        ({"seeds": (0, -1)}, "-1"),
        ({"seeds": (2, 2)}, "2 is given more than once"),
        ({"epochs": 0}, "0"),
        ({"C": 0.0}, "0.0"),
    ):
        with pytest.raises(ValueError, match="seed|epochs|C") as error:
            SeedSettings("d0", **{**SMALL, **bad}).check()
        assert named in str(error.value)


def test_a_sweep_stores_one_model_per_seed_and_variant_and_a_rerun_trains_nothing(
    seed_dataset, finished_sweep, monkeypatch
):
    from core.text_to_image import seeds

    settings, found = finished_sweep
    models = {(v, s): seeds.stored_model(seed_dataset, settings, v, s) for v in ("imagenet", "random") for s in (0, 1)}
    assert all(m is not None and m.config["status"] == "finished" for m in models.values())
    assert len({m.id for m in models.values()}) == 4
    for (variant, seed), model in models.items():
        assert model.config["training"]["seed"] == seed
        assert model.config["classifier"]["pretrained"] == (variant == "imagenet")
        assert model.config["classifier"]["backbone"] == "squeezenet1_1"
    assert seeds.stored_baseline(seed_dataset, settings) is not None
    assert found["complete"] and found["missing"] == [] and found["seeds"] == [0, 1]
    assert [r["id"] for r in found["variants"]["imagenet"]["per_seed"]] == [models["imagenet", s].id for s in (0, 1)]
    assert [s.sweep_id for s in seeds.sweeps_of(seed_dataset)] == [settings.sweep_id]

    calls = _count_training(monkeypatch)
    again = seeds.run_sweep(settings)
    assert calls == []
    assert again == found


def test_a_stopped_sweep_resumes_at_the_next_unfinished_job(seed_dataset, monkeypatch):
    from core.errors import Interrupted
    from core.text_to_image import seeds

    settings = seeds.SeedSettings(seed_dataset.id, seeds=(7,), logistic=False, **SMALL)
    reports: list = []

    def stop_after_the_first_job(done, total, info):
        reports.append((done, total, dict(info)))
        return done >= 1 and "epoch" not in info

    with pytest.raises(Interrupted, match="after 1 of 2 jobs"):
        seeds.run_sweep(settings, stop_after_the_first_job)
    assert seeds.stored_model(seed_dataset, settings, "imagenet", 7) is not None
    assert seeds.stored_model(seed_dataset, settings, "random", 7) is None
    assert any(info.get("epoch") == "1/1" for _, _, info in reports)  # each epoch reported while a job runs
    assert seeds.seed_evidence(settings)["missing"] == ["random-init slice, seed 7"]

    calls = _count_training(monkeypatch)
    found = seeds.run_sweep(settings)
    assert [(s.pretrained, s.seed) for s in calls] == [(False, 7)]
    assert found["complete"] and set(found["variants"]) == {"imagenet", "random"}


def test_identical_variants_give_a_paired_difference_of_zero(seed_dataset, finished_sweep, monkeypatch):
    from core.text_to_image import seeds

    settings, _ = finished_sweep
    original = seeds.stored

    def the_imagenet_model_twice(dataset, chosen, variant, seed):
        return original(dataset, chosen, "imagenet" if variant == "random" else variant, seed)

    monkeypatch.setattr(seeds, "stored", the_imagenet_model_twice)
    found = seeds.seed_evidence(settings)
    against = next(c for c in found["comparisons"] if c["b"] == "random")
    assert against["difference"]["estimate"] == 0.0 and against["discordant"] == [0, 0]
    assert against["difference"]["low"] <= 0.0 <= against["difference"]["high"]
    assert against["p_value"] == 1.0
    assert found["verdict"] == "INCONCLUSIVE" and "Inconclusive" in found["sentence"]


def test_the_evidence_is_what_core_evidence_computes_from_the_stored_results(seed_dataset, finished_sweep):
    from core import evidence
    from core.text_to_image import seeds

    settings, found = finished_sweep
    correct = {
        (v, s): _correct(seeds.stored_model(seed_dataset, settings, v, s))
        for v in ("imagenet", "random")
        for s in (0, 1)
    }
    baseline = seeds.stored_baseline(seed_dataset, settings)
    logistic = _correct(baseline)
    n = len(logistic)
    for variant in ("imagenet", "random"):
        record = found["variants"][variant]
        per_seed = [correct[variant, s].mean() for s in (0, 1)]
        assert record["accuracy"] == pytest.approx(np.mean(per_seed))
        assert record["interval"] == evidence.interval_over_seeds(per_seed, bounds=(0.0, 1.0)).to_record()
        for row, seed in zip(record["per_seed"], (0, 1), strict=True):
            model = seeds.stored_model(seed_dataset, settings, variant, seed)
            assert row["accuracy"] == pytest.approx(model.config["metrics"]["accuracy"])  # the stored figure
            assert row["interval"] == evidence.interval_over_examples(correct[variant, seed]).to_record()
        assert record["detectable"] == evidence.detectable_difference(n, 2, record["accuracy"])
    assert found["variants"]["logistic"]["interval"] == evidence.interval_over_examples(logistic).to_record()
    a = np.stack([correct["imagenet", s] for s in (0, 1)])
    b = np.stack([correct["random", s] for s in (0, 1)])
    against_random = evidence.compare_paired(a, b, claim="greater", what="ImageNet slice − random-init slice")
    against_logistic = evidence.compare_paired(
        a,
        np.stack([logistic, logistic]),
        claim="greater",
        what="ImageNet slice − logistic regression on the embeddings",
    )
    assert [c["b"] for c in found["comparisons"]] == ["random", "logistic"]
    assert {k: v for k, v in found["comparisons"][0].items() if k not in ("a", "b", "seeds")} == json.loads(
        json.dumps(against_random.to_record())
    )
    assert found["comparisons"][1]["difference"] == against_logistic.to_record()["difference"]
    assert found["verdict"] == against_random.verdict.split()[0].upper()
    assert against_random.sentence in found["sentence"]
    accuracy = (found["variants"]["imagenet"]["accuracy"] + found["variants"]["random"]["accuracy"]) / 2
    assert found["detectable_difference"] == pytest.approx(evidence.detectable_difference(n, 2, accuracy))
    labels = np.load(seed_dataset.file("labels.npy"))[np.load(seed_dataset.file("is_test.npy"))]
    assert found["reference"]["majority_rate"] == pytest.approx(np.bincount(labels).max() / n)


def test_the_cli_prints_the_evidence_and_refuses_bad_seeds(seed_dataset, finished_sweep, capsys, monkeypatch):
    from core import cli
    from core.text_to_image import seeds

    settings, found = finished_sweep
    calls = _count_training(monkeypatch)
    command = ["t2i-seeds", "--dataset", seed_dataset.id, "--backbone", "squeezenet1_1", "--epochs", "1"]
    assert cli.main([*command, "--batch-size", "16", "--seeds", "0", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert calls == [] and printed == json.loads(json.dumps(seeds.seed_evidence(settings)))
    assert printed["verdict"] == found["verdict"] and printed["sentence"] == found["sentence"]
    for bad in (["--seeds"], ["--seeds", "0", "-1"], ["--seeds", "one"]):
        assert cli.main([*command, *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and "seed" in err[0]
    assert cli.main(["t2i-seeds", "--dataset", "no-such-dataset"]) == 2
    assert "no dataset 'no-such-dataset'" in capsys.readouterr().err
    assert calls == []


def test_the_results_page_shows_the_sweep_and_its_verdict(seed_dataset, finished_sweep, monkeypatch):
    _, found = finished_sweep
    app = AppTest.from_file(str(ROOT / "pages/text_to_image/results.py"), default_timeout=180).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(s.value == "Over seeds" for s in app.subheader)
    boxes = [box.value for box in [*app.success, *app.warning, *app.error]]
    shown = [box[:160] for box in boxes]
    assert any(found["verdict"] in box and found["sentence"] in box for box in boxes), (found["sentence"][:160], shown)
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    shown = [f for f in figures if f["layout"].get("yaxis", {}).get("title", {}).get("text", "").endswith("interval)")]
    assert len(shown) == 1 and [bar["y"][0] for bar in shown[0]["data"] if bar["type"] == "bar"] == [
        found["variants"][v]["accuracy"] for v in ("imagenet", "random", "logistic")
    ]
    assert any("Smallest detectable difference" in c.value for c in app.caption)
    app.text_input(key="seeds-list").set_value("0 -1")
    app.button(key="seeds-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("-1" in e.value for e in app.error)
    calls = _count_training(monkeypatch)  # the finished seeds again: the button reuses every model
    app.text_input(key="seeds-list").set_value("1, 0")
    app.button(key="seeds-run").click().run()
    assert not app.exception and not app.error, [e.value for e in [*app.exception, *app.error]]
    assert calls == [] and any(found["sentence"].split("?")[0] in box.value for box in [*app.success, *app.warning])


@pytest.mark.slow
@pytest.mark.ray
def test_a_sweep_through_ray_gives_the_sequential_numbers(seed_dataset, tmp_path, monkeypatch, request):
    """One seed's two slices trained as Ray tasks on the session's Ray head (started as its own process) and one
    after another here, each in its own copy of the store: the same models, accuracies and evidence."""
    import shutil

    from core import store
    from core.text_to_image import seeds

    settings = seeds.SeedSettings(seed_dataset.id, seeds=(3,), logistic=False, **SMALL)
    for name in ("plain", "ray"):
        shutil.copytree(store.home(), tmp_path / name)
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "plain"))
    plain = seeds.run_sweep(settings)
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "ray"))
    request.getfixturevalue("ray_address")  # from here on, $RAY_ADDRESS names the session's Ray head
    through_ray = seeds.run_sweep(settings, use_ray=True)
    assert plain["complete"] and through_ray["complete"]
    for variant in ("imagenet", "random"):
        ours, theirs = (found["variants"][variant]["per_seed"] for found in (plain, through_ray))
        assert [r["id"] for r in theirs] == [r["id"] for r in ours]
        assert [r["accuracy"] for r in theirs] == [r["accuracy"] for r in ours]
        model = seeds.stored_model(seed_dataset, settings, variant, 3)
        assert model is not None and model.path.is_relative_to(tmp_path / "ray")  # trained by the workers, stored here
    assert through_ray == plain
