"""Reproduction tables: one command per paper runs its reproduction and writes the table that says, row by
row, what the paper reported, what the paper's own settings give here, what the lab's settings give, and
the baselines and controls to read them against, each row with the command that made it, its time and the
machine.

``python -m core reproduce <paper>`` (:data:`PAPERS`) runs it; the offline variant uses packaged inputs and is
sized to finish in at most 45 minutes on two CPU cores, with three seeds of the lab's comparison; ``--online``
runs the paper's own inputs (hub data and weights, GPU-sized). Every run is kept under
``<home>/reproductions/<paper>/`` as JSON and Markdown; the pages show the latest.
"""

from __future__ import annotations

import importlib
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core import export, store

PAPERS = {
    "text-to-image": ("core.text_to_image.reproduce", "Benarab 2021: text classified by sliced ImageNet CNNs"),
    "images-to-words": (
        "core.images_to_words.reproduce",
        "Baughman et al. 2021: images to word vectors, leave-one-out",
    ),
    "bert-nontext": (
        "core.nontext.reproduce",
        "Kao & Lee 2021: BERT fine-tuned on non-text tokens, pretrained against random init",
    ),
    "hybrid": (
        "core.hybrid.reproduce",
        "Liu, Chui & Lee 2023: a text model's layers in an image classifier, against the vision model alone",
    ),
}
"""The papers ``reproduce`` knows: name -> (the module whose ``run(...)`` reproduces it, title)."""

KINDS = {
    "paper": "reported in the paper",
    "paper preset": "the paper's settings, run here",
    "lab preset": "the lab's settings, run here",
    "baseline": "a baseline on the same split",
    "control": "a control for the claim",
}
"""What a row is; the table says it in every row, so no figure is mistaken for another."""
EACH_ROW = (
    "Each row says what it is: a figure the paper reported, the paper's settings run here, the lab's settings, a "
    "baseline, or a control."
)
COLUMNS = ("row", "value", "figure", "what", "command", "time", "machine", "note")
"""The table's columns as the pages and the HTML show them: the value beside what the row is, before the long
descriptions."""


@dataclass
class Row:
    """One line of a reproduction table."""

    kind: str
    what: str
    figure: str
    value: float | None
    shown: str
    command: str = ""
    seconds: float | None = None
    machine: str = ""
    note: str = ""
    evidence: dict[str, Any] | None = None
    """The evidence behind ``value`` as :mod:`core.evidence` records it (an interval, a paired test and its
    verdict), where the row has one; ``shown`` and ``note`` say it in words."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {tuple(KINDS)}, got {self.kind!r}.")


def preset_command(command: str, preset: str, settings: Any, base: Any, flags: dict[str, str]) -> str:
    """``python -m core <command> --preset <preset>`` and a flag for each of ``flags`` (setting name -> flag)
    where ``settings`` differ from the preset's ``base``; a tuple is written as its items apart."""
    parts = [f"python -m core {command} --preset {preset}"]
    for name, flag in flags.items():
        value = getattr(settings, name)
        if value != getattr(base, name):
            parts.append(f"{flag} {' '.join(map(str, value)) if isinstance(value, tuple) else value}")
    return " ".join(parts)


def machine() -> str:
    """This machine in a few words: host, CPU cores, GPU (or none), torch."""
    import os

    import torch

    from core.device import describe_device

    device = describe_device()
    gpu = f"{device['name']} ({device['memory_gib']} GiB)" if device["kind"] == "cuda" else "no GPU"
    return f"{platform.node()}: {os.cpu_count()} CPU cores, {gpu}, torch {torch.__version__}"


def percent(value: float, signed: bool = True) -> str:
    return f"{100 * value:+.1f} %" if signed else f"{100 * value:.1f} %"


def folder(paper: str) -> Path:
    return store.home() / "reproductions" / paper


def save(paper: str, variant: str, rows: list[Row], settings: dict[str, Any], started: float) -> dict[str, Any]:
    """Write a finished reproduction (``<stamp>.json`` and ``<stamp>.md``) and return its record."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(started))
    record = {
        "paper": paper,
        "title": PAPERS[paper][1],
        "variant": variant,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
        "settings": settings,
        "rows": [asdict(row) for row in rows],
        "provenance": store.provenance(),
    }
    store.atomic_write_json(folder(paper) / f"{stamp}-{variant}.json", record)
    (folder(paper) / f"{stamp}-{variant}.md").write_text(markdown(record))
    return record


def latest(paper: str) -> dict[str, Any] | None:
    """The most recent reproduction of ``paper`` on this machine's store, or None."""
    found = sorted(folder(paper).glob("*.json")) if folder(paper).is_dir() else []
    for path in reversed(found):
        try:
            return store.read_json(path)
        except (ValueError, OSError):
            continue  # an unreadable file is skipped, the next older one shown
    return None


def _time(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def table_rows(record: dict[str, Any]) -> list[dict[str, str]]:
    """The rows as the pages and the Markdown show them."""
    return [
        {
            "row": KINDS[row["kind"]],
            "what": row["what"],
            "figure": row["figure"],
            "value": row["shown"],
            "command": row["command"],
            "time": _time(row["seconds"]),
            "machine": row["machine"],
            "note": row["note"],
        }
        for row in record["rows"]
    ]


def _sentence(evidence: dict[str, Any] | None) -> str | None:
    if not evidence:
        return None
    if isinstance(evidence.get("test"), dict):  # a hybrid comparison: its test-split verdict
        evidence = evidence["test"]
    return evidence.get("sentence") if evidence.get("verdict") else None


def verdicts(record: dict[str, Any]) -> list[str]:
    """Each claim row's verdict in a sentence (what the table's paired comparisons say), in the table's order."""
    found = [_sentence(row.get("evidence")) for row in record["rows"]]
    return [s for s in found if s]


def summary(record: dict[str, Any]) -> str:
    """When and where the reproduction ran, and how long it took, in a sentence."""
    return f"Run {record['started']} on {record['machine']}; {_time(record['seconds'])} in all."


def markdown(record: dict[str, Any]) -> str:
    """A reproduction as a Markdown table, its verdicts in sentences above it."""
    rows = table_rows(record)
    columns = list(rows[0]) if rows else []
    lines = [
        f"# Reproduction: {record['title']} ({record['variant']})",
        "",
        summary(record),
        "",
        *[f"- {sentence}" for sentence in verdicts(record)],
        *([""] if verdicts(record) else []),
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def html(record: dict[str, Any]) -> str:
    """A reproduction as one self-contained HTML page (:func:`core.export.view_html`): when and where it ran, its
    verdicts in sentences, and the table, every cell escaped."""
    import pandas as pd

    said = verdicts(record)
    parts: list[export.Part] = [f"{summary(record)} {EACH_ROW}"]
    if said:
        parts.append("**What the paired comparisons say:**\n" + "\n".join(f"- {s}" for s in said))
    parts.append(pd.DataFrame(table_rows(record), columns=list(COLUMNS)))
    return export.view_html(f"Reproduction: {record['title']} ({record['variant']})", parts)


def run(paper: str, online: bool = False, **options: Any) -> dict[str, Any]:
    """Reproduce ``paper`` (a name of :data:`PAPERS`) and save its table; ``options`` go to the paper's
    ``run`` (e.g. ``epochs``, ``n``, ``device``, ``progress``)."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; reproducible: {', '.join(PAPERS)}.")
    module = importlib.import_module(PAPERS[paper][0])
    started = time.time()
    rows, settings = module.run(online=online, **options)
    return save(paper, "online" if online else "offline", rows, settings, started)
