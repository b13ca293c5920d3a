"""The text-as-image paper's exact settings: its 2021 layout, split and new layers, and the generated table of
differences from the lab's preset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial import ConvexHull

ROOT = Path(__file__).resolve().parents[2]


def reference_2021_layout(X: np.ndarray, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """The 2021 pyDeepInsight steps written out one by one: LogScaler, scikit-learn TSNE with its 2021
    defaults, hull-edge rotation by +angle over consecutive vertices only, np.digitize binning, and
    per-pixel means. Returns (coords, images)."""
    from sklearn.manifold import TSNE

    minimum = X.min(axis=0)
    logged = np.log(X + np.abs(minimum) + 1)
    scaled = logged / logged.max()
    points = TSNE(
        n_components=2,
        perplexity=min(30.0, (X.shape[1] - 1) / 3),
        max_iter=1000,
        init="random",
        learning_rate=200.0,
        random_state=1701,
        n_jobs=1,
    ).fit_transform(scaled.T)
    hull = points[ConvexHull(points).vertices]
    best, best_area = None, np.inf
    steps = [b - a for a, b in zip(hull[:-1], hull[1:], strict=True)]  # consecutive vertices only
    for angle in np.unique(np.abs(np.mod([np.arctan2(step[1], step[0]) for step in steps], np.pi / 2))):
        turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        spun = hull @ turn.T
        area = np.prod(spun.max(axis=0) - spun.min(axis=0))
        if area < best_area:
            best, best_area = turn, area
    rotated = points @ best.T
    coords = np.stack(
        [
            np.digitize(rotated[:, axis], np.linspace(rotated[:, axis].min(), rotated[:, axis].max(), pixels)) - 1
            for axis in (0, 1)
        ],
        axis=1,
    )
    frame = pd.DataFrame(np.vstack([coords.T, scaled]).T).groupby([0, 1], as_index=False).mean()
    images = np.zeros((len(X), pixels, pixels))
    for sample in range(len(X)):
        images[sample, frame[0].astype(int), frame[1].astype(int)] = frame[sample + 2]
    return coords, images


def test_the_paper_layout_matches_a_direct_reimplementation_of_the_2021_code():
    from core.layout import FeatureLayout
    from core.text_to_image.presets import PAPER_LAYOUT

    X = np.random.default_rng(3).normal(size=(40, 60)) * np.linspace(0.5, 3, 60)
    X[:, :20] += 2.0  # columns with a positive minimum: where +|min| and -min differ
    layout = FeatureLayout(**{**PAPER_LAYOUT, "pixels": 12, "n_jobs": 1}).fit(X)
    coords, images = reference_2021_layout(X, 12)
    np.testing.assert_array_equal(layout.coords_, coords)
    np.testing.assert_allclose(layout.transform(X), images, atol=1e-6)


def test_the_2021_binning_leaves_the_last_row_and_column_to_the_maximum():
    from core.layout import bin_coordinates, digitize_coordinates

    points = np.random.default_rng(0).uniform(size=(500, 2))
    digitized = digitize_coordinates(points, (10, 10))
    assert digitized.max() == 9 and digitized.min() == 0
    assert (digitized[:, 0] == 9).sum() == 1 and (digitized[:, 1] == 9).sum() == 1  # only the maximum
    assert (bin_coordinates(points, (10, 10))[:, 0] == 9).sum() > 20  # the lab's floor binning fills it


def test_the_2021_rotation_is_never_better_than_the_minimum_one():
    from core.layout import minimum_area_rotation, pydeepinsight2021_rotation

    worse = 0
    for seed in range(10):
        points = np.random.default_rng(seed).normal(size=(80, 2)) @ np.array([[3.0, 1.2], [0.0, 0.7]])

        def area(turn, points=points):
            spun = points @ turn.T
            return np.prod(spun.max(axis=0) - spun.min(axis=0))

        assert area(pydeepinsight2021_rotation(points)) >= area(minimum_area_rotation(points)) - 1e-9
        worse += area(pydeepinsight2021_rotation(points)) > area(minimum_area_rotation(points)) + 1e-6
    assert worse >= 5  # the difference is real, not a corner case


def test_random_split_gives_the_rows_torch_random_split_gives_after_manual_seed():
    from torch.utils.data import random_split

    from core.text_to_image.datasets import split_rows

    labels = np.arange(250) % 2
    train, test = split_rows(labels, 0.2, 42, "random_split")
    torch.manual_seed(42)
    theirs = random_split(range(250), [200, 50])
    assert list(train) == list(theirs[0].indices) and list(test) == list(theirs[1].indices)
    with pytest.raises(ValueError, match="split must be one of"):
        split_rows(labels, 0.2, 42, "nonsense")


@pytest.mark.parametrize("backbone", ["alexnet", "wide_resnet50_2", "resnext50_32x4d", "shufflenet_v2_x1_0", "vgg16"])
def test_the_paper_style_layers_are_the_original_code(backbone):
    from torch import nn

    from core.text_to_image.classifiers import PAPER_CONV_DROPOUT, build_classifier, classifier_config

    lab = build_classifier(classifier_config(backbone, pretrained=False))
    torch.manual_seed(0)
    paper = build_classifier(classifier_config(backbone, pretrained=False, style="paper"))
    trainable = [sum(p.numel() for p in m.parameters() if p.requires_grad) for m in (lab, paper)]
    assert trainable[0] == trainable[1]
    if backbone == "alexnet":
        assert trainable[1] == 1_649_292
    kinds = [type(m).__name__ for m in paper.convs]
    assert kinds[:3] == ["Conv2d", "ReLU", "BatchNorm2d"]
    conv_dropouts = [m.p for m in paper.convs if isinstance(m, nn.Dropout)]
    assert conv_dropouts == ([PAPER_CONV_DROPOUT[backbone]] * 3 if PAPER_CONV_DROPOUT[backbone] else [])
    head = [type(m).__name__ for m in paper.head]
    assert [m.p for m in paper.head if isinstance(m, nn.Dropout)] == [0.3, 0.3]
    assert head.index("Dropout") == (1 if backbone == "alexnet" else 3)  # AlexNet: before its first linear
    # Xavier normal for convs: std sqrt(2 / (fan_in + fan_out)); PyTorch's default is much narrower
    first = next(m for m in paper.convs if isinstance(m, nn.Conv2d))
    fan_in, fan_out = first.weight[0].numel(), first.out_channels * first.weight[0, 0].numel()
    assert first.weight.std().item() == pytest.approx(np.sqrt(2 / (fan_in + fan_out)), rel=0.05)
    paper.train(), lab.train()
    assert any(m.training for m in paper.body.modules()) and not any(m.training for m in lab.body.modules())


def test_paper_style_uses_torchvision_v1_weights(monkeypatch):
    from core.text_to_image import backbones
    from core.text_to_image.classifiers import build_classifier, classifier_config

    asked = []
    real = backbones.build_backbone

    def spy(name, pretrained=True, weights="DEFAULT"):
        asked.append(weights)
        return real(name, pretrained=False)

    monkeypatch.setattr(backbones, "build_backbone", spy)
    build_classifier(classifier_config("resnext50_32x4d", pretrained=True, style="paper"))
    build_classifier(classifier_config("resnext50_32x4d", pretrained=True))
    assert asked == ["IMAGENET1K_V1", "DEFAULT"]


def test_the_docs_table_is_the_generated_one_and_follows_the_presets():
    from dataclasses import replace

    from core import cli, paper_differences
    from core.text_to_image import differences, presets

    document = (ROOT / "docs" / "presets.md").read_text()
    assert document == paper_differences.markdown(cli.paper_differences())
    text_to_image = "\n".join(paper_differences.section_lines(differences.section())[1:])  # after its heading
    assert text_to_image in document and presets.differences_markdown().count("| corpus | imdb |") == 2
    settings = {row["setting"] for row in presets.differences()}
    assert {"layout.method", "layout.discretization", "layout.rotation", "split", "fit_on", "train.style"} <= settings
    assert all(row["why"] for row in presets.differences())
    # the table is read from the presets: a setting made equal drops out, a new difference appears
    same_metric = replace(presets.WORKSHOP, layout={**presets.WORKSHOP.layout, "metric": "euclidean"})
    assert "layout.metric" not in {row["setting"] for row in presets.differences(same_metric)}
    other_pixels = replace(presets.WORKSHOP, layout={**presets.WORKSHOP.layout, "pixels": 40})
    assert "layout.pixels" in {row["setting"] for row in presets.differences(other_pixels)}
    assert "| layout.pixels | 50 | 40 |" in differences.markdown(other_pixels)
    assert "| layout.metric |" not in differences.markdown(same_metric)


def test_named_layer_sets_are_the_paper_code_and_its_abstract():
    from core.encoders import parse_layers

    assert parse_layers("paper-code") == [6, 7, 8, 9, 10, 11]
    assert parse_layers("last-six") == [-6, -5, -4, -3, -2, -1]
    with pytest.raises(ValueError, match="paper-code, last-six"):
        parse_layers("the best ones")


def test_a_paper_style_run_keeps_the_last_epoch_and_never_caches_the_slice(lab_home):
    from dataclasses import replace

    from core.text_to_image import presets

    chosen = replace(
        presets.PAPER_OFFLINE,
        n=80,
        layout={**presets.PAPER_LAYOUT, "pixels": 16},
        train=replace(presets.PAPER_OFFLINE.train, backbone="squeezenet1_1", epochs=2, batch_size=16),
    )
    outcome = presets.run(chosen)
    dataset, model = outcome.dataset.config, outcome.model.config
    assert dataset["split"]["method"] == "random_split" and dataset["fit_on"] == "all"
    assert dataset["layout"]["method"] == "sklearn_tsne" and dataset["layout"]["rotation"] == "pydeepinsight2021"
    assert dataset["pooling"] == "cls" and dataset["layers"] == [1, 2, 3, 4, 5, 6]
    assert model["classifier"]["style"] == "paper" and "normalise_stats" not in model["classifier"]
    assert model["best_epoch"] == 2 and not model["slice_outputs_cached"]
    assert all("val_accuracy" not in record for record in model["history"])
    assert model["training"]["best_epoch_chosen_on"].startswith("none")


def test_the_forms_start_from_the_papers_layout_and_offer_the_papers_split_and_layers(small_dataset):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "pages/text_to_image/image_dataset.py"), default_timeout=60).run()
    assert not app.exception
    assert app.selectbox(key="fit-method").value == "tsne"  # the lab's defaults first
    app.radio(key="fit-layout-base").set_value("paper").run()
    assert not app.exception
    chosen = {k: app.selectbox(key=f"fit-paper-{k}").value for k in ("method", "disc", "scaler", "metric")}
    assert chosen == {"method": "sklearn_tsne", "disc": "digitize", "scaler": "norm2", "metric": "euclidean"}
    assert app.number_input(key="fit-paper-reduce").value == 0
    assert app.radio(key="ds-split-method").options == [
        "stratified (the lab's)",
        "torch random_split (the paper's code)",
    ]
    train = AppTest.from_file(str(ROOT / "pages/text_to_image/train.py"), default_timeout=60).run()
    assert not train.exception
    assert len(train.radio(key="tr-style").options) == 2
    train.number_input(key="tr-validation").set_value(0.0).run()  # the paper's code sets nothing aside
    assert not train.error and not train.button(key="tr-go").disabled


def test_a_split_that_cannot_be_stratified_says_what_to_change():
    from core.text_to_image.datasets import split_rows

    ids = np.arange(60)  # the wrong label column: every row its own "class"
    with pytest.raises(ValueError, match=r"60 of the 60 classes have a single row.*is the label column the right one"):
        split_rows(ids, 0.2, 42)
    few = np.array([0] * 30 + [1] * 29 + [2])
    with pytest.raises(ValueError, match=r"1 of the 3 classes have a single row.*Remove those rows"):
        split_rows(few, 0.2, 42)
    many = np.repeat(np.arange(10), 2)
    with pytest.raises(ValueError, match=r"the test share 20% of 20 rows is 4 rows, fewer than the 10 classes"):
        split_rows(many, 0.2, 42)
    train, test = split_rows(np.repeat(np.arange(2), 10), 0.2, 42)
    assert len(train) == 16 and len(test) == 4
