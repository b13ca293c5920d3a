"""Training image classifiers: one loop with progress callbacks, held-out metrics every epoch,
the best weights kept, and checkpoints as safetensors with their config (never pickle).

Accuracy, F1, precision and recall are computed with scikit-learn on the whole held-out split
after every epoch (not as running averages over batches). On CUDA the loop uses bf16 autocast and
channels_last; on the CPU it runs in float32.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.store import Callback, atomic_write_json, read_json


@dataclass(frozen=True)
class TrainDefaults:
    """The paper's training settings (Adam, batch 32, 15 epochs, cross-entropy), and the share of the
    training split set aside to choose the best epoch (ours: the paper chose none)."""

    epochs: int = 15
    batch_size: int = 32
    seed: int = 42
    validation: float = 0.1


DEFAULTS = TrainDefaults()


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history and the best epoch's weights."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_state: dict[str, torch.Tensor] | None = None
    stopped_early: bool = False
    optimiser_state: dict[str, Any] | None = None  # after the last finished epoch (for resuming)


def classification_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, and F1 / precision / recall (binary for two classes, macro-averaged otherwise)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    average = "binary" if len(np.unique(labels)) <= 2 and set(np.unique(predicted)) <= {0, 1} else "macro"
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, average=average, zero_division=0)
    return {"accuracy": float(accuracy_score(labels, predicted)), "f1": float(f1), "precision": float(precision), "recall": float(recall)}


def _batches(n: int, size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return list(order.split(size))


def predict(
    model: nn.Module, images: torch.Tensor, preprocess: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 256
) -> torch.Tensor:
    """Class probabilities for ``images`` (run in eval mode, batch by batch)."""
    device = next(model.parameters()).device
    model.eval()
    outputs = []
    with torch.inference_mode(), _autocast(device):
        for rows in _batches(len(images), batch_size, None):
            outputs.append(torch.softmax(model(_to_device(preprocess(images[rows]), device)).float(), dim=1).cpu())
    return torch.cat(outputs)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    batch = batch.to(device, non_blocking=True)
    return batch.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else batch


def _measure(model: nn.Module, split: tuple[torch.Tensor, torch.Tensor], preprocess: Callable[[torch.Tensor], torch.Tensor]) -> tuple[float, dict[str, float]]:
    """Cross-entropy and classification metrics of ``model`` on a whole (images, labels) split."""
    probabilities = predict(model, split[0], preprocess)
    labels = split[1].cpu()  # the labels may live on the GPU with the images; the probabilities come back on the CPU
    loss = float(nn.functional.nll_loss(torch.log(probabilities.clamp_min(1e-12)), labels))
    return loss, classification_metrics(labels.numpy(), probabilities.argmax(1).numpy())


def train_classifier(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    held_out: tuple[torch.Tensor, torch.Tensor],
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    epochs: int = DEFAULTS.epochs,
    batch_size: int = DEFAULTS.batch_size,
    seed: int = DEFAULTS.seed,
    callback: Callback | None = None,
    resume: TrainResult | None = None,
    on_epoch: Callable[[nn.Module, TrainResult], None] | None = None,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> TrainResult:
    """Train with Adam and cross-entropy; after every epoch, measure the whole held-out split.

    The best epoch is the one with the highest validation accuracy (the earliest on a tie), so the
    held-out figures of that epoch are not chosen by looking at the held-out split. Without a
    validation split the held-out split itself chooses, which makes its figures optimistic.

    Args:
        model: the classifier; its ``param_groups()`` give per-group learning rates when it has one.
        train: (images, labels) to learn from.
        held_out: (images, labels) measured after every epoch.
        preprocess: maps a batch of stored images to model inputs.
        epochs: passes over the training split.
        batch_size: images per step.
        seed: shuffling seed.
        callback: ``callback(epoch, epochs, metrics)`` after each epoch; True stops, keeping the best
            epoch so far.
        resume: the state of an interrupted run of the same training (its history, best weights and
            optimiser state, with ``model`` holding the weights of its last finished epoch); training
            goes on from the next epoch. Every epoch shuffles with ``seed + epoch``, so a resumed run
            sees the same batches (and dropout masks) as an uninterrupted one.
        on_epoch: ``on_epoch(model, result)`` after each epoch, with ``result.optimiser_state`` filled,
            to save what a resume needs.
        validation: (images, labels), usually a part of the training split set aside, that
            choose the best epoch; its accuracy and loss are recorded as ``val_accuracy`` and ``val_loss``.

    Returns:
        The history (train loss, held-out loss and metrics, validation loss and accuracy, seconds
        per epoch) and the weights of the best epoch. The model is left holding those best weights.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}.")
    images, labels = train
    if len(images) != len(labels) or len(held_out[0]) != len(held_out[1]) or (validation is not None and len(validation[0]) != len(validation[1])):
        raise ValueError("images and labels differ in length; rebuild the dataset.")
    if len(torch.unique(labels)) < 2:
        raise ValueError("the training split has only one class; a classifier needs at least two.")
    device = next(model.parameters()).device
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    groups = model.param_groups() if hasattr(model, "param_groups") else [{"params": list(model.parameters())}]
    optimiser = torch.optim.Adam([g for g in groups if any(p.requires_grad for p in g["params"])])
    result = TrainResult()
    if resume is not None:
        result = TrainResult(list(resume.history), resume.best_epoch, resume.best_state)
        if resume.optimiser_state is not None:
            optimiser.load_state_dict(resume.optimiser_state)
    chooser = "val_accuracy" if validation is not None else "accuracy"
    best = max((r[chooser] for r in result.history), default=-1.0)
    for epoch in range(len(result.history) + 1, epochs + 1):
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(seed + epoch)
        torch.manual_seed(seed + epoch)  # dropout draws too: a resumed epoch repeats an uninterrupted one
        model.train()
        losses = []
        for rows in _batches(len(images), batch_size, generator):
            if len(rows) < 2:
                continue  # BatchNorm cannot train on a single image
            optimiser.zero_grad(set_to_none=True)
            with _autocast(device):
                loss = nn.functional.cross_entropy(model(_to_device(preprocess(images[rows]), device)), labels[rows].to(device))
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        loss, metrics = _measure(model, held_out, preprocess)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"), "test_loss": loss, **metrics}
        if validation is not None:
            loss, metrics = _measure(model, validation, preprocess)
            record.update({"val_loss": loss, "val_accuracy": metrics["accuracy"]})
        record["seconds"] = time.perf_counter() - started
        result.history.append(record)
        if record[chooser] > best:
            best, result.best_epoch = record[chooser], epoch
            result.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        if on_epoch is not None:
            result.optimiser_state = optimiser.state_dict()
            on_epoch(model, result)
        if callback is not None and callback(epoch, epochs, record):
            result.stopped_early = epoch < epochs
            break
    if result.best_state is not None:
        model.load_state_dict(result.best_state)
    return result


def save_checkpoint(folder: str | Path, model: nn.Module, config: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (the model's full config and provenance)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "crossmodal-lab"})
    atomic_write_json(folder / "config.json", config)
    return folder


def load_checkpoint(folder: str | Path, model: nn.Module, expected: dict[str, Any], keys: tuple[str, ...]) -> nn.Module:
    """Load weights into ``model`` from a folder written by :func:`save_checkpoint`.

    Only safetensors are read (never pickle). The folder's config must agree with ``expected`` on
    every key in ``keys`` (e.g. backbone, cut point, image size), or the checkpoint is refused.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        pickled = [p.name for p in folder.glob("*.pt*")] + [p.name for p in folder.glob("*.bin")]
        hint = f" ({', '.join(pickled)} are pickle files, which are never loaded)" if pickled else ""
        raise ValueError(f"{folder} has no model.safetensors{hint}; only safetensors checkpoints are accepted.")
    config = read_json(folder / "config.json")
    wrong = {k: (config.get(k), expected.get(k)) for k in keys if config.get(k) != expected.get(k)}
    if wrong:
        detail = "; ".join(f"{k}: checkpoint {a!r}, expected {b!r}" for k, (a, b) in wrong.items())
        raise ValueError(f"the checkpoint in {folder} was made for another model ({detail}).")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{weights} is not a readable safetensors file ({error}).") from error
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"the weights in {weights} do not fit this model ({str(error)[:300]}).") from error
    return model
