"""Layout choices that lose less of the sentence: the workshop route with one choice changed at a time, each run as
a seed sweep (ImageNet slice, random-init slice, logistic regression on the raw vectors) and decomposed step by
step on the same held-out texts (:mod:`core.text_to_image.decomposition`).

Variants (:data:`VARIANTS`): the workshop preset as it is (``default``: MiniLM's layers 2, 4 and 6 as the image's
red, green and blue, one t-SNE layout of a layer's 384 features binned on 50 px; the lab's extension, not the
paper's); ``grey-50``, all six layers' 2,304 features in one grey image on the same grid (the workshop's route
before); and, each from ``grey-50``, the ``assignment`` discretization (one feature per pixel where the grid has
room: 2,304 features on 2,500 pixels), 64 and 100 px grids, and the slice fine-tuned.

Figures per variant: the trained CNN's held-out accuracy (mean over seeds, t interval over seeds), logistic
regression's on the raw vectors, the paired difference CNN − logistic regression with its interval and verdict,
each decomposition step's accuracy, the share of features sharing a pixel, the read-back error, and the wall
seconds of the variant (dataset, sweep and decomposition). Every variant runs in one store (``--home``), so a
stopped run resumes and finished variants are reused.

Run from the repository root::

    .venv/bin/python bench/bench_layout_choices.py                       # every variant, seeds 42 43 44
    .venv/bin/python bench/bench_layout_choices.py --variants default grey-50 --seeds 42

It prints a Markdown table, the machine, the threads, package versions and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GREY = {"layers": None, "channels": "grey"}
VARIANTS = {
    "default": ({}, {}, {}),
    "grey-50": ({}, {}, GREY),
    "assignment-50": ({"discretization": "assignment"}, {}, GREY),
    "bin-64": ({"pixels": 64}, {}, GREY),
    "assignment-64": ({"pixels": 64, "discretization": "assignment"}, {}, GREY),
    "bin-100": ({"pixels": 100}, {}, GREY),
    "finetune": ({}, {"finetune": True}, GREY),
}
"""name -> (layout settings, training settings and preset settings changed from the workshop's)."""


def run_variant(name: str, seeds: tuple[int, ...], n: int | None, epochs: int | None) -> dict:
    """One variant: its dataset, its seed sweep and its decomposition; the figures of the table's row."""
    from core import evidence
    from core.text_to_image import decomposition, presets, training
    from core.text_to_image import seeds as sweeps

    layout, train, dataset = VARIANTS[name]
    base = presets.WORKSHOP
    chosen = replace(
        base,
        **dataset,
        n=n or base.n,
        layout={**base.layout, **layout},
        train=replace(base.train, **train, **({"epochs": epochs} if epochs else {}), seed=seeds[0]),
    )
    started = time.perf_counter()
    outcome = presets.run(chosen)
    sweep = sweeps.settings_from_train(outcome.dataset.id, seeds, training.settings_of(outcome.model))
    found = sweeps.run_sweep(sweep)
    decomposed = decomposition.decompose(outcome.dataset, outcome.model).config
    seconds = time.perf_counter() - started
    cnn, logistic = found["variants"]["imagenet"], found["variants"]["logistic"]
    against = next(c for c in found["comparisons"] if c["b"] == "logistic")
    return {
        "variant": name,
        "dataset": outcome.dataset.id,
        "cnn": cnn,
        "random": found["variants"]["random"],
        "logistic": logistic,
        "against_logistic": against,
        "steps": {k: decomposed["steps"][k]["accuracy"] for k in decomposed["order"]},
        "layout": decomposed["layout"],
        "seconds": seconds,
        "detectable": evidence.detectable_difference(found["n"], len(seeds), cnn["accuracy"]),
    }


def _interval(record: dict) -> str:
    i = record["interval"]
    return f"{record['accuracy']:.3f} [{i['low']:.3f}, {i['high']:.3f}]"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| variant | CNN (ImageNet slice) | CNN (random init) | logistic regression, raw vectors | CNN − LR, paired "
        "| pixels probe | slice probe | features sharing a pixel | read-back MAE (mean's) | wall |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        d = row["against_logistic"]["difference"]
        lines.append(
            f"| {row['variant']} | {_interval(row['cnn'])} | {_interval(row['random'])} | "
            f"{row['logistic']['accuracy']:.3f} | {100 * d['estimate']:+.1f} [{100 * d['low']:+.1f}, "
            f"{100 * d['high']:+.1f}]; {row['against_logistic']['verdict']} | {row['steps']['pixels']:.3f} | "
            f"{row['steps']['slice']:.3f} | {100 * row['layout']['shared_share']:.0f} % | "
            f"{row['layout']['reconstruction_mae']:.4f} ({row['layout']['mean_predictor_mae']:.4f}) | "
            f"{row['seconds'] / 60:.1f} min |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--n", type=int, default=None, help="texts (default: the workshop's 3,000)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the workshop's 15)")
    parser.add_argument("--home", default=None, help="the store (default: $CROSSMODAL_HOME, else the lab's)")
    args = parser.parse_args(argv)
    if args.home:
        os.environ["CROSSMODAL_HOME"] = args.home
    import torch

    rows = []
    for name in args.variants:
        rows.append(run_variant(name, tuple(args.seeds), args.n, args.epochs))
        print(f"{name}: {rows[-1]['seconds'] / 60:.1f} min", file=sys.stderr)
    print(markdown(rows))
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "torchvision", "scikit-learn", "openTSNE"))
    print(
        f"\n{platform.node()}: {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}; {versions}\n"
        f"command: {shlex.join([sys.executable, *sys.argv])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
