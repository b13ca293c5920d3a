"""The one training loop of the lab (:class:`Trainer`), its classification wrapper, and checkpoints.

Every method trains through :class:`Trainer`: the sliced-backbone classifiers (text -> image), the
SimpNet folds (images -> words), and what comes next. It takes the pieces that differ as arguments:
the loss, what to measure after every epoch (``evaluate``), the rule that picks the best epoch
(:class:`BestEpoch`, e.g. the highest accuracy on a validation share of the training split), how
batches are drawn (a seed per epoch, so a resumed run repeats an uninterrupted one; or one seeded
stream over the whole run), callbacks that can stop, and a progress file written atomically after
every epoch from which an interrupted run resumes. On CUDA it uses bf16 autocast and channels_last;
on the CPU it runs in float32. Weights are saved as safetensors with their config, never pickle.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.store import Callback, atomic_write_json, read_json

PROGRESS = "progress.safetensors"
SHUFFLES = ("per_epoch", "stream")


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history and the best epoch's weights."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_state: dict[str, torch.Tensor] | None = None
    stopped_early: bool = False
    optimiser_state: dict[str, Any] | None = None  # after the last finished epoch (for resuming)
    stopped: bool = False  # a callback asked to stop (even after the last epoch)


@dataclass(frozen=True)
class BestEpoch:
    """Which epoch's weights a run keeps: the best value of ``metric`` (the earliest on a tie)."""

    metric: str = "val_accuracy"
    mode: str = "max"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {self.mode!r}.")

    def score(self, record: dict[str, float]) -> float:
        """A number where higher is better."""
        value = float(record[self.metric])
        return value if self.mode == "max" else -value


def autocast(device: torch.device):
    """bf16 autocast on CUDA; nothing on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch on ``device`` (channels_last for image batches on CUDA)."""
    batch = batch.to(device, non_blocking=True)
    if device.type == "cuda" and batch.dim() == 4:
        return batch.contiguous(memory_format=torch.channels_last)
    return batch


def batches(n: int, size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    """Row indices in batches of ``size``: shuffled by ``generator``, in order without one."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return list(order.split(size))


def forward_batches(
    model: nn.Module,
    inputs: torch.Tensor,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    to_cpu: bool = True,
) -> torch.Tensor:
    """The model's float outputs for ``inputs``, in eval mode and under inference mode, batch by batch."""
    device = next(model.parameters()).device
    model.eval()
    outputs = []
    with torch.inference_mode(), autocast(device):
        for rows in batches(len(inputs), batch_size, None):
            batch = inputs[rows.to(inputs.device)]
            out = model(to_device(preprocess(batch) if preprocess else batch, device)).float()
            outputs.append(out.cpu() if to_cpu else out)
    return torch.cat(outputs)


def classification_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, and F1 / precision / recall (binary for two classes, macro-averaged otherwise)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    binary = len(np.unique(labels)) <= 2 and set(np.unique(predicted)) <= {0, 1}
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predicted, average="binary" if binary else "macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
    }


class Trainer:
    """Trains a model on (inputs, targets) with a pluggable loss, metrics and best-epoch rule.

    Args:
        model: the model, already on its device.
        loss: ``loss(outputs, targets) -> scalar tensor`` for one batch.
        optimiser: the optimiser over the parameters that learn.
        epochs: passes over the training data.
        batch_size: rows per step; a last batch of one row is skipped (BatchNorm cannot train on it).
        seed: the seed of the batch order (and, per epoch, of dropout).
        preprocess: maps a batch of stored inputs to model inputs (None: as stored).
        evaluate: ``evaluate(model) -> metrics`` after every epoch, added to the epoch's record.
        best: the rule that picks the epoch whose weights are kept (None: the last epoch's).
        shuffle: ``"per_epoch"``: every epoch seeds its batch order and dropout with ``seed + epoch``,
            so a resumed run sees the same batches as an uninterrupted one; ``"stream"``: one
            generator seeded with ``seed`` draws every epoch's order in turn (the caller seeds the
            global generator; a run cannot resume mid-way).
        progress: a folder; after every epoch the weights, the best weights, the optimiser state
            and the history go into one file there, written atomically, and a new run with the
            same folder resumes from it (``shuffle="per_epoch"`` only).
        callback: ``callback(epoch, epochs, record)`` after every epoch; True stops, keeping the
            best epoch so far.
        batch_order: ``batch_order(n, batch_size, generator) -> [row tensors]``, one epoch's batches
            (default :func:`batches`: a seeded permutation cut into batches); e.g. batches of similar
            lengths, or a fixed number of steps per "epoch".
        schedule: ``schedule(step) -> factor`` of every group's learning rate at each step (counted
            over the whole run, resumes included), e.g. a linear decay; None keeps them as given.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimiser: torch.optim.Optimizer,
        epochs: int,
        batch_size: int,
        seed: int = 0,
        preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
        evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
        best: BestEpoch | None = None,
        shuffle: str = "per_epoch",
        progress: str | Path | None = None,
        callback: Callback | None = None,
        batch_order: Callable[[int, int, torch.Generator], list[torch.Tensor]] | None = None,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        if epochs < 1 or batch_size < 1:
            raise ValueError(f"epochs and batch_size must be at least 1, got {epochs} and {batch_size}.")
        if shuffle not in SHUFFLES:
            raise ValueError(f"shuffle must be one of {SHUFFLES}, got {shuffle!r}.")
        if progress is not None and shuffle != "per_epoch":
            raise ValueError("only shuffle='per_epoch' can resume from a progress file.")
        self.model, self.loss, self.optimiser = model, loss, optimiser
        self.epochs, self.batch_size, self.seed = epochs, batch_size, seed
        self.preprocess, self.evaluate, self.best = preprocess, evaluate, best
        self.shuffle, self.callback = shuffle, callback
        self.progress = Path(progress) if progress is not None else None
        self.device = next(model.parameters()).device
        self.batch_order = batch_order or batches
        self.schedule, self.base_lrs, self.step_count = schedule, [g["lr"] for g in optimiser.param_groups], 0

    def _orders(self, first_epoch: int, n: int) -> Iterator[tuple[int, list[torch.Tensor]]]:
        stream = torch.Generator().manual_seed(self.seed) if self.shuffle == "stream" else None
        for epoch in range(first_epoch, self.epochs + 1):
            if stream is None:
                generator = torch.Generator().manual_seed(self.seed + epoch)
                torch.manual_seed(self.seed + epoch)  # dropout too: a resumed epoch repeats an uninterrupted one
                yield epoch, self.batch_order(n, self.batch_size, generator)
            else:
                yield epoch, self.batch_order(n, self.batch_size, stream)

    def _step(self, inputs: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor) -> float:
        rows = rows.to(inputs.device)
        batch = inputs[rows]
        batch = to_device(self.preprocess(batch) if self.preprocess else batch, self.device)
        self.optimiser.zero_grad(set_to_none=True)
        if self.schedule is not None:
            factor = self.schedule(self.step_count)
            for group, base in zip(self.optimiser.param_groups, self.base_lrs, strict=True):
                group["lr"] = base * factor
        self.step_count += 1
        with autocast(self.device):
            loss = self.loss(self.model(batch), targets[rows.to(targets.device)].to(self.device))
        loss.backward()
        self.optimiser.step()
        return float(loss.detach())

    def fit(self, inputs: torch.Tensor, targets: torch.Tensor, resume: TrainResult | None = None) -> TrainResult:
        """Train; returns the history and the kept epoch's weights, which the model is left holding.

        ``resume`` (or, when a ``progress`` folder is set, the file found there) is the state of an
        interrupted run of the same training: training goes on from its next epoch.
        """
        if len(inputs) != len(targets):
            raise ValueError("inputs and targets differ in length; rebuild the data.")
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)
        if resume is None and self.progress is not None:
            resume = load_progress(self.progress, self.model)
        result = TrainResult()
        if resume is not None:
            result = TrainResult(list(resume.history), resume.best_epoch, resume.best_state)
            if resume.optimiser_state is not None:
                self.optimiser.load_state_dict(resume.optimiser_state)
        best = max((self.best.score(r) for r in result.history), default=-np.inf) if self.best else None
        self.step_count = sum(int(r.get("steps", 0)) for r in result.history)
        for epoch, order in self._orders(len(result.history) + 1, len(inputs)):
            started = time.perf_counter()
            self.model.train()
            losses = [self._step(inputs, targets, rows) for rows in order if len(rows) >= 2]
            record = {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "steps": len(losses),
                "train_seconds": time.perf_counter() - started,
            }
            record.update(self.evaluate(self.model) if self.evaluate else {})
            record["seconds"] = time.perf_counter() - started
            result.history.append(record)
            if self.best is not None and self.best.score(record) > best:
                best, result.best_epoch = self.best.score(record), epoch
                result.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
            if self.progress is not None:
                result.optimiser_state = self.optimiser.state_dict()
                save_progress(self.progress, self.model, result)
            if self.callback is not None and self.callback(epoch, self.epochs, record):
                result.stopped, result.stopped_early = True, epoch < self.epochs
                break
        if self.best is None:
            result.best_epoch = len(result.history)
        elif result.best_state is not None:
            self.model.load_state_dict(result.best_state)
        return result


# --------------------------------------------------------------------------- classification


def predict(
    model: nn.Module, images: torch.Tensor, preprocess: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 256
) -> torch.Tensor:
    """Class probabilities for ``images`` (on the CPU; run in eval mode, batch by batch)."""
    return torch.softmax(forward_batches(model, images, preprocess, batch_size), dim=1)


def measure(
    model: nn.Module, split: tuple[torch.Tensor, torch.Tensor], preprocess: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[float, dict[str, float]]:
    """Cross-entropy and classification metrics of ``model`` on a whole (inputs, labels) split."""
    probabilities = predict(model, split[0], preprocess)
    labels = split[1].cpu()  # labels may live on the GPU with the images; the probabilities come back on the CPU
    loss = float(nn.functional.nll_loss(torch.log(probabilities.clamp_min(1e-12)), labels))
    return loss, classification_metrics(labels.numpy(), probabilities.argmax(1).numpy())


def train_classifier(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    held_out: tuple[torch.Tensor, torch.Tensor],
    preprocess: Callable[[torch.Tensor], torch.Tensor],
    epochs: int = 15,
    batch_size: int = 32,
    seed: int = 42,
    callback: Callback | None = None,
    resume: TrainResult | None = None,
    progress: str | Path | None = None,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    keep_last: bool = False,
) -> TrainResult:
    """A classifier trained by :class:`Trainer` with Adam and cross-entropy, the whole held-out split
    measured after every epoch.

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
        seed: shuffling seed (``seed + epoch`` per epoch, see :class:`Trainer`).
        callback: ``callback(epoch, epochs, metrics)`` after each epoch; True stops, keeping the best
            epoch so far.
        resume: the state of an interrupted run of the same training.
        progress: a folder for the per-epoch progress file (see :class:`Trainer`).
        validation: (images, labels), usually a part of the training split set aside, that choose
            the best epoch; recorded as ``val_accuracy`` and ``val_loss``.
        keep_last: keep the last epoch's weights, choosing none (the text-as-image paper's code).

    Returns:
        The history (train loss, held-out loss and metrics, validation loss and accuracy, seconds
        per epoch) and the weights of the best epoch. The model is left holding those best weights.
    """
    images, labels = train
    if any(len(x) != len(y) for x, y in (train, held_out, *([validation] if validation is not None else []))):
        raise ValueError("images and labels differ in length; rebuild the dataset.")
    if len(torch.unique(labels)) < 2:
        raise ValueError("the training split has only one class; a classifier needs at least two.")
    groups = model.param_groups() if hasattr(model, "param_groups") else [{"params": list(model.parameters())}]
    optimiser = torch.optim.Adam([g for g in groups if any(p.requires_grad for p in g["params"])])

    def evaluate(trained: nn.Module) -> dict[str, float]:
        loss, metrics = measure(trained, held_out, preprocess)
        record = {"test_loss": loss, **metrics}
        if validation is not None:
            loss, metrics = measure(trained, validation, preprocess)
            record.update({"val_loss": loss, "val_accuracy": metrics["accuracy"]})
        return record

    trainer = Trainer(
        model,
        nn.functional.cross_entropy,
        optimiser,
        epochs,
        batch_size,
        seed,
        preprocess=preprocess,
        evaluate=evaluate,
        best=None if keep_last else BestEpoch("val_accuracy" if validation is not None else "accuracy"),
        progress=progress,
        callback=callback,
    )
    return trainer.fit(images, labels, resume=resume)


# --------------------------------------------------------------------------- files


def save_progress(folder: Path, model: nn.Module, result: TrainResult) -> None:
    """What a resume needs, in one file written atomically: the last epoch's weights, the best
    weights, the optimiser state, and (in its metadata) the history that goes with them."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v.contiguous() for k, v in (result.best_state or {}).items()})
    optimiser = result.optimiser_state or {"state": {}, "param_groups": []}
    for index, state in optimiser["state"].items():
        tensors.update({f"adam.{index}.{k}": torch.as_tensor(v).detach().cpu().contiguous() for k, v in state.items()})
    record = {"history": result.history, "best_epoch": result.best_epoch, "param_groups": optimiser["param_groups"]}
    partial = folder / f"{PROGRESS}.part"
    save_file(tensors, str(partial), metadata={"progress": json.dumps(record)})
    partial.replace(folder / PROGRESS)


def read_progress(folder: str | Path) -> dict[str, Any] | None:
    """The record of a run's progress file in ``folder`` (``history``, ``best_epoch``, ``param_groups``), without
    loading its tensors; None when there is none. An unreadable file raises (ValueError, OSError, KeyError)."""
    from safetensors import safe_open

    path = Path(folder) / PROGRESS
    if not path.is_file():
        return None
    with safe_open(str(path), "pt") as handle:
        return json.loads(handle.metadata()["progress"])


def epochs_done(folder: str | Path) -> int:
    """How many epochs the progress file in ``folder`` holds (0 when there is none)."""
    record = read_progress(folder)
    return 0 if record is None else len(record["history"])


def load_progress(folder: Path, model: nn.Module) -> TrainResult | None:
    """The saved progress of an interrupted run (``model`` gets its last epoch's weights), or None."""
    from safetensors.torch import load_file

    record = read_progress(folder)
    if record is None:
        return None
    tensors = load_file(str(Path(folder) / PROGRESS))
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("adam."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    best = {k[len("best.") :]: v for k, v in tensors.items() if k.startswith("best.")}
    optimiser = {"state": state, "param_groups": record["param_groups"]}
    return TrainResult(record["history"], record["best_epoch"], best or None, False, optimiser)


def write_weights(folder: str | Path, model: nn.Module) -> Path:
    """``model.safetensors`` in ``folder`` (the model's state dict, on the CPU)."""
    from safetensors.torch import save_file

    path = Path(folder) / "model.safetensors"
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "crossmodal-lab"})
    return path


def save_checkpoint(folder: str | Path, model: nn.Module, config: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (the model's full config and provenance)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_weights(folder, model)
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
