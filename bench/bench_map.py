"""Placing typed sentences into a frozen sentence map: latency per sentence, warm, on the CPU.

Fits (or loads) the default map (2,000 Rotten Tomatoes snippets, all-MiniLM-L6-v2 mean-pooled, last layer,
openTSNE with cosine distance), loads it as the page does (rebuilding the neighbour affinities), places one
sentence untimed (warm-up), then times ``--sentences`` held-out snippets (not in the map), one at a time:
embedding + placement (openTSNE ``transform``), and the k-nearest-neighbour lookup separately.

Run from the repository root::

    .venv/bin/python bench/bench_map.py
    .venv/bin/python bench/bench_map.py --method umap --sentences 50

It prints p50 / p95 / max in milliseconds, the machine, the threads, package versions and the command; it
asserts nothing.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=50)
    parser.add_argument("--method", choices=["tsne", "umap"], default="tsne")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from core.corpora import load_corpus
    from core.encoders import TextEncoder
    from core.text_to_image import sentence_map as sm

    encoder = TextEncoder.from_name()
    settings = sm.MapSettings(n=args.n, method=args.method)
    started = time.perf_counter()
    artifact = sm.fit_map(settings, encoder, encoder.num_layers)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    found = sm.SentenceMap(artifact).warm()
    load_s = time.perf_counter() - started
    in_map = set(found.texts)
    others = [t for t in load_corpus(settings.corpus, None, 0)["text"] if t not in in_map][: args.sentences + 1]
    layer = encoder.num_layers
    found.place(sm.sentence_vectors(encoder, others[:1], layer, settings.pooling))  # warm-up
    place, near = [], []
    for text in others[1:]:
        started = time.perf_counter()
        vector = sm.sentence_vectors(encoder, [text], layer, settings.pooling)
        found.place(vector)
        place.append(time.perf_counter() - started)
        started = time.perf_counter()
        found.neighbours(vector, 5)
        near.append(time.perf_counter() - started)

    def describe(values: list[float]) -> str:
        ms = np.asarray(values) * 1000
        return f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms"

    print(f"map: {len(found.texts)} sentences, layer {layer}, {args.method}; fit or load from the store {fit_s:.1f} s")
    print(f"loading the map for placing (neighbour affinities rebuilt): {load_s:.2f} s")
    print(f"embed + place one sentence, over {len(place)} held-out snippets: {describe(place)}")
    print(f"5 nearest corpus sentences (cosine on the embeddings): {describe(near)}")
    versions = {n: metadata.version(n) for n in ("torch", "transformers", "openTSNE", "umap-learn")}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}; {versions}")  # fmt: skip
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
