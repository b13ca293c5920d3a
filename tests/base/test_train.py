"""The training loop, held-out metrics, stopping, and safetensors checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.text_to_image.classifiers import HeadSpec, SlicedClassifier, to_backbone_input
from core.train import classification_metrics, load_checkpoint, predict, save_checkpoint, train_classifier


def small_model(seed: int = 0) -> SlicedClassifier:
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU())
    return SlicedClassifier(body, 8, HeadSpec(2, (8, 8, 8, 8), 2, (16,), lr_convs=1e-3, lr_head=1e-3))


def test_training_learns_and_measures_the_whole_held_out_split_each_epoch(separable):
    seen = []
    result = train_classifier(
        small_model(),
        separable(64, 12, 0),
        separable(40, 12, 1),
        to_backbone_input,
        epochs=6,
        batch_size=16,
        callback=lambda epoch, total, metrics: seen.append((epoch, total, metrics["accuracy"])) and False,
    )
    assert [e for e, _, _ in seen] == [1, 2, 3, 4, 5, 6] and all(t == 6 for _, t, _ in seen)
    assert max(r["accuracy"] for r in result.history) >= 0.9
    # each epoch's accuracy is that of the whole held-out split: a multiple of 1/40
    assert all(abs(r["accuracy"] * 40 - round(r["accuracy"] * 40)) < 1e-9 for r in result.history)
    assert {"train_loss", "test_loss", "f1", "precision", "recall", "seconds"} <= set(result.history[0])


def test_stop_keeps_the_best_epoch_so_far(separable):
    model = small_model()
    result = train_classifier(
        model,
        separable(64, 12, 0),
        separable(40, 12, 1),
        to_backbone_input,
        epochs=10,
        batch_size=16,
        callback=lambda epoch, total, metrics: epoch == 3,
    )
    assert result.stopped_early and len(result.history) == 3
    best = max(result.history, key=lambda r: r["accuracy"])
    assert result.best_epoch == best["epoch"]
    accuracy = (
        (predict(model, *separable(40, 12, 1)[:1], preprocess=to_backbone_input).argmax(1) == separable(40, 12, 1)[1])
        .float()
        .mean()
    )
    assert float(accuracy) == pytest.approx(best["accuracy"])  # the model holds the best weights


def test_the_validation_split_chooses_the_best_epoch_not_the_held_out_split(separable):
    images, labels = separable(40, 12, 1)
    model = small_model()
    # the held-out labels are the validation labels flipped: choosing on the held-out split would pick the worst epoch
    result = train_classifier(
        model,
        separable(64, 12, 0),
        (images, 1 - labels),
        to_backbone_input,
        epochs=5,
        batch_size=16,
        validation=(images, labels),
    )
    validation = [r["val_accuracy"] for r in result.history]
    assert all(r["accuracy"] == pytest.approx(1 - r["val_accuracy"]) for r in result.history)
    assert result.best_epoch == 1 + validation.index(max(validation))
    assert result.history[result.best_epoch - 1]["accuracy"] == min(r["accuracy"] for r in result.history)
    accuracy = (predict(model, images, preprocess=to_backbone_input).argmax(1) == labels).float().mean()
    assert float(accuracy) == pytest.approx(max(validation))  # the model holds the chosen epoch's weights
    with pytest.raises(ValueError, match="differ in length"):
        train_classifier(
            small_model(), separable(64, 12, 0), (images, labels), to_backbone_input, validation=(images, labels[:3])
        )


def test_metrics_match_their_definitions():
    labels, predicted = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0])
    metrics = classification_metrics(labels, predicted)
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["precision"] == pytest.approx(2 / 3) and metrics["recall"] == pytest.approx(2 / 3)
    # three classes: macro averages (class 0: P 1, R 1/2; class 1: P 1/2, R 1; class 2: P 1, R 1)
    macro = classification_metrics(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]))
    assert macro["precision"] == pytest.approx((1 + 1 / 2 + 1) / 3) and macro["recall"] == pytest.approx(
        (1 / 2 + 1 + 1) / 3
    )
    assert macro["f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_bad_training_input_is_refused(separable):
    images, labels = separable(10, 12, 0)
    with pytest.raises(ValueError, match="only one class"):
        train_classifier(
            small_model(), (images, torch.zeros(10, dtype=torch.long)), (images, labels), to_backbone_input
        )
    with pytest.raises(ValueError, match="differ in length"):
        train_classifier(small_model(), (images, labels[:5]), (images, labels), to_backbone_input)
    with pytest.raises(ValueError, match="at least 1"):
        train_classifier(small_model(), (images, labels), (images, labels), to_backbone_input, epochs=0)


def test_checkpoints_are_safetensors_with_a_matching_config(tmp_path):
    model = small_model(seed=1)
    config = {"backbone": "toy", "node": "body", "pixels": 12}
    save_checkpoint(tmp_path / "ckpt", model, config)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    fresh = load_checkpoint(tmp_path / "ckpt", small_model(seed=2), config, keys=("backbone", "node", "pixels"))
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="made for another model"):
        load_checkpoint(tmp_path / "ckpt", small_model(), {**config, "pixels": 50}, keys=("pixels",))


def test_pickle_checkpoints_are_refused(tmp_path):
    folder = tmp_path / "foreign"
    folder.mkdir()
    torch.save(small_model().state_dict(), folder / "model.pt")
    with pytest.raises(ValueError, match="pickle files, which are never loaded"):
        load_checkpoint(folder, small_model(), {}, keys=())
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    (folder / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_checkpoint(folder, small_model(), {}, keys=())
