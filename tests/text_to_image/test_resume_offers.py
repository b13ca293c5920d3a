"""After a Stop, a reload or a crash, the Train page says a run is partial and resumes it with its settings."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import write_separable_dataset
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_stopped_and_cut_off_runs_are_offered_and_resume_with_their_settings(tmp_path, monkeypatch):
    from core import store
    from core.text_to_image import training

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    dataset = write_separable_dataset("separable")
    settings = training.TrainSettings("squeezenet1_1", "features.7", epochs=3, batch_size=16, seed=5)
    stopped = training.train_model(dataset, settings, callback=lambda epoch, total, metrics: epoch == 1)
    assert stopped.config["status"] == "stopped"
    runs = training.stopped_runs(dataset)
    assert [(r.model, r.epochs_done, r.settings) for r in runs] == [(stopped.id, 1, settings)]

    # a reload or a crash: the progress file is there, the model is not
    shutil.rmtree(stopped.path)
    runs = training.stopped_runs(dataset)
    assert [(r.model, r.epochs_done, r.settings) for r in runs] == [(None, 1, settings)]

    app = AppTest.from_file(str(ROOT / "pages/text_to_image/train.py"), default_timeout=180).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("stopped after epoch 1 of 3" in box.value and "seed 5" in box.value for box in app.info)
    app.button(key="tr-resume-0").click().run()
    assert not app.exception, [e.value for e in app.exception]
    finished = store.load(training.MODELS, app.session_state["tr-last"])
    assert finished.config["status"] == "finished" and len(finished.config["history"]) == 3
    assert training.settings_of(finished) == settings and finished.id == stopped.id
    assert training.stopped_runs(dataset) == []


def test_a_stopped_layout_fit_is_offered_and_resumes_with_its_settings(lab_home, tmp_path, monkeypatch):
    import pytest

    from core import corpora
    from core.errors import Interrupted
    from core.text_to_image import imaging, jobs

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    corpus = corpora.load_corpus("rotten_tomatoes", n=40, seed=3)
    params = {"pixels": 10, "random_state": 0}
    with pytest.raises(Interrupted):
        jobs.fit_layout(
            corpus,
            "all-MiniLM-L6-v2",
            imaging.LayoutFitSettings(pooling="mean", layout=params),
            progress=lambda label: lambda *a: True,
        )
    assert imaging.list_imagers() == []
    [(key, settings)] = jobs.pending_fits()
    assert settings["corpus"] == {"name": "rotten_tomatoes", "n": 40, "seed": 3} and settings["pooling"] == "mean"

    app = AppTest.from_file(str(ROOT / "pages/text_to_image/feature_layout.py"), default_timeout=180).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("A layout fit stopped" in box.value and "(40 texts, seed 3)" in box.value for box in app.info)
    app.button(key="fl-resume-0").click().run()
    assert not app.exception, [e.value for e in app.exception]
    [imager] = imaging.list_imagers()
    assert imager.config["corpus"]["rows"] == 40 and imager.config["pooling"] == "mean"
    assert jobs.pending_fits() == []  # finished: nothing more to offer
    assert app.selectbox(key="fl-main").value == imager.id
