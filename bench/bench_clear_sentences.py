"""Clear review sentences: how often a trained text-as-image model is right on plainly worded reviews, against
logistic regression on the same raw sentence vectors (the dataset's own baseline, refitted the same way).

The sentences (``assets/sentences/clear_reviews.csv``: 20 fresh, 20 rotten) were written for the lab, plainly
positive or negative, none taken from the training corpus. Each model of the dataset reads them exactly as Classify
does (the dataset's encoder, layers, pooling and layout); logistic regression reads the same pooled vectors,
fitted on the dataset's training rows as ``t2i-baseline`` fits it (standardised features, C = 1, seed 42). For
each model: how many of the 40 it gets right, with a Wilson interval, and the paired difference against logistic
regression on the same sentences (exact McNemar test, :func:`core.evidence.compare_paired`).

Run from the repository root (the store of ``--home``, or $CROSSMODAL_HOME)::

    .venv/bin/python bench/bench_clear_sentences.py --dataset DATASET_ID [--model MODEL_ID ...]

It prints a Markdown table, the machine and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SENTENCES = ROOT / "assets" / "sentences" / "clear_reviews.csv"


def load_sentences(path: Path = SENTENCES) -> tuple[list[str], list[str]]:
    """The sentences and their labels (``fresh`` or ``rotten``)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def logistic_on_sentences(dataset, features: np.ndarray) -> np.ndarray:
    """The dataset's logistic-regression baseline refitted on its training rows, predicting ``features``."""
    from core import store
    from core.text_to_image.datasets import load_dataset
    from core.text_to_image.imaging import EMBEDDINGS, load_embeddings
    from core.text_to_image.training import logistic_pipeline

    embedded = load_embeddings(store.load(EMBEDDINGS, dataset.config["embeddings"]))
    arrays = load_dataset(dataset)
    train = ~arrays["is_test"]
    if embedded.shape[1] != features.shape[1]:
        raise ValueError(f"the dataset's vectors have {embedded.shape[1]} features, the sentences' {features.shape[1]}")
    model = logistic_pipeline()  # as t2i-baseline fits it: C = 1, the lab's seed
    model.fit(embedded[train], arrays["labels"][train])
    return model.predict(features)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="a text-as-image dataset id (python -m core t2i-datasets)")
    parser.add_argument("--model", nargs="*", default=None, help="model ids (default: every model of the dataset)")
    parser.add_argument("--home", default=None, help="the store (default: $CROSSMODAL_HOME, else the lab's)")
    args = parser.parse_args(argv)
    if args.home:
        os.environ["CROSSMODAL_HOME"] = args.home
    import torch

    from core import evidence, store
    from core.text_to_image import classify, datasets, results

    dataset = store.load(datasets.DATASETS, args.dataset)
    if dataset is None:
        print(f"no dataset {args.dataset!r} in {store.home()}", file=sys.stderr)
        return 2
    names = datasets.label_names(dataset)
    texts, labels = load_sentences()
    truth = np.array([names.index(label) for label in labels])
    imager = classify.dataset_imager(dataset)
    features, images = imager.images(texts)
    logistic = logistic_on_sentences(dataset, features) == truth
    models = results.list_models(dataset)
    if args.model:
        models = [m for m in models if m.id in set(args.model)]
    lines = [
        f"{len(texts)} clear review sentences ({SENTENCES.relative_to(ROOT)}), dataset {dataset.id} "
        f"({datasets.dataset_label(dataset)})",
        "",
        "| reader | right | 95% Wilson interval | − logistic regression, paired (McNemar) | held-out accuracy |",
        "|---|---:|---|---|---:|",
    ]

    def wilson(k: int, n: int) -> str:
        from scipy.stats import binomtest

        found = binomtest(k, n).proportion_ci(method="wilson")
        return f"[{found.low:.3f}, {found.high:.3f}]"

    lines.append(
        f"| logistic regression, raw vectors | {int(logistic.sum())}/{len(texts)} | "
        f"{wilson(int(logistic.sum()), len(texts))} | (reference) | "
        f"{results.baseline_accuracies(dataset).get('logistic regression', float('nan')):.3f} |"
    )
    for model in models:
        loaded = classify.load_model(model.path)
        right = np.array([int(classify.classify({"m": loaded}, image)["vote"]) for image in images]) == truth
        paired = evidence.compare_paired(right[None].astype(float), logistic[None].astype(float), what="x")
        d = paired.difference
        lines.append(
            f"| {results.model_name(model)} ({model.id}) | {int(right.sum())}/{len(texts)} "
            f"| {wilson(int(right.sum()), len(texts))} "
            f"| {100 * d.estimate:+.1f} points [{100 * d.low:+.1f}, {100 * d.high:+.1f}], p = {paired.p_value:.3g}; "
            f"{paired.verdict} | {model.config.get('metrics', {}).get('accuracy', float('nan')):.3f} |"
        )
    print("\n".join(lines))
    print(
        f"\n{platform.node()}: {os.cpu_count()} CPU cores, torch {torch.__version__}\n"
        f"command: {shlex.join([sys.executable, *sys.argv])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
