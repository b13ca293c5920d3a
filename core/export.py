"""One view as one self-contained HTML file: plotly figures, tables and paragraphs in the order given.

:func:`view_html` writes plotly.js into the file itself (no CDN, no other file), so the page opens offline in
any browser, from a notebook as from the app. Tables are written with every cell escaped (a ``<script>`` in a
cell stays text); paragraphs are Markdown (a small subset: headings, paragraphs, ``-`` lists, ``**bold**``,
``*italic*`` and ```code```), escaped too.

Images of figures: on screen, Plotly's camera button saves one format per chart. The app's charts save a PNG at
:data:`PRINT_SCALE` times their size on screen (:func:`image_config`); in an exported view the camera button saves
an SVG and the two buttons under each figure an SVG or that PNG. Inside an SVG, heatmaps, images and WebGL
scatter plots stay pixels (Plotly draws them as bitmaps); axes, text and lines are vectors.

Example::

    from core import export
    export.write_html("view.html", "My view", ["Some **Markdown**.", figure, table])
"""

from __future__ import annotations

import datetime as _datetime
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io
import plotly.offline

PRINT_SCALE = 3
"""Saved images are drawn at 3x a chart's size on screen: a chart 700 pixels wide prints 7 inches wide at
300 dpi."""
FORMATS = ("png", "svg")
FIGURE_HEIGHT = 480
"""Pixels, for a figure in an exported view that sets no height of its own."""


@dataclass(frozen=True)
class Text:
    """A Markdown paragraph of a view; ``small`` draws it as a caption."""

    markdown: str
    small: bool = False


Part = go.Figure | pd.DataFrame | Text | str
"""What a view is made of: a plotly figure, a table, or Markdown text (a plain ``str`` is a :class:`Text`)."""


def file_stem(name: str) -> str:
    """``name`` as a file name without odd characters (``"figure"`` when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", str(name)).strip("-.")[:80].strip("-.") or "figure"


def image_config(filename: str, config: dict[str, Any] | None = None, image_format: str = "png") -> dict[str, Any]:
    """A Plotly config whose camera button saves ``filename`` as ``image_format`` at :data:`PRINT_SCALE`, merged
    with ``config``: its own keys are kept, and its ``toImageButtonOptions`` completed, not replaced."""
    if image_format not in FORMATS:
        raise ValueError(f"image_format must be one of {FORMATS}, got {image_format!r}.")
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"config must be a dict of Plotly settings, got {type(config).__name__}.")
    given = dict(config or {})
    options = {"format": image_format, "filename": file_stem(filename), "scale": PRINT_SCALE}
    options.update(given.pop("toImageButtonOptions", None) or {})
    return {"displaylogo": False, **given, "toImageButtonOptions": options}


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


def _inline(text: str) -> str:
    """One line of Markdown as HTML: escaped first, then code spans (left as they are), bold and italics."""
    pieces = _CODE.split(text)  # odd pieces are code spans
    out = []
    for index, piece in enumerate(pieces):
        escaped = html.escape(piece, quote=False)
        if index % 2:
            out.append(f"<code>{escaped}</code>")
        else:
            out.append(_ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", escaped)))
    return "".join(out)


def _block_html(block: str) -> list[str]:
    """One block of Markdown (no blank line in it) as HTML elements: headings, paragraphs and lists."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    for line in [*block.splitlines(), ""]:  # the empty line at the end closes what is open
        stripped = line.strip()
        heading = re.match(r"(#{1,4})\s+(.*)", stripped)
        item = re.match(r"[-*]\s+(.*)", stripped)
        if paragraph and (heading or item or not stripped):
            out.append(f"<p>{' '.join(paragraph)}</p>")
            paragraph = []
        if items and not item:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items = []
        if heading:
            level = len(heading.group(1)) + 1  # the view's own title is its one <h1>
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            items.append(_inline(item.group(1)))
        elif stripped:
            paragraph.append(_inline(stripped))
    return out


def markdown_html(text: str) -> str:
    """A Markdown text (the subset in the module doc) as HTML; everything else in it stays text."""
    return "\n".join(e for block in re.split(r"\n\s*\n", str(text).strip()) for e in _block_html(block))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"  # NaN: an empty cell
    return str(value)


def table_html(frame: pd.DataFrame) -> str:
    """A table with every cell and heading escaped; its index shown only when it says something (not 0, 1, ...)."""
    shown = frame.copy()
    shown.columns = [str(c) for c in shown.columns]
    index = not isinstance(shown.index, pd.RangeIndex)
    shown = shown.map(_cell)
    if index:
        shown.index = [str(i) for i in shown.index]
    return shown.to_html(index=index, escape=True, border=0, classes="table", na_rep="")


def _figure_html(fig: go.Figure, number: int, name: str) -> str:
    div = f"figure-{number}"
    stem = file_stem(f"{name}-{number}")
    body = plotly.io.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        div_id=div,
        config=image_config(stem, image_format="svg"),
        default_height=FIGURE_HEIGHT,
        validate=False,
    )
    buttons = "".join(
        f'<button type="button" onclick="{html.escape(call, quote=True)}">{label}</button>'
        for label, call in (
            ("SVG", f"Plotly.downloadImage({json.dumps(div)}, {json.dumps({'format': 'svg', 'filename': stem})})"),
            (
                f"PNG ({PRINT_SCALE}x)",
                "Plotly.downloadImage("
                f"{json.dumps(div)}, {json.dumps({'format': 'png', 'filename': stem, 'scale': PRINT_SCALE})})",
            ),
        )
    )
    return f'<figure class="chart">{body}<figcaption>Save: {buttons}</figcaption></figure>'


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 2rem auto;
       max-width: 1150px; padding: 0 1rem; line-height: 1.5; }
h1 { font-size: 1.7rem; } h2, h3, h4, h5 { margin-top: 1.6rem; }
.caption { color: #59636e; font-size: 0.9rem; }
figure.chart { margin: 1rem 0 1.5rem; }
figure.chart figcaption { color: #59636e; font-size: 0.85rem; }
figure.chart button { margin-left: 0.4rem; font-size: 0.8rem; cursor: pointer; }
table.table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
table.table th, table.table td { border: 1px solid #d0d7de; padding: 0.25rem 0.55rem; text-align: left;
                                 vertical-align: top; }
table.table thead th { background: #f6f8fa; }
code { background: #f6f8fa; padding: 0 0.2rem; border-radius: 3px; }
footer { color: #59636e; font-size: 0.8rem; margin-top: 2rem; border-top: 1px solid #d0d7de; padding-top: 0.5rem; }
"""


def view_html(title: str, parts: Iterable[Part], note: str = "") -> str:
    """One HTML page holding ``parts`` in order (plotly figures, pandas tables, Markdown text), plotly.js inside
    when there is a figure; ``note``: a Markdown line under the title."""
    if not isinstance(title, str) or not title.strip():
        raise ValueError("a view needs a title (a non-empty text).")
    if isinstance(parts, str | go.Figure | pd.DataFrame | Text):
        parts = [parts]
    body, figures = [], 0
    for position, part in enumerate(parts):
        if isinstance(part, go.Figure):
            figures += 1
            body.append(_figure_html(part, figures, title))
        elif isinstance(part, pd.DataFrame):
            body.append(table_html(part))
        elif isinstance(part, Text | str):
            text = part if isinstance(part, Text) else Text(part)
            shown = markdown_html(text.markdown)
            body.append(f'<div class="caption">{shown}</div>' if text.small else shown)
        else:
            raise ValueError(
                f"part {position} is a {type(part).__name__}: a view holds plotly figures, pandas DataFrames and "
                "Markdown text."
            )
    made = _datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    footer = f"Made with Crossmodal Lab, {made}."
    head = ""
    if figures:
        version = plotly.offline.get_plotlyjs_version()
        head = f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>'
        footer += (
            f" plotly.js {version} is inside this file, so it opens offline. Each chart's camera button saves an "
            f"SVG, the buttons under it an SVG or a PNG at {PRINT_SCALE}x its size on screen (in an SVG, heatmaps, "
            "images and WebGL points stay pixels)."
        )
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style>",
        head,
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<div class="caption">{markdown_html(note)}</div>' if note else "",
        *body,
        f"<footer>{html.escape(footer)}</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(line for line in lines if line) + "\n"


def write_html(path: str | Path, title: str, parts: Iterable[Part], note: str = "") -> Path:
    """Write :func:`view_html` to ``path`` (folders made as needed); returns the path."""
    path = Path(path)
    page = view_html(title, parts, note)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
