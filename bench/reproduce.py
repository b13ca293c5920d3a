"""Reproduction runs: build one image dataset, train several classifiers on it, print the table.

Everything goes through the library the app uses (``core.datasets.build_dataset``,
``core.training.train_model`` / ``logistic_baseline``), so every run is also an artifact in the
store (resumable: run the same command again after an interruption and finished work is reused).

Corpora: ``rotten_tomatoes`` (offline, short snippets) or a CSV such as
``../shared/data/imdb_first3180.csv`` (3,180 long IMDB reviews; columns review, sentiment).

Run from the repository root::

    # offline, CPU: the offline ImageNet backbones, random-init slices of the paper's five, the baseline
    .venv/bin/python bench/reproduce.py --corpus rotten_tomatoes --n 4000
    .venv/bin/python bench/reproduce.py --csv ../shared/data/imdb_first3180.csv
    # online, on a GPU: the paper's setting (bert-base-uncased, [CLS] of hidden_states 6..11 = its default layers,
    # its five ImageNet backbones)
    python bench/reproduce.py --corpus imdb --n 0 --encoder bert-base-uncased \
        --backbones alexnet wide_resnet50_2 resnext50_32x4d shufflenet_v2_x1_0 vgg16 --init imagenet

It prints the time of each stage and one row per model (held-out accuracy, F1, precision, recall of
the best epoch, measured with scikit-learn on the whole held-out split); it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OFFLINE = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "squeezenet1_1"]
PAPER = ["alexnet", "wide_resnet50_2", "resnext50_32x4d", "shufflenet_v2_x1_0", "vgg16"]


def main() -> None:
    import torch

    from core import corpora
    from core.encoders import DEFAULTS as ENCODER_DEFAULTS
    from core.encoders import TextEncoder
    from core.text_to_image import datasets, training
    from core.text_to_image.training import TrainSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="rotten_tomatoes")
    parser.add_argument("--csv", default=None, help="CSV with columns review, sentiment (overrides --corpus)")
    parser.add_argument("--n", type=int, default=0, help="texts to sample (0 = all)")
    parser.add_argument("--encoder", default=ENCODER_DEFAULTS.name)
    parser.add_argument("--layers", type=int, nargs="+", default=None)
    parser.add_argument("--fit-on", default="train", choices=datasets.FIT_ON)
    parser.add_argument("--backbones", nargs="+", default=OFFLINE + PAPER)
    parser.add_argument(
        "--init",
        nargs="+",
        default=None,
        help="imagenet and/or random; default: imagenet for the offline backbones, random for the paper's",
    )
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--normalise", default="batch", choices=("batch", "split"), help="batch: the paper's per-batch z-normalisation"
    )
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args()

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}"
    )
    print("# command: " + shlex.join([sys.executable, *sys.argv]), flush=True)
    started = time.perf_counter()
    if args.csv:
        if not Path(args.csv).is_file():
            sys.exit(f"{args.csv} does not exist (the IMDB sample lives in ../shared/data/ beside the repository).")
        corpus = corpora.load_csv(args.csv, "review", "sentiment", n=args.n or None, seed=0)
    else:
        corpus = corpora.load_corpus(args.corpus, n=args.n or None, seed=0)
    encoder = TextEncoder.from_name(args.encoder, device=args.device)
    layers = tuple(args.layers) if args.layers else None
    dataset = datasets.build_dataset(
        encoder, corpus, datasets.DatasetSettings(layers=layers, pooling="cls", layout={}, fit_on=args.fit_on)
    )
    print(
        f"stage dataset ({len(corpus)} texts, embed + layout + images, cached when rerun): "
        f"{time.perf_counter() - started:.1f} s "
        f"-> dataset {dataset.id}, split {dataset.config['split']}",
        flush=True,
    )
    rows = []
    started = time.perf_counter()
    baseline = training.logistic_baseline(dataset)
    rows.append(
        {
            "model": "logistic regression (raw embeddings)",
            "init": "",
            **baseline.config["metrics"],
            "seconds": baseline.config["seconds"],
        }
    )
    print(f"stage baseline: {time.perf_counter() - started:.1f} s", flush=True)
    for name in args.backbones:
        for init in args.init or (["imagenet"] if name in OFFLINE else ["random"]):
            started = time.perf_counter()
            artifact = training.train_model(
                dataset,
                TrainSettings(
                    name,
                    pretrained=init == "imagenet",
                    epochs=args.epochs,
                    batch_size=args.batch,
                    device=args.device,
                    normalise=args.normalise,
                ),
            )
            c = artifact.config
            rows.append(
                {
                    "model": f"{name} @ {c['classifier']['node']}",
                    "init": init,
                    **c["metrics"],
                    "seconds": c["seconds"],
                    "best_epoch": c["best_epoch"],
                    "id": artifact.id,
                }
            )
            print(
                f"stage train {name} ({init}, {args.epochs} epochs): "
                f"{time.perf_counter() - started:.1f} s wall, {c['seconds']:.1f} s in epochs, "
                f"accuracy {c['metrics']['accuracy']:.4f} (best epoch {c['best_epoch']})",
                flush=True,
            )
    print()
    print("| model | slice weights | accuracy | F1 | precision | recall | train s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['model']} | {row['init']} | {row['accuracy']:.4f} | {row['f1']:.4f} | "
            f"{row['precision']:.4f} | {row['recall']:.4f} | {row['seconds']:.0f} |"
        )
    if args.out:
        Path(args.out).write_text(
            json.dumps({"dataset": dataset.id, "config": dataset.config, "rows": rows}, indent=2, default=str)
        )


if __name__ == "__main__":
    main()
