"""Every plotly chart of the app is drawn through :func:`show`, so each one's camera button saves a PNG at print
resolution (:data:`core.export.PRINT_SCALE` times its size on screen).

A page that offers its whole view as one HTML file wraps what it draws in :func:`view`: while it is open,
:func:`show`, :func:`markdown`, :func:`caption`, :func:`subheader` and :func:`dataframe` draw as Streamlit does
and also keep what they drew, and :func:`add` keeps a part without drawing it. When the block ends, a download
button (placed where the block began) offers those parts as one self-contained HTML file
(:func:`core.export.view_html`), whose charts save SVG as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import export

HTML_HELP = (
    "One HTML file holding this view's charts, tables and captions; plotly.js is inside, so it opens offline. "
    "There each chart's camera button saves an SVG (heatmaps and images stay pixels inside it), the buttons under "
    f"it an SVG or a PNG. Here the camera button of a chart saves a PNG at {export.PRINT_SCALE}x its size on "
    "screen (a chart 700 pixels wide prints 7 inches wide at 300 dpi)."
)


class View:
    """The parts one view has drawn so far (see the module doc)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[export.Part] = []

    def add(self, part: export.Part) -> None:
        self.parts.append(part)

    def download(self, where: Any, key: str, label: str = "This view (HTML)") -> None:
        """A download button of :func:`core.export.view_html` of the parts, built when it is clicked."""
        title, parts = self.title, tuple(self.parts)
        where.download_button(
            label,
            lambda: export.view_html(title, parts),
            f"{export.file_stem(title)}.html",
            "text/html",
            key=key,
            help=HTML_HELP,
            on_click="ignore",
            icon=":material/download:",
        )


_VIEW: ContextVar[View | None] = ContextVar("crossmodal_view", default=None)


def add(part: export.Part) -> None:
    """Keep ``part`` for the view being collected, if any (nothing is drawn)."""
    found = _VIEW.get()
    if found is not None:
        found.add(part)


@contextmanager
def view(title: str, key: str) -> Iterator[View]:
    """Collect what the block draws; when it ends without an error, offer it as one HTML file (the button sits
    where the block began)."""
    slot = st.container()
    found = View(title)
    token = _VIEW.set(found)
    try:
        yield found
    finally:
        _VIEW.reset(token)
    found.download(slot, key)


def show(fig: go.Figure, key: str, where: Any = st, **kwargs: Any) -> Any:
    """``where.plotly_chart(fig, key=key, ...)`` with the camera button saving ``<key>.png`` at print resolution;
    a ``config`` passed in is kept, merged with that."""
    config = export.image_config(key, kwargs.pop("config", None))
    add(fig)
    return where.plotly_chart(fig, key=key, config=config, **kwargs)


def markdown(body: str, where: Any = st, **kwargs: Any) -> None:
    where.markdown(body, **kwargs)
    add(body)


def caption(body: str, where: Any = st, **kwargs: Any) -> None:
    where.caption(body, **kwargs)
    add(export.Text(body, small=True))


def subheader(body: str, where: Any = st, **kwargs: Any) -> None:
    where.subheader(body, **kwargs)
    add(f"### {body}")


def dataframe(frame: pd.DataFrame, where: Any = st, **kwargs: Any) -> Any:
    add(frame)
    return where.dataframe(frame, **kwargs)


def warning(body: str, where: Any = st, **kwargs: Any) -> None:
    where.warning(body, **kwargs)
    add(f"**Warning:** {body}")
