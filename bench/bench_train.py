"""Training and inference throughput (images/s) of the text-as-image classifiers, per backbone.

Each classifier is built exactly as the Train page builds it (``core.text_to_image.classifiers.build_classifier``
at the backbone's default cut: the paper's for its five backbones, blocks.2 / features.7 for the
offline ones), on 50 x 50 grayscale images upsampled x3 to 150 px. Throughput does not depend on
the values of the weights, so every backbone is built randomly initialised here (no download);
the frozen slice runs in inference mode as in real training.

* training: ``core.train.train_classifier`` (the real loop: Adam, cross-entropy, batch 32) for one
  epoch over ``--train-images`` random images, timed with ``time.perf_counter`` minus the held-out
  pass (which is timed separately below), after one warm-up epoch over 2 batches;
* inference: ``core.train.predict`` over ``--infer-images`` images in batches of 256.

Images are random (throughput does not depend on them). On CUDA the loop uses bf16 autocast and
channels_last and the images are resident on the GPU, as in ``core.training.train_model``.

Run from the repository root::

    .venv/bin/python bench/bench_train.py                 # every backbone, CPU
    python bench/bench_train.py --device cuda --train-images 8192 --infer-images 16384   # on a GPU

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

PACKAGES = ("torch", "torchvision", "timm")


def measure(name: str, device: str, train_images: int, infer_images: int, batch: int) -> dict:
    import torch

    from core.text_to_image.classifiers import build_classifier, classifier_config, to_backbone_input
    from core.train import predict, train_classifier

    torch.manual_seed(0)
    model = build_classifier(classifier_config(name, pretrained=False)).to(device)
    preprocess = lambda x: to_backbone_input(x, 3)  # noqa: E731
    images = torch.rand(train_images, 50, 50, device=device)
    labels = (torch.arange(train_images) % 2).to(device)
    held = (images[:2], labels[:2])
    train_classifier(
        model, (images[: 2 * batch], labels[: 2 * batch]), held, preprocess, epochs=1, batch_size=batch
    )  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = train_classifier(model, (images, labels), held, preprocess, epochs=1, batch_size=batch)
    if device == "cuda":
        torch.cuda.synchronize()
    train_seconds = time.perf_counter() - started
    queries = torch.rand(infer_images, 50, 50, device=device)
    predict(model, queries[:256], preprocess)
    started = time.perf_counter()
    predict(model, queries, preprocess)
    if device == "cuda":
        torch.cuda.synchronize()
    infer_seconds = time.perf_counter() - started
    return {
        "backbone": name,
        "node": model.config["node"],
        "map": "x".join(map(str, model.config["feature_map"])),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "train_img_s": train_images / train_seconds,
        "infer_img_s": infer_images / infer_seconds,
        "epoch_loss": result.history[0]["train_loss"],
    }


def main() -> None:
    from core.text_to_image.backbones import BACKBONES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbones", nargs="+", default=[b.name for b in BACKBONES])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-images", type=int, default=512)
    parser.add_argument("--infer-images", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    import torch

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}, device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device == "cuda" else "")
    )
    print("# " + ", ".join(f"{p} {metadata.version(p)}" for p in PACKAGES if _installed(p)))
    print(
        f"# {args.train_images} training images (batch {args.batch}) and "
        f"{args.infer_images} inference images (batch 256), 50x50 -> 150 px"
    )
    print(f"{'backbone':22} {'cut':12} {'map':10} {'trainable':>10} {'train img/s':>12} {'infer img/s':>12}")
    for name in args.backbones:
        row = measure(name, args.device, args.train_images, args.infer_images, args.batch)
        print(
            f"{row['backbone']:22} {row['node']:12} {row['map']:10} {row['trainable']:>10,} "
            f"{row['train_img_s']:>12.1f} {row['infer_img_s']:>12.1f}",
            flush=True,
        )
    print("# command: " + shlex.join([sys.executable, *sys.argv]))


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


if __name__ == "__main__":
    main()
