"""`python -m core <command>`: the lab's long jobs without the browser.

Each method's package registers its own commands (``register(commands)`` in its ``cli`` module);
this module adds the shared ones (``info``), collects the rest from :data:`METHODS`, and runs the
chosen command: its result is printed as JSON; a user error prints one line and exits with 2; an
interrupted job exits with 130 and resumes when run again.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from core import corpora, store
from core.errors import USER_ERRORS, Interrupted

METHODS = ("core.text_to_image.cli", "core.images_to_words.cli")
"""One line per method: the module whose ``register(commands)`` adds that method's commands."""


def progress(label: str):
    """A callback that draws a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=1, desc=label, unit="step", file=sys.stderr, dynamic_ncols=True)

    def callback(step: int, total: int, metrics: dict) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix({k: v for k, v in metrics.items() if k not in ("batch", "shard")}, refresh=False)
        bar.refresh()

    return callback


def _info(args: argparse.Namespace) -> dict:
    from core.device import describe_device
    from core.encoders import available_encoders
    from core.imagesets import available_imagesets
    from core.text_to_image.backbones import available_backbones
    from core.wordvectors import available_word_vectors

    return {
        "device": describe_device(),
        "store": str(store.home()),
        "encoders": available_encoders(),
        "corpora": corpora.available_corpora(),
        "backbones": available_backbones(),
        "imagesets": available_imagesets(),
        "word_vectors": available_word_vectors(),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Crossmodal Lab command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="what is available here, and the device").set_defaults(run=_info)
    for module in METHODS:
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
