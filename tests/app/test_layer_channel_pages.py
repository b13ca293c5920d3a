"""AppTest of a dataset of one layer per RGB channel (the lab's extension) on the pages that take a dataset: Image
Dataset, Train, Results, Classify, A Sentence's Path and Portable Demos."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


@pytest.fixture(scope="module")
def layered_home(tmp_path_factory):
    """A store holding only a small dataset of per-layer channels, a model trained on it for one epoch and a fitted
    imager of the same encoder."""
    from conftest import SMALL_CORPUS, SMALL_DATASET_LAYOUT, SMALL_LAYOUT

    from core import corpora
    from core.encoders import TextEncoder
    from core.text_to_image import datasets, imaging, training

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(tmp_path_factory.mktemp("layer-pages-home")))
        corpus = corpora.load_corpus("rotten_tomatoes", n=SMALL_CORPUS, seed=0)
        settings = datasets.DatasetSettings(
            layers=(-3, -2, -1), pooling="mean", layout=SMALL_DATASET_LAYOUT, channels="layers"
        )
        encoder = TextEncoder.from_name()
        dataset = datasets.build_dataset(encoder, corpus, settings)
        training.train_model(dataset, training.TrainSettings("squeezenet1_1", epochs=1, batch_size=16))
        # A Sentence's Path draws every layer on a fitted imager's per-layer grid
        imaging.fit_imager(imaging.embed_corpus(encoder, corpus, pooling="mean"), SMALL_LAYOUT)
        yield dataset


def run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_portable_demos_offer_it_for_export(layered_home):
    app = run("pages/text_to_image/demos.py")
    assert app.selectbox(key="dm-dataset").value == layered_home.id


def test_train_and_results_take_it(layered_home):
    for page in ("train.py", "results.py"):
        app = run(f"pages/text_to_image/{page}")
        boxes = [box for box in app.selectbox if box.label == "Dataset"]
        assert boxes and boxes[0].value == layered_home.id


def test_classify_draws_each_layer_as_its_own_panel_and_names_each_features_layer(layered_home):
    app = run("pages/text_to_image/classify.py")
    assert app.selectbox(key="cl-dataset").value == layered_home.id
    charts = {c.key: c for c in app.get("plotly_chart")}
    assert {"cl-probs", "cl-image", "cl-saliency"} <= set(charts)
    for key in ("cl-image", "cl-saliency"):
        figure = charts[key].proto.spec
        assert all(f"layer {layer}" in figure for layer in layered_home.config["layers"]), key
        assert "(red)" in figure and "(blue)" in figure
    table = app.dataframe[0].value
    assert set(table["layer"]) <= set(layered_home.config["layers"]) and len(table) >= 10
    app.toggle(key="cl-overlay").set_value(True).run()
    app.toggle(key="cl-attr").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "cl-cf-difference" in {c.key for c in app.get("plotly_chart")}


def test_image_dataset_draws_the_samples_in_colour_and_each_layers_mean_as_a_panel(layered_home):
    app = run("pages/text_to_image/image_dataset.py")
    assert app.selectbox(key="ds-chosen").value == layered_home.id
    charts = {c.key: c.proto.spec for c in app.get("plotly_chart")}
    assert '"type":"image"' in charts["ds-samples-0"].replace(" ", "")  # colour samples, not grey heatmaps
    names = [f"layer {layer}" for layer in layered_home.config["layers"]]
    for key in [k for k in charts if k.startswith("ds-mean-")] + ["ds-diff"]:
        assert all(name in charts[key] for name in names), key
    assert "One layer per channel (the lab's extension" in " ".join(c.value for c in app.caption)


def test_the_build_form_refuses_per_layer_channels_without_three_layers(layered_home):
    app = run("pages/text_to_image/image_dataset.py")
    app.radio(key="ds-channels").set_value("layers").run()
    app.button(key="ds-build").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("exactly three layers" in e.value for e in app.error)


def test_a_sentences_path_draws_each_layer_and_places_the_strongest_features(layered_home):
    app = run("pages/text_to_image/sentence_path.py")
    assert app.selectbox(key="sp-dataset").value == layered_home.id
    charts = {c.key: c.proto.spec for c in app.get("plotly_chart")}
    for key in ("sp-image", "sp-saliency"):
        assert all(f"layer {layer}" in charts[key] for layer in layered_home.config["layers"]), key
    strongest = next(d.value for d in app.dataframe if "pixel" in d.value.columns)
    assert set(strongest["layer"]) <= set(layered_home.config["layers"])
    assert "each of the three layers fills its own colour channel" in " ".join(m.value for m in app.markdown)
