"""Where the image route loses the sentence: each step of the route on the same held-out texts (raw vectors, the
image's pixels, the frozen slice's features, the trained CNN, the random-init CNN), each step's cost paired with
the step before it, and what the layout does to the vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def route(tmp_path_factory):
    """A store of this module's own: a small Rotten Tomatoes dataset, a SqueezeNet-slice CNN trained on it with
    seeds 0 and 1, and one with a randomly initialised slice."""
    from conftest import SMALL_CORPUS, SMALL_DATASET_LAYOUT

    from core import corpora
    from core.encoders import TextEncoder
    from core.text_to_image import datasets, training

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(tmp_path_factory.mktemp("decomposition-home")))
        corpus = corpora.load_corpus("rotten_tomatoes", n=SMALL_CORPUS, seed=0)
        settings = datasets.DatasetSettings(layout=SMALL_DATASET_LAYOUT)
        dataset = datasets.build_dataset(TextEncoder.from_name(), corpus, settings)
        small = training.TrainSettings("squeezenet1_1", epochs=1, batch_size=16, seed=0)
        models = [training.train_model(dataset, small)]
        models.append(
            training.train_model(dataset, training.TrainSettings("squeezenet1_1", epochs=1, batch_size=16, seed=1))
        )
        random_init = training.train_model(
            dataset, training.TrainSettings("squeezenet1_1", epochs=1, batch_size=16, seed=0, pretrained=False)
        )
        yield dataset, models, random_init


def test_each_step_is_its_own_probe_and_each_cost_is_paired_with_the_step_before(route):
    from core import evidence, store
    from core.text_to_image import datasets, decomposition, seeds, training
    from core.text_to_image.imaging import load_embeddings

    dataset, models, random_init = route
    found = decomposition.decompose(dataset, models[0])
    config = found.config
    assert config["cnn"] == [m.id for m in models] and config["random"] == [random_init.id]
    steps = config["steps"]
    assert config["order"] == ["raw", "pixels", "slice", "cnn", "random"] and set(steps) == set(config["order"])
    arrays = datasets.load_dataset(dataset)
    is_test, labels = arrays["is_test"], arrays["labels"]
    features = load_embeddings(store.load(training.EMBEDDINGS, dataset.config["embeddings"]))
    raw, _ = decomposition.probe(features[~is_test], labels[~is_test], features[is_test])
    assert steps["raw"]["accuracy"] == pytest.approx(float((raw == labels[is_test]).mean()))
    flat = arrays["images"].astype(np.float32).reshape(len(labels), -1)
    pixels, _ = decomposition.probe(flat[~is_test], labels[~is_test], flat[is_test])
    assert steps["pixels"]["accuracy"] == pytest.approx(float((pixels == labels[is_test]).mean()))
    pooled = decomposition.slice_features(models[0], arrays["images"])
    assert pooled.shape[0] == len(labels) and pooled.ndim == 2
    sliced, _ = decomposition.probe(pooled[~is_test], labels[~is_test], pooled[is_test])
    assert steps["slice"]["accuracy"] == pytest.approx(float((sliced == labels[is_test]).mean()))
    cnn = np.stack([seeds.correct(dataset, m) for m in models])
    assert steps["cnn"]["seeds"] == 2 and steps["cnn"]["accuracy"] == pytest.approx(cnn.mean())
    assert steps["cnn"]["per_seed"] == pytest.approx([m.config["metrics"]["accuracy"] for m in models])
    assert steps["random"]["accuracy"] == pytest.approx(random_init.config["metrics"]["accuracy"])
    for step in steps.values():
        assert step["interval"]["low"] <= step["accuracy"] <= step["interval"]["high"]

    pairs = [(c["before"], c["after"]) for c in config["comparisons"]]
    assert pairs == [("raw", "pixels"), ("pixels", "slice"), ("slice", "cnn"), ("cnn", "random")]
    layout_cost = config["comparisons"][0]
    expected = evidence.compare_paired((raw == labels[is_test]).astype(int), (pixels == labels[is_test]).astype(int))
    assert layout_cost["difference"]["estimate"] == pytest.approx(expected.difference.estimate)
    assert layout_cost["verdict"] == expected.verdict and "the cost of the layout" in layout_cost["sentence"]
    head_cost = config["comparisons"][2]  # a one-fit probe against two seeds: the probe paired with each seed
    slice_runs = np.tile((sliced == labels[is_test]).astype(int), (2, 1))
    assert head_cost["difference"]["estimate"] == pytest.approx(slice_runs.mean() - cnn.mean())
    assert config["under_trained"] == (config["probe_gap"] > decomposition.UNDER_TRAINED)
    assert config["probe_gap"] == pytest.approx(steps["slice"]["accuracy"] - steps["cnn"]["accuracy"])
    assert decomposition.stored(dataset, models[0]).id == found.id
    assert decomposition.decompose(dataset, models[0]).id == found.id  # stored: not computed again
    lines = decomposition.summary_text(config)
    assert lines[0].startswith("logistic regression on the raw vectors: ") and len(lines) == 5 + 4


def test_the_layout_loss_is_what_reading_each_feature_back_from_its_pixel_gives(route):
    from core import store
    from core.layout import FeatureLayout
    from core.text_to_image import datasets, decomposition, training
    from core.text_to_image.imaging import load_embeddings

    dataset, _, _ = route
    found = decomposition.layout_loss(dataset)
    layout = FeatureLayout.load(dataset.path / "layout")
    counts = layout.occupancy()
    rows, cols = layout.coords_[:, 0], layout.coords_[:, 1]
    assert found["features"] == len(rows) and found["pixels"] == counts.size
    assert found["shared_share"] == pytest.approx(float((counts[rows, cols] > 1).mean()))
    arrays = datasets.load_dataset(dataset)
    features = load_embeddings(store.load(training.EMBEDDINGS, dataset.config["embeddings"]))
    test = arrays["is_test"]
    scaled = layout.scale(features[test])
    # a feature alone on its pixel reads back exactly (to float16); a shared one reads its pixel's mean
    alone = counts[rows, cols] == 1
    read = arrays["images"][test].astype(np.float64)[:, rows, cols]
    assert np.abs(read[:, alone] - scaled[:, alone]).max() < 2e-3
    assert found["reconstruction_mae"] == pytest.approx(float(np.abs(read - scaled).mean()))
    mean = layout.scale(features[~test]).mean(axis=0)
    assert found["mean_predictor_mae"] == pytest.approx(float(np.abs(mean[None, :] - scaled).mean()))
    assert found["reconstruction_mae"] > 0


def test_a_model_of_another_dataset_is_refused(route):
    from core.text_to_image import decomposition

    dataset, models, _ = route

    class Other:
        id = "elsewhere"
        config = {"dataset": "another"}

    with pytest.raises(ValueError, match="was trained on dataset another"):
        decomposition.decompose(dataset, Other())
    assert models


def test_the_cli_decomposes_on_request_and_refuses_a_wrong_model(route, capsys, monkeypatch):
    import json

    from core.cli import main
    from core.text_to_image import decomposition

    dataset, models, _ = route
    assert main(["t2i-results", "--dataset", dataset.id]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)  # without --decompose: the table as before
    assert main(["t2i-results", "--dataset", dataset.id, "--decompose"]) == 0
    printed = json.loads(capsys.readouterr().out)
    stored = decomposition.stored(dataset, decomposition.model_to_decompose(dataset))  # the CLI's default model
    assert printed["decomposition"]["steps"] == stored.config["steps"] and len(printed["models"]) >= 3
    assert printed["decomposition"]["sentences"] == decomposition.summary_text(stored.config)
    assert main(["t2i-results", "--dataset", dataset.id, "--decompose", "--model", "nothing"]) == 2
    assert "no finished model 'nothing'" in capsys.readouterr().err
    assert main(["t2i-results", "--dataset", dataset.id, "--model", models[0].id]) == 2
    assert "give --decompose too" in capsys.readouterr().err


def test_the_results_page_decomposes_a_model_and_shows_each_step_with_its_interval(route):
    from streamlit.testing.v1 import AppTest

    from core.text_to_image import decomposition

    dataset, models, _ = route
    app = AppTest.from_file(str(ROOT / "pages/text_to_image/results.py"), default_timeout=180)
    app.session_state["rs-dataset"] = dataset.id
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(s.value == "Where the image route loses the sentence" for s in app.subheader)
    key = f"rs-route-{dataset.id}"
    app.selectbox(key=key).set_value(models[1].id).run()
    if decomposition.stored(dataset, models[1]) is None:
        app.button(key="rs-route-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    found = decomposition.stored(dataset, models[1]).config
    [table] = [d.value for d in app.dataframe if "verdict" in d.value.columns]
    assert list(table["step"]) == [decomposition.STEPS[c["after"]] for c in found["comparisons"]]
    assert list(table["verdict"]) == [c["verdict"] for c in found["comparisons"]]
    labels = [m.label for m in app.metric]
    assert "Features sharing a pixel" in labels
    assert any(label.startswith("Read back from the image (MAE") for label in labels)
    assert any(found["comparisons"][0]["sentence"] in m.value for m in app.markdown)
    specs = [c.proto.spec for c in app.get("plotly_chart")]
    assert any("the image's pixels" in spec and "error_y" in spec for spec in specs)  # titles wrapped with <br>
