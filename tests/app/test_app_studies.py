"""AppTest of the Images → Words page running, resuming and reporting leave-one-out studies on a tiny image folder."""

from __future__ import annotations

import pytest
from conftest import write_image_folder
from test_app import folds_finished, run

PAGE = "pages/images_to_words/images_to_words.py"


@pytest.fixture()
def store_and_folder(lab_home, tmp_path, monkeypatch):
    """An empty store of the test's own, and an image folder of three classes with real English names."""
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    return write_image_folder(tmp_path / "set", ("cat", "dog", "car"), per_class=8)


def test_running_a_study_on_an_image_folder_from_the_page(store_and_folder):
    from core.images_to_words import loo
    from core.wordvectors import FROM_NAMES

    app = run(PAGE)
    app.selectbox(key="loo-set").set_value("folder").run()
    app.text_input(key="loo-path").set_value(str(store_and_folder.parent / "nowhere")).run()
    assert not app.exception and any("is not a folder" in e.value for e in app.error)  # a bad path says what is wrong
    app.text_input(key="loo-path").set_value(str(store_and_folder)).run()
    assert not app.error and app.multiselect(key="loo-classes").options == ["car", "cat", "dog"]
    app.number_input(key="loo-per-class").set_value(0)
    app.number_input(key="loo-epochs").set_value(1)
    app.select_slider(key="loo-width").set_value(0.125)
    app.multiselect(key="loo-classes").set_value(["cat", "dog"])
    app.button(key="loo-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    study = loo.load_study(app.selectbox(key="loo-study").value)
    assert study.complete and study.planned == ["cat", "dog"] and study.config["words"]["table"] == FROM_NAMES
    assert folds_finished(app) == "2/2" and sorted(app.dataframe[0].value["class"]) == ["cat", "dog"]


def test_resuming_a_partial_study_from_the_page_keeps_its_id_and_settings(store_and_folder):
    from core import imagesets
    from core.errors import Interrupted
    from core.images_to_words import loo
    from core.images_to_words.settings import StudySettings

    images = imagesets.load_imageset("folder", store_and_folder).subsample(6, seed=2)
    config = loo.study_config(
        images, StudySettings(epochs=1, width=0.125, batch_size=4, lr=3e-3, threads=1)
    )  # settings the form lacks
    with pytest.raises(Interrupted):
        loo.run_study(images, config, callback=lambda done, total, metrics: "epoch" not in metrics)
    study_id = loo.store.config_hash(config)
    folds = loo.study_dir(study_id) / "folds"
    first = (folds / "000.json").stat().st_mtime_ns

    app = run(PAGE)
    assert app.selectbox(key="loo-study").value == study_id and "1 of 3 folds are finished" in app.warning[0].value
    app.button(key="loo-resume").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error and not app.warning, [e.value for e in [*app.error, *app.warning]]
    chosen = app.selectbox(key="loo-study")
    assert (
        chosen.value == study_id and len(chosen.options) == 1 and folds_finished(app) == "3/3"
    )  # the same study, not a new one
    assert (folds / "000.json").stat().st_mtime_ns == first  # the finished fold was not recomputed

    (folds / "002.json").write_text('{"index": 2, "class"')  # a damaged fold: named, and the intact folds still shown
    app = run(PAGE)
    assert any("002.json is damaged" in e.value and "--redo dog" in e.value for e in app.error)
    assert folds_finished(app) == "2/3" and len(app.dataframe[0].value) == 2


def test_a_study_stopped_from_the_page_is_shown_with_its_finished_folds_and_resume(store_and_folder, monkeypatch):
    from core.images_to_words import loo

    original = loo.run_study

    def stop_after_one_fold(images, config, **kwargs):
        return original(images, config, callback=lambda done, total, metrics: done >= 1 and "epoch" not in metrics)

    monkeypatch.setattr(loo, "run_study", stop_after_one_fold)
    app = run(PAGE)
    app.selectbox(key="loo-set").set_value("folder").run()
    app.text_input(key="loo-path").set_value(str(store_and_folder)).run()
    app.number_input(key="loo-per-class").set_value(0)
    app.number_input(key="loo-epochs").set_value(1)
    app.select_slider(key="loo-width").set_value(0.125)
    app.button(key="loo-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("stopped after 1 of 3 folds" in w.value for w in app.warning)  # Stop said so, on the same run
    app.run()  # the next redraw shows the stopped study, not another one
    study = loo.load_study(app.selectbox(key="loo-study").value)
    assert len(study.folds) == 1 and not study.complete
    assert any("1 of 3 folds are finished" in w.value for w in app.warning) and app.button(key="loo-resume")
