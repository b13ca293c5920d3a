"""`python -m core <command>`: the lab's long jobs without the browser.

Each method's package registers its own commands (``register(commands)`` in its ``cli`` module);
this module adds the shared ones (``info``, ``reproduce``, ``reproductions``, ``preset-differences``),
collects the rest from :data:`METHODS`, and runs the chosen command: its result is printed as JSON; a user
error prints one line and exits with 2; an interrupted job exits with 130 and resumes when run again.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from core import corpora, store
from core.errors import USER_ERRORS, Interrupted
from core.progress import progress_bar

METHODS = ("core.text_to_image.cli", "core.images_to_words.cli", "core.nontext.cli", "core.hybrid.cli")
"""One line per method: the module whose ``register(commands)`` adds that method's commands and whose
``available()`` adds what ``info`` says of it; the ``differences`` module beside it gives the method's section of
docs/presets.md (``section()``)."""
MORE_COMMANDS = ("core.vectors.cli", "core.text_to_image.vector_datasets")
"""More modules whose ``register(commands)`` adds commands: ``map`` (your own vectors in 2-D) and
``t2i-vectors-dataset`` (an image dataset from precomputed vectors, no encoder)."""


def _info(args: argparse.Namespace) -> dict:
    """The device, the store, the shared base's models and data, then what each method's ``available()`` adds."""
    from core.device import describe_device
    from core.encoders import available_encoders
    from core.imagesets import available_imagesets
    from core.wordvectors import available_word_vectors

    found = {
        "device": describe_device(),
        "store": str(store.home()),
        "encoders": available_encoders(),
        "corpora": corpora.available_corpora(),
        "imagesets": available_imagesets(),
        "word_vectors": available_word_vectors(),
    }
    for module in METHODS:
        found |= importlib.import_module(module).available()
    return found


def _reproduce(args: argparse.Namespace) -> dict:
    from core import reproduce

    bars: dict = {}

    def callback(step: int, total: int, metrics: dict) -> None:  # epochs of a model, or folds of a study
        label = "folds" if "fold" in metrics else "epochs"
        bars.setdefault(label, progress_bar(label))(step, total, {k: v for k, v in metrics.items() if k != "history"})

    options = {
        "n": args.n,
        "epochs": args.epochs,
        "device": args.device,
        "progress": progress_bar,
        "callback": callback,
    }
    if args.steps is not None:
        if args.paper != "bert-nontext":
            raise ValueError("--steps applies to bert-nontext only.")
        options["steps"] = args.steps
    if args.seeds is not None:
        options["seeds"] = tuple(args.seeds)
    if args.paper == "images-to-words":
        options["shuffled"] = not args.no_shuffled
    elif args.no_shuffled:
        raise ValueError("--no-shuffled applies to images-to-words only.")
    record = reproduce.run(args.paper, online=args.online, **options)
    print(reproduce.markdown(record), file=sys.stderr)
    return {k: record[k] for k in ("paper", "variant", "started", "seconds", "machine")} | {
        "rows": reproduce.table_rows(record)
    }


def _reproductions(args: argparse.Namespace) -> dict | str:
    from core import reproduce

    found = {paper: reproduce.latest(paper) for paper in ([args.paper] if args.paper else reproduce.PAPERS)}
    if args.markdown:
        return "\n".join(reproduce.markdown(r) for r in found.values() if r) or "no reproduction yet\n"
    return {paper: r and reproduce.table_rows(r) for paper, r in found.items()}


def paper_differences() -> list:
    """Each method's section of docs/presets.md (:class:`core.paper_differences.Section`), in :data:`METHODS` order:
    ``section()`` of the ``differences`` module beside each method's ``cli``."""
    return [importlib.import_module(m.rsplit(".", 1)[0] + ".differences").section() for m in METHODS]


def _preset_differences(args: argparse.Namespace) -> list | str:
    from core import paper_differences as document

    sections = paper_differences()
    return document.markdown(sections) if args.markdown else document.records(sections)


def build_parser() -> argparse.ArgumentParser:
    from core.reproduce import PAPERS

    parser = argparse.ArgumentParser(prog="python -m core", description="Crossmodal Lab command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="what is available here, and the device").set_defaults(run=_info)
    again = commands.add_parser(
        "reproduce",
        help="reproduce a paper: its figure, its settings and the lab's, with baselines and controls, as one table",
    )
    again.add_argument("paper", choices=list(PAPERS), help="; ".join(f"{k}: {v[1]}" for k, v in PAPERS.items()))
    again.add_argument(
        "--online", action="store_true", help="the paper's own inputs (hub data and weights; sized for a GPU)"
    )
    again.add_argument(
        "--n", type=int, default=None, help="texts (text-to-image) or images per class (images-to-words)"
    )
    again.add_argument("--epochs", type=int, default=None, help="override every run's epochs (a quicker check)")
    again.add_argument("--steps", type=int, default=None, help="bert-nontext: optimiser steps per run")
    again.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="the seeds of the lab's comparison (default 0 1 2): models, studies or refits, one per seed",
    )
    again.add_argument("--no-shuffled", action="store_true", help="images-to-words: skip the shuffled-words control")
    again.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    again.set_defaults(run=_reproduce)
    shown = commands.add_parser("reproductions", help="the latest reproduction table of each paper")
    shown.add_argument("paper", nargs="?", choices=list(PAPERS))
    shown.add_argument("--markdown", action="store_true")
    shown.set_defaults(run=_reproductions)
    differences = commands.add_parser(
        "preset-differences",
        help="for each paper, every setting in which the lab's presets differ from it, and why (docs/presets.md)",
    )
    differences.add_argument("--markdown", action="store_true", help="as docs/presets.md, the whole document")
    differences.set_defaults(run=_preset_differences)
    for module in METHODS + MORE_COMMANDS:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command and print its result as JSON (text as it is); user errors print a one-line message and exit
    with status 2."""
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except Interrupted as stop:
        print(f"stopped: {stop} Run the same command again to resume.", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("stopped: finished shards are kept; run the same command again to resume.", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if isinstance(result, str):  # a command that writes a document (Markdown) prints it as it is
        print(result, end="")
    else:
        print(json.dumps(result, indent=2, default=str))
    return 0
