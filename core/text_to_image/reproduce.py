"""The text-as-image reproduction (``python -m core reproduce text-to-image``): the paper's settings and the
lab's, each with its logistic-regression baseline and majority class on the same split. The lab's preset runs as
a seed sweep (:mod:`core.text_to_image.seeds`): the ImageNet slice and a randomly initialised slice of the same
backbone (what ImageNet pretraining adds), each trained with every seed of :data:`SEEDS`, every row its mean with
an interval, and the claims (ImageNet slice − random init, ImageNet slice − logistic regression) paired on the
same held-out texts and seeds with their verdicts.

Offline, the paper's settings run with packaged stand-ins for its online inputs
(:data:`core.text_to_image.presets.SUBSTITUTIONS`); ``online`` runs them exactly (IMDB 50k, bert-base-uncased,
AlexNet's V1 weights: a GPU's work).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from core import evidence, jobs
from core.reproduce import Row, machine
from core.store import Artifact, Callback
from core.text_to_image import decomposition, presets, results, training
from core.text_to_image import seeds as sweeps

SEEDS = 3
"""How many seeds the lab preset's sweep has in the reproduction by default: the preset model's own seed and the
next ones, so the preset's model is the sweep's first (the paper preset trains one model, as the paper did)."""
ONE_SEED = "one seed: the interval is a bootstrap over the held-out texts"


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
    seeds: tuple[int, ...] | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Run the reproduction; returns its rows and settings (see :func:`core.reproduce.run`). ``seeds``: the lab
    preset's sweep (default: its model's seed and the next, :data:`SEEDS` in all)."""
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
        if kind == "lab preset":
            trained = replace(training.settings_of(model), device=device)
            chosen_seeds = tuple(seeds) if seeds else tuple(trained.seed + k for k in range(SEEDS))
            sweep = sweeps.settings_from_train(dataset.id, chosen_seeds, trained)
            settings["seeds"] = list(chosen_seeds)
            sweep_started = time.time()
            found = sweeps.run_sweep(sweep, callback)
            spent = seconds + time.time() - sweep_started
            rows += _sweep_rows(found, chosen, command, spent, here, notes, dataset.id)
            decomposed_at = time.time()
            decomposed = decomposition.decompose(dataset, model)
            rows += _decomposition_rows(decomposed, time.time() - decomposed_at, here, dataset.id, model.id)
        else:
            rows.append(
                Row(
                    kind,
                    chosen.title,
                    "held-out accuracy [95% interval]",
                    model.config["metrics"]["accuracy"],
                    _with_interval(dataset, model),
                    command,
                    round(seconds, 1),
                    here,
                    "; ".join(x for x in [*notes, ONE_SEED] if x),
                )
            )
            rows.append(
                Row(
                    "baseline",
                    f"logistic regression on the raw embeddings ({chosen.name}'s split)",
                    "held-out accuracy [95% interval]",
                    baseline.config["metrics"]["accuracy"],
                    _with_interval(dataset, baseline),
                    f"python -m core t2i-baseline --dataset {dataset.id}",
                    baseline.config.get("seconds"),
                    here,
                    _reused(baseline, started),
                )
            )
            ref = results.reference(dataset)
            rows.append(_majority_row(ref.majority_class, ref.majority_rate, ref.chance, chosen.name, dataset.id))
    return rows, settings


def _majority_row(majority_class: str, rate: float, chance: float, preset: str, dataset: str) -> Row:
    """The majority class of a preset's held-out split, the reference every accuracy there is read against."""
    return Row(
        "baseline",
        f"majority class ({majority_class}) of {preset}'s held-out split",
        "held-out accuracy",
        rate,
        f"{rate:.3f}",
        f"python -m core t2i-results --dataset {dataset}",
        note=f"chance {chance:.3f}",
    )


def _with_interval(dataset: Artifact, artifact: Artifact) -> str:
    interval = evidence.interval_over_examples(sweeps.correct(dataset, artifact))
    return f"{interval.estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def _interval_text(record: dict[str, Any]) -> str:
    i = record["interval"]
    return f"{record['accuracy']:.3f} [{i['low']:.3f}, {i['high']:.3f}]"


def _sweep_rows(
    found: dict[str, Any],
    chosen: presets.RunPreset,
    command: str,
    seconds: float,
    here: str,
    notes: list[str],
    dataset: str,
) -> list[Row]:
    """The lab preset's rows from its seed sweep's evidence (:func:`core.text_to_image.seeds.seed_evidence`)."""
    swept = found["settings"]
    chosen_seeds = swept["seeds"]
    sweep = f"python -m core t2i-seeds --dataset {dataset} --seeds {' '.join(map(str, chosen_seeds))}"
    if swept["epochs"] != presets.WORKSHOP.train.epochs:
        sweep += f" --epochs {swept['epochs']}"
    variants = found["variants"]
    rows = []
    for variant, kind, what in (
        (sweeps.IMAGENET, "lab preset", f"{chosen.title}, {len(chosen_seeds)} seeds"),
        (sweeps.RANDOM, "control", "the same model with a randomly initialised slice (what ImageNet pretraining adds)"),
        (sweeps.LOGISTIC, "baseline", f"logistic regression on the raw embeddings ({chosen.name}'s split)"),
    ):
        record = variants[variant]
        per_seed = ", ".join(f"{e['accuracy']:.3f}" for e in record["per_seed"])
        note = [
            f"seeds {', '.join(map(str, record['seeds']))}: {per_seed}" if record["seeds"] else record.get("note", ""),
            f"95% interval: {record['interval']['method']}",
            f"{record['n']} held-out texts",
            *(notes if variant == sweeps.IMAGENET else []),
        ]
        rows.append(
            Row(
                kind,
                what,
                "held-out accuracy [95% interval]",
                record["accuracy"],
                _interval_text(record),
                command if variant == sweeps.IMAGENET else sweep,
                round(seconds, 1) if variant == sweeps.IMAGENET else None,
                here,
                "; ".join(x for x in note if x),
                evidence=record,
            )
        )
    ref = found["reference"]
    rows.append(_majority_row(ref["majority_class"], ref["majority_rate"], ref["chance"], chosen.name, dataset))
    for entry in found["comparisons"]:
        d = entry["difference"]
        rows.append(
            Row(
                "lab preset",
                f"the claim: {sweeps.TITLES[entry['a']]} − {sweeps.TITLES[entry['b']]}, paired",
                "difference of held-out accuracy (points)",
                d["estimate"],
                f"{100 * d['estimate']:+.1f} points [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]; "
                + entry["verdict"],
                sweep,
                None,
                here,
                f"{entry['test']}, p = {entry['p_value']:.3g}; 95% {d['method']} ({len(entry['seeds'])} seed(s) x "
                f"{d['n']} texts); smallest detectable difference {100 * entry['detectable']:.1f} points; "
                + entry["sentence"],
                evidence=entry,
            )
        )
    return rows


def _decomposition_rows(found: Artifact, seconds: float, here: str, dataset: str, model: str) -> list[Row]:
    """Where the lab preset's route loses the sentence (:mod:`core.text_to_image.decomposition`): the pixel and
    frozen-slice probes as baselines, what the layout does to the vectors, and each step's cost, paired."""
    config = found.config
    command = f"python -m core t2i-results --dataset {dataset} --decompose --model {model}"
    rows = []
    for name, what in (
        ("pixels", "logistic regression on the image's pixels (what the layout keeps)"),
        ("slice", "linear probe on the frozen ImageNet slice's pooled features (what the slice keeps)"),
    ):
        step = config["steps"][name]
        i = step["interval"]
        rows.append(
            Row(
                "baseline",
                what,
                "held-out accuracy [95% interval]",
                step["accuracy"],
                f"{step['accuracy']:.3f} [{i['low']:.3f}, {i['high']:.3f}]",
                command,
                round(seconds, 1) if name == "pixels" else None,
                here,
                f"L-BFGS, {step['iterations']} iterations; 95% interval: bootstrap over the held-out texts"
                + (
                    f"; the trained CNN is {100 * config['probe_gap']:.1f} points below it: under-trained"
                    if name == "slice" and config["under_trained"]
                    else ""
                ),
                evidence=step,
            )
        )
    layout = config["layout"]
    rows.append(
        Row(
            "lab preset",
            "what the layout does to the vectors",
            "features sharing a pixel; mean absolute error read back from the pixels (a feature's training mean's)",
            layout["shared_share"],
            f"{100 * layout['shared_share']:.0f} % of {layout['features']} features on {layout['pixels']} pixels; "
            f"MAE {layout['reconstruction_mae']:.4f} ({layout['mean_predictor_mae']:.4f})",
            command,
            note="in the layout's 0-1 scaled units, over the held-out texts: each feature read back as its pixel's "
            "grey level, against reading every feature as its training mean",
        )
    )
    for entry in config["comparisons"]:
        if entry["after"] == "random":
            continue  # the seed sweep's claim row says it already
        d = entry["difference"]
        rows.append(
            Row(
                "lab preset",
                f"the cost of {entry['cost_of']}: {decomposition.STEPS[entry['before']]} − "
                f"{decomposition.STEPS[entry['after']]}, paired",
                "difference of held-out accuracy (points)",
                d["estimate"],
                f"{100 * d['estimate']:+.1f} points [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]; "
                + entry["verdict"],
                command,
                None,
                here,
                f"{entry['test']}, p = {entry['p_value']:.3g}; smallest detectable difference "
                f"{100 * entry['detectable']:.1f} points; {entry['sentence']}",
                evidence=entry,
            )
        )
    return rows
