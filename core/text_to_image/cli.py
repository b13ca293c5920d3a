"""The text -> image commands, each ``t2i-<verb>``: t2i-fit-layout, t2i-layouts, t2i-build-dataset, t2i-datasets,
t2i-train, t2i-seeds, t2i-baseline, t2i-results, t2i-classify, t2i-demo-export, t2i-demo-import, t2i-preset,
t2i-preset-differences. Each answers to its former name too (``train``, ``build-dataset`` ...), except
t2i-preset-differences: ``preset-differences`` is every paper's (``core/cli.py``).

``--preset NAME`` (:data:`core.text_to_image.presets.PRESETS`) starts t2i-fit-layout, t2i-build-dataset and
t2i-train from a preset's settings; the options given replace them one by one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core import corpora, store
from core.calibration import BINS, Calibration
from core.encoders import DEFAULTS as ENCODER_DEFAULTS
from core.encoders import LAYER_SETS, POOLINGS, parse_layers, recommended_pooling
from core.layout import DISCRETIZATIONS, METHODS, ROTATIONS
from core.progress import progress_bar
from core.text_to_image import calibration, classify, datasets, imaging, jobs, presets, results, training
from core.text_to_image.training import DEFAULTS as TRAIN_DEFAULTS
from core.text_to_image.training import TrainSettings


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "0", "off") else int(text)


def _pixels(text: str) -> int | tuple[int, int]:
    if "x" in text:
        height, width = text.lower().split("x", 1)
        return int(height), int(width)
    return int(text)


def _scaler(text: str) -> str | None:
    return None if text.lower() == "none" else text


def register(commands: argparse._SubParsersAction) -> None:
    """Add the text -> image commands to the lab's command line."""
    layouts = commands.add_parser("t2i-layouts", aliases=["layouts"], help="list fitted layouts")
    layouts.set_defaults(
        run=lambda args: [{"id": a.id, "label": imaging.imager_label(a)} for a in imaging.list_imagers()]
    )

    fit = commands.add_parser(
        "t2i-fit-layout", aliases=["fit-layout"], help="embed a corpus and fit the feature layouts"
    )
    _add_corpus_encoder_layout(fit)
    fit.add_argument("--layer-pixels", type=int, default=None, help="per-layer grid side (default: fits hidden)")
    fit.add_argument("--force", action="store_true", help="refit even if these settings were fitted before")
    fit.set_defaults(run=_fit_layout)

    build = commands.add_parser(
        "t2i-build-dataset",
        aliases=["build-dataset"],
        help="embed a labelled corpus, split it, and turn it into images",
    )
    _add_corpus_encoder_layout(build)
    split = build.add_argument_group(
        "split (default: the --preset's, else the lab's)", argument_default=argparse.SUPPRESS
    )
    split.add_argument("--test-size", type=float, help=f"held-out share (lab: {datasets.DATASET_DEFAULTS.test_size})")
    split.add_argument("--split-seed", type=int, help=f"the split's seed (lab: {datasets.DATASET_DEFAULTS.seed})")
    split.add_argument(
        "--fit-on",
        choices=datasets.FIT_ON,
        help="train: the layout sees the training rows only (the lab's); all: the paper's way (test rows leak into "
        "the layout)",
    )
    split.add_argument(
        "--split",
        choices=datasets.SPLITS,
        help="stratified (the lab's) or random_split (torch's, after torch.manual_seed(split seed): the paper's code)",
    )
    build.add_argument(
        "--channels",
        choices=datasets.CHANNELS,
        default="grey",
        help="grey: every layer's features in one image, copied into the backbone's three channels (the paper's); "
        "layers: exactly three --layers, each its own RGB channel of one layout (the lab's extension)",
    )
    build.set_defaults(run=_build_dataset)

    listed = commands.add_parser("t2i-datasets", aliases=["datasets"], help="list built image datasets")
    listed.set_defaults(
        run=lambda args: [
            {
                "id": a.id,
                "corpus": a.config["corpus"],
                "split": a.config["split"],
                "fit_on": a.config["fit_on"],
                "channels": datasets.channels_of(a.config),
            }
            for a in datasets.list_datasets()
        ]
    )
    train = commands.add_parser(
        "t2i-train",
        aliases=["train"],
        help="train a sliced-backbone classifier on an image dataset",
        argument_default=argparse.SUPPRESS,  # what is not given comes from --preset, else the lab's defaults
    )
    train.add_argument("--dataset", required=True, help="dataset id (see: python -m core t2i-datasets)")
    _add_preset(train)
    train.add_argument(
        "--backbone",
        help="e.g. efficientnet_lite0, squeezenet1_1 (offline) or alexnet (online); needed without --preset",
    )
    train.add_argument("--cut", help="feature-extraction node to cut at (default: the paper's, or ours)")
    train.add_argument(
        "--random-init",
        action="store_true",
        default=argparse.SUPPRESS,
        help="randomly initialised slice (the baseline)",
    )
    train.add_argument(
        "--finetune", action="store_true", default=argparse.SUPPRESS, help="train the slice too (default: frozen)"
    )
    train.add_argument("--epochs", type=int, help=f"lab: {TRAIN_DEFAULTS.epochs}")
    train.add_argument("--batch-size", type=int, help=f"lab: {TRAIN_DEFAULTS.batch_size}")
    train.add_argument("--seed", type=int, help=f"lab: {TRAIN_DEFAULTS.seed}")
    train.add_argument(
        "--validation",
        type=float,
        help="share of the training split set aside to choose the best epoch (the held-out split chooses nothing); "
        f"0: none, the last epoch is kept (the paper's code); lab: {TRAIN_DEFAULTS.validation}",
    )
    train.add_argument(
        "--normalise",
        choices=("split", "batch"),
        help="z-normalise with the training split's mean and std (the lab's) or each batch's own (the paper's code)",
    )
    train.add_argument(
        "--style",
        choices=("lab", "paper"),
        help="the new layers: the lab's, or the paper code's (Conv-ReLU-BN, its dropout, Xavier init, slice BatchNorm "
        "on batch statistics, torchvision V1 weights)",
    )
    train.add_argument("--device", help="cuda or cpu (default: cuda when present)")
    train.set_defaults(run=_train)
    _register_seeds(commands)
    baseline = commands.add_parser(
        "t2i-baseline", aliases=["baseline"], help="logistic regression on the raw embeddings of a dataset"
    )
    baseline.add_argument("--dataset", required=True)
    baseline.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    baseline.set_defaults(run=_baseline)
    measured = commands.add_parser(
        "t2i-results", aliases=["results"], help="held-out metrics of every model and baseline of a dataset"
    )
    measured.add_argument("--dataset", required=True)
    measured.add_argument(
        "--decompose",
        action="store_true",
        help="also say where the image route loses the sentence: the same held-out texts classified from the raw "
        "vectors, the image's pixels, the frozen slice's features, the trained CNN and the random-init CNN",
    )
    measured.add_argument(
        "--model", default=None, help="the model to decompose (default: the dataset's first ImageNet-slice model)"
    )
    measured.set_defaults(run=_results)
    run = commands.add_parser(
        "t2i-preset",
        aliases=["preset"],
        help="a whole run in one command: build the dataset, fit the baseline, train the model",
    )
    run.add_argument(
        "name",
        choices=list(presets.PRESETS),
        help="workshop: the offline demo; paper: Benarab 2021's exact settings (online); paper-offline: the same with "
        "packaged stand-ins for its online inputs",
    )
    run.add_argument("--n", type=_optional_int, default=None, help="texts to sample (none = all)")
    run.add_argument("--encoder", default=None, help="another encoder (e.g. all-MiniLM-L6-v2 for the paper offline)")
    run.add_argument("--backbone", default=None, help="another backbone (e.g. efficientnet_lite0 offline)")
    run.add_argument("--epochs", type=int, default=None)
    run.add_argument("--device", default=None)
    run.set_defaults(run=_preset)
    differences = commands.add_parser(
        "t2i-preset-differences",
        help="every setting in which the lab's workshop preset differs from the paper preset (the paper's code), and "
        "why (every paper's: preset-differences)",
    )
    differences.add_argument(
        "--markdown", action="store_true", help="as Markdown tables (the first section of docs/presets.md)"
    )
    differences.set_defaults(
        run=lambda args: presets.differences_markdown() if args.markdown else presets.differences()
    )
    texts = commands.add_parser("t2i-classify", aliases=["classify"], help="classify texts with trained models")
    texts.add_argument("texts", nargs="+", help="one or more texts")
    texts.add_argument(
        "--model",
        action="append",
        required=True,
        help="a model id or a folder with model.safetensors + config.json (repeat for an ensemble)",
    )
    texts.add_argument(
        "--raw",
        action="store_true",
        help="the models' raw probabilities, softmax(logits); by default each model's are calibrated, "
        "softmax(logits / T) with T fitted on its validation split",
    )
    texts.set_defaults(run=_classify)

    export = commands.add_parser(
        "t2i-demo-export",
        aliases=["demo-export"],
        help="a dataset (layout, imager settings) and trained models as one archive for another machine",
    )
    export.add_argument("--dataset", required=True, help="a dataset id (see: t2i-datasets)")
    export.add_argument("--model", action="append", required=True, help="a model id of that dataset (repeat)")
    export.add_argument("--out", required=True, help="the archive to write (.zip)")
    export.set_defaults(run=_demo_export)
    imported = commands.add_parser(
        "t2i-demo-import", aliases=["demo-import"], help="check a demo archive and add its dataset and models here"
    )
    imported.add_argument("archive", help="a .zip written by t2i-demo-export")
    imported.set_defaults(run=_demo_import)


def _register_seeds(commands: argparse._SubParsersAction) -> None:
    seeds = commands.add_parser(
        "t2i-seeds",
        help="the ImageNet slice against a random-init slice (and logistic regression) over seeds, with evidence",
        description="Train the ImageNet slice and a randomly initialised slice of the same backbone once per seed, fit "
        "the logistic-regression baseline on the same split, and print each variant's accuracy with its intervals, "
        "the paired comparisons, the smallest detectable difference and the verdict. Finished seeds are reused: a "
        "stopped sweep resumes at the next unfinished one.",
    )
    seeds.add_argument("--dataset", required=True, help="dataset id (see: python -m core t2i-datasets)")
    _add_preset(seeds)
    seeds.add_argument(
        "--seeds", nargs="*", default=None, help="the seeds, e.g. 0 1 2 (default: 0 1 2)", metavar="SEED"
    )
    seeds.add_argument(
        "--backbone",
        default=None,
        help=f"default: the --preset's, else the workshop's ({presets.WORKSHOP.train.backbone})",
    )
    seeds.add_argument("--cut", default=None, help="feature-extraction node to cut at (default: the paper's, or ours)")
    seeds.add_argument("--epochs", type=int, default=None, help=f"workshop: {presets.WORKSHOP.train.epochs}")
    seeds.add_argument("--batch-size", type=int, default=None, help=f"workshop: {presets.WORKSHOP.train.batch_size}")
    seeds.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    seeds.add_argument(
        "--no-logistic", action="store_true", help="leave out the logistic-regression baseline (no embeddings needed)"
    )
    seeds.add_argument(
        "--ray",
        action="store_true",
        help="run the jobs as Ray tasks (local Ray; the cluster at $RAY_ADDRESS if set, whose nodes must share "
        "$CROSSMODAL_HOME)",
    )
    seeds.set_defaults(run=_seeds)


def _seed_list(given: list[str] | None) -> tuple[int, ...]:
    from core.text_to_image.seeds import SeedSettings, parse_seeds

    return SeedSettings.seeds if given is None else parse_seeds(" ".join(given))


def _seeds(args: argparse.Namespace) -> dict:
    import os
    from dataclasses import replace

    from core import sweeps
    from core.text_to_image import seeds

    train = presets.PRESETS[args.preset].train if args.preset else presets.WORKSHOP.train
    changes = {"backbone": args.backbone, "node": args.cut, "epochs": args.epochs, "batch_size": args.batch_size}
    train = replace(train, device=args.device, **{k: v for k, v in changes.items() if v is not None})
    settings = seeds.settings_from_train(args.dataset, _seed_list(args.seeds), train, logistic=not args.no_logistic)
    settings.check()
    datasets.find_dataset(args.dataset)
    bars: list = []

    def callback(done: int, total: int, info: dict) -> None:
        if not bars:
            bars.append(progress_bar("seed sweep"))
        bars[0](done, total, info)

    use_ray = args.ray or bool(os.environ.get(sweeps.RAY_ADDRESS_ENV))
    return seeds.run_sweep(settings, callback, use_ray=use_ray)


def _demo_export(args: argparse.Namespace) -> dict:
    from core.text_to_image import demos

    manifest = demos.export_demo(args.out, args.dataset, args.model)
    size = Path(args.out).stat().st_size
    return {
        "archive": str(Path(args.out).resolve()),
        "bytes": size,
        "dataset": manifest["dataset"],
        "models": manifest["models"],
        "baselines": manifest["baselines"],
        "imagers": manifest["imagers"],
    }


def _demo_import(args: argparse.Namespace) -> dict:
    from core.text_to_image import demos

    if not Path(args.archive).is_file():
        raise FileNotFoundError(f"{args.archive} is not a file; give the .zip written by t2i-demo-export.")
    found = demos.import_demo(args.archive)
    return {
        "imported": [f"{kind}/{artifact_id}" for kind, artifact_id, new in found if new],
        "already_here": [f"{kind}/{artifact_id}" for kind, artifact_id, new in found if not new],
    }


def _add_preset(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--preset",
        choices=list(presets.PRESETS),
        default=None,
        help="start from a preset's settings (see: t2i-preset-differences); the options given replace them",
    )


def _add_corpus_encoder_layout(command: argparse.ArgumentParser) -> None:
    _add_preset(command)
    source = command.add_argument_group("corpus (default: the --preset's, else the lab's)")
    source.add_argument(
        "--corpus",
        default=argparse.SUPPRESS,
        help=f"rotten_tomatoes (offline), imdb (online) or csv (lab: {corpora.DEFAULTS.name})",
    )
    source.add_argument("--csv", help="path of a UTF-8 CSV (with --corpus csv)")
    source.add_argument("--text-column", default="text")
    source.add_argument("--label-column", default="label")
    source.add_argument(
        "--n",
        type=_optional_int,
        default=argparse.SUPPRESS,
        help=f"texts to sample (none = all; lab: {corpora.DEFAULTS.n})",
    )
    source.add_argument(
        "--seed", type=int, default=argparse.SUPPRESS, help=f"sampling seed (lab: {corpora.DEFAULTS.seed})"
    )
    model = command.add_argument_group(
        "encoder (default: the --preset's, else the lab's)", argument_default=argparse.SUPPRESS
    )
    model.add_argument("--encoder", help=f"packaged name, local folder or hub id (lab: {ENCODER_DEFAULTS.name})")
    model.add_argument(
        "--layers",
        nargs="+",
        help=f"hidden_states indices, or one of {', '.join(LAYER_SETS)} (paper-code: 6..11 as the paper's code; "
        "last-six: -6..-1 as its abstract says); default: the encoder's",
    )
    model.add_argument(
        "--pooling",
        choices=POOLINGS,
        help="default: the --preset's, else the encoder's recommended pooling (mean for "
        "sentence-transformers models such as all-MiniLM-L6-v2, cls for bert-base)",
    )
    layout = command.add_argument_group(
        "layout (each setting defaults to the --layout base's)", argument_default=argparse.SUPPRESS
    )
    layout.add_argument(
        "--layout",
        choices=("lab", "paper"),
        help="start from the lab's defaults or the paper's exact layout (docs/presets.md); default: the --preset's "
        "layout, else the lab's",
    )
    layout.add_argument("--method", choices=METHODS)
    layout.add_argument("--pixels", type=_pixels, help="50 or 40x60")
    layout.add_argument("--discretization", choices=DISCRETIZATIONS)
    layout.add_argument("--rotation", choices=ROTATIONS)
    layout.add_argument("--scaler", type=_scaler, help="log, norm2, minmax or none")
    layout.add_argument("--reduce-dim", type=_optional_int)
    layout.add_argument("--metric")
    layout.add_argument("--perplexity", type=float)
    layout.add_argument("--n-neighbors", type=int)
    layout.add_argument("--n-iter", type=int)
    layout.add_argument("--early-exaggeration-iter", type=int)
    layout.add_argument("--layout-seed", type=int)
    layout.add_argument("--n-jobs", type=int)


def _with_preset(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with every corpus, encoder and split option left out taken from the --preset, else the lab's
    defaults (the layout's are taken by :func:`_layout_params`)."""
    chosen = presets.PRESETS[args.preset] if args.preset else None
    lab = datasets.DATASET_DEFAULTS
    base = {
        "corpus": chosen.corpus if chosen else corpora.DEFAULTS.name,
        "n": chosen.n if chosen else corpora.DEFAULTS.n,
        "seed": chosen.corpus_seed if chosen else corpora.DEFAULTS.seed,
        "encoder": chosen.encoder if chosen else ENCODER_DEFAULTS.name,
        "layers": [str(layer) for layer in chosen.layers] if chosen and chosen.layers else None,
        "pooling": chosen.pooling if chosen else None,
        "test_size": chosen.test_size if chosen else lab.test_size,
        "split_seed": chosen.split_seed if chosen else lab.seed,
        "fit_on": chosen.fit_on if chosen else lab.fit_on,
        "split": chosen.split if chosen else lab.split,
    }
    return argparse.Namespace(**{**base, **vars(args)})


def _corpus(args: argparse.Namespace):
    if args.corpus == "csv":
        if not args.csv:
            raise ValueError("--corpus csv needs --csv PATH (and --text-column / --label-column).")
        return corpora.load_csv(args.csv, args.text_column, args.label_column, n=args.n, seed=args.seed)
    return corpora.load_corpus(args.corpus, n=args.n, seed=args.seed)


_LAYOUT_OPTIONS = {
    "method": "method",
    "pixels": "pixels",
    "discretization": "discretization",
    "rotation": "rotation",
    "scaler": "scaler",
    "reduce_dim": "reduce_dim",
    "metric": "metric",
    "perplexity": "perplexity",
    "n_neighbors": "n_neighbors",
    "n_iter": "n_iter",
    "early_exaggeration_iter": "early_exaggeration_iter",
    "random_state": "layout_seed",
    "n_jobs": "n_jobs",
}


def _layout_params(args: argparse.Namespace) -> dict:
    """The --layout base's settings (without --layout: the --preset's layout, else the lab's), each replaced by its
    option when one is given (``--scaler none`` and ``--reduce-dim off`` included: options left out are absent
    from ``args``)."""
    given = vars(args)
    if "layout" in given or not args.preset:
        base = presets.layout_base(given.get("layout", "lab"))
    else:
        base = dict(presets.PRESETS[args.preset].layout)
    base.update({param: given[dest] for param, dest in _LAYOUT_OPTIONS.items() if dest in given})
    return base


def _encoding(args: argparse.Namespace) -> dict:
    """The layers, pooling and layout of ``args`` (after :func:`_with_preset`), as settings keywords."""
    layers = parse_layers(" ".join(args.layers)) if args.layers else None
    return {
        "layers": tuple(layers) if layers else None,
        "pooling": args.pooling or recommended_pooling(args.encoder),
        "layout": _layout_params(args),
    }


def _fit_layout(args: argparse.Namespace) -> dict:
    args = _with_preset(args)
    settings = imaging.LayoutFitSettings(**_encoding(args), layer_pixels=args.layer_pixels)
    artifact = jobs.fit_layout(_corpus(args), args.encoder, settings, progress=progress_bar, force=args.force)
    return {"id": artifact.id, "path": str(artifact.path), "quality": artifact.config["quality"]}


def _build_dataset(args: argparse.Namespace) -> dict:
    args = _with_preset(args)
    settings = datasets.DatasetSettings(
        **_encoding(args),
        test_size=args.test_size,
        seed=args.split_seed,
        fit_on=args.fit_on,
        split=args.split,
        channels=args.channels,
    )
    artifact = jobs.build_dataset(_corpus(args), args.encoder, settings, progress=progress_bar)
    return {
        "id": artifact.id,
        "path": str(artifact.path),
        "split": artifact.config["split"],
        "quality": artifact.config["quality"],
    }


def _train(args: argparse.Namespace) -> dict:
    dataset = datasets.find_dataset(args.dataset)
    bars: list = []

    def callback(epoch: int, epochs: int, metrics: dict) -> None:
        if not bars:
            bars.append(progress_bar("epochs"))
        bars[0](
            epoch,
            epochs,
            {k: round(metrics[k], 4) for k in ("train_loss", "test_loss", "accuracy", "val_accuracy") if k in metrics},
        )

    artifact = training.train_model(dataset, _train_settings(args), callback)
    return {
        "id": artifact.id,
        "path": str(artifact.path),
        "status": artifact.config["status"],
        "best_epoch": artifact.config["best_epoch"],
        "metrics": artifact.config["metrics"],
        "calibration": _calibration(artifact),
        **_references(dataset, artifact),
    }


def _calibration(artifact: store.Artifact) -> dict:
    """A model's temperature and ECE before and after it; a warning on stderr when the raw model is over-confident."""
    found = calibration.summary(artifact)
    fitted = calibration.model_calibration(artifact, fit=False)
    if isinstance(fitted, Calibration) and fitted.overconfident:
        print(f"warning: {results.model_name(artifact)} ({artifact.id}): {fitted.message()}", file=sys.stderr)
        found["warning"] = fitted.message()
    return {**found, "ECE bins": BINS}


def _results(args: argparse.Namespace) -> list[dict] | dict:
    dataset = datasets.find_dataset(args.dataset)
    rows = results.results_table(dataset)
    for artifact in results.list_models(dataset):
        _calibration(artifact)  # the warnings (stored figures: already in the rows)
    if args.model and not args.decompose:
        raise ValueError("--model names the model to decompose: give --decompose too.")
    if not args.decompose:
        return rows
    from core.text_to_image import decomposition

    model = decomposition.model_to_decompose(dataset, args.model)
    found = decomposition.decompose(dataset, model, progress_bar("decomposing"))
    return {"models": rows, "decomposition": found.config | {"sentences": decomposition.summary_text(found.config)}}


_TRAIN_OPTIONS = {
    "backbone": "backbone",
    "node": "cut",
    "finetune": "finetune",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "seed": "seed",
    "validation": "validation",
    "device": "device",
    "normalise": "normalise",
    "style": "style",
}


def _train_settings(args: argparse.Namespace) -> TrainSettings:
    """The --preset's training settings (else the lab's), each replaced by its option when one is given."""
    from dataclasses import replace

    given = vars(args)
    if not args.preset and "backbone" not in given:
        raise ValueError("give --backbone (e.g. efficientnet_lite0) or --preset NAME.")
    base = presets.PRESETS[args.preset].train if args.preset else TRAIN_DEFAULTS
    changes = {field: given[dest] for field, dest in _TRAIN_OPTIONS.items() if dest in given}
    if "random_init" in given:
        changes["pretrained"] = not given["random_init"]
    return replace(base, **changes)


def _references(dataset: store.Artifact, artifact: store.Artifact) -> dict:
    """The majority-class rate and chance beside a model's accuracy, and a warning when it is degenerate."""
    ref, check = results.reference(dataset), results.check_predictions(artifact)
    found = {"majority_class": ref.majority_class, "majority_rate": ref.majority_rate, "chance": ref.chance}
    if check.degenerate:
        print(f"warning: {check.message()}", file=sys.stderr)
        found["warning"] = check.message()
    return {"reference": found}


def _preset(args: argparse.Namespace) -> dict:
    from dataclasses import replace

    chosen = presets.PRESETS[args.name]
    train = replace(
        chosen.train,
        **{k: v for k, v in {"backbone": args.backbone, "epochs": args.epochs, "device": args.device}.items() if v},
    )
    chosen = presets.preset(args.name, n=args.n, encoder=args.encoder, train=train)
    print(presets.describe(chosen), file=sys.stderr)
    bars: list = []

    def callback(epoch: int, epochs: int, metrics: dict) -> None:
        if not bars:
            bars.append(progress_bar("epochs"))
        bars[0](
            epoch, epochs, {k: round(metrics[k], 4) for k in ("train_loss", "accuracy", "val_accuracy") if k in metrics}
        )

    summary = presets.run(chosen, progress_bar, callback).summary()
    if "warning" in summary:
        print(f"warning: {summary['warning']}", file=sys.stderr)
    return summary


def _baseline(args: argparse.Namespace) -> dict:
    dataset = datasets.find_dataset(args.dataset)
    artifact = training.logistic_baseline(dataset, args.C)
    return {"id": artifact.id, "metrics": artifact.config["metrics"], **_references(dataset, artifact)}


def _model_folder(reference: str):
    from pathlib import Path

    found = store.load(training.MODELS, reference) if "/" not in reference and not reference.startswith(".") else None
    if found is not None:
        return found.path
    if Path(reference).is_dir():
        return Path(reference)
    raise ValueError(
        f"{reference!r} is neither a trained model id (see: python -m core t2i-results --dataset ID) nor a folder."
    )


def _classify(args: argparse.Namespace) -> list[dict]:
    folders = [_model_folder(reference) for reference in args.model]
    configs = [store.read_json(folder / store.CONFIG_NAME) for folder in folders]
    sources = {config.get("dataset") for config in configs}
    if len(sources) != 1:
        raise ValueError("the models were trained on different datasets; an ensemble needs one dataset's images.")
    dataset = datasets.find_dataset(sources.pop())
    models = {folder.name: classify.load_model(folder) for folder in folders}
    artifacts = {
        folder.name: store.Artifact(training.MODELS, folder.name, folder, config)
        for folder, config in zip(folders, configs, strict=True)
    }
    found = {name: _calibration(artifact) for name, artifact in artifacts.items()}
    temperatures = None if args.raw else {name: f["temperature"] for name, f in found.items()}
    imager = classify.dataset_imager(dataset)
    names = datasets.label_names(dataset)

    def by_class(probabilities) -> dict[str, float]:
        return dict(zip(names, map(float, probabilities), strict=True))

    _, images = imager.images(args.texts)
    rows = []
    for text, image in zip(args.texts, images, strict=True):
        result = classify.classify(models, image, temperatures)
        row = {
            "text": text,
            "vote": names[result["vote"]],
            "probabilities": "raw: softmax(logits)" if args.raw else _CALIBRATED,
            "mean_probability": by_class(result["mean"]),
            "models": {m: by_class(p) for m, p in result["per_model"].items()},
        }
        if not args.raw:
            row["raw"] = {m: by_class(p) for m, p in result["raw"].items()}
        rows.append({**row, "calibration": found})
    return rows


_CALIBRATED = (
    "calibrated: softmax(logits / T), T fitted on each model's validation split (raw where a model has none; "
    "--raw for the raw ones)"
)


def available() -> dict:
    """What ``python -m core info`` says of text -> image: the ImageNet backbones and whether each loads here."""
    from core.text_to_image.backbones import available_backbones

    return {"backbones": available_backbones()}
