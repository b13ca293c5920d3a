"""The images -> words commands: loo-run (run, resume or redo a leave-one-out study; alias loo) and loo-results
(the studies so far; alias studies)."""

from __future__ import annotations

import argparse
import os
from dataclasses import fields, replace

from core.images_to_words import analysis, jobs, loo
from core.images_to_words.settings import DEFAULTS, LAPTOP, LOSSES, PRESETS, StudySettings
from core.progress import progress_bar
from core.wordvectors import WORD_MODES


def register(commands: argparse._SubParsersAction) -> None:
    """Add the images -> words commands to the lab's command line."""
    run = commands.add_parser(
        "loo-run", aliases=["loo"], help="leave-one-out study: images into GloVe word-vector space"
    )
    run.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="start from a preset's settings (laptop: ~half an hour on 2 CPU cores; paper: the poster's CIFAR-100 "
        "study, online and GPU-sized); options given override it (default: the poster's 25 epochs at full width with "
        "the lab's optimiser, batch and learning rate, on Fashion-MNIST)",
    )
    run.add_argument(
        "--laptop",
        dest="preset",
        action="store_const",
        const="laptop",
        help="the same as --preset laptop: the laptop study's settings (Fashion-MNIST, all classes, "
        f"{LAPTOP.per_class:,} images per class, {LAPTOP.epochs} epochs, width {LAPTOP.width}) where not given",
    )
    run.add_argument(
        "--imageset", default=None, help="fashion_mnist (offline, the default), cifar100 (online) or folder"
    )
    run.add_argument("--path", default=None, help="the image folder (with --imageset folder) or a data folder")
    run.add_argument("--classes", nargs="+", default=None, help="classes to leave out (default: all)")
    run.add_argument("--per-class", type=int, default=None, help="training images per class (default: all; 0 = all)")
    run.add_argument("--epochs", type=int, default=None, help=f"default {DEFAULTS.epochs} (the paper's)")
    run.add_argument(
        "--width",
        type=float,
        default=None,
        help=f"SimpNet width multiplier (default {DEFAULTS.width} = ~5.4M-parameter body)",
    )
    run.add_argument("--batch-size", type=int, default=None, help=f"default {DEFAULTS.batch_size}")
    run.add_argument("--lr", type=float, default=None, help=f"default {DEFAULTS.lr}")
    run.add_argument("--seed", type=int, default=None, help=f"default {DEFAULTS.seed}")
    run.add_argument("--loss", choices=LOSSES, default=None, help=f"default {DEFAULTS.loss}")
    run.add_argument(
        "--words",
        choices=WORD_MODES,
        default=None,
        help=f"the best word of a class name, or the mean of its words (default {DEFAULTS.words})",
    )
    run.add_argument("--table", default=None, help="class-name table: a packaged name or a CSV (class, best, words)")
    run.add_argument("--threads", type=int, default=None, help="CPU threads per fold (part of the study's settings)")
    run.add_argument(
        "--ray",
        action="store_true",
        help="run folds as Ray tasks: a local Ray instance, or the cluster at $RAY_ADDRESS "
        "(when RAY_ADDRESS is set, folds run on Ray even without --ray)",
    )
    run.add_argument(
        "--redo",
        nargs="+",
        default=None,
        help="recompute these classes' folds (finished or damaged); no other fold is touched",
    )
    run.add_argument(
        "--resume",
        default=None,
        metavar="STUDY_ID",
        help="finish a study with its recorded settings and image set, under the "
        "same id (see: python -m core loo-results); only --ray, --redo, --shuffled-control and --device apply",
    )
    run.add_argument(
        "--shuffled-control",
        action="store_true",
        default=None,
        help="also train every fold with the trained classes' words permuted (the shuffled-words control; twice "
        "the cost); with --resume, adds it to a finished study's folds",
    )
    run.add_argument("--device", default=None)
    run.set_defaults(run=_loo)
    results = commands.add_parser(
        "loo-results", aliases=["studies"], help="list leave-one-out studies, with their figures and controls"
    )
    results.add_argument(
        "--add-controls",
        metavar="STUDY_ID",
        default=None,
        help="compute the controls (constant and nearest-word predictors) of a study recorded without them; "
        "no retraining",
    )
    results.set_defaults(run=_results)


def _results(args: argparse.Namespace) -> list[dict]:
    if args.add_controls:
        loo.add_controls(loo.load_study(args.add_controls))
    return [
        {
            "id": s.id,
            "label": s.label(),
            "complete": s.complete,
            **analysis.summary(s),
            "verdicts": analysis.fold_verdicts(s),
        }
        for s in loo.list_studies()
    ]


def settings_from(args: argparse.Namespace) -> StudySettings:
    """The study settings of the command line: the preset's (``--preset`` / ``--laptop``; none: the defaults),
    each option given overriding its value."""
    given = {f.name: getattr(args, f.name) for f in fields(StudySettings) if getattr(args, f.name, None) is not None}
    if "classes" in given:
        given["classes"] = tuple(given["classes"]) or None
    if given.get("per_class") == 0:
        given["per_class"] = None  # 0 = all
    settings = replace(PRESETS[args.preset] if args.preset else DEFAULTS, **given)
    settings.check()
    return settings


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

        defaults = vars(build_parser().parse_args(["loo-run"]))
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
        settings = settings_from(args)
        found = jobs.run_loo(settings, use_ray=use_ray, redo=args.redo, device=args.device, callback=callback)
    return {
        "id": found.id,
        "path": str(loo.study_dir(found.id)),
        **analysis.summary(found),
        "verdicts": analysis.fold_verdicts(found),
    }


def available() -> dict:
    """What ``python -m core info`` says of images -> words: nothing of its own (its image sets and word
    vectors are the shared base's, which ``info`` lists itself)."""
    return {}
