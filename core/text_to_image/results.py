"""What was measured on an image dataset: every trained model and baseline, and their labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core import store
from core.store import Artifact
from core.text_to_image import calibration
from core.text_to_image.datasets import label_names
from core.text_to_image.training import BASELINES, MODELS
from core.train import classification_metrics

DEGENERATE_SHARE = 0.95
"""A model that gives one class to at least this share of the held-out texts is flagged as degenerate."""


@dataclass(frozen=True)
class Reference:
    """What an accuracy on a dataset's held-out split must be read against.

    Attributes:
        majority_class: the most frequent class of the held-out split.
        majority_rate: the accuracy of always answering it.
        chance: the accuracy of guessing uniformly, 1 / number of classes.
        majority_metrics: accuracy, F1, precision and recall of always answering the majority class.
    """

    majority_class: str
    majority_rate: float
    chance: float
    majority_metrics: dict[str, float]


def held_out_labels(dataset: Artifact) -> np.ndarray:
    """The labels of a dataset's held-out rows (read without its images)."""
    labels = np.load(dataset.file("labels.npy"), allow_pickle=False)
    return labels[np.load(dataset.file("is_test.npy"), allow_pickle=False)]


def reference(dataset: Artifact) -> Reference:
    """The majority-class rate and chance of ``dataset``'s held-out split."""
    labels = held_out_labels(dataset)
    names = label_names(dataset)
    counts = np.bincount(labels, minlength=len(names))
    majority = int(counts.argmax())
    metrics = classification_metrics(labels, np.full_like(labels, majority))
    return Reference(names[majority], float(counts[majority] / counts.sum()), 1 / len(names), metrics)


@dataclass(frozen=True)
class PredictionCheck:
    """How a model's held-out predictions spread over the classes."""

    top_class: str
    top_share: float  # the share of held-out texts given the most predicted class
    degenerate: bool  # top_share >= DEGENERATE_SHARE: the model answers (nearly) one class whatever the text

    def message(self) -> str:
        """A warning for a degenerate model ('' otherwise)."""
        if not self.degenerate:
            return ""
        return (
            f"This model predicts '{self.top_class}' for {100 * self.top_share:.0f} % of the held-out texts: it "
            "has not learned to tell the classes apart, and its accuracy is about the majority-class rate. Train "
            "longer, on more texts, or with the encoder's recommended pooling."
        )


def check_predictions(artifact: Artifact) -> PredictionCheck:
    """Whether a trained model (or a baseline) answers nearly one class for every held-out text.

    Degenerate: one class gets at least :data:`DEGENERATE_SHARE` of the held-out predictions while it is
    clearly less common among the held-out labels (a split that is nearly all one class is no evidence).
    """
    from core.text_to_image.datasets import DATASETS

    probabilities = np.load(artifact.file("test_probabilities.npy"), allow_pickle=False)
    predicted = probabilities.argmax(1)
    names = artifact.config.get("label_names") or [str(i) for i in range(probabilities.shape[1])]
    counts = np.bincount(predicted, minlength=len(names))
    top = int(counts.argmax())
    share = float(counts[top] / max(1, counts.sum()))
    dataset = store.load(DATASETS, str(artifact.config.get("dataset", "")))
    true_share = 0.0 if dataset is None else float(np.mean(held_out_labels(dataset) == top))
    return PredictionCheck(names[top], share, share >= DEGENERATE_SHARE and true_share < DEGENERATE_SHARE - 0.05)


def list_models(dataset: Artifact | None = None) -> list[Artifact]:
    """Trained models (of one dataset when given), newest first."""
    return [a for a in store.list_artifacts(MODELS) if dataset is None or a.config.get("dataset") == dataset.id]


def has_results(dataset: Artifact) -> bool:
    """Whether any model or baseline has been measured on ``dataset``."""
    return bool(list_models(dataset)) or any(
        a.config.get("dataset") == dataset.id for a in store.list_artifacts(BASELINES)
    )


def model_name(artifact: Artifact) -> str:
    """What a trained model is, without its figures: backbone, cut, initialisation, fine-tuning."""
    c = artifact.config["classifier"]
    init = "ImageNet" if c["pretrained"] else "random init"
    style = " · the paper's new layers" if c.get("style") == "paper" else ""
    return f"{c['backbone']} @ {c['node']} · {init}{' · fine-tuned' if c['finetune'] else ''}{style}"


def model_label(artifact: Artifact) -> str:
    """A one-line description of a trained model: what it is, its held-out accuracy, a flag when it is
    degenerate (one class for nearly every text), and its id."""
    acc = artifact.config.get("metrics", {}).get("accuracy")
    flag = " · ⚠ one class" if check_predictions(artifact).degenerate else ""
    return f"{model_name(artifact)} · acc {acc:.3f}{flag} · {artifact.id}"


def model_key(artifact: Artifact) -> str:
    """A model's name and id: unique even for two models of one architecture (other seeds or epochs)."""
    return f"{model_name(artifact)} · {artifact.id}"


def accuracy_interval(dataset: Artifact, artifact: Artifact) -> str:
    """A model's (or a baseline's) held-out accuracy interval: a bootstrap over the held-out texts of its stored
    predictions (:func:`core.evidence.interval_over_examples`); "–" when they are not stored or do not match."""
    from core import evidence
    from core.text_to_image.seeds import correct

    try:
        right = correct(dataset, artifact)
    except (OSError, ValueError):  # predictions not stored, or not of this split
        return "–"
    interval = evidence.interval_over_examples(right)
    return f"[{interval.low:.3f}, {interval.high:.3f}]"


def detectable(dataset: Artifact) -> float:
    """The smallest accuracy difference between two single-seed models this held-out split detects (80 % power,
    two-sided 95 %), near the majority-class rate's accuracy (:func:`core.evidence.detectable_difference`)."""
    from core import evidence

    labels = held_out_labels(dataset)
    return evidence.detectable_difference(len(labels), 1, 0.5 + reference(dataset).majority_rate / 2)


def results_table(dataset: Artifact) -> list[dict[str, Any]]:
    """One row per trained model and baseline of ``dataset``: what it is, its held-out metrics (the accuracy with
    its 95% interval over the held-out texts), and how well its confidence is calibrated (the temperature fitted on
    its validation split, the validation and held-out expected calibration error before and after it; see
    :mod:`core.text_to_image.calibration`)."""
    rows = []
    for artifact in list_models(dataset):
        c, t = artifact.config["classifier"], artifact.config["training"]
        rows.append(
            {
                "model": f"{model_name(artifact)} · seed {t['seed']}",  # two models of one architecture differ
                "kind": ("sliced CNN (ImageNet)" if c["pretrained"] else "baseline: random-init slice")
                + (", fine-tuned" if c["finetune"] else "")
                + (", the paper's new layers" if c.get("style") == "paper" else ""),
                **artifact.config["metrics"],
                "accuracy 95% interval": accuracy_interval(dataset, artifact),
                "seed": t["seed"],  # two runs of one architecture differ by it
                "best epoch": artifact.config["best_epoch"],
                "epoch chosen on": t.get("best_epoch_chosen_on", "validation"),
                "epochs run": f"{len(artifact.config['history'])}/{t['epochs']}",
                "status": artifact.config["status"],
                "train seconds": artifact.config["seconds"],
                **calibration.summary(artifact),
                "flag": _flag(artifact),
                "id": artifact.id,
            }
        )
    for artifact in store.list_artifacts(BASELINES):
        if artifact.config.get("dataset") == dataset.id:
            rows.append(
                {
                    "model": f"logistic regression on {artifact.config['features']} embedding features",
                    "kind": "baseline: raw embeddings",
                    **artifact.config["metrics"],
                    "accuracy 95% interval": accuracy_interval(dataset, artifact),
                    "seed": "",  # not a trained network: nothing to show (None read as "None" on the page)
                    "best epoch": "",
                    "epochs run": "",
                    "status": "finished",
                    "train seconds": artifact.config["seconds"],
                    **calibration.summary(artifact),
                    "flag": _flag(artifact),
                    "id": artifact.id,
                }
            )
    if rows:
        ref = reference(dataset)
        rows.append(
            {
                "model": f"always '{ref.majority_class}'",
                "kind": "reference: majority class",
                **ref.majority_metrics,
                "accuracy 95% interval": "",
                "seed": "",
                "best epoch": "",
                "epochs run": "",
                "status": "",
                "train seconds": 0.0,
                **dict.fromkeys(calibration.COLUMNS),
                "confidence": "",
                "flag": f"chance (uniform guess): {ref.chance:.3f}",
                "id": "",
            }
        )
    return rows


def _flag(artifact: Artifact) -> str:
    check = check_predictions(artifact)
    return (
        f"degenerate: predicts '{check.top_class}' for {100 * check.top_share:.0f} % of texts"
        if check.degenerate
        else ""
    )


# --------------------------------------------------------------------------- live classification


def baseline_accuracies(dataset: Artifact) -> dict[str, float]:
    """The held-out accuracy of each baseline on raw embeddings of ``dataset``, by name (for reference lines)."""
    found = [a for a in store.list_artifacts(BASELINES) if a.config.get("dataset") == dataset.id]
    return {"logistic regression": float(found[0].config["metrics"]["accuracy"])} if found else {}


def reference_lines(dataset: Artifact) -> dict[str, float]:
    """Every accuracy a learning curve should be read against: the baselines and the majority class."""
    ref = reference(dataset)
    return {**baseline_accuracies(dataset), f"majority class ('{ref.majority_class}')": ref.majority_rate}
