"""The text-as-image reproduction (``python -m core reproduce text-to-image``): the paper's settings and the
lab's, each with its logistic-regression baseline and majority class on the same split, and the lab's model
with a randomly initialised slice (what ImageNet pretraining adds).

Offline, the paper's settings run with packaged stand-ins for its online inputs
(:data:`core.text_to_image.presets.SUBSTITUTIONS`); ``online`` runs them exactly (IMDB 50k, bert-base-uncased,
AlexNet's V1 weights: a GPU's work).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from core import jobs
from core.reproduce import Row, machine
from core.store import Artifact, Callback
from core.text_to_image import presets, results, training


def _reused(artifact: Artifact, started: float) -> str:
    """A note when an artifact was made before this reproduction started (its work was reused, not redone)."""
    created = artifact.config.get("provenance", {}).get("created", "")
    try:
        made = time.mktime(time.strptime(created, "%Y-%m-%dT%H:%M:%S%z"))
    except ValueError:
        return ""
    return f"reused: made {created}" if made < started - 1 else ""


def _options(n: int | None, epochs: int | None) -> str:
    return (f" --n {n}" if n else "") + (f" --epochs {epochs}" if epochs else "")


def run(
    online: bool = False,
    n: int | None = None,
    epochs: int | None = None,
    device: str | None = None,
    progress: jobs.Progress = jobs.no_progress,
    callback: Callback | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Run the reproduction; returns its rows and settings (see :func:`core.reproduce.run`)."""
    here = machine()
    rows = [
        Row(
            "paper",
            "Benarab 2021: IMDB 50k, bert-base layers 6..11, five sliced ImageNet CNNs",
            "held-out accuracy",
            None,
            "not found",
            note="the paper's per-model accuracies were not found in any readable copy",
        )
    ]
    chosen_paper = presets.PAPER if online else presets.PAPER_OFFLINE
    settings: dict[str, Any] = {}
    outcomes = {}
    for kind, chosen in (("paper preset", chosen_paper), ("lab preset", presets.WORKSHOP)):
        chosen = replace(
            chosen,
            n=n or chosen.n,
            train=replace(chosen.train, epochs=epochs or chosen.train.epochs, device=device),
        )
        settings[chosen.name] = presets.describe(chosen)
        started = time.time()
        outcome = presets.run(chosen, progress, callback)
        seconds = time.time() - started
        outcomes[kind] = outcome
        model, dataset, baseline = outcome.model, outcome.dataset, outcome.baseline
        command = f"python -m core t2i-preset {chosen.name}{_options(n, epochs)}"
        check = results.check_predictions(model)
        notes = [
            f"best epoch {model.config['best_epoch']} of {len(model.config['history'])}"
            + (" (the last: none chosen)" if not chosen.train.validation else " (chosen on validation)"),
            _reused(model, started),
            check.message() if check.degenerate else "",
        ]
        if kind == "paper preset" and not online:
            flat = presets.flatten(chosen)
            notes.append(
                "offline stand-ins: "
                + ", ".join(f"{k} {presets.show_value(flat[k], k)}" for k in presets.SUBSTITUTIONS)
                + " (docs/presets.md)"
            )
        accuracy = model.config["metrics"]["accuracy"]
        rows.append(
            Row(
                kind,
                chosen.title,
                "held-out accuracy",
                accuracy,
                f"{accuracy:.3f}",
                command,
                round(seconds, 1),
                here,
                "; ".join(x for x in notes if x),
            )
        )
        lr = baseline.config["metrics"]["accuracy"]
        rows.append(
            Row(
                "baseline",
                f"logistic regression on the raw embeddings ({chosen.name}'s split)",
                "held-out accuracy",
                lr,
                f"{lr:.3f}",
                f"python -m core t2i-baseline --dataset {dataset.id}",
                baseline.config.get("seconds"),
                here,
                _reused(baseline, started),
            )
        )
        ref = results.reference(dataset)
        rows.append(
            Row(
                "baseline",
                f"majority class ({ref.majority_class}) of {chosen.name}'s held-out split",
                "held-out accuracy",
                ref.majority_rate,
                f"{ref.majority_rate:.3f}",
                f"python -m core t2i-results --dataset {dataset.id}",
                note=f"chance {ref.chance:.3f}",
            )
        )
    lab = outcomes["lab preset"]
    random_init = replace(training.settings_of(lab.model), pretrained=False, device=device)
    started = time.time()
    control = training.train_model(lab.dataset, random_init, callback)
    accuracy = control.config["metrics"]["accuracy"]
    rows.append(
        Row(
            "control",
            "the lab's model with a randomly initialised slice (what ImageNet pretraining adds)",
            "held-out accuracy",
            accuracy,
            f"{accuracy:.3f}",
            f"python -m core t2i-train --dataset {lab.dataset.id} --backbone {random_init.backbone} --random-init"
            + (f" --epochs {random_init.epochs}" if epochs else ""),
            round(time.time() - started, 1),
            here,
            _reused(control, started),
        )
    )
    return rows, settings
