"""A link to a view: each page's main choices in the URL's query string, and a "Link to this view" box to copy.

A page names its choices once, at its top, as URL parameter -> widget key (:func:`sync`). When the page opens in
a session that has not drawn those widgets yet (a link opened in a new tab or sent to someone), the URL's values
become the widgets' starting values; a value the page no longer offers (a model deleted since) falls back to the
widget's default, as a stale choice does. After every run the app writes the widgets' values back into the URL
(:func:`publish`, called by ``app.py`` after the page), so the address bar always holds the view on screen and a
reload, a bookmark or a copied link opens it again. Streamlit replaces the URL rather than adding history entries,
so the browser's back button returns to the page before, not to the previous choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

_CURRENT = "_link_params"
"""Session-state key of the running page's parameters (URL parameter -> (widget key, type))."""
_PLACE = "_link_place"
"""Session-state key of the running page's place for the link box (where :func:`sync` was called)."""

Spec = Mapping[str, "str | tuple[str, type]"]


def _normalise(params: Spec) -> dict[str, tuple[str, type]]:
    return {name: (value, str) if isinstance(value, str) else (value[0], value[1]) for name, value in params.items()}


def encode(value: Any, kind: type) -> str | None:
    """A widget's value as the URL writes it (None: not written)."""
    if value is None:
        return None
    if kind is bool:
        return "1" if value else "0"
    if kind is list:
        return ",".join(map(str, value))
    return str(value)


def decode(text: str, kind: type) -> Any:
    """A URL parameter as the widget takes it; ValueError when it cannot be read as ``kind``."""
    if kind is bool:
        if text not in ("0", "1", "true", "false"):
            raise ValueError(f"not a yes/no value: {text!r}")
        return text in ("1", "true")
    if kind is list:
        return [part for part in text.split(",") if part]
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text


def sync(params: Spec) -> None:
    """Call at the page's top, before its widgets: restore each widget not drawn yet in this session from the URL,
    and remember the page's parameters for :func:`publish`. ``params``: URL parameter -> widget key, or -> (widget
    key, type) for a type other than str (bool, int, float, list)."""
    spec = _normalise(params)
    st.session_state[_CURRENT] = spec
    st.session_state[_PLACE] = st.empty()  # the link box, filled by publish() with the view as drawn
    for name, (key, kind) in spec.items():
        text = st.query_params.get(name)
        if text is None or key in st.session_state:
            continue
        try:
            st.session_state[key] = decode(text, kind)
        except ValueError:
            continue  # a hand-edited link with a bad value: the widget starts at its default


def state() -> dict[str, str]:
    """The running page's choices as URL parameters (those with a value)."""
    out = {}
    for name, (key, kind) in st.session_state.get(_CURRENT, {}).items():
        text = encode(st.session_state.get(key), kind)
        if text is not None and text != "":
            out[name] = text
    return out


def publish() -> None:
    """Write the running page's choices into the URL (``app.py`` calls it after the page, stopped or not)."""
    if not st.session_state.get(_CURRENT):
        return
    wanted = state()
    if dict(st.query_params.to_dict()) != wanted:
        st.query_params.from_dict(wanted)
    place = st.session_state.get(_PLACE)
    if place is not None:
        share(place)


def url(base: str | None = None) -> str:
    """The link to the view on screen: this page's address with its choices as the query string."""
    here = base if base is not None else (st.context.url or "")
    parts = urlsplit(here)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(state()), ""))


def share(where: Any = st) -> None:
    """A "Link to this view" popover with the link to copy (the code box's copy button)."""
    with where.container().popover("Link to this view", icon=":material/link:"):
        st.caption("Opens this page with the same choices (dataset, model, sentence …) in any browser that can reach "
                   "this lab.")  # fmt: skip
        st.code(url(), language=None, wrap_lines=True)


def clear() -> None:
    """Forget the previous page's parameters (called once per run, before the page draws)."""
    st.session_state[_CURRENT] = {}
    st.session_state[_PLACE] = None
