"""A reproduction table from a notebook: the latest reproduction of a paper in the store (what the paper reported,
its settings and the lab's run here, the baselines and controls, with their verdicts), written to one HTML file.

    python docs/examples/reproduction_table.py [--paper images-to-words] [--out reproduction.html] [--tiny]

The table is the one ``python -m core reproduce <paper>`` wrote (the store: $CROSSMODAL_HOME, or the lab's
default). With ``--tiny`` and no reproduction of images-to-words yet, it first runs one at a tiny size (4 images
per class, 1 epoch, 2 seeds, no shuffled-words control; about 15 s on two CPU cores) in a temporary store, so
it never becomes this machine's latest; its rows' commands say that size. Reading and writing take about 3 s.
Uses only ``core`` (no Streamlit).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the lab's folder, so `core` imports from anywhere


def tiny_reproduction() -> dict:
    """The images-to-words reproduction at a tiny size, run in a temporary store (see the module doc)."""
    from core import reproduce, store

    with store.scratch_home():
        return reproduce.run("images-to-words", n=4, epochs=1, seeds=(0, 1), shuffled=False)


def main(argv: list[str] | None = None) -> int:
    from core import reproduce, store

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paper", default="images-to-words", choices=list(reproduce.PAPERS))
    parser.add_argument("--out", type=Path, default=Path("reproduction.html"))
    parser.add_argument("--tiny", action="store_true", help="with no reproduction yet, run a tiny one first")
    args = parser.parse_args(argv)
    record = reproduce.latest(args.paper)
    if record is None and args.tiny and args.paper == "images-to-words":
        record = tiny_reproduction()
    if record is None:
        print(
            f"No reproduction of {args.paper} in {store.home()}: run `python -m core reproduce {args.paper}` "
            "first (at most 45 minutes on two CPU cores), or pass --tiny for a tiny images-to-words one.",
            file=sys.stderr,
        )
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(reproduce.html(record), encoding="utf-8")
    rows = len(record["rows"])
    print(f"wrote {args.out}: {rows} rows of {record['title']} ({record['variant']}, run {record['started']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
