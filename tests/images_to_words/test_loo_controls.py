"""Leave-one-out controls: what a fold's held-out loss must be read against, in every fold."""

from __future__ import annotations

import numpy as np
import pytest

CONFIG = {"class_names": ["a", "b", "c"], "training": {"loss": "mse"}}
TARGETS = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 3.0]])


def test_constant_and_nearest_word_losses_by_hand():
    from core.images_to_words.folds import fold_controls

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
    from core.images_to_words import analysis, folds, loo

    finished, _ = tiny_studies
    targets = folds.study_targets(finished.config)
    for fold in finished.folds.values():
        expected = folds.fold_controls(finished.config, fold, targets)
        assert {k: fold[k] for k in folds.CONTROL_FIELDS} == pytest.approx(expected)
    summary = analysis.summary(finished)
    gains = [fold["gain_over_constant"] for fold in finished.folds.values()]
    assert summary["controlled_folds"] == 3 and summary["beats_constant"] == sum(g > 0 for g in gains)
    assert summary["median_gain_over_constant"] == pytest.approx(float(np.median(gains)))
    from core import evidence

    verdicts = analysis.fold_verdicts(finished)
    expected = evidence.compare_folds(gains, what="the gain over the constant predictor", unit="%")
    assert verdicts["constant"] == expected.to_record()
    assert "shuffled" not in verdicts or all("shuffled_loss" in f for f in finished.folds.values())
    changes = [fold["relative_change"] for fold in finished.folds.values()]
    assert summary["median_change"] == pytest.approx(float(np.median(changes)))  # the poster's figure beside

    # a study written before folds carried controls: the fields are gone from its files
    for fold in finished.folds.values():
        path = loo.study_dir(finished.id) / "folds" / f"{fold['index']:03d}.json"
        store.atomic_write_json(path, {k: v for k, v in fold.items() if k not in folds.CONTROL_FIELDS})
    old = loo.load_study(finished.id)
    assert loo.missing_controls(old) and analysis.summary(old)["controlled_folds"] == 0
    redone = loo.add_controls(old)
    assert not loo.missing_controls(redone)
    assert analysis.summary(redone)["median_gain_over_constant"] == pytest.approx(summary["median_gain_over_constant"])


def test_the_change_is_correlated_with_word_similarity_or_the_loss_before():
    from core.images_to_words.analysis import change_correlation

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
    from core.images_to_words import folds, loo

    finished, _ = tiny_studies
    for fold in finished.folds.values():  # as a study written before folds carried controls
        path = loo.study_dir(finished.id) / "folds" / f"{fold['index']:03d}.json"
        store.atomic_write_json(path, {k: v for k, v in fold.items() if k not in folds.CONTROL_FIELDS})
    page = Path(__file__).resolve().parents[2] / "pages/images_to_words/images_to_words.py"
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
    assert any("folds gain" in c.value and "Test: " in c.value for c in app.caption)  # the verdict over folds


def test_cli_adds_the_controls_to_an_old_study(tmp_path, monkeypatch, capsys):
    import json

    from conftest import tiny_config, tiny_imageset

    from core import store
    from core.cli import main
    from core.images_to_words import folds, loo

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    images = tiny_imageset()
    done = loo.run_study(images, tiny_config(images, classes=["cat"]))
    [fold] = done.folds.values()
    path = loo.study_dir(done.id) / "folds" / "000.json"
    store.atomic_write_json(path, {k: v for k, v in fold.items() if k not in folds.CONTROL_FIELDS})
    assert main(["studies"]) == 0 and json.loads(capsys.readouterr().out)[0]["controlled_folds"] == 0
    assert main(["studies", "--add-controls", done.id]) == 0
    [row] = json.loads(capsys.readouterr().out)
    [redone] = loo.load_study(done.id).folds.values()
    assert row["controlled_folds"] == 1 and row["beats_constant"] == int(redone["gain_over_constant"] > 0)
    assert row["verdicts"]["constant"]["test"] == "sign test (exact binomial)"  # one fold: no Wilcoxon


def test_shuffled_words_are_a_seeded_derangement_that_keeps_the_held_out_word():
    from core.images_to_words.folds import shuffled_words

    for n, held, seed in [(3, 2, 0), (10, 4, 7), (100, 0, 1)]:
        order = shuffled_words(n, held, seed)
        trained = [c for c in range(n) if c != held]
        assert order[held] == held and sorted(order[trained]) == trained
        assert all(order[c] != c for c in trained)
        assert list(order) == list(shuffled_words(n, held, seed))
    assert list(shuffled_words(2, 0, 0)) == [0, 1]  # one trained class: nothing to permute


def test_the_shuffled_control_trains_the_fold_again_with_permuted_words_and_leaves_the_fold_alone(lab_home):
    import torch

    from core.images_to_words import analysis, folds, loo
    from tests.conftest import tiny_config, tiny_imageset

    images = tiny_imageset()
    config = tiny_config(images, seed=5)
    plain = loo.run_study(images, config)
    assert loo.missing_shuffled(plain) and analysis.summary(plain)["shuffled_folds"] == 0
    with_control = loo.run_study(images, config, shuffled=True)  # no fold is retrained, each gets its control
    assert with_control.id == plain.id and not loo.missing_shuffled(with_control)
    targets = folds.study_targets(config)
    for index, fold in with_control.folds.items():
        before = plain.folds[index]
        assert {k: fold[k] for k in ("loss_after", "history", "seed")} == {
            k: before[k] for k in ("loss_after", "history", "seed")
        }
        order = folds.shuffled_words(3, index, fold["seed"])
        assert fold["shuffled_words"] == {
            config["class_names"][c]: config["class_names"][int(order[c])] for c in range(3) if c != index
        }
        assert fold["gain_over_shuffled"] == pytest.approx(1 - fold["loss_after"] / fold["shuffled_loss"])
        # the control is that training run: the same fold trained towards the permuted words gives its loss
        again = folds.shuffled_control(config, fold, images, targets, device="cpu")
        assert again["shuffled_loss"] == pytest.approx(fold["shuffled_loss"], rel=1e-5)
        unshuffled = folds._train_fold(
            {**config, "training": {**config["training"]}},
            folds._fold_data(index, images, torch.device("cpu")),
            torch.as_tensor(targets),
            torch.as_tensor(targets)[index],
            fold["seed"],
            1,
            torch.device("cpu"),
            None,
        )
        assert unshuffled[2][-1]["held_out_loss"] == pytest.approx(fold["loss_after"], rel=1e-5)
    summary = analysis.summary(with_control)
    shuffled_gains = [fold["gain_over_shuffled"] for fold in with_control.folds.values()]
    shuffled_verdict = analysis.fold_verdicts(with_control)["shuffled"]
    assert shuffled_verdict["sentence"].endswith(
        f"{sum(g > 0 for g in shuffled_gains)} of 3 folds gain, {sum(g < 0 for g in shuffled_gains)} lose."
    )
    assert summary["shuffled_folds"] == 3 and summary["beats_shuffled"] == sum(g > 0 for g in shuffled_gains)
    assert "shuffled-words loss" in analysis.fold_table(with_control).columns


def test_the_page_and_the_cli_add_the_shuffled_control_to_a_finished_study(tmp_path, monkeypatch, capsys):
    import json
    from pathlib import Path

    from conftest import write_image_folder
    from streamlit.testing.v1 import AppTest

    from core.cli import main
    from core.images_to_words import jobs, loo
    from core.images_to_words.settings import StudySettings

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    folder = write_image_folder(tmp_path / "images", ("cat", "dog", "bird"), per_class=16)
    settings = StudySettings(imageset="folder", path=str(folder), epochs=1, width=0.125, batch_size=16, threads=1)
    done = jobs.run_loo(settings)
    page = Path(__file__).resolve().parents[2] / "pages/images_to_words/images_to_words.py"
    app = AppTest.from_file(str(page), default_timeout=180).run()
    app.selectbox(key="loo-study").set_value(done.id).run()
    assert not app.exception and "Beats the shuffled-words model" not in [m.label for m in app.metric]
    app.button(key="loo-add-shuffled").click().run()
    assert not app.exception, [e.value for e in app.exception]
    labels = [m.label for m in app.metric]
    assert "Beats the shuffled-words model" in labels and "Median gain over it" in labels
    assert not loo.missing_shuffled(loo.load_study(done.id))
    # the CLI: a fresh study, then its shuffled control through --resume
    other = jobs.run_loo(settings.__class__(**{**settings.__dict__, "seed": 3}))
    assert main(["loo", "--resume", other.id, "--shuffled-control"]) == 0
    assert json.loads(capsys.readouterr().out)["shuffled_folds"] == 3
