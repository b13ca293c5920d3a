"""Calibrated confidence of text-as-image models: the temperature fitted at the end of training on the validation
split, fitted later for a model trained before calibration existed, used by classify, and shown by the Results and
Classify pages and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import calibration as stats
from core import store
from core.text_to_image import calibration, classify, datasets, results

ROOT = Path(__file__).resolve().parents[2]


def copy_into(home: Path, artifact: store.Artifact, artifact_id: str | None = None, **config) -> store.Artifact:
    """A copy of ``artifact`` in the store under ``home`` (another id, and config entries replaced or, given None,
    removed)."""
    target = store.artifact_dir(artifact.kind, artifact_id or artifact.id, home)
    shutil.copytree(artifact.path, target)
    changed = {k: v for k, v in {**artifact.config, **config}.items() if not (k in config and v is None)}
    store.atomic_write_json(target / store.CONFIG_NAME, changed)
    return store.load(artifact.kind, target.name, home)


@pytest.fixture()
def own_store(tmp_path, monkeypatch, small_dataset):
    """A fresh store holding a copy of the small dataset (the session's store is left as it is)."""
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    copy_into(tmp_path, small_dataset)
    return tmp_path


def test_training_fits_a_temperature_on_the_validation_split_and_stores_it_as_json(small_model):
    fitted = calibration.model_calibration(small_model)
    assert isinstance(fitted, stats.Calibration) and fitted.temperature > 0 and fitted.bins == stats.BINS
    logits = np.load(small_model.file("validation_logits.npy"))
    labels = np.load(small_model.file("validation_labels.npy"))
    assert len(logits) == len(labels) == fitted.validation.n
    assert fitted.temperature == pytest.approx(stats.fit_temperature(logits, labels), rel=1e-3)
    assert fitted.validation.nll <= fitted.validation.nll_raw + 1e-6
    assert fitted.test.n == len(np.load(small_model.file("test_probabilities.npy")))
    stored = json.loads((small_model.path / store.CONFIG_NAME).read_text())["calibration"]
    assert stats.Calibration.from_record(stored) == fitted  # JSON round trip, no pickle
    test_logits = np.load(small_model.file("test_logits.npy"))
    np.testing.assert_allclose(
        stats.scaled_probabilities(test_logits), np.load(small_model.file("test_probabilities.npy")), atol=1e-5
    )


def test_temperature_scaling_lowers_the_validation_nll_of_an_over_confident_model(small_model):
    logits = 10 * np.load(small_model.file("validation_logits.npy"))  # the same model, ten times as sure
    labels = np.load(small_model.file("validation_labels.npy"))
    fitted = stats.calibrate(logits, labels)
    assert fitted.validation.nll < fitted.validation.nll_raw
    assert fitted.temperature > 10 * 0.5 * calibration.model_calibration(small_model).temperature
    assert fitted.overconfident and "over-confident" in fitted.message()


def test_an_older_model_gets_its_temperature_fitted_once_from_its_recovered_validation_split(own_store, small_model):
    older = copy_into(own_store, small_model, "older", calibration=None)
    assert "calibration" not in older.config
    assert "not fitted yet" in calibration.model_calibration(older, fit=False)
    later = calibration.model_calibration(older)
    at_training = calibration.model_calibration(small_model)
    assert later.temperature == pytest.approx(at_training.temperature, rel=1e-2)  # the same split, the same model
    assert later.validation.n == at_training.validation.n
    assert calibration.model_calibration(older, fit=False) == later  # stored: read back, not fitted again
    assert [a.config["model"] for a in store.list_artifacts(calibration.CALIBRATIONS)] == ["older"]


def test_a_model_without_a_recoverable_validation_split_says_so(own_store, small_model):
    no_share = copy_into(own_store, small_model, "no-share", calibration=None)
    no_share.config["training"]["validation"] = 0.0
    assert calibration.model_calibration(no_share) == calibration.NO_VALIDATION
    paper = copy_into(own_store, small_model, "paper")
    paper.config["calibration"] = None  # what training with no validation share stores now
    assert calibration.model_calibration(paper) == calibration.NO_VALIDATION
    orphan = copy_into(own_store, small_model, "orphan", calibration=None, dataset="gone")
    assert "not in this store" in calibration.model_calibration(orphan)
    row = calibration.summary(orphan)
    assert row["temperature"] is None and row["confidence"].startswith("raw only")
    moved = copy_into(own_store, small_model, "moved", calibration=None)
    np.save(moved.file("test_probabilities.npy"), np.load(moved.file("test_probabilities.npy"))[:, ::-1])
    assert "no longer reproduces" in calibration.model_calibration(moved)
    assert "no longer reproduces" in calibration.model_calibration(moved, fit=False)  # stored, not tried again


def test_classify_shows_calibrated_probabilities_and_keeps_the_raw_ones(small_dataset, small_model):
    model = classify.load_model(small_model.path)
    image = classify.dataset_imager(small_dataset).images(["A dreary, joyless slog."])[1][0]
    raw = classify.classify({"m": model}, image)
    scaled = classify.classify({"m": model}, image, {"m": 4.0})
    np.testing.assert_allclose(scaled["raw"]["m"], raw["per_model"]["m"], atol=1e-6)
    logits = np.log(raw["per_model"]["m"].astype(np.float64))
    np.testing.assert_allclose(scaled["per_model"]["m"], stats.scaled_probabilities(logits, 4.0), atol=1e-5)
    assert scaled["vote"] == raw["vote"] and scaled["temperatures"] == {"m": 4.0}
    assert scaled["per_model"]["m"].max() <= raw["per_model"]["m"].max()  # T > 1 softens


def test_results_table_and_cli_report_the_temperature_and_ece(small_dataset, small_model, capsys):
    from core.cli import main

    rows = {r["id"]: r for r in results.results_table(small_dataset)}
    row = rows[small_model.id]
    fitted = calibration.model_calibration(small_model)
    assert row["temperature"] == fitted.temperature and row["test ECE raw"] == fitted.test.ece_raw
    assert row["val ECE calibrated"] == fitted.validation.ece and row["confidence"]
    assert main(["t2i-results", "--dataset", small_dataset.id]) == 0
    printed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert printed[small_model.id]["test ECE calibrated"] == fitted.test.ece
    assert main(["t2i-classify", "--model", small_model.id, "a joyous triumph"]) == 0
    calibrated = json.loads(capsys.readouterr().out)[0]
    assert calibrated["probabilities"].startswith("calibrated") and calibrated["raw"][small_model.id]
    assert calibrated["calibration"][small_model.id]["temperature"] == fitted.temperature
    assert main(["t2i-classify", "--raw", "--model", small_model.id, "a joyous triumph"]) == 0
    raw = json.loads(capsys.readouterr().out)[0]
    assert raw["probabilities"].startswith("raw") and "raw" not in raw
    assert raw["models"] == calibrated["raw"]


def run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=180).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def overconfident(own_store: Path, small_model: store.Artifact) -> store.Artifact:
    """A copy of the small model whose stored calibration says its raw logits were ten times too large."""
    logits = 10 * np.load(small_model.file("validation_logits.npy"))
    labels = np.load(small_model.file("validation_labels.npy"))
    test = 10 * np.load(small_model.file("test_logits.npy"))
    test_labels = datasets.load_split(small_model_dataset(own_store, small_model)).test_labels.numpy()
    record = stats.calibrate(logits, labels, test, test_labels).to_record()
    return copy_into(own_store, small_model, "sure", calibration=record)


def small_model_dataset(home: Path, model: store.Artifact) -> store.Artifact:
    return store.load(datasets.DATASETS, model.config["dataset"], home)


def test_results_page_shows_calibration_and_warns_of_an_over_confident_model(own_store, small_model):
    sure = overconfident(own_store, small_model)
    app = run("pages/text_to_image/results.py")
    table = app.dataframe[0].value
    assert {"temperature", "val ECE raw", "val ECE calibrated", "test ECE raw", "test ECE calibrated"} <= set(table)
    by_id = table.set_index("id")
    assert by_id.loc[sure.id, "temperature"] == f"{sure.config['calibration']['temperature']:.2f}"
    majority = table[table["kind"] == "reference: majority class"].iloc[0]
    assert majority["temperature"] == "" and majority["test ECE raw"] == ""  # empty, never "None"
    assert any("15 equal-width bins" in c.value for c in app.caption)
    assert any("badly over-confident" in w.value and sure.id in w.value for w in app.warning)
    app.selectbox(key=f"rs-confusion-{sure.config['dataset']}").set_value(sure.id).run()
    shown = " ".join(m.value for m in app.markdown)
    assert "calibration: T = " in shown and "raw →" in shown
    app.toggle(key=f"rs-reliability-{sure.id}").set_value(True).run()
    assert not app.exception and len(app.get("plotly_chart")) == 3  # curves, confusion, reliability


def test_classify_page_shows_calibrated_probabilities_by_default_and_raw_on_request(own_store, small_model):
    sure = overconfident(own_store, small_model)
    app = run("pages/text_to_image/classify.py")
    app.multiselect(key=f"cl-models-{sure.config['dataset']}").set_value([sure.id]).run()
    assert "mean calibrated probability" in app.subheader[0].value
    assert any("Calibrated probabilities" in c.value and "T = " in c.value for c in app.caption)
    assert any("badly over-confident" in w.value for w in app.warning)
    app.toggle(key="cl-raw").set_value(True).run()
    assert not app.exception and "mean raw probability" in app.subheader[0].value
    assert any(c.value.startswith("Raw probabilities") for c in app.caption)


def test_classify_keeps_every_model_chosen_after_switching_to_another_dataset(own_store, small_dataset, small_model):
    other = copy_into(own_store, small_dataset, "other-dataset")
    copy_into(own_store, small_model, "other-model", dataset=other.id)
    copy_into(own_store, small_model)
    app = run("pages/text_to_image/classify.py")
    for dataset_id, model_id in ((other.id, "other-model"), (small_dataset.id, small_model.id)):
        app.selectbox(key="cl-dataset").set_value(dataset_id).run()
        assert not app.exception, [e.value for e in app.exception]
        assert app.multiselect(key=f"cl-models-{dataset_id}").value == [model_id]
        assert not any("Choose at least one model" in w.value for w in app.warning)
