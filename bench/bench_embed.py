"""Embedding throughput (texts/s): batched and length-sorted vs one text at a time, same model, same run.

``TextEncoder.embed`` tokenizes every text once, sorts the texts by token length and runs them in
batches (little padding). The paper's code embedded one review per forward pass; that is measured
as ``embed([text])`` called for each text in turn. Both read the same texts with the same model on
the same device, in one process, and produce the same vectors (the largest absolute difference
between the two is printed).

Texts: Rotten Tomatoes snippets (short) by default, or the first reviews of a CSV such as
``../shared/data/imdb_first3180.csv`` (long reviews: many exceed the encoder's maximum length and
are truncated to it).

Run from the repository root::

    .venv/bin/python bench/bench_embed.py                                   # MiniLM, 512 RT snippets
    .venv/bin/python bench/bench_embed.py --csv ../shared/data/imdb_first3180.csv --n 256
    python bench/bench_embed.py --encoder bert-base-uncased --device cuda --n 4096     # online, on a GPU

It prints its figures, the machine, package versions and the command; it asserts nothing.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from core import corpora
    from core.encoders import DEFAULTS as ENCODER_DEFAULTS
    from core.encoders import TextEncoder

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default=None, help="default: the packaged all-MiniLM-L6-v2")
    parser.add_argument("--csv", default=None, help="a CSV with columns review, sentiment (e.g. the IMDB sample)")
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    if args.csv:
        if not Path(args.csv).is_file():
            sys.exit(f"{args.csv} does not exist (the IMDB sample lives in ../shared/data/ beside the repository).")
        texts = corpora.load_csv(args.csv, "review", "sentiment", n=args.n, seed=0)["text"].tolist()
    else:
        texts = corpora.load_corpus("rotten_tomatoes", n=args.n, seed=0)["text"].tolist()
    encoder = TextEncoder.from_name(args.encoder or ENCODER_DEFAULTS.name, device=args.device)
    sync = torch.cuda.synchronize if encoder.device.type == "cuda" else (lambda: None)
    encoder.embed(texts[:8], batch_size=args.batch)  # warm-up
    encoder.embed(texts[:2], batch_size=1)
    sync()
    started = time.perf_counter()
    batched = encoder.embed(texts, batch_size=args.batch)
    sync()
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    single = np.concatenate([encoder.embed([text], batch_size=1) for text in texts])
    sync()
    single_s = time.perf_counter() - started
    tokens = [len(ids) for ids in encoder.tokenizer(texts, truncation=True, max_length=encoder.max_length)["input_ids"]]

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}, device {encoder.device}"
    )
    print("# " + ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "transformers", "tokenizers")))
    print(
        f"# {encoder.name}: {len(texts)} texts from {args.csv or 'Rotten Tomatoes'}, "
        f"tokens per text median {int(np.median(tokens))}, max {max(tokens)} "
        f"(truncated at {encoder.max_length}); default layers, [CLS] pooling"
    )
    print(f"batched (batch {args.batch}, length-sorted): {len(texts) / batched_s:8.1f} texts/s ({batched_s:.2f} s)")
    print(f"one text at a time:                  {len(texts) / single_s:8.1f} texts/s ({single_s:.2f} s)")
    print(
        f"speed-up {single_s / batched_s:.2f}x; "
        f"largest |difference| between the two results {np.abs(batched - single).max():.2e}"
    )
    print("# command: " + shlex.join([sys.executable, *sys.argv]))


if __name__ == "__main__":
    main()
