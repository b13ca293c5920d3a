"""Token attributions through the whole chain: latency, completeness, and the obvious-sentence check.

Takes a trained text-as-image model (``--model ID``; default: the newest in the store) and its dataset's
imager, then for ``--sentences`` snippets of its corpus that the dataset did not use (or the first ones when it
used them all) times integrated gradients (``--steps``, batch 8) and gradient x input, one sentence at a time
after one untimed warm-up, and records each integrated-gradients completeness gap relative to the logit's
change. Last, the check a reader can judge at a glance: the same sentence with "excellent" and with
"terrible", each word's attribution toward the positive class and the model's probability of it.

Run from the repository root (after building a model, e.g. ``python -m core preset workshop``)::

    .venv/bin/python bench/bench_attributions.py
    .venv/bin/python bench/bench_attributions.py --model MODEL_ID --sentences 20 --steps 64

It prints its figures, the model, the machine, package versions and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAIR = (
    "The acting was excellent and the story kept me hooked.",
    "The acting was terrible and the story kept me hooked.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--steps", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from core import corpora, store
    from core.text_to_image import attributions, classify, datasets, results, training

    found = store.load(training.MODELS, args.model) if args.model else next(iter(results.list_models()), None)
    if found is None:
        sys.exit("no trained model in the store: build one first, e.g. python -m core preset workshop")
    dataset = store.load(datasets.DATASETS, found.config["dataset"])
    imager = classify.dataset_imager(dataset)
    model = classify.load_model(found.path)
    names = datasets.label_names(dataset)
    used = set(datasets.dataset_texts(dataset) or [])
    source = dataset.config["corpus"]
    corpus = corpora.load_corpus(source.get("corpus", "rotten_tomatoes"), None, 0)
    texts = [t for t in corpus["text"] if t not in used][: args.sentences + 1]
    attributions.attribute(imager, model, texts[0], steps=args.steps)  # warm-up
    timings: dict[str, list[float]] = {"integrated_gradients": [], "gradient_x_input": []}
    gaps = []
    for text in texts[1:]:
        for method in timings:
            started = time.perf_counter()
            result = attributions.attribute(imager, model, text, method=method, steps=args.steps)
            timings[method].append(time.perf_counter() - started)
            if method == "integrated_gradients":
                change = abs(result.logit - result.baseline_logit)
                gaps.append(result.completeness_gap / max(change, 1e-6))
    print(f"model {found.id}: {results.model_label(found)}; dataset {dataset.id}; classes {names}")
    for method, values in timings.items():
        ms = np.asarray(values) * 1000
        steps = f", {args.steps} steps" if method == "integrated_gradients" else ""
        print(f"{method}{steps}: p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms over {len(ms)}")
    print(f"completeness gap / |logit change|: median {np.median(gaps):.4f}, max {np.max(gaps):.4f}")
    positive = next((i for i, n in enumerate(names) if n.lower() in ("fresh", "positive", "pos", "1")), len(names) - 1)
    for text, word in zip(PAIR, ("excellent", "terrible"), strict=True):
        result = attributions.attribute(imager, model, text, target=positive, steps=args.steps)
        score = dict(attributions.words(result))[word]
        print(
            f"{text!r}: P({names[positive]}) {result.probabilities[positive]:.3f}; "
            f"attribution of {word!r} toward {names[positive]} {score:+.4f}; "
            f"completeness gap {result.completeness_gap:.4f}"
        )
    versions = {n: metadata.version(n) for n in ("torch", "transformers")}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}; {versions}")  # fmt: skip
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
