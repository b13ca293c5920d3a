"""Training sliced-backbone classifiers on an image dataset, and the logistic-regression baseline.

A trained classifier is a ``models`` artifact: ``model.safetensors`` (the best epoch's weights),
``test_probabilities.npy`` and ``test_logits.npy`` (the held-out split), ``validation_logits.npy`` and
``validation_labels.npy`` (the validation share of the training split), and a ``config.json`` holding the
dataset id, the architecture, the training settings, the per-epoch history, the best epoch's held-out
metrics, its confusion matrix, its calibration (a temperature fitted on the validation split, see
:mod:`core.calibration`) and provenance. Training runs through the lab's one :class:`core.train.Trainer` and saves its
progress after every epoch, so an interrupted run resumes where it stopped; a run stopped on
request is published with the best epoch so far (status "stopped") and resumes too when asked
again.

The baselines, on the same split: logistic regression on the raw embedding vectors the images were
made from (``baselines`` artifacts), and the same architecture with a randomly initialised slice
(a ``models`` artifact with ``pretrained: false``).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import jobs, store
from core.calibration import calibrate
from core.settings import from_record, to_record
from core.store import Artifact, Callback
from core.text_to_image.classifiers import (
    NORMALISATIONS,
    STYLES,
    NewLayers,
    SlicedClassifier,
    build_classifier,
    classifier_config,
    preprocess_for,
)
from core.text_to_image.datasets import Split, label_names, load_dataset, load_split
from core.text_to_image.imaging import EMBEDDINGS, load_embeddings
from core.train import (
    classification_metrics,
    epochs_done,
    forward_batches,
    predict,  # noqa: F401  (training.predict: the probabilities a trained model gives)
    train_classifier,
    write_weights,
)

MODELS = "models"
PENDING = "training"
"""The pending-registry kind of training runs that started and did not finish (see :func:`core.jobs.record_pending`)."""
BASELINES = "baselines"


@dataclass(frozen=True)
class TrainSettings:
    """How a classifier is trained: the paper's settings (Adam, batch 32, 15 epochs, cross-entropy)
    by default, and the share of the training split set aside to choose the best epoch (ours: the
    paper chose none). Pages and the CLI read their defaults from here.

    Attributes:
        backbone: the ImageNet backbone to slice (e.g. ``efficientnet_lite0``, ``alexnet``).
        node: the feature-extraction node to cut after (None: the paper's cut, or ours).
        pretrained: ImageNet weights in the slice; False is the random-init baseline.
        finetune: train the slice too (the paper: frozen).
        epochs: passes over the training split.
        batch_size: images per step.
        seed: the seed of the new layers, the batch order and the validation split.
        validation: the share of the training split that chooses the best epoch; 0 sets none aside and keeps
            the last epoch (the paper's code).
        device: ``cuda`` or ``cpu`` (None: CUDA when present).
        normalise: ``split`` (ours): images are z-normalised with the training split's mean and std, so a
            frozen slice's outputs are computed once and reused every epoch (and a prediction does not depend
            on its batch); ``batch``: with each batch's own (the paper's code).
        style: the new layers' style, ``lab`` or ``paper`` (the original code's block order, dropout,
            initialisation, slice BatchNorm in training mode and V1 weights; see
            :mod:`core.text_to_image.classifiers`).
    """

    backbone: str = "efficientnet_lite0"
    node: str | None = None
    pretrained: bool = True
    finetune: bool = False
    epochs: int = 15
    batch_size: int = 32
    seed: int = 42
    validation: float = 0.1
    device: str | None = None
    normalise: str = "split"
    style: str = "lab"

    def check(self) -> None:
        """Raise ValueError naming the first bad setting, before the dataset is read or a model is built
        (the backbone and its cut are checked when the classifier is described)."""
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(
                f"epochs must be at least 1 and batch size at least 2, got {self.epochs} and {self.batch_size}."
            )
        if not 0 <= self.validation < 0.5:
            raise ValueError(
                "the validation share of the training split must be 0 (none: keep the last epoch) or between 0 and "
                f"0.5, got {self.validation}."
            )
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {self.normalise!r}.")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}.")


DEFAULTS = TrainSettings()
PAPER = TrainSettings(validation=0.0, normalise="batch", style="paper")
"""The paper's training as its code ran it: every batch z-normalised with its own mean and std, the original
new layers, and no epoch chosen (the last one kept)."""


def model_config(dataset: Artifact, settings: TrainSettings) -> dict[str, Any]:
    """What defines a trained model (and so its id): the dataset, the architecture, the training."""
    settings.check()
    backbone, node, pretrained, finetune = settings.backbone, settings.node, settings.pretrained, settings.finetune
    epochs, batch_size, seed, validation = settings.epochs, settings.batch_size, settings.seed, settings.validation
    shape = np.load(dataset.file("images.npy"), mmap_mode="r").shape[1:]
    stats = split_statistics(dataset) if settings.normalise == "split" else None
    return {
        "dataset": dataset.id,
        "classifier": classifier_config(
            backbone,
            node,
            pretrained,
            finetune,
            len(label_names(dataset)),
            shape,
            normalise_stats=stats,
            style=settings.style,
        ),
        "training": {
            "optimizer": "adam",
            "loss": "cross-entropy",
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "seed": int(seed),
            "validation": float(validation),
            "best_epoch_chosen_on": "validation" if validation else "none (the last epoch is kept)",
        },
    }


def split_statistics(dataset: Artifact) -> tuple[float, float]:
    """The mean and standard deviation of the training split's pixels (what ``normalise="split"`` uses)."""
    images = np.load(dataset.file("images.npy"), mmap_mode="r")
    train = np.flatnonzero(~np.load(dataset.file("is_test.npy")))
    total, squares, count = 0.0, 0.0, 0
    for start in range(0, len(train), 1024):
        chunk = np.asarray(images[train[start : start + 1024]], dtype=np.float64)
        total, squares, count = total + chunk.sum(), squares + np.square(chunk).sum(), count + chunk.size
    mean = total / count
    return round(float(mean), 8), round(float(np.sqrt(max(squares / count - mean * mean, 0.0))), 8)


def validation_split(labels: torch.Tensor, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the training split to fit on and rows set aside to choose the best epoch (stratified, seeded)."""
    from sklearn.model_selection import train_test_split

    labels = labels.cpu().numpy()
    size = max(len(np.unique(labels)), int(round(share * len(labels))))
    if size >= len(labels):
        raise ValueError(f"the training split ({len(labels)} images) is too small to set {size} aside for validation.")
    fit, held = train_test_split(np.arange(len(labels)), test_size=size, stratify=labels, random_state=seed)
    return np.sort(fit), np.sort(held)


def train_model(dataset: Artifact, settings: TrainSettings = DEFAULTS, callback: Callback | None = None) -> Artifact:
    """Train a classifier on ``dataset`` (resuming an interrupted run of the same config) and save it.

    A seeded, stratified ``validation`` share of the training split is set aside to choose the best
    epoch; the held-out (test) split is measured after every epoch but chooses nothing, so the
    reported figures (those of the best epoch) are not optimistic.

    Returns the ``models`` artifact; a finished model of the same config is returned as it is.
    ``callback(epoch, epochs, metrics)`` after each epoch may return True to stop: the best epoch so
    far is saved with status "stopped", and calling again with the same settings resumes.
    """
    config = model_config(dataset, settings)
    return jobs.build_or_load(
        MODELS, config, lambda artifact_id: _train(dataset, config, artifact_id, settings, callback), accept=_finished
    )


def _finished(artifact: Artifact) -> bool:
    return artifact.config.get("status") == "finished"


def _train(
    dataset: Artifact, config: dict[str, Any], artifact_id: str, settings: TrainSettings, callback: Callback | None
) -> tuple[dict[str, Any], jobs.Writer]:
    from core.device import default_device

    epochs, batch_size, seed, validation = settings.epochs, settings.batch_size, settings.seed, settings.validation
    device = torch.device(settings.device or default_device())
    split = load_split(dataset)
    torch.manual_seed(seed)  # the new layers start from the seed: the same settings give the same model
    model = build_classifier(config["classifier"]).to(device)
    resident = device.type == "cuda" and _fits_on_gpu(split, device)
    if resident:  # images stay on the GPU for the whole run; otherwise each batch is copied over
        split = Split(
            *(t.to(device) for t in (split.train_images, split.train_labels, split.test_images, split.test_labels))
        )
    preprocess = preprocess_for(config["classifier"])
    started = time.perf_counter()
    if validation:
        fit, held = (
            torch.as_tensor(rows, device=split.train_labels.device)
            for rows in validation_split(split.train_labels, validation, seed)
        )
    else:  # none set aside: every training row is fitted on and the last epoch is kept
        fit, held = torch.arange(len(split.train_labels), device=split.train_labels.device), None
    cached = _can_cache(model, split, device)
    if cached:  # the frozen slice runs once per image; every epoch trains the new layers on its outputs
        inputs = {name: _slice_outputs(model, images, preprocess, device) for name, images in _parts(split).items()}
        learner = NewLayers(model).to(memory_format=torch.channels_last)  # the maps are channels_last too
        preprocess, partial_name = (lambda batch: batch), f"{artifact_id}-cached"
    else:
        inputs, learner, partial_name = _parts(split), model, artifact_id
    partial = store.shard_dir(MODELS, partial_name)
    jobs.record_pending(  # what a resume after a crash or a reload needs
        PENDING, {"dataset": dataset.id, "model": artifact_id, "partial": partial_name, "settings": to_record(settings)}
    )
    result = train_classifier(
        learner,
        (inputs["train"][fit], split.train_labels[fit]),
        (inputs["test"], split.test_labels),
        preprocess,
        epochs,
        batch_size,
        seed,
        callback=callback,
        progress=partial,
        validation=None if held is None else (inputs["train"][held], split.train_labels[held]),
        keep_last=held is None,
    )
    test_logits = forward_batches(learner, inputs["test"], preprocess).numpy()
    probabilities = torch.softmax(torch.as_tensor(test_logits), dim=1).numpy()
    test_labels = split.test_labels.cpu().numpy()
    done = len(result.history) >= epochs
    more = _report(probabilities, test_labels, label_names(dataset))
    if held is not None:  # a temperature fitted on the split that chose the epoch; the test split chooses nothing
        validation_logits = forward_batches(learner, inputs["train"][held], preprocess).numpy()
        validation_labels = split.train_labels[held].cpu().numpy()
        more["calibration"] = calibrate(validation_logits, validation_labels, test_logits, test_labels).to_record()
    else:
        more["calibration"] = None
    more.update(
        {
            "architecture": model.config,
            "status": "finished" if done else "stopped",
            "history": result.history,
            "best_epoch": result.best_epoch,
            "device": str(device),
            "data_on_gpu": resident,
            "slice_outputs_cached": cached,
            "seconds": round(sum(r["seconds"] for r in result.history), 2),
            "provenance": store.provenance(session_seconds=round(time.perf_counter() - started, 2)),
        }
    )

    def write(folder: Path) -> None:
        write_weights(folder, model)
        np.save(folder / "test_probabilities.npy", probabilities.astype(np.float32), allow_pickle=False)
        np.save(folder / "test_logits.npy", test_logits.astype(np.float32), allow_pickle=False)
        if held is not None:
            np.save(folder / "validation_logits.npy", validation_logits.astype(np.float32), allow_pickle=False)
            np.save(folder / "validation_labels.npy", validation_labels.astype(np.int64), allow_pickle=False)
        if done:
            shutil.rmtree(partial, ignore_errors=True)
            for key, record in jobs.list_pending(PENDING):
                if record.get("model") == artifact_id:
                    jobs.clear_pending(PENDING, key)

    return more, write


def _parts(split: Split) -> dict[str, torch.Tensor]:
    return {"train": split.train_images, "test": split.test_images}


def _can_cache(model: SlicedClassifier, split: Split, device: torch.device, budget: float = 3e9) -> bool:
    """Whether the frozen slice's outputs can be computed once: a frozen slice, fixed normalisation, and all
    the feature maps in less than ``budget`` bytes (half the free memory on a GPU)."""
    if model.finetune or not model.config.get("normalise_stats") or model.style != "lab":
        return False  # a paper-style slice uses batch statistics while training: its outputs change
    size = (len(split.train_images) + len(split.test_images)) * int(np.prod(model.config["feature_map"])) * 4
    if device.type == "cuda":
        budget = min(budget, 0.5 * torch.cuda.mem_get_info(device)[0])
    return size < budget


def _slice_outputs(
    model: SlicedClassifier, images: torch.Tensor, preprocess, device: torch.device, batch_size: int = 32
) -> torch.Tensor:
    """The frozen slice's feature maps of ``images`` (float32, on ``device``), computed once."""
    from core.train import autocast, batches, to_device

    body = model.body.eval().to(memory_format=torch.channels_last)  # on the CPU too: about 1.5x faster here
    outputs = []
    with torch.no_grad(), autocast(device):
        for rows in batches(len(images), batch_size, None):
            batch = to_device(preprocess(images[rows.to(images.device)]), device)
            outputs.append(body(batch.contiguous(memory_format=torch.channels_last)).float())
    return torch.cat(outputs)


def _fits_on_gpu(split: Split, device: torch.device, share: float = 0.5) -> bool:
    """Whether the dataset takes less than ``share`` of the GPU's free memory (the rest is for the model)."""
    free, _ = torch.cuda.mem_get_info(device)
    size = sum(
        t.numel() * t.element_size()
        for t in (split.train_images, split.train_labels, split.test_images, split.test_labels)
    )
    return size < share * free


def _report(probabilities: np.ndarray, labels: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Held-out metrics and confusion matrix of some predicted class probabilities."""
    from sklearn.metrics import confusion_matrix

    predicted = probabilities.argmax(1)
    return {
        "metrics": classification_metrics(labels, predicted),
        "confusion": confusion_matrix(labels, predicted, labels=list(range(len(names)))).tolist(),
        "label_names": names,
    }


def baseline_config(dataset: Artifact, C: float = 1.0, seed: int = DEFAULTS.seed) -> dict[str, Any]:
    """What defines a logistic-regression baseline (and so its id)."""
    return {
        "dataset": dataset.id,
        "method": "logistic_regression",
        "C": float(C),
        "seed": int(seed),
        "scaling": "standard",
    }


def logistic_pipeline(C: float = 1.0, seed: int = DEFAULTS.seed) -> Any:
    """The baseline's estimator, unfitted: standardised features, then scikit-learn's LogisticRegression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))


def logistic_baseline(dataset: Artifact, C: float = 1.0, seed: int = DEFAULTS.seed) -> Artifact:
    """Logistic regression on the raw embedding vectors of the dataset's texts, on the same split."""
    config = baseline_config(dataset, C, seed)

    def build(artifact_id: str) -> tuple[dict[str, Any], jobs.Writer]:
        embeddings = store.load(EMBEDDINGS, dataset.config["embeddings"])
        if embeddings is None:
            raise FileNotFoundError(
                f"the embeddings {dataset.config['embeddings']} of dataset {dataset.id} are gone; "
                "build the dataset again."
            )
        features = load_embeddings(embeddings)
        arrays = load_dataset(dataset)
        is_test, labels = arrays["is_test"], arrays["labels"]
        started = time.perf_counter()
        model = logistic_pipeline(C, seed)
        model.fit(features[~is_test], labels[~is_test])
        probabilities = model.predict_proba(features[is_test])
        more = _report(probabilities, labels[is_test], label_names(dataset))
        more.update(
            {
                "features": int(features.shape[1]),
                "seconds": round(time.perf_counter() - started, 2),
                "provenance": store.provenance(),
            }
        )
        return more, lambda folder: np.save(
            folder / "test_probabilities.npy", probabilities.astype(np.float32), allow_pickle=False
        )

    return jobs.build_or_load(BASELINES, config, build)


def settings_of(model: Artifact) -> TrainSettings:
    """The settings a trained (or stopped) model was trained with, to train it again or resume it."""
    c, t = model.config["classifier"], model.config["training"]
    return TrainSettings(
        backbone=c["backbone"],
        node=c["node"],
        pretrained=c["pretrained"],
        finetune=c["finetune"],
        epochs=t["epochs"],
        batch_size=t["batch_size"],
        seed=t["seed"],
        validation=t["validation"],
        device=None,
        normalise="split" if c.get("normalise_stats") else "batch",
        style=c.get("style", "lab"),
    )


@dataclass(frozen=True)
class StoppedRun:
    """A training run that did not finish: its dataset, its settings, and the epochs it has done."""

    dataset: str
    settings: TrainSettings
    epochs_done: int
    model: str | None  # the published model (status "stopped"), or None after a crash or a reload


def stopped_runs(dataset: Artifact) -> list[StoppedRun]:
    """The runs on ``dataset`` that can be resumed: models stopped on request, and runs interrupted before
    anything was published (noted in the pending registry, their progress file is there, their model is not)."""
    found = {}
    for model in store.list_artifacts(MODELS):
        if model.config.get("dataset") == dataset.id and model.config.get("status") == "stopped":
            found[model.id] = StoppedRun(dataset.id, settings_of(model), len(model.config["history"]), model.id)
    partials = dict(store.shard_dirs(MODELS))
    for _, record in jobs.list_pending(PENDING):
        try:
            artifact_id, folder = record["model"], partials.get(record["partial"])
            if record["dataset"] != dataset.id or artifact_id in found or store.load(MODELS, artifact_id) is not None:
                continue
            done = epochs_done(folder) if folder is not None else 0
            if done:
                found[artifact_id] = StoppedRun(dataset.id, from_record(TrainSettings, record["settings"]), done, None)
        except (ValueError, KeyError, TypeError, OSError):
            continue  # an unreadable leftover is not offered
    return list(found.values())
