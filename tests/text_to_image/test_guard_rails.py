"""Guard-rails: every accuracy beside the majority-class rate and chance, and a model that answers one
class for nearly every text flagged in the core, the CLI's output and the pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import write_separable_dataset
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def trained(tmp_path, monkeypatch):
    """A store with one separable dataset (3 of 4 held-out images 'right'), a trained model, and a copy of
    that model whose held-out predictions are all 'right' (a degenerate model)."""
    from core import store
    from core.text_to_image import datasets, training

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    dataset = write_separable_dataset("separable")
    labels = np.load(dataset.file("labels.npy"))
    is_test = np.zeros(len(labels), dtype=bool)  # held out: 18 'right' and 6 'left', a clear majority class
    is_test[np.flatnonzero(labels == 1)[:18]] = True
    is_test[np.flatnonzero(labels == 0)[:6]] = True
    np.save(dataset.file("is_test.npy"), is_test)
    dataset = store.load(datasets.DATASETS, "separable")
    model = training.train_model(dataset, training.TrainSettings("squeezenet1_1", epochs=2, batch_size=16))
    copy = store.artifact_dir(training.MODELS, "degenerate")
    shutil.copytree(model.path, copy)
    probabilities = np.zeros((int(is_test.sum()), 2), dtype=np.float32)
    probabilities[:, 1] = 1.0
    np.save(copy / "test_probabilities.npy", probabilities)
    return dataset, model, store.load(training.MODELS, "degenerate")


def test_reference_is_the_held_out_majority_class_and_chance(trained):
    from core.text_to_image import results

    dataset, _, _ = trained
    ref = results.reference(dataset)
    assert ref.majority_class == "right"
    assert ref.majority_rate == pytest.approx(18 / 24) and ref.chance == 0.5
    assert ref.majority_metrics["accuracy"] == pytest.approx(18 / 24)


def test_a_one_class_model_is_flagged_and_a_learning_one_is_not(trained):
    from core.text_to_image import results

    dataset, model, degenerate = trained
    check = results.check_predictions(degenerate)
    assert check.degenerate and check.top_class == "right" and check.top_share == 1.0
    assert "predicts 'right' for 100 %" in check.message()
    assert "⚠ one class" in results.model_label(degenerate)
    assert not results.check_predictions(model).degenerate and "⚠" not in results.model_label(model)
    rows = {row["id"]: row for row in results.results_table(dataset)}
    assert rows["degenerate"]["flag"].startswith("degenerate") and rows[model.id]["flag"] == ""
    majority = rows[""]
    assert majority["kind"] == "reference: majority class" and majority["accuracy"] == pytest.approx(0.75)
    assert results.reference_lines(dataset)["majority class ('right')"] == pytest.approx(0.75)


def test_the_cli_prints_the_reference_and_warns_of_a_degenerate_model(trained, capsys):
    from core.text_to_image.cli import _references

    dataset, model, degenerate = trained
    found = _references(dataset, degenerate)["reference"]
    assert found["majority_rate"] == pytest.approx(0.75) and "predicts 'right'" in found["warning"]
    assert "warning: This model predicts 'right'" in capsys.readouterr().err
    assert "warning" not in _references(dataset, model)["reference"]


def test_results_and_train_pages_flag_the_degenerate_model(trained):
    dataset, _, degenerate = trained
    app = AppTest.from_file(str(ROOT / "pages/text_to_image/results.py"), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    table = app.dataframe[0].value
    assert "reference: majority class" in set(table["kind"])
    assert any("answer one class" in w.value for w in app.warning)

    app = AppTest.from_file(str(ROOT / "pages/text_to_image/train.py"), default_timeout=120)
    app.session_state["tr-last"] = degenerate.id
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("predicts 'right' for 100 %" in w.value and "majority class 'right'" in w.value for w in app.warning)
