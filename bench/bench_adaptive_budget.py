"""How many gradients the adaptive integrated-gradients rule needs: its completeness gap at several budgets,
replayed on one fine grid of gradients per sentence instead of recomputed for each budget.

For each of ``--sentences`` held-out snippets of the model's corpus (after ``--skip``), the target logit's gradient
along the path from the [PAD] baseline is taken once at ``ADAPTIVE_START * 2**--depth + 1`` equally spaced points
(481 by default). The lab's own :func:`core.text_to_image.attributions.adaptive_integral` then runs on that grid for
every ``--budgets`` value: each point it asks for is one of the grid's (it starts from ``ADAPTIVE_START`` equal
intervals and halves them), so the replay is the rule itself, as long as it halves no interval more than
``--depth`` times (the replay stops with a message if it would). The trapezoid rule on the whole grid is printed
as the reference. Gaps are |sum of attributions - the logit's change| / |the logit's change|, as on Classify; the
tokens' error is how far each budget's attributions are from the reference's, token by token
(:func:`token_error`): the gap checks only their sum, and errors of opposite sign cancel in it.

Run from the repository root (after ``python -m core t2i-preset workshop``)::

    .venv/bin/python bench/bench_adaptive_budget.py --model MODEL_ID --sentences 20
    .venv/bin/python bench/bench_adaptive_budget.py --model MODEL_ID --sentences 40 --skip 20

It prints a table, the model, the machine and the command; it asserts nothing. No timings: the cost of a budget is
its gradients (bench/bench_attributions.py times them).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class GridPath:
    """A path whose gradients and logits were all taken once on an equally spaced grid: answers
    :func:`~core.text_to_image.attributions.adaptive_integral` from it."""

    def __init__(self, gradients, logits, batch_size: int) -> None:
        self.gradients, self.logits, self.batch_size = gradients, logits, batch_size
        self.intervals = len(logits) - 1

    def gradients_and_logits(self, alphas):
        import numpy as np

        places = np.asarray(alphas) * self.intervals
        index = np.rint(places).astype(int)
        if np.abs(places - index).max() > 1e-6:
            raise ValueError("the rule asked for a point between the grid's: raise --depth.")
        return self.gradients[index], self.logits[index]


def token_error(scores, reference) -> float:
    """sum |scores - reference| / sum |reference| over the tokens: 0 when every token's attribution is the
    reference's; 1 when they are off, in all, by as much as the reference's whole size."""
    import numpy as np

    scores, reference = np.asarray(scores, dtype=float), np.asarray(reference, dtype=float)
    return float(np.abs(scores - reference).sum() / max(np.abs(reference).sum(), 1e-12))


def grid(imager, model, text: str, points: int, batch_size: int):
    """The gradients (points, tokens) and target logits (points,) of ``text``'s path, as ``attribute`` takes them."""
    import numpy as np

    from core.text_to_image import attributions

    path, *_ = attributions.sentence_path(imager, model, text.strip(), batch_size=batch_size)
    return path.gradients_and_logits(np.linspace(0.0, 1.0, points))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="default: the newest in the store")
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--skip", type=int, default=0, help="held-out sentences passed over first")
    parser.add_argument("--budgets", default="32,40,44,48,56,64")
    parser.add_argument("--depth", type=int, default=5, help="halvings of the first intervals the grid allows")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from core import corpora, store
    from core.text_to_image import attributions, classify, datasets, results, training

    torch.set_num_threads(args.threads)
    budgets = [int(b) for b in args.budgets.split(",")]
    found = store.load(training.MODELS, args.model) if args.model else next(iter(results.list_models()), None)
    if found is None:
        print("no such trained model in the store: build one first, e.g. python -m core t2i-preset workshop")
        return 2
    dataset = store.load(datasets.DATASETS, found.config["dataset"])
    imager, model = classify.dataset_imager(dataset), classify.load_model(found.path)
    used = set(datasets.dataset_texts(dataset) or [])
    corpus = corpora.load_corpus(dataset.config["corpus"].get("corpus", "rotten_tomatoes"), None, 0)
    texts = [t for t in corpus["text"] if t not in used][1 + args.skip :][: args.sentences]  # the first: warm-up
    points = attributions.ADAPTIVE_START * 2**args.depth + 1
    batch = attributions.DEFAULTS.batch_size
    gaps: dict[str, list[float]] = {"reference": [], **{str(b): [] for b in budgets}}
    errors: dict[str, list[float]] = {"reference": [], **{str(b): [] for b in budgets}}
    tokens = []
    for text in texts:
        gradients, logits = grid(imager, model, text, points, batch)
        change = max(abs(logits[-1] - logits[0]), 1e-6)
        tokens.append(gradients.shape[1])
        reference = ((gradients[1:] + gradients[:-1]) / 2).sum(axis=0) / (points - 1)
        gaps["reference"].append(abs(reference.sum() - (logits[-1] - logits[0])) / change)
        errors["reference"].append(0.0)
        for budget in budgets:
            try:
                scores, _, _ = attributions.adaptive_integral(GridPath(gradients, logits, batch), budget)
            except ValueError as error:
                print(f"at most {budget} gradients: {error}")
                return 2
            gaps[str(budget)].append(abs(scores.sum() - (logits[-1] - logits[0])) / change)
            errors[str(budget)].append(token_error(scores, reference))

    print(f"model {found.id}: {results.model_label(found)}; {len(texts)} held-out sentences after {args.skip} "
          f"(tokens: median {np.median(tokens):.0f}); {points} gradients each, batches of {batch}")  # fmt: skip
    print("| gradients | completeness gap / logit change: median | max | within 5 % | tokens' error: median | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in gaps.items():
        values, error = np.asarray(values), np.asarray(errors[name])
        label = f"the trapezoid on all {points} (reference)" if name == "reference" else f"adaptive, at most {name}"
        print(
            f"| {label} | {np.median(values):.3f} | {values.max():.3f} | {(values <= 0.05).mean():.0%} "
            f"| {np.median(error):.3f} | {error.max():.3f} |"
        )
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
