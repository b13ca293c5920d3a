"""Word attributions through the whole chain: latency, completeness, faithfulness, and the obvious-sentence check.

Takes a trained text-as-image model (``--model ID``; default: the newest in the store) and its dataset's
imager, then for ``--sentences`` snippets of its corpus that the dataset did not use (or the first ones when it
used them all), one sentence at a time after one untimed warm-up, on ``--threads`` torch threads:

- times integrated gradients (``--steps`` nodes of the ``--rule`` quadrature, the adaptive rule's most, from the
  ``--baseline``) and gradient x input, and records each one's completeness gap relative to the logit's change
  and the gradients it took;
- runs the deletion check of each explanation (``--orders`` seeded random orders) and records the area over
  its deletion curve, the median area of the random orders and the share of random orders it beats;
- with ``--reference STEPS``, also times integrated gradients with the midpoint rule at that many steps
  (the page's former default: 128);
- times integrated gradients on the short sentences a presenter types (``TYPED``), three times each.

Last, the checks a reader can judge at a glance: the same sentence with "excellent" and with "terrible", each
word's attribution toward the positive class and the model's probability of it; and two sentences of the kind
that misled before, with their words and deletion verdicts.

Run from the repository root (after building a model, e.g. ``python -m core t2i-preset workshop``)::

    .venv/bin/python bench/bench_attributions.py
    .venv/bin/python bench/bench_attributions.py --model MODEL_ID --sentences 20 --steps 16 --reference 128

It prints its figures, the model, the machine and its load, package versions and the command; it asserts
nothing. Its timings mean something only on a quiet machine: compare the load averages it prints with the
number of cores.
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
# as the app's launcher (scripts/run_app.sh) starts it: torch reads this at its first tensor, so before torch
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

PAIR = (
    "The acting was excellent and the story kept me hooked.",
    "The acting was terrible and the story kept me hooked.",
)
MISLED = ("A tedious, badly acted mess.", "A tedious, beautifully acted mess.")
TYPED = (*PAIR, *MISLED, "Not bad at all.", "I expected to hate it, but I loved every minute.")
"""Sentences a presenter types (7 to 14 tokens; the corpus snippets run to about 25): timed apart."""


def _ms(values: list[float]) -> str:
    import numpy as np

    ms = np.asarray(values) * 1000
    return f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms over {len(ms)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--skip", type=int, default=0, help="held-out sentences passed over before the measured ones")
    parser.add_argument("--steps", type=int, default=None, help="integrated gradients' nodes (default: the page's)")
    parser.add_argument("--rule", default=None, help="adaptive, gausslegendre or midpoint (default: the page's)")
    parser.add_argument("--baseline", default=None, help="pad, mask or zeros (default: the page's)")
    parser.add_argument("--orders", type=int, default=None, help="random deletion orders (default: the page's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reference", type=int, default=0, help="also time the midpoint rule at this many steps")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from core import corpora, store
    from core.text_to_image import attributions, classify, datasets, results, training

    torch.set_num_threads(args.threads)
    defaults = attributions.DEFAULTS
    steps, rule = args.steps or defaults.steps, args.rule or defaults.rule
    baseline, orders = args.baseline or defaults.baseline, args.orders or defaults.random_orders
    found = store.load(training.MODELS, args.model) if args.model else next(iter(results.list_models()), None)
    if found is None:
        sys.exit("no trained model in the store: build one first, e.g. python -m core t2i-preset workshop")
    dataset = store.load(datasets.DATASETS, found.config["dataset"])
    imager = classify.dataset_imager(dataset)
    model = classify.load_model(found.path)
    names = datasets.label_names(dataset)
    used = set(datasets.dataset_texts(dataset) or [])
    source = dataset.config["corpus"]
    corpus = corpora.load_corpus(source.get("corpus", "rotten_tomatoes"), None, 0)
    texts = [t for t in corpus["text"] if t not in used][args.skip :][: args.sentences + 1]

    ig = {"method": "integrated_gradients", "steps": steps, "rule": rule}
    runs = {
        f"integrated gradients, {rule}, {steps} steps": ig,
        "gradient x input": {"method": "gradient_x_input"},
    }
    if args.reference:
        runs[f"integrated gradients, midpoint, {args.reference} steps"] = {
            "method": "integrated_gradients", "steps": args.reference, "rule": "midpoint",
        }  # fmt: skip
    for options in runs.values():
        attributions.attribute(imager, model, texts[0], baseline=baseline, **options)  # warm-up
    timings = {name: [] for name in runs}
    gaps = {name: [] for name in runs}
    gradients = {name: [] for name in runs}
    checks = {name: [] for name in runs}
    check_times = []
    for text in texts[1:]:
        for name, options in runs.items():
            started = time.perf_counter()
            result = attributions.attribute(imager, model, text, baseline=baseline, **options)
            timings[name].append(time.perf_counter() - started)
            gaps[name].append(result.relative_gap)
            gradients[name].append(result.steps)
            started = time.perf_counter()
            checks[name].append(attributions.deletion_check(imager, model, text, result, random_orders=orders))
            check_times.append(time.perf_counter() - started)

    print(f"model {found.id}: {results.model_label(found)}; dataset {dataset.id}; classes {names}")
    print(f"baseline: {attributions.BASELINE_TITLES[baseline]}; {len(texts) - 1} held-out sentences")
    for name in runs:
        gap = np.asarray(gaps[name])
        areas = np.asarray([c.area for c in checks[name]])
        randoms = np.asarray([np.median(c.random_areas) for c in checks[name]])
        beats = np.asarray([c.beaten >= 0.9 for c in checks[name]])
        taken = np.asarray(gradients[name])
        print(f"{name}: {_ms(timings[name])}; gradients per sentence: median {np.median(taken):.0f}, max {taken.max()}")
        print(
            f"  completeness gap / |logit change|: median {np.median(gap):.4f}, max {gap.max():.4f}; "
            f"{(gap <= defaults.tolerance).mean():.0%} of sentences within {defaults.tolerance:.0%}"
        )
        print(
            f"  deletion check ({orders} random orders): area over the curve, median {np.median(areas):.3f} "
            f"most-attributed first vs {np.median(randoms):.3f} random (median of each sentence's random median); "
            f"beats >= 90 % of random orders on {beats.mean():.0%} of sentences"
        )
    print(f"deletion check itself: {_ms(check_times)}")
    typed = []
    for _ in range(3):
        for text in TYPED:
            started = time.perf_counter()
            attributions.attribute(imager, model, text, baseline=baseline, **ig)
            typed.append(time.perf_counter() - started)
    print(f"integrated gradients, {rule}, {steps} steps, {len(TYPED)} typed sentences three times each: {_ms(typed)}")
    positive = next((i for i, n in enumerate(names) if n.lower() in ("fresh", "positive", "pos", "1")), len(names) - 1)
    for text, word in zip(PAIR, ("excellent", "terrible"), strict=True):
        result = attributions.attribute(imager, model, text, target=positive, steps=steps, rule=rule, baseline=baseline)
        score = dict(attributions.words(result))[word]
        print(
            f"{text!r}: P({names[positive]}) {result.probabilities[positive]:.3f}; "
            f"attribution of {word!r} toward {names[positive]} {score:+.4f}; "
            f"completeness gap {result.completeness_gap:.4f}"
        )
    for text in MISLED:
        for name, options in list(runs.items())[:2]:
            result = attributions.attribute(imager, model, text, baseline=baseline, **options)
            ranked = sorted(attributions.words(result), key=lambda pair: -pair[1])
            listed = ", ".join(f"{w} {s:+.2f}" for w, s in ranked)
            check = attributions.deletion_check(imager, model, text, result, random_orders=orders)
            print(f"{text!r} toward {names[result.target]} ({name}): {listed}")
            print(f"  gap {result.relative_gap:.1%}; {check.verdict()}")
    versions = {n: metadata.version(n) for n in ("torch", "transformers")}
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}, load average {load} (1, 5, 15 min); {versions}; "
          f"THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE')}")  # fmt: skip
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
