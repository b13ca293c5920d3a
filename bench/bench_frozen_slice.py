"""Training throughput of a frozen slice, side by side: the slice run on every batch of every epoch
(``normalise="batch"``, the paper's per-batch z-normalisation, as the lab trained before) against the
slice's outputs computed once and reused every epoch (``normalise="split"``, the lab's default).

Both go through the real job, ``core.text_to_image.training.train_model``, on the same image dataset
(``--n`` random 50 x 50 images in two classes, a fifth held out), the same backbone and cut (default
EfficientNet-Lite0 with its packaged ImageNet weights, cut after blocks.2), batch 32, ``--epochs``
epochs, in a fresh store each. Figures:

* wall seconds of the whole job (the one-off slice pass included) and training images/s =
  training images x epochs / wall seconds;
* seconds per epoch as the job records them (training steps plus the held-out and validation passes;
  the one-off slice pass is not in them).

Run from the repository root::

    .venv/bin/python bench/bench_frozen_slice.py
    .venv/bin/python bench/bench_frozen_slice.py --backbone squeezenet1_1 --n 2000 --epochs 5

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
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def write_dataset(n: int, seed: int = 0):
    """A ``datasets`` artifact of ``n`` random 50 x 50 images with two classes (the content does not matter)."""
    import numpy as np

    from core import store
    from core.text_to_image import datasets

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.random((n, 50, 50), dtype=np.float32)
    images[labels == 1, :, :25] += 0.3
    is_test = np.zeros(n, dtype=bool)
    is_test[::5] = True
    config = {"label_names": ["a", "b"], "split": {"train": int((~is_test).sum()), "test": int(is_test.sum())}}
    with store.writing(datasets.DATASETS, "bench", config) as folder:
        np.save(folder / "images.npy", images.astype(np.float16))
        np.save(folder / "labels.npy", labels.astype(np.int64))
        np.save(folder / "is_test.npy", is_test)
    return store.load(datasets.DATASETS, "bench")


def run(normalise: str, args: argparse.Namespace) -> dict:
    from core.text_to_image import training

    with tempfile.TemporaryDirectory() as home:
        os.environ["CROSSMODAL_HOME"] = home
        dataset = write_dataset(args.n)
        settings = training.TrainSettings(args.backbone, epochs=args.epochs, batch_size=32, normalise=normalise)
        started = time.perf_counter()
        artifact = training.train_model(dataset, settings)
        wall = time.perf_counter() - started
        fit = dataset.config["split"]["train"] - int(round(settings.validation * dataset.config["split"]["train"]))
        return {
            "normalise": normalise,
            "cached": artifact.config["slice_outputs_cached"],
            "wall": wall,
            "img_s": fit * args.epochs / wall,
            "epoch_s": [round(r["seconds"], 1) for r in artifact.config["history"]],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import torch

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}"
    )
    print("# " + ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "torchvision", "timm")))
    print(
        f"# {args.backbone}, {args.n} images (a fifth held out, a tenth of the rest for validation), "
        f"{args.epochs} epochs, batch 32"
    )
    rows = [run(mode, args) for mode in ("batch", "split")]
    print(f"{'normalise':10} {'slice outputs':14} {'wall s':>8} {'train img/s':>12}  seconds per epoch")
    for row in rows:
        how = "computed once" if row["cached"] else "every batch"
        print(f"{row['normalise']:10} {how:14} {row['wall']:>8.1f} {row['img_s']:>12.1f}  {row['epoch_s']}")
    print(f"# speed-up of the whole job: {rows[0]['wall'] / rows[1]['wall']:.1f}x")
    print("# command: " + shlex.join([sys.executable, *sys.argv]))


if __name__ == "__main__":
    main()
