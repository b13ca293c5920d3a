"""Throughput of one leave-one-out fold (images/s), and the projected time of a whole study.

One fold is run with ``core.images_to_words.folds.run_fold`` exactly as a study runs it (SimpNet at the chosen
width, Adam, MSE to the GloVe vectors, held-out loss measured after every epoch), on random uint8
images of the chosen shape with the chosen number of classes (throughput does not depend on the
pixels). images/s = training images x epochs / the fold's wall time (per-epoch held-out
evaluation included). The projection multiplies out: folds x epochs x training images per fold.

Run from the repository root::

    # CIFAR-100 shape, full width, CPU
    .venv/bin/python bench/bench_loo.py
    # the laptop study
    .venv/bin/python bench/bench_loo.py --shape 1 28 28 --classes 10 --width 0.25 --per-class 1000 --study-epochs 5
    # on a GPU (bf16, channels_last, data on the GPU)
    python bench/bench_loo.py --device cuda --images 49500 --epochs 2

It prints its figures, the machine, package versions and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from core.images_to_words import folds, loo, simpnet
    from core.images_to_words.settings import StudySettings
    from core.imagesets import ImageSet
    from core.wordvectors import load_glove

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[3, 32, 32])
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--images", type=int, default=2000, help="training images in the measured fold")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=1, help="epochs measured")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--per-class", type=int, default=500, help="training images per class in the projected study (CIFAR-100: 500)"
    )
    parser.add_argument(
        "--study-epochs", type=int, default=25, help="epochs per fold in the projected study (paper: 25)"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    per_class = max(2, args.images // args.classes)
    labels = np.repeat(np.arange(args.classes), per_class)
    images = rng.integers(0, 256, size=(len(labels), *args.shape), dtype=np.uint8)
    test = np.repeat(np.arange(args.classes), 2)
    names = [f"class{i}" for i in range(args.classes)]
    imageset = ImageSet(
        "synthetic", names, images, labels, rng.integers(0, 256, size=(len(test), *args.shape), dtype=np.uint8), test
    )
    targets = rng.normal(size=(args.classes, 50)).astype(np.float32)  # run_fold takes the vectors as given
    table = (
        Path(tempfile.mkdtemp()) / "words.csv"
    )  # a study config records each class's word; any vocabulary words do here
    words = load_glove().words[1000 : 1000 + args.classes]
    table.write_text("class,best,words\n" + "".join(f"{n},{w},{w}\n" for n, w in zip(names, words, strict=True)))
    fold_settings = {"classes": (names[0],), "width": args.width, "batch_size": args.batch, "table": str(table)}
    config = loo.study_config(imageset, StudySettings(epochs=args.epochs, **fold_settings))
    warm = loo.study_config(imageset, StudySettings(epochs=1, **fold_settings))
    small = ImageSet("synthetic", names, images[: 4 * args.batch], labels[: 4 * args.batch], imageset.test_images, test)
    folds.run_fold(warm, 0, small, targets, args.device)  # warm-up
    fold = folds.run_fold(config, 0, imageset, targets, args.device)
    ips = fold["images_per_second"]
    folds, train_per_fold = args.classes, (args.classes - 1) * args.per_class
    projected = folds * args.study_epochs * train_per_fold / ips

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}, device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device.startswith("cuda") else "")
    )
    print(
        f"# torch {metadata.version('torch')}; SimpNet width {args.width} "
        f"({simpnet.parameter_count(args.width, args.shape[0])['total']:,} parameters), "
        f"images {'x'.join(map(str, args.shape))}, batch {args.batch}"
    )
    print(
        f"fold throughput: {ips:.1f} images/s "
        f"({len(labels) - per_class} training images x {args.epochs} epoch(s) in {fold['seconds']:.1f} s)"
    )
    print(
        f"projected study: {folds} folds x {args.study_epochs} epochs x {train_per_fold:,} images = "
        f"{projected / 3600:.2f} h on this device, one fold at a time"
    )
    print("# command: " + shlex.join([sys.executable, *sys.argv]))


if __name__ == "__main__":
    main()
