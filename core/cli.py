"""`python -m core <command>`: the lab's long jobs without the browser.

Commands:
    info        what is available here (encoders, corpora, backbones) and the device
    fit-layout  embed a corpus (cached, resumable) and fit the combined and per-layer layouts
    layouts     list the fitted layouts
    build-dataset  embed a labelled corpus, split it, fit the layout on the training rows, save images
    datasets    list the built image datasets
    train       train a sliced-backbone classifier on a dataset (resumes an interrupted run)
    baseline    logistic regression on the raw embeddings of a dataset, same split
    results     held-out metrics of every model and baseline of a dataset
    classify    classify texts with trained models (each model's probabilities and the ensemble vote)
    loo         leave-one-out study: SimpNet regresses GloVe vectors of class names, each class held out in turn
    studies     list leave-one-out studies and how complete they are
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from core import corpora, experiments, imaging, store
from core.encoders import DEFAULTS as ENCODER_DEFAULTS
from core.encoders import POOLINGS
from core.errors import USER_ERRORS, Interrupted
from core.layout import DEFAULTS as LAYOUT_DEFAULTS
from core.layout import DISCRETIZATIONS, METHODS
from core.train import DEFAULTS as TRAIN_DEFAULTS
from core.zeroshot import DEFAULTS as ZEROSHOT_DEFAULTS
from core.zeroshot import OFFLINE_PRESET as LAPTOP


def _progress(label: str):
    """A callback that draws a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=1, desc=label, unit="step", file=sys.stderr, dynamic_ncols=True)

    def callback(step: int, total: int, metrics: dict) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix({k: v for k, v in metrics.items() if k not in ("batch", "shard")}, refresh=False)
        bar.refresh()

    return callback


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "0", "off") else int(text)


def _pixels(text: str) -> int | tuple[int, int]:
    if "x" in text:
        height, width = text.lower().split("x", 1)
        return int(height), int(width)
    return int(text)


def _scaler(text: str) -> str | None:
    return None if text.lower() == "none" else text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Crossmodal Lab command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="what is available here, and the device")
    commands.add_parser("layouts", help="list fitted layouts")

    fit = commands.add_parser("fit-layout", help="embed a corpus and fit the feature layouts")
    _add_corpus_encoder_layout(fit)
    fit.add_argument("--layer-pixels", type=int, default=None, help="per-layer grid side (default: fits hidden)")
    fit.add_argument("--force", action="store_true", help="refit even if these settings were fitted before")

    build = commands.add_parser("build-dataset", help="embed a labelled corpus, split it, and turn it into images")
    _add_corpus_encoder_layout(build)
    split = build.add_argument_group("split")
    split.add_argument("--test-size", type=float, default=imaging.DATASET_DEFAULTS.test_size)
    split.add_argument("--split-seed", type=int, default=imaging.DATASET_DEFAULTS.seed)
    split.add_argument(
        "--fit-on", choices=imaging.FIT_ON, default=imaging.DATASET_DEFAULTS.fit_on,
        help="train: the layout sees the training rows only; all: the paper's way (test rows leak into the layout)",
    )

    commands.add_parser("datasets", help="list built image datasets")
    train = commands.add_parser("train", help="train a sliced-backbone classifier on an image dataset")
    train.add_argument("--dataset", required=True, help="dataset id (see: python -m core datasets)")
    train.add_argument("--backbone", required=True, help="e.g. efficientnet_lite0, squeezenet1_1 (offline) or alexnet (online)")
    train.add_argument("--cut", default=None, help="feature-extraction node to cut at (default: the paper's, or ours)")
    train.add_argument("--random-init", action="store_true", help="randomly initialised slice (the baseline)")
    train.add_argument("--finetune", action="store_true", help="train the slice too (default: frozen)")
    train.add_argument("--epochs", type=int, default=TRAIN_DEFAULTS.epochs)
    train.add_argument("--batch-size", type=int, default=TRAIN_DEFAULTS.batch_size)
    train.add_argument("--seed", type=int, default=TRAIN_DEFAULTS.seed)
    train.add_argument("--validation", type=float, default=TRAIN_DEFAULTS.validation,
                       help="share of the training split set aside to choose the best epoch (the held-out split chooses nothing)")
    train.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    baseline = commands.add_parser("baseline", help="logistic regression on the raw embeddings of a dataset")
    baseline.add_argument("--dataset", required=True)
    baseline.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    results = commands.add_parser("results", help="held-out metrics of every model and baseline of a dataset")
    results.add_argument("--dataset", required=True)
    classify = commands.add_parser("classify", help="classify texts with trained models")
    classify.add_argument("texts", nargs="+", help="one or more texts")
    classify.add_argument("--model", action="append", required=True, help="a model id or a folder with model.safetensors + config.json (repeat for an ensemble)")

    loo = commands.add_parser("loo", help="leave-one-out study: images into GloVe word-vector space")
    loo.add_argument("--laptop", action="store_true", help="the laptop study's settings (Fashion-MNIST, all classes, "
                     f"{LAPTOP['per_class']:,} images per class, {LAPTOP['epochs']} epochs, width {LAPTOP['width']}) where not given")
    loo.add_argument("--imageset", default=None, help="fashion_mnist (offline, the default), cifar100 (online) or folder")
    loo.add_argument("--path", default=None, help="the image folder (with --imageset folder) or a data folder")
    loo.add_argument("--classes", nargs="+", default=None, help="classes to leave out (default: all)")
    loo.add_argument("--per-class", type=int, default=None, help="training images per class (default: all; 0 = all)")
    loo.add_argument("--epochs", type=int, default=None, help=f"default {ZEROSHOT_DEFAULTS.epochs} (the paper's)")
    loo.add_argument("--width", type=float, default=None, help=f"SimpNet width multiplier (default {ZEROSHOT_DEFAULTS.width} = ~5.4M-parameter body)")
    loo.add_argument("--batch-size", type=int, default=ZEROSHOT_DEFAULTS.batch_size)
    loo.add_argument("--lr", type=float, default=ZEROSHOT_DEFAULTS.lr)
    loo.add_argument("--seed", type=int, default=ZEROSHOT_DEFAULTS.seed)
    loo.add_argument("--loss", choices=("mse", "cosine"), default=ZEROSHOT_DEFAULTS.loss)
    loo.add_argument("--words", choices=("best", "average"), default=ZEROSHOT_DEFAULTS.words, help="the best word of a class name, or the mean of its words")
    loo.add_argument("--table", default=None, help="class-name table: a packaged name or a CSV (class, best, words)")
    loo.add_argument("--threads", type=int, default=None, help="CPU threads per fold (part of the study's settings)")
    loo.add_argument("--ray", action="store_true", help="run folds as Ray tasks: a local Ray instance, or the cluster at $RAY_ADDRESS "
                     "(when RAY_ADDRESS is set, folds run on Ray even without --ray)")
    loo.add_argument("--redo", nargs="+", default=None, help="recompute these classes' folds (finished or damaged); no other fold is touched")
    loo.add_argument("--resume", default=None, metavar="STUDY_ID", help="finish a study with its recorded settings and image set, under the "
                     "same id (see: python -m core studies); only --ray, --redo and --device apply")
    loo.add_argument("--device", default=None)
    commands.add_parser("studies", help="list leave-one-out studies")
    return parser


def _add_corpus_encoder_layout(command: argparse.ArgumentParser) -> None:
    source = command.add_argument_group("corpus")
    source.add_argument("--corpus", default=corpora.DEFAULTS.name, help="rotten_tomatoes (offline), imdb (online) or csv")
    source.add_argument("--csv", help="path of a UTF-8 CSV (with --corpus csv)")
    source.add_argument("--text-column", default="text")
    source.add_argument("--label-column", default="label")
    source.add_argument("--n", type=_optional_int, default=corpora.DEFAULTS.n, help="texts to sample (none = all)")
    source.add_argument("--seed", type=int, default=corpora.DEFAULTS.seed, help="sampling seed")
    model = command.add_argument_group("encoder")
    model.add_argument("--encoder", default=ENCODER_DEFAULTS.name, help="packaged name, local folder or hub id")
    model.add_argument("--layers", type=int, nargs="+", help="hidden_states indices (default: the encoder's)")
    model.add_argument("--pooling", choices=POOLINGS, default=ENCODER_DEFAULTS.pooling)
    layout = command.add_argument_group("layout")
    layout.add_argument("--method", choices=METHODS, default=LAYOUT_DEFAULTS.method)
    layout.add_argument("--pixels", type=_pixels, default=LAYOUT_DEFAULTS.pixels, help="50 or 40x60")
    layout.add_argument("--discretization", choices=DISCRETIZATIONS, default=LAYOUT_DEFAULTS.discretization)
    layout.add_argument("--scaler", type=_scaler, default=LAYOUT_DEFAULTS.scaler, help="log, norm2, minmax or none")
    layout.add_argument("--reduce-dim", type=_optional_int, default=LAYOUT_DEFAULTS.reduce_dim)
    layout.add_argument("--metric", default=LAYOUT_DEFAULTS.metric)
    layout.add_argument("--perplexity", type=float, default=LAYOUT_DEFAULTS.perplexity)
    layout.add_argument("--n-neighbors", type=int, default=LAYOUT_DEFAULTS.n_neighbors)
    layout.add_argument("--n-iter", type=int, default=LAYOUT_DEFAULTS.n_iter)
    layout.add_argument("--early-exaggeration-iter", type=int, default=LAYOUT_DEFAULTS.early_exaggeration_iter)
    layout.add_argument("--layout-seed", type=int, default=LAYOUT_DEFAULTS.random_state)
    layout.add_argument("--n-jobs", type=int, default=LAYOUT_DEFAULTS.n_jobs)


def _corpus(args: argparse.Namespace):
    if args.corpus == "csv":
        if not args.csv:
            raise ValueError("--corpus csv needs --csv PATH (and --text-column / --label-column).")
        return corpora.load_csv(args.csv, args.text_column, args.label_column, n=args.n, seed=args.seed)
    return corpora.load_corpus(args.corpus, n=args.n, seed=args.seed)


def _layout_params(args: argparse.Namespace) -> dict:
    return {
        "method": args.method,
        "pixels": args.pixels,
        "discretization": args.discretization,
        "scaler": args.scaler,
        "reduce_dim": args.reduce_dim,
        "metric": args.metric,
        "perplexity": args.perplexity,
        "n_neighbors": args.n_neighbors,
        "n_iter": args.n_iter,
        "early_exaggeration_iter": args.early_exaggeration_iter,
        "random_state": args.layout_seed,
        "n_jobs": args.n_jobs,
    }


def _info() -> dict:
    from core.backbones import available_backbones
    from core.device import describe_device
    from core.encoders import available_encoders

    return {
        "device": describe_device(),
        "store": str(store.home()),
        "encoders": available_encoders(),
        "corpora": corpora.available_corpora(),
        "backbones": available_backbones(),
    }


def _fit_layout(args: argparse.Namespace) -> dict:
    from core.encoders import TextEncoder

    corpus, params = _corpus(args), _layout_params(args)
    imaging.check_settings(params, args.layer_pixels)  # fail before the costly embedding
    encoder = TextEncoder.from_name(args.encoder)
    embeddings = imaging.embed_corpus(encoder, corpus, args.layers, args.pooling, callback=_progress("embedding"))
    artifact = imaging.fit_imager(embeddings, params, args.layer_pixels, callback=_progress("layout"), force=args.force)
    return {"id": artifact.id, "path": str(artifact.path), "quality": artifact.config["quality"]}


def _build_dataset(args: argparse.Namespace) -> dict:
    from core.encoders import TextEncoder

    corpus, params = _corpus(args), _layout_params(args)
    corpora.check_labels(corpus)
    imaging.check_settings(params)
    encoder = TextEncoder.from_name(args.encoder)
    artifact = imaging.build_dataset(
        encoder, corpus, args.layers, args.pooling, params, args.test_size, args.split_seed, args.fit_on,
        callback=_progress("dataset"),
    )
    return {"id": artifact.id, "path": str(artifact.path), "split": artifact.config["split"], "quality": artifact.config["quality"]}


def _dataset(dataset_id: str) -> store.Artifact:
    found = store.load(imaging.DATASETS, dataset_id)
    if found is None:
        known = ", ".join(a.id for a in experiments.list_datasets()) or "none yet (python -m core build-dataset)"
        raise ValueError(f"no dataset {dataset_id!r}; built datasets: {known}.")
    return found


def _train(args: argparse.Namespace) -> dict:
    dataset = _dataset(args.dataset)
    bars: list = []

    def callback(epoch: int, epochs: int, metrics: dict) -> None:
        if not bars:
            bars.append(_progress("epochs"))
        bars[0](epoch, epochs, {k: round(metrics[k], 4) for k in ("train_loss", "test_loss", "accuracy", "val_accuracy") if k in metrics})

    artifact = experiments.train_model(
        dataset, args.backbone, args.cut, not args.random_init, args.finetune, args.epochs, args.batch_size, args.seed, args.device, callback,
        args.validation,
    )
    return {"id": artifact.id, "path": str(artifact.path), "status": artifact.config["status"], "best_epoch": artifact.config["best_epoch"], "metrics": artifact.config["metrics"]}


def _model_folder(reference: str):
    from pathlib import Path

    found = store.load(experiments.MODELS, reference) if "/" not in reference and not reference.startswith(".") else None
    if found is not None:
        return found.path
    if Path(reference).is_dir():
        return Path(reference)
    raise ValueError(f"{reference!r} is neither a trained model id (see: python -m core results --dataset ID) nor a folder.")


def _classify(args: argparse.Namespace) -> list[dict]:
    folders = [_model_folder(reference) for reference in args.model]
    configs = [store.read_json(folder / store.CONFIG_NAME) for folder in folders]
    datasets = {config.get("dataset") for config in configs}
    if len(datasets) != 1:
        raise ValueError("the models were trained on different datasets; an ensemble needs one dataset's images.")
    dataset = _dataset(datasets.pop())
    models = {folder.name: experiments.load_model(folder) for folder in folders}
    imager = experiments.dataset_imager(dataset)
    names = experiments.label_names(dataset)
    _, images = imager.images(args.texts)
    rows = []
    for text, image in zip(args.texts, images, strict=True):
        result = experiments.classify(models, image)
        rows.append(
            {
                "text": text,
                "vote": names[result["vote"]],
                "mean_probability": dict(zip(names, map(float, result["mean"]), strict=True)),
                "models": {m: dict(zip(names, map(float, p), strict=True)) for m, p in result["per_model"].items()},
            }
        )
    return rows


def _loo(args: argparse.Namespace) -> dict:
    import os

    from core import imagesets, sweeps, zeroshot

    bars: list = []

    def callback(done: int, total: int, metrics: dict) -> None:
        if not bars:
            bars.append(_progress("folds"))
        bars[0](done, total, {k: v for k, v in metrics.items() if k in ("fold", "epoch", "held_out_loss", "relative_change")})

    use_ray = args.ray or bool(os.environ.get(sweeps.RAY_ADDRESS_ENV))
    if args.resume:
        defaults = vars(build_parser().parse_args(["loo"]))
        given = ["--" + name.replace("_", "-") for name, value in vars(args).items()
                 if name not in ("command", "ray", "redo", "device", "resume") and value != defaults[name]]
        if given:
            raise ValueError(f"--resume runs the study with its recorded settings; drop {', '.join(given)} (only --ray, --redo and --device apply).")
        study = zeroshot.resume_study(args.resume, use_ray=use_ray, device=args.device, callback=callback, redo=args.redo)
    else:
        defaults = {"imageset": "fashion_mnist", "per_class": ZEROSHOT_DEFAULTS.per_class, "epochs": ZEROSHOT_DEFAULTS.epochs, "width": ZEROSHOT_DEFAULTS.width}
        for name, value in (LAPTOP if args.laptop else defaults).items():
            if getattr(args, name) is None:
                setattr(args, name, value)
        imageset = imagesets.load_imageset(args.imageset, args.path).subsample(args.per_class)
        config = zeroshot.study_config(
            imageset, args.classes, args.epochs, args.width, args.batch_size, args.lr, args.seed, args.loss, args.words, args.table, args.threads
        )
        study = zeroshot.run_study(imageset, config, use_ray=use_ray, redo=args.redo, device=args.device, callback=callback)
    return {"id": study.id, "path": str(zeroshot.study_dir(study.id)), **zeroshot.summary(study)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; user errors print a one-line message and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "info":
            result = _info()
        elif args.command == "layouts":
            result = [{"id": a.id, "label": imaging.imager_label(a)} for a in imaging.list_imagers()]
        elif args.command == "build-dataset":
            result = _build_dataset(args)
        elif args.command == "datasets":
            result = [{"id": a.id, "corpus": a.config["corpus"], "split": a.config["split"], "fit_on": a.config["fit_on"]} for a in experiments.list_datasets()]
        elif args.command == "train":
            result = _train(args)
        elif args.command == "baseline":
            artifact = experiments.logistic_baseline(_dataset(args.dataset), args.C)
            result = {"id": artifact.id, "metrics": artifact.config["metrics"]}
        elif args.command == "results":
            result = experiments.results_table(_dataset(args.dataset))
        elif args.command == "classify":
            result = _classify(args)
        elif args.command == "loo":
            result = _loo(args)
        elif args.command == "studies":
            from core import zeroshot

            result = [{"id": s.id, "label": s.label(), "complete": s.complete, **zeroshot.summary(s)} for s in zeroshot.list_studies()]
        else:
            result = _fit_layout(args)
    except Interrupted as stop:
        print(f"stopped: {stop} Run the same command again to resume.", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("stopped: finished shards are kept; run the same command again to resume.", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0

