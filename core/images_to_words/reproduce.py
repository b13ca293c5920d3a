"""The leave-one-out reproduction (``python -m core reproduce images-to-words``): the poster's figures, the
paper's setting (CIFAR-100, full SimpNet, 25 epochs: online and GPU-sized, so offline it is listed as not
run, with why), the lab's laptop study, and beside every figure its controls: the constant predictor, the
nearest trained word and, unless turned off, the shuffled-words model.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from core import jobs
from core.images_to_words import analysis, loo
from core.images_to_words import jobs as loo_jobs
from core.images_to_words.settings import LAPTOP, PRESETS, StudySettings
from core.reproduce import Row, machine, percent
from core.settings import to_record
from core.store import Callback

POSTER = "Baughman et al. 2021 (SC'21 poster), CIFAR-100"


def _command(settings: StudySettings, laptop: bool) -> str:
    parts = ["python -m core loo-run"]
    if laptop:
        parts.append("--laptop")
        for name, flag in (("per_class", "--per-class"), ("epochs", "--epochs"), ("width", "--width")):
            if getattr(settings, name) != getattr(LAPTOP, name):
                parts.append(f"{flag} {getattr(settings, name)}")
    else:
        parts += [f"--imageset {settings.imageset}", f"--epochs {settings.epochs}", f"--width {settings.width}"]
    if settings.shuffled_control:
        parts.append("--shuffled-control")
    return " ".join(parts)


def _study_rows(kind: str, title: str, found: loo.Study, command: str, seconds: float, note: str) -> list[Row]:
    here = machine()
    s = analysis.summary(found)
    n = s["folds"]
    rows = [
        Row(
            kind,
            title,
            "median held-out loss change (the poster's figure, uncontrolled)",
            s["median_change"],
            percent(s["median_change"]),
            command,
            round(seconds, 1),
            here,
            note,
        ),
        Row(
            kind,
            title,
            "best / worst class",
            s["best_change"],
            f"{percent(s['best_change'])} / {percent(s['worst_change'])}",
            command,
        ),
        Row(
            kind,
            title,
            "accuracy on the trained classes (nearest class vector)",
            s["test_accuracy_trained"],
            percent(s["test_accuracy_trained"], signed=False),
            command,
        ),
    ]
    if s.get("controlled_folds"):
        rows += [
            Row(
                "control",
                "constant predictor (the mean of the trained classes' words)",
                "median held-out loss change",
                s["median_constant_change"],
                percent(s["median_constant_change"]),
                command,
                note="what the poster's figure shows with no image looked at",
            ),
            Row(
                "control",
                "the model against the constant predictor",
                "folds beaten; median gain",
                s["beats_constant"] / s["controlled_folds"],
                f"{s['beats_constant']} of {s['controlled_folds']}; {percent(s['median_gain_over_constant'])}",
                command,
            ),
            Row(
                "control",
                "the model against the nearest trained word",
                "folds beaten",
                s["beats_nearest_word"] / s["controlled_folds"],
                f"{s['beats_nearest_word']} of {s['controlled_folds']}",
                command,
                note=f"its median change {percent(s['median_nearest_word_change'])}",
            ),
        ]
    if s.get("shuffled_folds"):
        rows += [
            Row(
                "control",
                "the model against the same folds trained with shuffled words",
                "folds beaten; median gain",
                s["beats_shuffled"] / s["shuffled_folds"],
                f"{s['beats_shuffled']} of {s['shuffled_folds']}; {percent(s['median_gain_over_shuffled'])}",
                command,
                note=f"the shuffled model's own median change {percent(s['median_shuffled_change'])}",
            )
        ]
    elif n:
        rows.append(
            Row(
                "control",
                "shuffled-words control",
                "folds beaten",
                None,
                "not run",
                command + " --shuffled-control",
                note="turned off for this reproduction (it trains every fold twice)",
            )
        )
    return rows


def run(
    online: bool = False,
    n: int | None = None,
    epochs: int | None = None,
    device: str | None = None,
    progress: jobs.Progress = jobs.no_progress,
    callback: Callback | None = None,
    shuffled: bool = True,
) -> tuple[list[Row], dict[str, Any]]:
    """Run the reproduction; returns its rows and settings (see :func:`core.reproduce.run`). ``n``: training
    images per class of the lab's study; ``shuffled``: add the shuffled-words control (twice the training)."""
    rows = [
        Row("paper", POSTER, "median held-out loss change", -0.31, percent(-0.31)),
        Row("paper", POSTER, "best / worst class", -0.655, f"{percent(-0.655)} / {percent(0.679)}"),
        Row(
            "paper",
            POSTER,
            "accuracy on the trained classes",
            0.80,
            "80 %",
            note="how it was computed from a 50-d output is not stated",
        ),
    ]
    paper = replace(PRESETS["paper"], shuffled_control=shuffled)
    lab = replace(
        LAPTOP,
        per_class=n or LAPTOP.per_class,
        epochs=epochs or LAPTOP.epochs,
        shuffled_control=shuffled,
    )
    settings = {"paper": to_record(paper), "lab": to_record(lab)}
    studies = [("lab preset", "the lab's laptop study (Fashion-MNIST, quarter-width SimpNet)", lab, True)]
    if online:
        studies.insert(0, ("paper preset", "the poster's setting (CIFAR-100, full SimpNet, 25 epochs)", paper, False))
    else:
        rows.append(
            Row(
                "paper preset",
                "the poster's setting (CIFAR-100, full SimpNet, 25 epochs)",
                "median held-out loss change",
                None,
                "not run offline",
                _command(paper, laptop=False),
                note="CIFAR-100 is a download, and 100 folds x 25 epochs of the full SimpNet take about 2,340 h on two "
                "CPU cores (docs/benchmarks.md): run with --online on a GPU",
            )
        )
    for kind, title, chosen, laptop in studies:
        started = time.time()
        found = loo_jobs.run_loo(chosen, device=device, callback=callback)
        seconds = time.time() - started
        fold_seconds = sum(f["seconds"] + f.get("shuffled_seconds", 0.0) for f in found.folds.values())
        note = f"{len(found.folds)} folds; {fold_seconds / 60:.1f} min of fold training recorded in the study"
        rows += _study_rows(kind, title, found, _command(chosen, laptop), seconds, note)
    return rows, settings
