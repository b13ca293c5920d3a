"""One fold of a leave-one-out study: SimpNet trained on every class but one (through the Trainer), what it
does to the held-out class, the shuffled-words control (the same fold trained with the trained classes' words
permuted) and the controls computed from the word vectors alone.

A fold's seed depends only on the study seed and the held-out class, and every fold runs with the study's
recorded CPU thread count (:func:`core.sweeps.pinned_threads`), so a fold gives the same numbers here or
in a Ray task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.errors import Interrupted
from core.images_to_words.simpnet import SimpNet
from core.imagesets import ImageSet
from core.store import Callback
from core.sweeps import pinned_threads
from core.train import Trainer, forward_batches


def _prepare(images: np.ndarray, mean: torch.Tensor, std: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = torch.as_tensor(images, device=device).float().div_(255)
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def _loss(predicted: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "cosine":
        return (1 - F.cosine_similarity(predicted, target, dim=1)).mean()
    return F.mse_loss(predicted, target)


def _predict(model: nn.Module, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    return forward_batches(model, images, batch_size=batch, to_cpu=False)


def run_fold(
    config: dict[str, Any],
    held: int,
    imageset: ImageSet,
    targets: np.ndarray,
    device: str | None = None,
    shuffled: bool = False,
    *,
    callback: Callback | None = None,
) -> dict[str, Any]:
    """Train on every class but ``held`` and measure what happens to the held-out class.

    Returns the fold's record: held-out loss before training, after each epoch and at the end (and
    the relative change), accuracy on the trained classes' test images (nearest class vector by
    cosine among the trained classes), the held-out images' rank of their true class among all
    classes (top-1 / top-5), the nearest GloVe words to their mean predicted vector, and the
    controls (:func:`fold_controls`); with ``shuffled``, also the shuffled-words control
    (:func:`shuffled_control`, a second training of the same fold).
    ``callback(epoch, epochs, metrics)`` after each epoch; True stops the fold (raises Interrupted).
    """
    with pinned_threads(config["training"]["cpu_threads"]):
        record = _run_fold(config, held, imageset, targets, device, callback)
        if shuffled:
            record.update(_shuffled(config, held, imageset, targets, device, callback, record["loss_after"]))
        return record




@dataclass
class _FoldData:
    """One fold's tensors: the trained classes' training and test images, and the held-out class's images."""

    trained: list[int]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_held: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def _fold_data(held: int, imageset: ImageSet, device: torch.device) -> _FoldData:
    keep = imageset.train_labels != held
    train_np = imageset.train_images[keep]
    channels = train_np.reshape(len(train_np), train_np.shape[1], -1)
    mean = torch.as_tensor(channels.mean(axis=(0, 2)) / 255, dtype=torch.float32, device=device)
    std = torch.as_tensor(channels.std(axis=(0, 2)) / 255 + 1e-6, dtype=torch.float32, device=device)
    held_np = np.concatenate([imageset.train_images[~keep], imageset.test_images[imageset.test_labels == held]])
    test_keep = imageset.test_labels != held
    data = _FoldData(
        [c for c in range(len(imageset.class_names)) if c != held],
        _prepare(train_np, mean, std, device),
        torch.as_tensor(imageset.train_labels[keep], device=device),
        _prepare(held_np, mean, std, device),
        _prepare(imageset.test_images[test_keep], mean, std, device),
        torch.as_tensor(imageset.test_labels[test_keep], device=device),
    )
    if device.type == "cuda":
        for name in ("x_train", "x_held", "x_test"):
            setattr(data, name, getattr(data, name).contiguous(memory_format=torch.channels_last))
    return data


def _train_fold(
    config: dict[str, Any],
    data: _FoldData,
    train_targets: torch.Tensor,
    held_target: torch.Tensor,
    seed: int,
    channels: int,
    device: torch.device,
    callback: Callback | None,
) -> tuple[nn.Module, float, list[dict[str, Any]], float]:
    """A SimpNet trained towards ``train_targets[label]``; returns it, the held-out loss before training, the
    history (held-out loss after every epoch) and the seconds it took."""
    training = config["training"]
    torch.manual_seed(seed)
    model = SimpNet(channels, train_targets.shape[1], config["model"]["width"]).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    expanded = held_target.expand(len(data.x_held), -1)

    def held_loss(trained: nn.Module) -> float:
        return float(_loss(_predict(trained, data.x_held), expanded, training["loss"]))

    def relay(epoch: int, epochs: int, record: dict) -> bool | None:
        return (
            callback(epoch, epochs, {k: record[k] for k in ("epoch", "train_loss", "held_out_loss")})
            if callback
            else None
        )

    before = held_loss(model)
    trainer = Trainer(
        model,
        lambda predicted, labels: _loss(predicted.float(), train_targets[labels], training["loss"]),
        torch.optim.Adam(model.parameters(), lr=training["lr"]),
        training["epochs"],
        training["batch_size"],
        seed,
        evaluate=lambda trained: {"held_out_loss": held_loss(trained)},
        shuffle="stream",
        callback=relay,
    )
    started = time.perf_counter()
    result = trainer.fit(data.x_train, data.y_train)
    if result.stopped:
        raise Interrupted(f"stopped after epoch {len(result.history)}; it will be run again from its start.")
    return model, before, result.history, time.perf_counter() - started


def _run_fold(
    config: dict[str, Any],
    held: int,
    imageset: ImageSet,
    targets: np.ndarray,
    device: str | None,
    callback: Callback | None,
) -> dict[str, Any]:
    from core.device import default_device

    training = config["training"]
    device = torch.device(device or default_device())
    seed = training["seed"] * 1000 + held
    names = config["class_names"]
    all_targets = torch.as_tensor(targets, device=device)
    data = _fold_data(held, imageset, device)
    try:
        model, before, history, seconds = _train_fold(
            config, data, all_targets, all_targets[held], seed, imageset.shape[0], device, callback
        )
    except Interrupted as stop:
        raise Interrupted(f"fold {names[held]!r}: {stop}") from None
    after = history[-1]["held_out_loss"]
    trained = data.trained

    unit = F.normalize(all_targets, dim=1)
    held_scores = F.normalize(_predict(model, data.x_held), dim=1) @ unit.T  # cosine to every class vector
    ranks = 1 + (held_scores > held_scores[:, held : held + 1]).sum(1)
    test_scores = F.normalize(_predict(model, data.x_test), dim=1) @ unit[trained].T
    test_accuracy = float(
        (torch.as_tensor(trained, device=device)[test_scores.argmax(1)] == data.y_test).float().mean()
    )
    mean_vector = _predict(model, data.x_held).mean(0).cpu().numpy()
    similarity = (unit[held] @ unit[trained].T).cpu().numpy()
    closest = int(np.argmax(similarity))
    from core.wordvectors import load_glove

    return {
        "class": names[held],
        "index": held,
        "loss_before": before,
        "loss_after": after,
        "relative_change": (after - before) / before,
        "history": history,
        "test_accuracy_trained": test_accuracy,
        "held_out_images": int(len(data.x_held)),
        "rank_median": float(ranks.float().median()),
        "rank_mean": float(ranks.float().mean()),
        "top1": float((ranks == 1).float().mean()),
        "top5": float((ranks <= 5).float().mean()),
        "nearest_words": load_glove().nearest(mean_vector, 10),
        **fold_controls(config, {"index": held, "loss_after": after}, targets),
        "nearest_trained_class": names[trained[closest]],
        "nearest_trained_cosine": float(similarity[closest]),
        "seconds": seconds,
        "images_per_second": len(data.x_train) * training["epochs"] / seconds,
        "device": str(device),
        "seed": seed,
    }


SHUFFLED_FIELDS = ("shuffled_loss", "shuffled_words", "gain_over_shuffled")


def shuffled_words(n_classes: int, held: int, seed: int) -> np.ndarray:
    """Which class's word each class trains towards in the shuffled-words control: a seeded permutation of
    the trained classes that leaves none of them its own word (a derangement); the held-out class keeps its
    own. ``order[c]`` is the class whose word class ``c`` is given."""
    trained = np.array([c for c in range(n_classes) if c != held])
    order = np.arange(n_classes)
    if len(trained) < 2:
        return order
    rng = np.random.default_rng(seed)
    while True:
        moved = rng.permutation(trained)
        if not np.any(moved == trained):
            order[trained] = moved
            return order


def _shuffled(
    config: dict[str, Any],
    held: int,
    imageset: ImageSet,
    targets: np.ndarray,
    device: str | None,
    callback: Callback | None,
    loss_after: float,
) -> dict[str, Any]:
    from core.device import default_device

    device = torch.device(device or default_device())
    seed = config["training"]["seed"] * 1000 + held
    order = shuffled_words(len(config["class_names"]), held, seed)
    all_targets = torch.as_tensor(targets, device=device)
    data = _fold_data(held, imageset, device)
    try:
        _, _, history, seconds = _train_fold(
            config, data, all_targets[order], all_targets[held], seed, imageset.shape[0], device, callback
        )
    except Interrupted as stop:
        raise Interrupted(f"the shuffled-words control of fold {config['class_names'][held]!r}: {stop}") from None
    loss = history[-1]["held_out_loss"]
    names = config["class_names"]
    return {
        "shuffled_loss": loss,
        "shuffled_words": {names[c]: names[int(order[c])] for c in data.trained},
        "gain_over_shuffled": 1 - loss_after / loss,
        "shuffled_seconds": seconds,
    }


def shuffled_control(
    config: dict[str, Any],
    fold: dict[str, Any],
    imageset: ImageSet,
    targets: np.ndarray,
    device: str | None = None,
    *,
    callback: Callback | None = None,
) -> dict[str, Any]:
    """The shuffled-words control of a finished fold: the same fold (same images, seed, settings) trained
    with the trained classes' words permuted (:func:`shuffled_words`), the held-out class keeping its own
    word. If the model's held-out loss comes from what the images and the words share, the shuffled model
    does worse on the held-out class; if it comes from the words' geometry alone, it does as well.

    Returns ``shuffled_loss``, ``shuffled_words`` (class -> the word it was trained towards),
    ``gain_over_shuffled`` (1 - the model's loss / the shuffled model's) and ``shuffled_seconds``.
    """
    with pinned_threads(config["training"]["cpu_threads"]):
        return _shuffled(config, int(fold["index"]), imageset, targets, device, callback, fold["loss_after"])


CONTROL_FIELDS = ("constant_loss", "nearest_word_loss", "nearest_word", "gain_over_constant")


def _target_loss(predicted: np.ndarray, target: np.ndarray, kind: str) -> float:
    """The study's loss between one predicted vector (given for every held-out image) and the held-out word."""
    if kind == "cosine":
        return float(1 - predicted @ target / (np.linalg.norm(predicted) * np.linalg.norm(target)))
    return float(np.mean((predicted - target) ** 2))


def fold_controls(config: dict[str, Any], fold: dict[str, Any], targets: np.ndarray) -> dict[str, Any]:
    """The controls of one fold, computed from the word vectors alone (no training):

    - ``constant_loss``: the held-out loss of a predictor that outputs the mean of the trained classes'
      vectors for every image (no image is looked at);
    - ``nearest_word_loss``: that of a predictor that outputs the vector of the trained class whose word is
      nearest (cosine) to the held-out word (``nearest_word``), for every image;
    - ``gain_over_constant``: 1 - the trained model's held-out loss / ``constant_loss`` (positive: the model
      beats the constant predictor).
    """
    held = int(fold["index"])
    trained = [c for c in range(len(config["class_names"])) if c != held]
    targets = np.asarray(targets, dtype=np.float64)
    unit = targets / np.linalg.norm(targets, axis=1, keepdims=True)
    nearest = trained[int(np.argmax(unit[trained] @ unit[held]))]
    kind = config["training"]["loss"]
    constant = _target_loss(targets[trained].mean(axis=0), targets[held], kind)
    return {
        "constant_loss": constant,
        "nearest_word_loss": _target_loss(targets[nearest], targets[held], kind),
        "nearest_word": config["class_names"][nearest],
        "gain_over_constant": 1 - fold["loss_after"] / constant,
    }


def study_targets(config: dict[str, Any]) -> np.ndarray:
    """The class-name word vectors a study trained towards, from its recorded words."""
    from core.wordvectors import class_vectors, study_table

    names = config["class_names"]
    _, table = study_table(config["words"]["table"], config["imageset"].get("imageset", ""), names)
    return class_vectors(names, table, config["words"]["mode"])

