"""The images -> words commands: loo (run, resume or redo a leave-one-out study) and studies."""

from __future__ import annotations

import argparse
import os
from dataclasses import fields, replace

from core.images_to_words import jobs
from core.images_to_words import loo as study
from core.images_to_words.loo import DEFAULTS, OFFLINE_PRESET, LooSettings
from core.progress import progress_bar

LAPTOP = OFFLINE_PRESET
PRESET_FIELDS = ("imageset", "per_class", "epochs", "width")
"""The settings --laptop fills in where they are not given."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add the images -> words commands to the lab's command line."""
    loo = commands.add_parser("loo", help="leave-one-out study: images into GloVe word-vector space")
    loo.add_argument(
        "--laptop",
        action="store_true",
        help="the laptop study's settings (Fashion-MNIST, all classes, "
        f"{LAPTOP.per_class:,} images per class, {LAPTOP.epochs} epochs, width {LAPTOP.width}) where not given",
    )
    loo.add_argument(
        "--imageset", default=None, help="fashion_mnist (offline, the default), cifar100 (online) or folder"
    )
    loo.add_argument("--path", default=None, help="the image folder (with --imageset folder) or a data folder")
    loo.add_argument("--classes", nargs="+", default=None, help="classes to leave out (default: all)")
    loo.add_argument("--per-class", type=int, default=None, help="training images per class (default: all; 0 = all)")
    loo.add_argument("--epochs", type=int, default=None, help=f"default {DEFAULTS.epochs} (the paper's)")
    loo.add_argument(
        "--width",
        type=float,
        default=None,
        help=f"SimpNet width multiplier (default {DEFAULTS.width} = ~5.4M-parameter body)",
    )
    loo.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    loo.add_argument("--lr", type=float, default=DEFAULTS.lr)
    loo.add_argument("--seed", type=int, default=DEFAULTS.seed)
    loo.add_argument("--loss", choices=("mse", "cosine"), default=DEFAULTS.loss)
    loo.add_argument(
        "--words",
        choices=("best", "average"),
        default=DEFAULTS.words,
        help="the best word of a class name, or the mean of its words",
    )
    loo.add_argument("--table", default=None, help="class-name table: a packaged name or a CSV (class, best, words)")
    loo.add_argument("--threads", type=int, default=None, help="CPU threads per fold (part of the study's settings)")
    loo.add_argument(
        "--ray",
        action="store_true",
        help="run folds as Ray tasks: a local Ray instance, or the cluster at $RAY_ADDRESS "
        "(when RAY_ADDRESS is set, folds run on Ray even without --ray)",
    )
    loo.add_argument(
        "--redo",
        nargs="+",
        default=None,
        help="recompute these classes' folds (finished or damaged); no other fold is touched",
    )
    loo.add_argument(
        "--resume",
        default=None,
        metavar="STUDY_ID",
        help="finish a study with its recorded settings and image set, under the "
        "same id (see: python -m core studies); only --ray, --redo, --shuffled-control and --device apply",
    )
    loo.add_argument(
        "--shuffled-control",
        action="store_true",
        help="also train every fold with the trained classes' words permuted (the shuffled-words control; twice "
        "the cost); with --resume, adds it to a finished study's folds",
    )
    loo.add_argument("--device", default=None)
    loo.set_defaults(run=_loo)
    studies = commands.add_parser("studies", help="list leave-one-out studies, with their figures and controls")
    studies.add_argument(
        "--add-controls",
        metavar="STUDY_ID",
        default=None,
        help="compute the controls (constant and nearest-word predictors) of a study recorded without them; "
        "no retraining",
    )
    studies.set_defaults(run=_studies)


def _studies(args: argparse.Namespace) -> list[dict]:
    if args.add_controls:
        study.add_controls(study.load_study(args.add_controls))
    return [{"id": s.id, "label": s.label(), "complete": s.complete, **study.summary(s)} for s in study.list_studies()]


def _settings(args: argparse.Namespace) -> LooSettings:
    """The study settings of the command line: --laptop (or the defaults) where a preset setting is not given."""
    base = LAPTOP if args.laptop else replace(DEFAULTS, imageset="fashion_mnist")
    given = {f.name: getattr(args, f.name) for f in fields(LooSettings) if hasattr(args, f.name)}
    given["classes"] = tuple(args.classes) if args.classes else None
    for name in PRESET_FIELDS:
        if given[name] is None:
            given[name] = getattr(base, name)
    return LooSettings(**given)


def _loo(args: argparse.Namespace) -> dict:
    from core import sweeps

    bars: list = []

    def callback(done: int, total: int, metrics: dict) -> None:
        if not bars:
            bars.append(progress_bar("folds"))
        bars[0](
            done,
            total,
            {k: v for k, v in metrics.items() if k in ("fold", "epoch", "held_out_loss", "relative_change")},
        )

    use_ray = args.ray or bool(os.environ.get(sweeps.RAY_ADDRESS_ENV))
    if args.resume:
        from core.cli import build_parser

        defaults = vars(build_parser().parse_args(["loo"]))
        given = [
            "--" + name.replace("_", "-")
            for name, value in vars(args).items()
            if name not in ("command", "ray", "redo", "device", "resume", "run", "shuffled_control")
            and value != defaults[name]
        ]
        if given:
            raise ValueError(
                f"--resume runs the study with its recorded settings; drop {', '.join(given)} "
                "(only --ray, --redo, --shuffled-control and --device apply)."
            )
        found = jobs.resume_loo(
            args.resume,
            use_ray=use_ray,
            device=args.device,
            callback=callback,
            redo=args.redo,
            shuffled=args.shuffled_control,
        )
    else:
        found = jobs.run_loo(_settings(args), use_ray=use_ray, redo=args.redo, device=args.device, callback=callback)
    return {"id": found.id, "path": str(study.study_dir(found.id)), **study.summary(found)}


def available() -> dict:
    """What ``python -m core info`` says of images -> words: nothing of its own (its image sets and word
    vectors are the shared base's, which ``info`` lists itself)."""
    return {}
