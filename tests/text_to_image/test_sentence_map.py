"""The sentence map: fitted once per layer, the same map for the same seed, typed sentences placed into the
frozen map beside their neighbours, and the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"n": 240, "perplexity": 10.0}


@pytest.fixture(scope="module")
def encoder():
    from core.encoders import TextEncoder

    return TextEncoder.from_name()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_corpus_sentence_placed_into_the_map_lands_beside_its_own_point(home, encoder):
    from core.text_to_image import sentence_map as sm

    settings = sm.MapSettings(**SMALL)
    artifact = sm.fit_map(settings, encoder, encoder.num_layers)
    found = sm.SentenceMap(artifact)
    fitted = found.coords.copy()
    rows = [3, 50, 200]
    vectors = sm.sentence_vectors(encoder, [found.texts[r] for r in rows], found.layer, settings.pooling)
    np.testing.assert_allclose(vectors, found.vectors[rows], atol=1e-4)  # typed sentences embed as the corpus did
    placed = found.place(vectors)
    radius = np.median(np.linalg.norm(fitted - fitted.mean(0), axis=1))
    distances = np.linalg.norm(placed - fitted[rows], axis=1)
    assert (distances < 0.15 * radius).all(), (distances, radius)
    np.testing.assert_array_equal(found.coords, fitted)  # the map itself never moves
    for row, near in zip(rows, found.neighbours(vectors, k=3), strict=True):
        assert near[0][0] == row and near[0][1] == pytest.approx(1.0, abs=1e-5)
        assert near[1][1] <= near[0][1]
    assert sm.find_map(settings, encoder.num_layers).id == artifact.id
    assert sm.find_map(settings, 0) is None
    assert found.label_names == ["rotten", "fresh"]


def test_the_same_seed_gives_the_same_map_and_every_layer_has_its_own(home, encoder, tmp_path, monkeypatch):
    from core.text_to_image import sentence_map as sm

    settings = sm.MapSettings(**SMALL)
    first = np.load(sm.fit_map(settings, encoder, 2).file("coords.npy"))
    other_layer = np.load(sm.fit_map(settings, encoder, 5).file("coords.npy"))
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "again"))
    again = np.load(sm.fit_map(settings, encoder, 2).file("coords.npy"))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other_layer)
    with pytest.raises(ValueError, match="layers 0 \\(embeddings\\) to 6"):
        sm.fit_map(settings, encoder, 9)
    with pytest.raises(ValueError, match="too few for perplexity"):
        sm.MapSettings(n=50, perplexity=30).check()


@pytest.mark.slow
def test_umap_maps_place_sentences_too(home, encoder):
    from core.text_to_image import sentence_map as sm

    settings = sm.MapSettings(method="umap", **SMALL)
    found = sm.SentenceMap(sm.fit_map(settings, encoder, encoder.num_layers))
    placed = found.place(found.vectors[[7]])
    radius = np.median(np.linalg.norm(found.coords - found.coords.mean(0), axis=1))
    assert np.linalg.norm(placed[0] - found.coords[7]) < 0.25 * radius


def test_the_page_fits_a_map_then_places_typed_sentences_with_their_neighbours(home):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "pages/text_to_image/sentence_map.py"), default_timeout=300).run()
    assert not app.exception, [e.value for e in app.exception]
    app.number_input(key="sm-n").set_value(200).run()
    assert any("is not fitted yet" in i.value for i in app.info)
    app.button(key="sm-fit").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    [table] = [d.value for d in app.dataframe]
    assert list(table.columns) == ["sentence", "rank", "cosine", "label", "neighbour"]
    assert len(table) == 2 * 5 and table["cosine"].between(-1, 1).all()
    assert any("placed in" in c.value for c in app.caption)
    app.radio(key="sm-colour").set_value("a trained model's prediction").run()
    assert any("No trained model yet" in i.value for i in app.info)
    app.slider(key="sm-layer").set_value(0).run()
    assert any("map of layer 0 is not fitted yet" in i.value for i in app.info)


def test_a_models_predictions_for_the_map_are_what_classify_says(lab_home, small_dataset, small_model):
    from core.text_to_image import classify, datasets
    from core.text_to_image.sentence_map import model_predictions

    texts = ["A tender, funny film.", "A dreary, joyless slog.", "Fine."]
    predicted = model_predictions(small_model, texts)
    imager = classify.dataset_imager(small_dataset)
    model = classify.load_model(small_model.path)
    names = datasets.label_names(small_dataset)
    _, images = imager.images(texts)
    expected = [names[classify.classify({"m": model}, image)["vote"]] for image in images]
    assert predicted == expected
