"""Number inputs that refuse a value out of range out loud, and the action buttons they block.

Streamlit's own ``number_input(min_value=..., max_value=...)`` keeps an out-of-range value in the box with a
tooltip but never sends it: the script goes on with the previous value, so "Fit" with 1 pixel fitted the
50-pixel default. Here the widget takes any number, and a value outside the range the lab accepts is named
under the box with the range, and every :func:`button` on the page stays disabled until it is fixed.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_OUT_OF_RANGE = "_out_of_range"


def start_run() -> None:
    """Forget the previous run's out-of-range inputs (called once per run, before the page draws)."""
    st.session_state[_OUT_OF_RANGE] = {}


def _plain(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value):,}"


def number(
    container: Any,
    label: str,
    min_value: float,
    max_value: float,
    value: float,
    step: float | None = None,
    *,
    key: str,
    help: str | None = None,
    **kwargs: Any,
) -> float:
    """``container.number_input`` that accepts only ``min_value <= x <= max_value``; otherwise it says so and
    blocks the page's :func:`button` actions. Returns the typed value (check :func:`out_of_range` before
    using it)."""
    allowed = f"Allowed: {_plain(min_value)} to {_plain(max_value)}."
    kwargs.setdefault("persist_state", "session")  # typed values survive a page switch
    typed = container.number_input(
        label, value=value, step=step, key=key, help=f"{help} {allowed}" if help else allowed, **kwargs
    )
    problems = st.session_state.setdefault(_OUT_OF_RANGE, {})
    if typed is None or not min_value <= typed <= max_value:
        shown = "empty" if typed is None else _plain(typed)
        problems[key] = f"{label}: {shown} is out of range. {allowed}"
        container.error(problems[key], icon=":material/error:")
    else:
        problems.pop(key, None)
    return typed


def out_of_range() -> list[str]:
    """What is out of range on this page now, one message per input."""
    return list(st.session_state.get(_OUT_OF_RANGE, {}).values())


def button(container: Any, label: str, *, disabled: bool = False, help: str | None = None, **kwargs: Any) -> bool:
    """``container.button`` that is disabled (saying why) while an input above it is out of range."""
    problems = out_of_range()
    if problems:
        help = "Fix first: " + " ".join(problems)
    return container.button(label, disabled=disabled or bool(problems), help=help, **kwargs)
