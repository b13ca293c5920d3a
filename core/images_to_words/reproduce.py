"""The leave-one-out reproduction (``python -m core reproduce images-to-words``): the poster's figures, the
paper's setting (CIFAR-100, full SimpNet, 25 epochs: online and GPU-sized, so offline it is listed as not
run, with why), the lab's laptop study run with several study seeds (:data:`SEEDS`, at :data:`LAB`'s size so
all of them fit in 45 minutes on two cores), and beside every figure its controls: the constant predictor, the
nearest trained word and, unless turned off, the shuffled-words model. Each figure is a mean over the seeds with
its interval; each control's claim is the per-class gain averaged over the seeds, tested over the classes
(:func:`core.images_to_words.analysis.seed_summary`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from core import jobs
from core.images_to_words import analysis, loo
from core.images_to_words import jobs as loo_jobs
from core.images_to_words.settings import LAPTOP, PRESETS, StudySettings
from core.reproduce import Row, machine, percent
from core.settings import to_record
from core.store import Callback

POSTER = "Baughman et al. 2021 (SC'21 poster), CIFAR-100"
ORACLE = "an oracle reference: it picks its word by the held-out class's word, which no model is given"
SEEDS = (0, 1, 2)
"""The lab study's seeds in the reproduction (each a whole study: every fold's initialisation and batch order)."""
LAB = replace(LAPTOP, per_class=300, epochs=3)
"""The lab study in the reproduction: the laptop study at 300 images per class and 3 epochs, so three seeds with
the shuffled-words control (each fold trained twice) fit in about 35 minutes on two CPU cores."""


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
                "baseline",
                f"the model against the nearest trained word ({ORACLE})",
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
        rows.append(_shuffled_not_run(command))
    return rows


def _shuffled_not_run(command: str) -> Row:
    return Row(
        "control",
        "shuffled-words control",
        "folds beaten",
        None,
        "not run",
        command + " --shuffled-control",
        note="turned off for this reproduction (it trains every fold twice)",
    )


def _mean_text(record: dict[str, Any]) -> str:
    return f"{percent(record['estimate'])} [{percent(record['low'])}, {percent(record['high'])}]"


def _claim_text(record: dict[str, Any]) -> str:
    d = record["difference"]
    wins, losses = record["discordant"]
    return (
        f"{wins} of {d['n']} classes gain, {losses} lose; median {percent(d['estimate'])} "
        f"[{percent(d['low'])}, {percent(d['high'])}]; {record['verdict']}"
    )


def _claim_note(record: dict[str, Any]) -> str:
    return f"{record['test']}, p = {record['p_value']:.3g}; 95% {record['difference']['method']}; {record['sentence']}"


def _seeded_rows(kind: str, title: str, studies: list[loo.Study], command: str, seconds: float, note: str) -> list[Row]:
    """The rows of one study run with several seeds (:func:`core.images_to_words.analysis.seed_summary`)."""
    here = machine()
    found = analysis.seed_summary(studies)
    seeds = found["seeds"]
    command = f"{command} --seed S (S = {', '.join(map(str, seeds))})" if len(seeds) > 1 else command
    per_seed = found["per_seed"]

    def listed(key: str, signed: bool = True) -> str:
        return "per seed " + ", ".join(f"{p['seed']}: {percent(p[key], signed)}" for p in per_seed if key in p)

    over = f"mean over {len(seeds)} seeds [95% interval: {found['median_change']['method']}]"
    rows = [
        Row(
            kind,
            title,
            f"median held-out loss change (the poster's figure, uncontrolled), {over}",
            found["median_change"]["estimate"],
            _mean_text(found["median_change"]),
            command,
            round(seconds, 1),
            here,
            "; ".join(x for x in (listed("median_change"), note) if x),
            evidence=found["median_change"],
        ),
        Row(
            kind,
            title,
            "best / worst class (mean over seeds)",
            float(np.mean([p["best_change"] for p in per_seed])),
            f"{percent(float(np.mean([p['best_change'] for p in per_seed])))} / "
            f"{percent(float(np.mean([p['worst_change'] for p in per_seed])))}",
            command,
            note="; ".join(
                f"seed {p['seed']}: {percent(p['best_change'])} / {percent(p['worst_change'])}" for p in per_seed
            ),
        ),
        Row(
            kind,
            title,
            f"accuracy on the trained classes (nearest class vector), {over}",
            found["test_accuracy_trained"]["estimate"],
            f"{percent(found['test_accuracy_trained']['estimate'], False)} "
            f"[{percent(found['test_accuracy_trained']['low'], False)}, "
            f"{percent(found['test_accuracy_trained']['high'], False)}]",
            command,
            note=listed("test_accuracy_trained", signed=False),
            evidence=found["test_accuracy_trained"],
        ),
    ]
    if "constant" in found:
        rows += [
            Row(
                "control",
                "constant predictor (the mean of the trained classes' words)",
                f"median held-out loss change, {over}",
                found["median_constant_change"]["estimate"],
                _mean_text(found["median_constant_change"]),
                command,
                note="what the poster's figure shows with no image looked at; " + listed("median_constant_change"),
                evidence=found["median_constant_change"],
            ),
            Row(
                "control",
                "the claim: the model against the constant predictor, paired by class",
                "classes gaining; median gain (1 − loss / the constant's), mean over seeds per class",
                found["constant"]["difference"]["estimate"],
                _claim_text(found["constant"]),
                command,
                note=_claim_note(found["constant"]),
                evidence=found["constant"],
            ),
            Row(
                "baseline",
                f"the model against the nearest trained word ({ORACLE})",
                "folds beaten, per seed",
                float(np.mean([p["beats_nearest_word"] / p["controlled_folds"] for p in per_seed])),
                "; ".join(f"{p['beats_nearest_word']} of {p['controlled_folds']}" for p in per_seed),
                command,
                note=listed("median_nearest_word_change").replace("per seed", "its median change per seed"),
            ),
        ]
    if "shuffled" in found:
        rows.append(
            Row(
                "control",
                "the claim: the model against the same folds trained with shuffled words, paired by class",
                "classes gaining; median gain (1 − loss / the shuffled model's), mean over seeds per class",
                found["shuffled"]["difference"]["estimate"],
                _claim_text(found["shuffled"]),
                command,
                note=f"the shuffled model's own median change {_mean_text(found['median_shuffled_change'])}; "
                + _claim_note(found["shuffled"]),
                evidence=found["shuffled"],
            )
        )
    else:
        rows.append(_shuffled_not_run(command))
    return rows


def run(
    online: bool = False,
    n: int | None = None,
    epochs: int | None = None,
    device: str | None = None,
    progress: jobs.Progress = jobs.no_progress,
    callback: Callback | None = None,
    shuffled: bool = True,
    seeds: tuple[int, ...] | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Run the reproduction; returns its rows and settings (see :func:`core.reproduce.run`). ``n``: training
    images per class of the lab's study; ``shuffled``: add the shuffled-words control (twice the training);
    ``seeds``: the lab study's seeds (default :data:`SEEDS`), one whole study each."""
    chosen_seeds = tuple(int(s) for s in (seeds or SEEDS))
    if len(set(chosen_seeds)) != len(chosen_seeds) or min(chosen_seeds) < 0:
        raise ValueError(f"seeds are whole numbers of at least 0, each once, got {list(chosen_seeds)}.")
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
        LAB,
        per_class=n or LAB.per_class,
        epochs=epochs or LAB.epochs,
        shuffled_control=shuffled,
    )
    settings = {"paper": to_record(paper), "lab": to_record(lab), "seeds": list(chosen_seeds)}
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
        if not laptop:  # the poster's own study: one seed, as the poster ran it
            found = loo_jobs.run_loo(chosen, device=device, callback=callback)
            note = f"{len(found.folds)} folds; {_fold_minutes([found]):.1f} min of fold training recorded in the study"
            rows += _study_rows(kind, title, found, _command(chosen, laptop), time.time() - started, note)
            continue
        done = [loo_jobs.run_loo(replace(chosen, seed=s), device=device, callback=callback) for s in chosen_seeds]
        note = (
            f"{len(done)} studies of {len(done[0].folds)} folds; {_fold_minutes(done):.1f} min of fold training "
            "recorded in the studies"
        )
        rows += _seeded_rows(kind, title, done, _command(chosen, laptop), time.time() - started, note)
    return rows, settings


def _fold_minutes(studies: list[loo.Study]) -> float:
    return sum(f["seconds"] + f.get("shuffled_seconds", 0.0) for s in studies for f in s.folds.values()) / 60
