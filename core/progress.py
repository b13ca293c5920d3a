"""The command line's progress bar: a ``callback(step, total, metrics)`` that draws a tqdm bar on stderr.

Every CLI command of the lab (shared or a method's) draws its progress with :func:`progress_bar`; it
imports nothing of the command line itself, so a method's ``cli`` module and ``core.cli`` both use it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def progress_bar(label: str) -> Callable[[int, int, dict], None]:
    """A callback that draws a tqdm bar labelled ``label`` on stderr (the metrics shown beside it)."""
    from tqdm import tqdm

    bar = tqdm(total=1, desc=label, unit="step", file=sys.stderr, dynamic_ncols=True)

    def callback(step: int, total: int, metrics: dict) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix({k: v for k, v in metrics.items() if k not in ("batch", "shard")}, refresh=False)
        bar.refresh()

    return callback
