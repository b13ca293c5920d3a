"""docs/presets.md: for each paper, every remaining difference between the lab's presets and the paper, with why.

Each method's package holds its section (``core/<method>/differences.py``: ``section() -> Section``), its rows read
from the method's preset objects wherever the values live in code, so the document cannot drift from the presets;
``python -m core preset-differences --markdown`` collects the sections (``core/cli.py``, in ``METHODS`` order) and
:func:`markdown` writes the whole document. This module knows no method: it holds the pieces the sections share (a
:class:`Table` of rows, :func:`setting_rows` for presets that are dataclasses, :func:`show`) and the rendering.

Every table says in its columns whose value each is: the paper's (as published, or its public code where the lab
read it), or one of the lab's presets. Where the paper does not say, the cell says :data:`NOT_STATED`, and the lab's
value beside it is the lab's choice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

COMMAND = "python -m core preset-differences --markdown"
NOT_STATED = "not stated"
"""What a paper's cell says where the paper (or the part of it that is readable) does not give the value."""


@dataclass(frozen=True)
class Table:
    """One table of a section: a sentence that says what it compares, its columns and its rows (cells as text)."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        bad = [row for row in self.rows if len(row) != len(self.columns)]
        if bad:
            raise ValueError(f"every row needs {len(self.columns)} cells ({', '.join(self.columns)}), got {bad[0]}.")

    def records(self) -> list[dict[str, str]]:
        """The rows as mappings column -> cell."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Section:
    """One paper's part of the document."""

    title: str
    source: str
    """Where the lab's presets of this paper live (files, named in the text)."""
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()
    """Paragraphs after the tables."""

    def records(self) -> dict[str, Any]:
        """The section as JSON-able data (the command without ``--markdown``)."""
        return {
            "title": self.title,
            "source": self.source,
            "tables": [{"caption": t.caption, "rows": t.records()} for t in self.tables],
            "notes": list(self.notes),
        }


def show(value: Any, none: str = "none") -> str:
    """A setting's value as the tables show it: ``none`` for None, tuples joined by commas, floats short."""
    if value is None:
        return none
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value) if value else "none"
    return str(value)


def setting_rows(
    presets: Mapping[str, Any],
    why: Mapping[str, str],
    none: Mapping[str, str] | None = None,
    skip: Sequence[str] = (),
    shown: Callable[[str, Any], str] | None = None,
) -> tuple[tuple[str, ...], ...]:
    """A row per setting in which the presets differ, read from the dataclasses themselves.

    Args:
        presets: column title -> a settings dataclass (all of one class); the first is the one the others are read
            against.
        why: setting -> why the presets differ there (an empty cell where a reason is missing: the tests ask for
            one in every row).
        none: setting -> what None means for it (default: ``none``).
        skip: settings never listed (those that change no result, such as a device).
        shown: ``(setting, value) -> cell`` for the settings :func:`show` does not say well (None: :func:`show`).

    Returns:
        Rows of ``(setting, one cell per preset ..., why)``, in the dataclass's field order.
    """
    chosen = list(presets.values())
    if not chosen:
        raise ValueError("give at least one preset.")
    kinds = {type(p) for p in chosen}
    if len(kinds) != 1 or not dataclasses.is_dataclass(chosen[0]):
        raise ValueError(f"the presets must be dataclasses of one class, got {sorted(k.__name__ for k in kinds)}.")
    none = none or {}
    rows = []
    for f in dataclasses.fields(chosen[0]):
        if not f.compare or f.name in skip:
            continue
        values = [getattr(p, f.name) for p in chosen]
        if all(v == values[0] for v in values[1:]):
            continue
        cells = [shown(f.name, v) if shown else show(v, none.get(f.name, "none")) for v in values]
        rows.append((f.name, *cells, why.get(f.name, "")))
    return tuple(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_lines(table: Table) -> list[str]:
    """A table as Markdown lines: its caption, a blank line, then the table."""
    lines = [table.caption, "", "| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return lines


def section_lines(section: Section, level: int = 2) -> list[str]:
    """A section as Markdown lines: its heading, where its presets live, its tables and notes."""
    lines = ["#" * level + " " + section.title, "", section.source]
    for table in section.tables:
        lines += ["", *table_lines(table)]
    for note in section.notes:
        lines += ["", note]
    return lines


def markdown(sections: Sequence[Section]) -> str:
    """The whole document (docs/presets.md): a line saying it is generated and by which command, then each
    paper's section, numbered."""
    lines = [
        f"Generated by `{COMMAND}` from the lab's preset objects; do not edit by hand.",
        "",
        "# The lab's presets against the papers",
        "",
        "For each paper, every setting in which the lab's presets still differ from the paper (and from its public "
        "code, where the lab read it), with why, and where the lab's offline data differs from the paper's. The "
        "columns say whose each value is: the paper's, or one of the lab's presets (named). "
        f'"{NOT_STATED}": the paper (or the part of it that is readable) does not give the value, so the lab\'s '
        "value beside it is the lab's choice, not the paper's. The lab's values are read from the presets in code, "
        "so this file is regenerated whenever a preset changes (a test compares them).",
    ]
    for number, section in enumerate(sections, 1):
        numbered = dataclasses.replace(section, title=f"{number}. {section.title}")
        lines += ["", *section_lines(numbered)]
    return "\n".join(lines) + "\n"


def records(sections: Sequence[Section]) -> list[dict[str, Any]]:
    """The sections as JSON-able data."""
    return [s.records() for s in sections]
