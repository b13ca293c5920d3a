"""Run presets: one action builds the dataset, fits the baseline and trains the model; the page and the
CLI run the same thing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def tiny_workshop():
    """The workshop preset on 80 snippets, a 16 px layout and one short epoch of SqueezeNet (a test's budget)."""
    from core.text_to_image import presets
    from core.text_to_image.training import TrainSettings

    layout = {**presets.WORKSHOP.layout, "pixels": 16}
    return presets.preset(
        "workshop", n=80, layout=layout, train=TrainSettings("squeezenet1_1", epochs=1, batch_size=16)
    )


def test_presets_are_the_settings_they_say():
    from core.text_to_image import presets

    workshop, paper = presets.WORKSHOP, presets.PAPER
    assert (workshop.encoder, workshop.pooling, workshop.fit_on, workshop.train.normalise) == (
        "all-MiniLM-L6-v2",
        "mean",
        "train",
        "split",
    )
    assert (paper.encoder, paper.pooling, paper.layers, paper.fit_on) == (
        "bert-base-uncased",
        "cls",
        (6, 7, 8, 9, 10, 11),
        "all",
    )
    assert (paper.train.epochs, paper.train.batch_size, paper.train.normalise) == (15, 32, "batch")
    assert "mean-pooled" in presets.describe(workshop) and "per batch" in presets.describe(paper)
    with pytest.raises(ValueError, match="unknown preset"):
        presets.preset("nonsense")


def test_a_preset_run_builds_trains_and_reads_against_its_references(lab_home):
    from core.text_to_image import presets

    seen = []
    outcome = presets.run(tiny_workshop(), before_training=seen.append)
    summary = outcome.summary()
    assert [d.id for d in seen] == [outcome.dataset.id]  # the live view's reference lines come from it
    assert list(outcome.stages) == ["dataset", "baseline", "training"] and min(outcome.stages.values()) >= 0
    assert sum(outcome.stages.values()) <= outcome.seconds and summary["stage_seconds"].keys() == outcome.stages.keys()
    assert outcome.dataset.config["pooling"] == "mean" and outcome.dataset.config["split"]["test"] == 16
    assert outcome.model.config["dataset"] == outcome.dataset.id == outcome.baseline.config["dataset"]
    assert {"accuracy", "logistic_regression_accuracy", "majority_class_rate", "chance", "seconds"} <= set(summary)
    assert summary["chance"] == 0.5 and 0.5 <= summary["majority_class_rate"] < 1
    again = presets.run(tiny_workshop())  # everything is reused, in a fraction of the time
    assert again.stages["training"] < outcome.stages["training"]
    assert (again.dataset.id, again.model.id, again.baseline.id) == (
        outcome.dataset.id,
        outcome.model.id,
        outcome.baseline.id,
    )


def test_the_expected_duration_scales_the_measured_stages():
    from core.text_to_image import presets

    texts, build, baseline, once, per_epoch = presets.MEASURED["workshop"]
    assert presets.expected_seconds(presets.WORKSHOP) == pytest.approx(build + baseline + once + 15 * per_epoch)
    half = presets.preset("workshop", n=texts // 2, train=replace(presets.WORKSHOP.train, epochs=5))
    assert presets.expected_seconds(half) == pytest.approx((build + baseline + once + 5 * per_epoch) / 2)
    assert presets.expected_seconds(presets.PAPER) is None  # never measured here: nothing is guessed
    assert presets.duration(201) == "3 min 21 s" and presets.duration(4.4) == "4 s"


def test_cli_preset_prints_its_figures(lab_home, monkeypatch, capsys):
    from core.cli import main
    from core.text_to_image import presets

    monkeypatch.setitem(presets.PRESETS, "workshop", tiny_workshop())
    assert main(["preset", "workshop", "--epochs", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    import numpy as np

    from core import store
    from core.text_to_image import datasets, training

    model, dataset = store.load(training.MODELS, out["model"]), store.load(datasets.DATASETS, out["dataset"])
    assert model is not None and dataset is not None and model.config["dataset"] == dataset.id
    assert out["accuracy"] == model.config["metrics"]["accuracy"]
    # the printed accuracy is the stored held-out predictions' share right, recomputed here
    held_out = np.load(dataset.file("labels.npy"))[np.load(dataset.file("is_test.npy"))]
    predicted = np.load(model.file("test_probabilities.npy")).argmax(1)
    assert len(held_out) == 16 and out["accuracy"] == pytest.approx(float((predicted == held_out).mean()))
    assert out["majority_class_rate"] == pytest.approx(np.bincount(held_out).max() / len(held_out))
    assert out["chance"] == 0.5


def test_train_page_runs_the_workshop_preset(lab_home, monkeypatch):
    from core.text_to_image import presets

    monkeypatch.setitem(presets.PRESETS, "workshop", replace(tiny_workshop(), title="Workshop demo"))
    app = AppTest.from_file(str(ROOT / "pages/text_to_image/train.py"), default_timeout=300).run()
    assert any(c.value.startswith("Expected: about") for c in app.caption)  # said before it starts
    app.button(key="pr-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    outcome = [m.value for m in [*app.success, *app.warning]]
    assert any("held-out accuracy" in m and "majority class" in m for m in outcome)
    assert any(c.value.startswith("The last run took") and "training" in c.value for c in app.caption)
