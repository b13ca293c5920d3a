"""What was measured on an image dataset: every trained model and baseline, and their labels."""

from __future__ import annotations

from typing import Any

from core import store
from core.store import Artifact
from core.text_to_image.training import BASELINES, MODELS


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
    return f"{c['backbone']} @ {c['node']} · {init}{' · fine-tuned' if c['finetune'] else ''}"


def model_label(artifact: Artifact) -> str:
    """A one-line description of a trained model: what it is, its held-out accuracy and its id."""
    acc = artifact.config.get("metrics", {}).get("accuracy")
    return f"{model_name(artifact)} · acc {acc:.3f} · {artifact.id}"


def model_key(artifact: Artifact) -> str:
    """A model's name and id: unique even for two models of one architecture (other seeds or epochs)."""
    return f"{model_name(artifact)} · {artifact.id}"


def results_table(dataset: Artifact) -> list[dict[str, Any]]:
    """One row per trained model and baseline of ``dataset``: what it is and its held-out metrics."""
    rows = []
    for artifact in list_models(dataset):
        c, t = artifact.config["classifier"], artifact.config["training"]
        rows.append(
            {
                "model": f"{c['backbone']} @ {c['node']}",
                "kind": ("sliced CNN (ImageNet)" if c["pretrained"] else "baseline: random-init slice")
                + (", fine-tuned" if c["finetune"] else ""),
                **artifact.config["metrics"],
                "best epoch": artifact.config["best_epoch"],
                "epochs run": f"{len(artifact.config['history'])}/{t['epochs']}",
                "status": artifact.config["status"],
                "train seconds": artifact.config["seconds"],
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
                    "best epoch": None,
                    "epochs run": "",
                    "status": "finished",
                    "train seconds": artifact.config["seconds"],
                    "id": artifact.id,
                }
            )
    return rows


# --------------------------------------------------------------------------- live classification


def baseline_accuracies(dataset: Artifact) -> dict[str, float]:
    """The held-out accuracy of each baseline on raw embeddings of ``dataset``, by name (for reference lines)."""
    found = [a for a in store.list_artifacts(BASELINES) if a.config.get("dataset") == dataset.id]
    return {"logistic regression": float(found[0].config["metrics"]["accuracy"])} if found else {}
