"""An image dataset straight from precomputed vectors and labels (no encoder): the same artifacts as from a corpus,
so the baseline and training read it as they are."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import cli, store, vectors
from core.text_to_image import datasets, training
from core.text_to_image.vector_datasets import VectorDatasetSettings, build_vector_dataset

LAYOUT = {"method": "pca", "pixels": 12, "random_state": 0}


@pytest.fixture()
def points(tmp_path, monkeypatch):
    """A Parquet file of 90 points, 24-dim vectors in three separable classes, with names; a fresh store."""
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    labels = np.repeat(["red", "green", "blue"], 30)
    centres = {name: rng.normal(size=24) * 3 for name in ("red", "green", "blue")}
    frame = pd.DataFrame({"word": [f"{c}-{i}" for i, c in enumerate(labels)], "colour": labels})
    frame["vector"] = [centres[c] + rng.normal(size=24) for c in labels]
    frame.to_parquet(tmp_path / "points.parquet", index=False)
    return tmp_path / "points.parquet"


def test_vectors_and_a_label_column_make_a_dataset_the_baseline_reads(points):
    table = vectors.load_vectors(points)
    dataset = build_vector_dataset(table, "colour", "word", VectorDatasetSettings(layout=LAYOUT))
    arrays = datasets.load_dataset(dataset)
    assert dataset.kind == datasets.DATASETS and arrays["images"].shape == (90, 12, 12)
    assert datasets.label_names(dataset) == ["blue", "green", "red"]  # sorted
    assert arrays["labels"][:3].tolist() == [2, 2, 2] and arrays["is_test"].sum() == 18  # 20 % held out, stratified
    assert (
        dataset.config["encoder"]["model_id"].startswith("precomputed:") and dataset.config["pooling"] == "precomputed"
    )
    assert datasets.dataset_texts(dataset)[:2] == ["red-0", "red-1"]
    assert "vectors (72 + 18)" in datasets.dataset_label(dataset)
    again = build_vector_dataset(vectors.load_vectors(points), "colour", "word", VectorDatasetSettings(layout=LAYOUT))
    assert again.id == dataset.id  # built once
    baseline = training.logistic_baseline(dataset)
    assert baseline.config["metrics"]["accuracy"] == 1.0 and baseline.config["features"] == 24


@pytest.mark.slow
def test_the_train_step_learns_from_such_a_dataset(points):
    dataset = build_vector_dataset(
        vectors.load_vectors(points), "colour", settings=VectorDatasetSettings(layout={**LAYOUT, "pixels": 24})
    )
    model = training.train_model(dataset, training.TrainSettings("squeezenet1_1", epochs=3, batch_size=16))
    assert model.config["status"] == "finished" and model.config["metrics"]["accuracy"] > 0.5  # chance: 1/3


def test_the_command_builds_it_and_says_bad_input_in_one_line(points, capsys):
    argv = ["t2i-vectors-dataset", "--vectors", str(points), "--label-column", "colour", "--method", "pca"]
    assert cli.main([*argv, "--pixels", "12"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["label_names"] == ["blue", "green", "red"] and store.load(datasets.DATASETS, found["id"])
    assert cli.main([*argv[:-3], "kind"]) == 2
    assert capsys.readouterr().err.startswith("error: there is no metadata column 'kind'; the columns are word, colour")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["a"] * 10, "only one class"),
        (["a"] * 9 + [None], "row 10 has no label"),
    ],
)
def test_bad_labels(tmp_path, monkeypatch, labels, message):
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path / "home"))
    table = vectors.VectorTable(np.random.default_rng(0).normal(size=(10, 8)), pd.DataFrame({"label": labels}))
    with pytest.raises(ValueError, match=message):
        build_vector_dataset(table, "label", settings=VectorDatasetSettings(layout=LAYOUT))


def test_layers_or_pooling_cannot_be_chosen():
    with pytest.raises(ValueError, match="no layers or pooling to choose"):
        VectorDatasetSettings(pooling="mean").check()


def test_the_train_page_offers_such_a_dataset(points):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    dataset = build_vector_dataset(
        vectors.load_vectors(points), "colour", settings=VectorDatasetSettings(layout=LAYOUT)
    )
    page = Path(__file__).resolve().parents[2] / "pages" / "text_to_image" / "train.py"
    app = AppTest.from_file(str(page), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="tr-dataset").value == dataset.id
    assert "vectors (72 + 18) · precomputed vectors (points.parquet) · precomputed" in app.selectbox(
        key="tr-dataset"
    ).format_func(dataset.id)
