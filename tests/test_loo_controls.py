"""Leave-one-out controls: what a fold's held-out loss must be read against, in every fold."""

from __future__ import annotations

import numpy as np
import pytest

CONFIG = {"class_names": ["a", "b", "c"], "training": {"loss": "mse"}}
TARGETS = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 3.0]])


def test_constant_and_nearest_word_losses_by_hand():
    from core.images_to_words.study import fold_controls

    controls = fold_controls(CONFIG, {"index": 2, "loss_after": 1.7}, TARGETS)
    # the mean of the trained words (1, 0) and (0, 2) is (0.5, 1); against (1, 3): (0.25 + 4) / 2
    assert controls["constant_loss"] == pytest.approx(2.125)
    # the trained word nearest (cosine) to (1, 3) is b = (0, 2): (1 + 1) / 2
    assert controls["nearest_word"] == "b" and controls["nearest_word_loss"] == pytest.approx(1.0)
    assert controls["gain_over_constant"] == pytest.approx(1 - 1.7 / 2.125)
    cosine = fold_controls({**CONFIG, "training": {"loss": "cosine"}}, {"index": 2, "loss_after": 0.0}, TARGETS)
    assert cosine["constant_loss"] == pytest.approx(1 - 3.5 / (np.sqrt(1.25) * np.sqrt(10)))


def test_every_new_fold_records_its_controls_and_old_studies_get_them_without_retraining(tiny_studies):
    from core import store
    from core.images_to_words import study as loo

    finished, _ = tiny_studies
    targets = loo.study_targets(finished.config)
    for fold in finished.folds.values():
        expected = loo.fold_controls(finished.config, fold, targets)
        assert {k: fold[k] for k in loo.CONTROL_FIELDS} == pytest.approx(expected)
    summary = loo.summary(finished)
    assert summary["controlled_folds"] == 3 and 0 <= summary["beats_constant"] <= 3
    assert "median_gain_over_constant" in summary and "median_change" in summary  # the poster's figure beside

    # a study written before folds carried controls: the fields are gone from its files
    for fold in finished.folds.values():
        path = loo.study_dir(finished.id) / "folds" / f"{fold['index']:03d}.json"
        store.atomic_write_json(path, {k: v for k, v in fold.items() if k not in loo.CONTROL_FIELDS})
    old = loo.load_study(finished.id)
    assert loo.missing_controls(old) and loo.summary(old)["controlled_folds"] == 0
    redone = loo.add_controls(old)
    assert not loo.missing_controls(redone)
    assert loo.summary(redone)["median_gain_over_constant"] == pytest.approx(summary["median_gain_over_constant"])


def test_the_change_is_correlated_with_word_similarity_or_the_loss_before():
    from core.images_to_words.study import change_correlation

    folds = [
        {"nearest_trained_cosine": c, "loss_before": b, "relative_change": r}
        for c, b, r in [(0.1, 0.9, -0.1), (0.5, 0.5, -0.4), (0.9, 0.2, -0.8), (0.3, 0.7, -0.3)]
    ]
    assert change_correlation(folds, "nearest_trained_cosine")[0] == pytest.approx(-1.0)
    assert change_correlation(folds, "loss_before")[0] == pytest.approx(1.0)
    assert change_correlation(folds[:2], "loss_before") is None
    with pytest.raises(ValueError, match="explanation must be one of"):
        change_correlation(folds, "colour")


def test_the_page_leads_with_the_controls_and_computes_them_for_an_old_study(tiny_studies):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from core import store
    from core.images_to_words import study as loo

    finished, _ = tiny_studies
    for fold in finished.folds.values():  # as a study written before folds carried controls
        path = loo.study_dir(finished.id) / "folds" / f"{fold['index']:03d}.json"
        store.atomic_write_json(path, {k: v for k, v in fold.items() if k not in loo.CONTROL_FIELDS})
    page = Path(__file__).resolve().parents[1] / "pages/images_to_words/images_to_words.py"
    app = AppTest.from_file(str(page), default_timeout=120).run()
    app.selectbox(key="loo-study").set_value(finished.id).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("before folds carried their controls" in w.value for w in app.warning)
    app.button(key="loo-controls").click().run()
    assert not app.exception and not app.warning, [w.value for w in app.warning]
    labels = [m.label for m in app.metric]
    assert labels.index("Beats the constant predictor") < labels.index("Median held-out loss change")
    assert {"constant predictor loss", "gain over constant %"} <= set(app.dataframe[0].value.columns)
    app.radio(key="loo-explain").set_value("loss_before").run()
    assert not app.exception and any("loss before and the loss change" in c.value for c in app.caption)


def test_cli_adds_the_controls_to_an_old_study(tmp_path, monkeypatch, capsys):
    import json

    from conftest import tiny_config, tiny_imageset

    from core import store
    from core.cli import main
    from core.images_to_words import study as loo

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    done = loo.run_study(images, tiny_config(images, classes=["cat"]))
    [fold] = done.folds.values()
    path = loo.study_dir(done.id) / "folds" / "000.json"
    store.atomic_write_json(path, {k: v for k, v in fold.items() if k not in loo.CONTROL_FIELDS})
    assert main(["studies"]) == 0 and json.loads(capsys.readouterr().out)[0]["controlled_folds"] == 0
    assert main(["studies", "--add-controls", done.id]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["controlled_folds"] == 1 and row["beats_constant"] in (0, 1)
