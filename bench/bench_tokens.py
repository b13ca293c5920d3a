"""Training tokens per second of BERT on non-text tokens, side by side:

* ``full``: the encoder with its whole word embedding (30,522 rows for a BERT vocabulary), batches drawn
  at random;
* ``compact``: the word embedding cut to the task's ids (:meth:`core.nontext.models.TokenClassifier.compact`:
  the same outputs and updates);
* ``compact + buckets``: also batches of similar lengths with each batch cut after its longest sequence
  (what :mod:`core.nontext.runs` does; it matters for tasks whose lengths vary, e.g. peptides).

Each setting trains the same model (``--variant``, default pretrained) on the same task (``--task``) for
``--steps`` optimiser steps of ``--batch-size`` (AdamW 1e-4, cross-entropy), after two warm-up steps that are
not timed; tokens are the real ones (padding excluded). On CUDA, bf16 autocast as in the lab's Trainer.

Run from the repository root::

    .venv/bin/python bench/bench_tokens.py
    .venv/bin/python bench/bench_tokens.py --task amp --steps 30
    .venv/bin/python bench/bench_tokens.py --device cuda --batch-size 64 --steps 200

It prints its figures, the machine, the threads, package versions and the command; it asserts nothing.
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


def measure(args: argparse.Namespace, compact: bool, buckets: bool) -> dict:
    import torch

    from core.hub import load_text_model
    from core.nontext import models, runs, tasks, tokens
    from core.train import autocast

    device = torch.device(args.device)
    task = tasks.load_task(args.task)
    loaded = load_text_model(args.encoder)
    vocabulary = tokens.Vocabulary.of(loaded.tokenizer, task.symbols)
    mapping = tokens.build_mapping(task.symbols, vocabulary)
    ids = tokens.encode_all(task.sequences, mapping, 512)
    labels = torch.as_tensor(task.labels)
    pad = mapping.specials["[PAD]"]
    model = models.build(loaded.model, args.variant, len(task.label_names), pad, 0)
    if compact:
        model.compact(mapping.used_ids())
    model = model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    lengths = (ids != pad).sum(1)
    generator = torch.Generator().manual_seed(0)
    steps = args.steps + 2
    if buckets:
        order = runs._round_order(steps, lengths)(len(ids), args.batch_size, generator)
        trim = runs._trim(pad)
    else:
        order = list(torch.randperm(len(ids), generator=generator)[: steps * args.batch_size].split(args.batch_size))

        def trim(batch):
            return batch

    tokens_seen, started = 0, None
    for step, rows in enumerate(order[:steps]):
        if step == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        batch = trim(ids[rows]).to(device)
        optimiser.zero_grad(set_to_none=True)
        with autocast(device):
            loss = torch.nn.functional.cross_entropy(model(batch), labels[rows].to(device))
        loss.backward()
        optimiser.step()
        if step >= 2:
            tokens_seen += int(lengths[rows].sum())
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "tokens/s": tokens_seen / seconds,
        "steps/s": args.steps / seconds,
        "seconds": seconds,
        "trainable parameters": sum(p.numel() for p in model.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="splice")
    parser.add_argument("--encoder", default="all-MiniLM-L6-v2")
    parser.add_argument("--variant", default="pretrained")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    print(f"# {shlex.join([sys.executable.rsplit('/', 1)[-1], *sys.argv])}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}, device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device == "cuda" else "")
    )
    print("# " + ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "transformers")))
    print(f"# task {args.task}, encoder {args.encoder} ({args.variant}), batch {args.batch_size}, {args.steps} steps")
    print("| setting | tokens/s | steps/s | seconds | parameters |")
    print("|---|---:|---:|---:|---:|")
    for name, compact, buckets in (("full", False, False), ("compact", True, False), ("compact + buckets", True, True)):
        found = measure(args, compact, buckets)
        print(
            f"| {name} | {found['tokens/s']:,.0f} | {found['steps/s']:.2f} | {found['seconds']:.1f} | "
            f"{found['trainable parameters']:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
