"""Warm latency of one sentence -> 7 images (6 layer images + the combined one) on the CPU.

The default imager is fitted, or reused from the store, exactly as the app does it: the default
encoder (all-MiniLM-L6-v2, layers 1..6, [CLS] pooling) embeds 2,000 Rotten Tomatoes snippets
(``core.text_to_image.imaging.embed_corpus``, sample seed 0) and ``core.text_to_image.imaging.fit_imager``
fits the default layouts (a 50 x 50 combined grid of 2,304 features, a 20 x 20 per-layer grid of 384). The imager
is loaded with ``core.text_to_image.imaging.load_imager`` (its encoder on the CPU), warmed up on a few
sentences, and then ``imager.images([sentence])`` is timed (``time.perf_counter``) for 50
different sentences: Rotten Tomatoes snippets of 18 to 22 words drawn (seed 0) from the rows that
were NOT used for fitting. A second, separate pass times the three parts of that call (encoder
forward pass, truncation check, the two layout transforms) for the same sentences.

Run from the repository root::

    .venv/bin/python bench/bench_latency.py

It prints its figures, the machine, the threads, package versions and the command; it asserts
nothing. The goal (from the issue) is p50 < 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL_S = 0.2
WARMUP = 5
PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "scipy", "scikit-learn", "openTSNE")


def held_out_sentences(fitted_texts: set[str], count: int, low: int, high: int, seed: int) -> list[str]:
    """``count`` Rotten Tomatoes snippets of ``low``..``high`` words that are not in ``fitted_texts``."""
    from core import corpora

    every = corpora.load_corpus("rotten_tomatoes", n=None)
    pool = sorted({text for text in every["text"] if text not in fitted_texts and low <= len(text.split()) <= high})
    if len(pool) < count:
        raise SystemExit(f"only {len(pool)} held-out snippets of {low}..{high} words; lower --count.")
    picks = np.random.default_rng(seed).choice(len(pool), size=count, replace=False)
    return [pool[i] for i in picks]


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50, p95 (numpy's linear interpolation), min, mean and max, in milliseconds."""
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "min": float(ms.min()),
        "mean": float(ms.mean()),
        "max": float(ms.max()),
    }


def main(argv: list[str] | None = None) -> None:
    """Fits or reuses the default imager, times it and prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50, help="sentences timed")
    parser.add_argument("--n", type=int, default=2000, help="Rotten Tomatoes snippets the imager is fitted on")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_info

    from core import corpora
    from core.encoders import TextEncoder
    from core.layout import DEFAULTS as LAYOUT_DEFAULTS
    from core.text_to_image import imaging

    command = shlex.join([os.path.relpath(sys.executable), *sys.argv]) if argv is None else shlex.join(argv)
    print(f"command: {command}")
    print(f"started: {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_layout import cpu_model

    print(f"machine.cpu_count: {os.cpu_count()}; cpu_model: {cpu_model()}")
    pools = sorted({f"{pool['internal_api']}={pool['num_threads']}" for pool in threadpool_info()})
    print(
        f"threads: torch.get_num_threads()={torch.get_num_threads()}, "
        f"torch.get_num_interop_threads()={torch.get_num_interop_threads()}, pools={pools}"
    )
    for name in PACKAGES:
        try:
            print(f"version.{name}: {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            print(f"version.{name}: not installed")

    started = time.perf_counter()
    encoder = TextEncoder.from_name(device="cpu")
    print(
        f"encoder: {encoder.name} on {encoder.device}, layers {encoder.default_layers}, loaded in "
        f"{time.perf_counter() - started:.2f} s"
    )
    corpus = corpora.load_corpus("rotten_tomatoes", n=args.n, seed=0)
    started = time.perf_counter()
    embeddings = imaging.embed_corpus(encoder, corpus)
    print(
        f"embeddings: artifact {embeddings.id} ({len(corpus)} snippets), ready in {time.perf_counter() - started:.2f} s"
    )
    started = time.perf_counter()
    artifact = imaging.fit_imager(embeddings)
    print(
        f"imager: artifact {artifact.id}, ready in {time.perf_counter() - started:.2f} s "
        f"(layout defaults: {LAYOUT_DEFAULTS})"
    )
    imager = imaging.load_imager(artifact, encoder=encoder)

    sentences = held_out_sentences(set(corpus["text"]), args.count + WARMUP, 18, 22, seed=0)
    warmup, timed = sentences[:WARMUP], sentences[WARMUP:]
    for sentence in warmup:
        imager.images([sentence])

    seconds, images = [], 0
    load_before = os.getloadavg()
    for sentence in timed:
        begin = time.perf_counter()
        result = imager.images([sentence])
        seconds.append(time.perf_counter() - begin)
        images = result.layers.shape[1] + len(result.combined)
    print(
        f"\nimages per sentence: {images} (combined {result.combined.shape[1:]}, "
        f"{result.layers.shape[1]} layer images {result.layers.shape[2:]})"
    )

    load_after = os.getloadavg()
    parts: dict[str, list[float]] = {"encoder forward (embed)": [], "truncation check": [], "layout transforms": []}
    for sentence in timed:
        begin = time.perf_counter()
        features = imager.encoder.embed([sentence], layers=imager.layers, pooling=imager.pooling)
        middle = time.perf_counter()
        imager.encoder.truncated([sentence])
        after = time.perf_counter()
        imager.images_from_features(features, [sentence])
        parts["encoder forward (embed)"].append(middle - begin)
        parts["truncation check"].append(after - middle)
        parts["layout transforms"].append(time.perf_counter() - after)

    words = [len(s.split()) for s in timed]
    print(
        f"sentences: {len(timed)} held-out Rotten Tomatoes snippets, words min {min(words)} / "
        f"mean {np.mean(words):.1f} / max {max(words)}; word counts: {words}"
    )
    print(f"example: {timed[0]!r}")
    total = percentiles(seconds)
    print("\n## Warm latency, one sentence -> 7 images (CPU)\n")
    print("| measured | p50 ms | p95 ms | min ms | mean ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| imager.images([sentence]) | {total['p50']:.1f} | {total['p95']:.1f} | {total['min']:.1f} | "
        f"{total['mean']:.1f} | {total['max']:.1f} |"
    )
    for name, values in parts.items():
        p = percentiles(values)
        print(
            f"| {name} (separate pass) | {p['p50']:.1f} | {p['p95']:.1f} | {p['min']:.1f} | {p['mean']:.1f} | "
            f"{p['max']:.1f} |"
        )
    print(
        f"\n1-min load average {load_before[0]:.2f} before / {load_after[0]:.2f} after the timed loop "
        "(2 cores: a value above 2 means other work competed for the CPU)"
    )
    verdict = "met" if total["p50"] / 1000.0 < GOAL_S else "NOT met"
    print(f"\ngoal p50 < {GOAL_S * 1000:.0f} ms: {verdict} (p50 {total['p50']:.1f} ms)")
    print(f"finished: {time.strftime('%Y-%m-%d %H:%M:%S %z')}")


if __name__ == "__main__":
    main()
