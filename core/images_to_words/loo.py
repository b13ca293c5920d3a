"""Images into word-vector space (Baughman et al., SC'21): SimpNet regresses the GloVe vector of each
image's class name; every class in turn is left out of training, and the question is whether the
model still moves the held-out class's images toward that class's word vector.

A study is a folder ``<home>/runs/studies/<id>/``: ``config.json`` (written when the study starts)
and ``folds/<class index>.json``, one per held-out class, each written atomically when its fold
finishes. An interrupted study resumes at the next unfinished fold (:func:`resume_study` needs only
its id: it reloads the image set from the recorded source); a finished fold is never recomputed
unless asked (``redo``), and a damaged fold file is reported, never deleted, until it is redone.
Folds run one after another, or as Ray tasks when asked (:mod:`core.sweeps`); each fold's seed
depends only on the study seed and the held-out class, so both ways give the same numbers.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core import store
from core.errors import Interrupted
from core.images_to_words.simpnet import SimpNet
from core.imagesets import ImageSet
from core.store import Callback
from core.train import Trainer, forward_batches

STUDIES = "studies"
LOSSES = ("mse", "cosine")


@dataclass(frozen=True)
class LooSettings:
    """A leave-one-out study's settings: the paper's (25 epochs, full width, MSE, the best word per
    class) by default, with our optimiser choice (Adam, lr 1e-3, batch 128). Pages and the CLI read
    their defaults from here.

    Attributes:
        imageset: ``fashion_mnist`` (offline), ``cifar100`` (online) or ``folder``.
        path: the image folder (``folder``) or a data folder.
        classes: the classes to leave out in turn (None: all).
        per_class: training images per class (None: all).
        epochs: passes over the trained classes' images per fold.
        width: SimpNet width multiplier (1.0 = the ~5.4M-parameter body).
        batch_size: images per step.
        lr: Adam's learning rate.
        seed: the study seed (each fold's seed is ``seed * 1000 + class index``).
        loss: ``mse`` (the paper) or ``cosine``.
        words: ``best`` (one word per class, the paper) or ``average`` (the mean of the name's words).
        table: a class-name table (a CSV path or a packaged table's name; None: the image set's own).
        threads: CPU threads per fold (None: torch's current count); recorded in the study.
        shuffled_control: also train every fold with the trained classes' words permuted (the
            shuffled-words control; twice the cost; not part of the study's id).
    """

    imageset: str = "fashion_mnist"
    path: str | None = None
    classes: tuple[str, ...] | None = None
    per_class: int | None = None
    epochs: int = 25
    width: float = 1.0
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    loss: str = "mse"
    words: str = "best"
    table: str | None = None
    threads: int | None = None
    shuffled_control: bool = False


DEFAULTS = LooSettings()
OFFLINE_PRESET = LooSettings(epochs=5, width=0.25, per_class=1000)
"""The laptop study: Fashion-MNIST, all 10 classes, quarter width, 1,000 training images per class, 5 epochs
(sized for about half an hour on two CPU cores; docs/benchmarks.md has the measured time)."""


def study_config(
    imageset: ImageSet,
    classes: list[str] | None = None,
    epochs: int = DEFAULTS.epochs,
    width: float = DEFAULTS.width,
    batch_size: int = DEFAULTS.batch_size,
    lr: float = DEFAULTS.lr,
    seed: int = DEFAULTS.seed,
    loss: str = DEFAULTS.loss,
    words: str = DEFAULTS.words,
    table: str | None = None,
    cpu_threads: int | None = None,
) -> dict[str, Any]:
    """Everything that defines a study's numbers (and so its id); checks the settings.

    ``cpu_threads`` (default: torch's current count) is recorded because it changes CPU results in
    the last digits (how reductions are split); every fold runs with exactly that many threads,
    here or in a Ray task, so both ways give the same numbers. ``table`` (a CSV path or a packaged
    table's name) maps class names to words; by default the image set's packaged table, or, where it
    has none (an image folder), one derived from the class names (:func:`core.wordvectors.names_table`).
    """
    from core.wordvectors import study_table

    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
    if epochs < 1 or batch_size < 2 or lr <= 0 or width <= 0:
        raise ValueError("epochs must be at least 1, batch size at least 2, and the learning rate and width positive.")
    unknown = sorted(set(classes or []) - set(imageset.class_names))
    if unknown:
        raise ValueError(
            f"unknown class(es) {', '.join(unknown)}; this image set has: {', '.join(imageset.class_names)}."
        )
    empty = [n for i, n in enumerate(imageset.class_names) if not (imageset.train_labels == i).any()]
    if empty:
        raise ValueError(f"class(es) {', '.join(empty)} have no training images; remove them from the image set.")
    table_name, rows = study_table(table, imageset.name, list(imageset.class_names))
    return {
        "imageset": imageset.source,
        "class_names": list(imageset.class_names),
        "held_out": list(classes or imageset.class_names),
        "image_shape": list(imageset.shape),
        "train_images": int(len(imageset.train_labels)),
        "test_images": int(len(imageset.test_labels)),
        "model": {"name": "simpnet", "width": float(width), "out_dim": 50},
        "training": {
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "lr": float(lr),
            "optimizer": "adam",
            "loss": loss,
            "seed": int(seed),
            "cpu_threads": int(cpu_threads or torch.get_num_threads()),
        },
        "words": {
            "vectors": "glove-6B-50d",
            "mode": words,
            "table": table_name,
            "entries": _word_entries(imageset.class_names, table_name, rows, words),
        },
    }


def _word_entries(classes: list[str], name: str, table: Any, mode: str) -> dict[str, str]:
    """The word(s) each class maps to, as recorded in a study's config: editing the table gives a new study."""
    rows = table.set_index("class")
    missing = [c for c in classes if c not in rows.index]
    if missing:
        raise ValueError(
            f"class(es) {', '.join(missing)} are not in the class-name table {name!r}; "
            "add a row for each (class, best, words)."
        )
    return {c: rows.loc[c, "best"] if mode == "best" else rows.loc[c, "words"] for c in classes}


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
    callback: Callback | None = None,
    shuffled: bool = False,
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
    with _threads(config["training"]["cpu_threads"]):
        record = _run_fold(config, held, imageset, targets, device, callback)
        if shuffled:
            record.update(_shuffled(config, held, imageset, targets, device, callback, record["loss_after"]))
        return record


@contextmanager
def _threads(count: int) -> Iterator[None]:
    """torch's CPU thread count set to ``count`` (the study's recorded one) for a while, then restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
    callback: Callback | None = None,
) -> dict[str, Any]:
    """The shuffled-words control of a finished fold: the same fold (same images, seed, settings) trained
    with the trained classes' words permuted (:func:`shuffled_words`), the held-out class keeping its own
    word. If the model's held-out loss comes from what the images and the words share, the shuffled model
    does worse on the held-out class; if it comes from the words' geometry alone, it does as well.

    Returns ``shuffled_loss``, ``shuffled_words`` (class -> the word it was trained towards),
    ``gain_over_shuffled`` (1 - the model's loss / the shuffled model's) and ``shuffled_seconds``.
    """
    with _threads(config["training"]["cpu_threads"]):
        return _shuffled(config, int(fold["index"]), imageset, targets, device, callback, fold["loss_after"])


# --------------------------------------------------------------------------- studies on disk


def study_dir(study_id: str) -> Path:
    return store.artifact_dir(STUDIES, study_id)


def _fold_path(study_id: str, index: int) -> Path:
    return study_dir(study_id) / "folds" / f"{index:03d}.json"


def _scan_folds(study_id: str) -> tuple[dict[int, dict[str, Any]], list[Path]]:
    """The readable fold records by class index, and the fold files that cannot be read."""
    folder = study_dir(study_id) / "folds"
    folds, damaged = {}, []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = store.read_json(path)
            folds[int(record["index"])] = record
        except (ValueError, KeyError, TypeError):
            damaged.append(path)
    return folds, damaged


def damaged_message(study_id: str, damaged: list[Path], class_names: list[str]) -> str:
    """What is wrong with a study's damaged fold files and how to recompute them (nothing is deleted)."""
    classes = [class_names[int(p.stem)] for p in damaged if p.stem.isdigit() and int(p.stem) < len(class_names)]
    command = (
        f"python -m core loo --resume {study_id} --redo {' '.join(shlex.quote(c) for c in classes)}" if classes else ""
    )
    files, one = ", ".join(str(p) for p in damaged), len(damaged) == 1
    how = "delete it, or redo that class" if one else "delete them, or redo those classes"
    return (
        f"fold file{'' if one else 's'} {files} {'is' if one else 'are'} damaged (not a readable fold record); {how}"
        f"{f' ({command})' if command else ''}, to recompute {'that fold' if one else 'those folds'}. "
        "The other folds are kept."
    )


@dataclass
class Study:
    """A study's config, its finished folds, and any fold files that cannot be read (``damaged``)."""

    id: str
    config: dict[str, Any]
    folds: dict[int, dict[str, Any]]
    damaged: list[Path] = field(default_factory=list)

    @property
    def planned(self) -> list[str]:
        return list(self.config["held_out"])

    @property
    def complete(self) -> bool:
        done = {f["class"] for f in self.folds.values()}
        return all(name in done for name in self.planned)

    def damaged_message(self) -> str:
        """The damaged fold files and how to recompute them ('' when there are none)."""
        return damaged_message(self.id, self.damaged, self.config["class_names"]) if self.damaged else ""

    def label(self) -> str:
        c = self.config
        damaged = f" · {len(self.damaged)} damaged" if self.damaged else ""
        return (
            f"{c['imageset'].get('imageset', '?')} · {len(self.folds)}/{len(self.planned)} folds{damaged} · "
            f"width {c['model']['width']} · "
            f"{c['training']['epochs']} epochs · {c['training']['loss']} · {c['words']['mode']} word · {self.id}"
        )


def load_study(study_id: str, damaged_ok: bool = False) -> Study:
    """A study from the store, with whatever folds are finished.

    Args:
        study_id: the study's id.
        damaged_ok: keep going past damaged fold files (listed in ``Study.damaged``) instead of raising.

    Raises:
        FileNotFoundError: no such study.
        ValueError: a damaged fold file (unless ``damaged_ok``), named with what to do.
    """
    path = study_dir(study_id) / store.CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no study {study_id!r} in {store.home()}.")
    study = Study(study_id, store.read_json(path), *_scan_folds(study_id))
    if study.damaged and not damaged_ok:
        raise ValueError(study.damaged_message())
    return study


def list_studies() -> list[Study]:
    """Every study (finished or partial, with any damaged fold files in ``Study.damaged``), newest first."""
    found = []
    for artifact in store.list_artifacts(STUDIES):
        try:
            found.append(load_study(artifact.id, damaged_ok=True))
        except (ValueError, KeyError, TypeError):  # a config.json that is not a study's
            continue
    return found


def run_study(
    imageset: ImageSet,
    config: dict[str, Any],
    use_ray: bool = False,
    redo: list[str] | None = None,
    device: str | None = None,
    callback: Callback | None = None,
    shuffled: bool = False,
) -> Study:
    """Run (or resume) the study ``config`` describes on ``imageset``; returns it with every fold finished.

    ``shuffled`` adds the shuffled-words control (:func:`shuffled_control`) to every fold that lacks it,
    new and finished ones alike (it trains each fold a second time; it is not part of the study's id).

    ``callback(folds_done, folds_total, metrics)`` after each fold (and, run sequentially, after each
    epoch with ``metrics["fold"]``); True stops cleanly: finished folds are kept and the next call
    resumes at the first unfinished one. ``redo`` names classes whose folds are recomputed (and whose
    fold files are overwritten, damaged or not); no other finished fold is touched.

    Raises:
        ValueError: bad words or ``redo`` names, or a damaged fold file of a class not in ``redo``.
    """
    from core import sweeps

    names = config["class_names"]
    targets = study_targets(config)
    unknown = [name for name in redo or [] if name not in names]
    if unknown:
        raise ValueError(
            f"cannot redo {', '.join(map(repr, unknown))}: not a class of this study ({', '.join(names)})."
        )
    redone = {names.index(name) for name in redo or []}
    study_id = store.config_hash(config)
    folder = study_dir(study_id)
    done, damaged = _scan_folds(study_id)
    damaged = [path for path in damaged if path not in {_fold_path(study_id, index) for index in redone}]
    if damaged:
        raise ValueError(damaged_message(study_id, damaged, names))
    (folder / "folds").mkdir(parents=True, exist_ok=True)
    if not (folder / store.CONFIG_NAME).is_file():
        store.atomic_write_json(folder / store.CONFIG_NAME, {**config, "provenance": store.provenance()})
    todo = [names.index(n) for n in config["held_out"] if names.index(n) not in done or names.index(n) in redone]
    total = len(config["held_out"])
    finished = total - len(todo)

    def fold_progress(index: int) -> Callback:
        def relay(epoch: int, epochs: int, metrics: dict) -> bool | None:
            return (
                callback(finished, total, {"fold": names[index], "epoch": f"{epoch}/{epochs}", **metrics})
                if callback
                else None
            )

        return relay

    results: Iterator[dict[str, Any]] = sweeps.run_many(
        run_fold,
        [
            (config, index, imageset, targets, device, None if use_ray else fold_progress(index), shuffled)
            for index in todo
        ],
        use_ray=use_ray,
        cpus_per_job=config["training"]["cpu_threads"],
    )
    for record in results:
        store.atomic_write_json(_fold_path(study_id, record["index"]), record)
        finished += 1
        if callback is not None and callback(
            finished, total, {"fold": record["class"], "relative_change": record["relative_change"]}
        ):
            sweeps.cancel(results)
            raise Interrupted(f"study stopped after {finished} of {total} folds; run it again to resume.")
    if shuffled:
        _add_shuffled(study_id, config, imageset, targets, use_ray, device, callback)
    return load_study(study_id)


def _add_shuffled(
    study_id: str,
    config: dict[str, Any],
    imageset: ImageSet,
    targets: np.ndarray,
    use_ray: bool,
    device: str | None,
    callback: Callback | None,
) -> None:
    """The shuffled-words control of every finished fold that lacks it, each fold file updated as it is done."""
    from core import sweeps

    done, _ = _scan_folds(study_id)
    todo = [fold for _, fold in sorted(done.items()) if not all(k in fold for k in SHUFFLED_FIELDS)]
    finished, total = 0, len(todo)

    def relay(fold: dict[str, Any]) -> Callback | None:
        if use_ray or callback is None:
            return None
        return lambda epoch, epochs, metrics: callback(
            finished, total, {"fold": f"{fold['class']} (shuffled words)", "epoch": f"{epoch}/{epochs}", **metrics}
        )

    results = sweeps.run_many(
        _shuffled_record,
        [(config, fold, imageset, targets, device, relay(fold)) for fold in todo],
        use_ray=use_ray,
        cpus_per_job=config["training"]["cpu_threads"],
    )
    for record in results:
        store.atomic_write_json(_fold_path(study_id, record["index"]), record)
        finished += 1
        if callback is not None and callback(finished, total, {"fold": f"{record['class']} (shuffled words)"}):
            sweeps.cancel(results)
            raise Interrupted(
                f"the shuffled-words control stopped after {finished} of {total} folds; run it again to resume."
            )


def _shuffled_record(
    config: dict[str, Any],
    fold: dict[str, Any],
    imageset: ImageSet,
    targets: np.ndarray,
    device: str | None,
    callback: Callback | None,
) -> dict[str, Any]:
    return {**fold, **shuffled_control(config, fold, imageset, targets, device, callback)}


def resume_study(
    study_id: str,
    use_ray: bool = False,
    device: str | None = None,
    callback: Callback | None = None,
    redo: list[str] | None = None,
    shuffled: bool = False,
) -> Study:
    """Finish a study with exactly its recorded settings (so under the same id): the image set is reloaded
    from its recorded source (loader, folder, images per class, subsample seed) and only unfinished folds
    (and the classes in ``redo``) are computed; ``shuffled`` adds the shuffled-words control to every fold
    that lacks it.

    Raises:
        FileNotFoundError: no such study, or its image folder is gone.
        ValueError: the image set cannot be reloaded (made in memory) or no longer matches the study.
        ResourceUnavailable: the image set is not available here (e.g. CIFAR-100 offline).
    """
    from core.imagesets import load_source

    study = load_study(study_id, damaged_ok=True)
    config = {key: value for key, value in study.config.items() if key != "provenance"}
    if store.config_hash(config) != study_id:
        raise ValueError(
            f"the config.json of study {study_id} was edited (its settings no longer give its id); "
            "start a new study instead."
        )
    imageset = load_source(config["imageset"])
    recorded = (config["class_names"], config["image_shape"], config["train_images"], config["test_images"])
    found = (
        list(imageset.class_names),
        list(imageset.shape),
        int(len(imageset.train_labels)),
        int(len(imageset.test_labels)),
    )
    if found != recorded:
        raise ValueError(
            f"the image set {config['imageset']} is not the one study {study_id} ran on "
            f"(recorded: {recorded[2]} training images of {len(recorded[0])} classes, "
            f"found {found[2]} of {len(found[0])}); start a new study on it instead."
        )
    return run_study(imageset, config, use_ray=use_ray, redo=redo, device=device, callback=callback, shuffled=shuffled)


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


def missing_controls(study: Study) -> bool:
    """Whether some finished fold was recorded before folds carried their controls."""
    return any(any(k not in f for k in CONTROL_FIELDS) for f in study.folds.values())


def add_controls(study: Study) -> Study:
    """Compute the controls of every finished fold that lacks them (no retraining) and write them into
    its fold file; returns the study reloaded."""
    targets = study_targets(study.config)
    for fold in study.folds.values():
        if any(k not in fold for k in CONTROL_FIELDS):
            updated = {**fold, **fold_controls(study.config, fold, targets)}
            store.atomic_write_json(_fold_path(study.id, int(fold["index"])), updated)
    return load_study(study.id, damaged_ok=True)


def summary(study: Study) -> dict[str, Any]:
    """Median and extremes of the relative change of held-out loss, and mean accuracies, over finished folds."""
    changes = np.array([f["relative_change"] for f in study.folds.values()])
    if not len(changes):
        return {"folds": 0}
    return {
        "folds": int(len(changes)),
        "median_change": float(np.median(changes)),
        "best_change": float(changes.min()),
        "worst_change": float(changes.max()),
        "improved": int((changes < 0).sum()),
        "test_accuracy_trained": float(np.mean([f["test_accuracy_trained"] for f in study.folds.values()])),
        "top5_held_out": float(np.mean([f["top5"] for f in study.folds.values()])),
        "chance_top5": 5 / len(study.config["class_names"]) if len(study.config["class_names"]) > 5 else 1.0,
        **_controlled(list(study.folds.values())),
        **_against_shuffled(list(study.folds.values())),
    }


def _controlled(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures against the controls, over the folds that carry them."""
    folds = [f for f in folds if all(k in f for k in CONTROL_FIELDS)]
    if not folds:
        return {"controlled_folds": 0}
    after = np.array([f["loss_after"] for f in folds])
    constant = np.array([f["constant_loss"] for f in folds])
    nearest = np.array([f["nearest_word_loss"] for f in folds])
    before = np.array([f["loss_before"] for f in folds])
    return {
        "controlled_folds": len(folds),
        "beats_constant": int((after < constant).sum()),
        "beats_nearest_word": int((after < nearest).sum()),
        "median_gain_over_constant": float(np.median(1 - after / constant)),
        "median_constant_change": float(np.median(constant / before - 1)),
        "median_nearest_word_change": float(np.median(nearest / before - 1)),
    }


def _against_shuffled(folds: list[dict[str, Any]]) -> dict[str, Any]:
    folds = [f for f in folds if all(k in f for k in SHUFFLED_FIELDS)]
    if not folds:
        return {"shuffled_folds": 0}
    after = np.array([f["loss_after"] for f in folds])
    shuffled = np.array([f["shuffled_loss"] for f in folds])
    return {
        "shuffled_folds": len(folds),
        "beats_shuffled": int((after < shuffled).sum()),
        "median_gain_over_shuffled": float(np.median(1 - after / shuffled)),
        "median_shuffled_change": float(np.median(shuffled / np.array([f["loss_before"] for f in folds]) - 1)),
    }


def missing_shuffled(study: Study) -> bool:
    """Whether some finished fold has no shuffled-words control yet (it needs retraining)."""
    return any(not all(k in f for k in SHUFFLED_FIELDS) for f in study.folds.values())


def is_offline_preset(study: Study) -> bool:
    """Whether a study is the laptop study of :data:`OFFLINE_PRESET` (whatever its seed or loss)."""
    c = study.config
    preset = OFFLINE_PRESET
    return (
        c["imageset"].get("imageset") == preset.imageset
        and c["imageset"].get("per_class") == preset.per_class
        and c["model"]["width"] == preset.width
        and c["training"]["epochs"] == preset.epochs
    )


def fold_table(study: Study) -> pd.DataFrame:
    """One row per finished fold, in class order: losses before and after, the change, ranks, nearest words."""
    import pandas as pd

    rows = []
    for index in sorted(study.folds):
        f = study.folds[index]
        rows.append(
            {
                "class": f["class"],
                "loss before": f["loss_before"],
                "loss after": f["loss_after"],
                "change %": 100 * f["relative_change"],
                "after / before": f["loss_after"] / f["loss_before"],
                "median rank of true class": f["rank_median"],
                "top-1": f["top1"],
                "top-5": f["top5"],
                "nearest words": ", ".join(w for w, _ in f["nearest_words"][:5]),
                "nearest trained class": f["nearest_trained_class"],
                "word cosine": f["nearest_trained_cosine"],
                **(
                    {
                        "constant predictor loss": f["constant_loss"],
                        "nearest-word loss": f["nearest_word_loss"],
                        "gain over constant %": 100 * f["gain_over_constant"],
                    }
                    if "constant_loss" in f
                    else {}
                ),
                **(
                    {"shuffled-words loss": f["shuffled_loss"], "gain over shuffled %": 100 * f["gain_over_shuffled"]}
                    if "shuffled_loss" in f
                    else {}
                ),
            }
        )
    return pd.DataFrame(rows)


EXPLANATIONS = {"nearest_trained_cosine": "word similarity to the nearest trained class", "loss_before": "loss before"}
"""What the correlation view can set against the held-out loss change."""


def change_correlation(folds: list[dict[str, Any]], explanation: str) -> tuple[float, float] | None:
    """Spearman's rho (and p) between one explanatory variable of :data:`EXPLANATIONS` and the loss change;
    None with fewer than three folds."""
    from scipy.stats import spearmanr

    if explanation not in EXPLANATIONS:
        raise ValueError(f"explanation must be one of {list(EXPLANATIONS)}, got {explanation!r}.")
    if len(folds) < 3:
        return None
    rho, p = spearmanr([f[explanation] for f in folds], [f["relative_change"] for f in folds])
    return float(rho), float(p)


def similarity_correlation(folds: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Spearman's rho (and its p-value) between word similarity to the nearest trained class and the
    held-out loss change, over the folds; None with fewer than three folds."""
    return change_correlation(folds, "nearest_trained_cosine")
