"""The Streamlit glue every method shares: the text encoder and image set caches, when an artifact was written
(part of cache keys), progress bars, a long job's live view, and user errors shown as messages.

Each method's own caches live in its ``ui/<method>/`` package (text -> image: :mod:`ui.text_to_image.cache`).
Models, tokenizers and fitted layouts are ``st.cache_resource``: loaded once per process and
shared read-only by every browser session. Arrays and tables are ``st.cache_data``, keyed by
explicit arguments. Per-visitor state (sentences, settings) lives only in ``st.session_state``,
so two sessions never see each other's input.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from core import store
from core.encoders import TextEncoder
from core.errors import USER_ERRORS, Interrupted
from core.imagesets import ImageSet

_REDRAW_WAIT_S = 600.0  # a stopped job ends at its next step; a run that never ends is not waited on longer


@st.cache_resource(show_spinner="Loading the text encoder…")
def encoder(name: str) -> TextEncoder:
    """A text encoder, loaded once per process."""
    return TextEncoder.from_name(name)


def progress_callback(label: str):
    """A ``callback(step, total, metrics)`` that drives an ``st.progress`` bar."""
    bar = st.progress(0.0, text=label)

    def callback(step: int, total: int, metrics: dict) -> None:
        if step >= total:  # done: a finished bar would stay under the work that follows
            bar.empty()
            return
        detail = " · ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        bar.progress(min(1.0, step / max(total, 1)), text=f"{label}: {step}/{total} {detail}")

    return callback


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a user error (bad input, missing resource) as a message instead of a traceback."""
    try:
        yield
    except Interrupted as stop:
        st.warning(f"{stop} Work done so far is saved; run it again to resume.")
    except USER_ERRORS as error:
        st.error(str(error), icon=":material/error:")


def artifact_stamp(kind: str, artifact_id: str) -> str:
    """When an artifact was written (part of cache keys, so a rewrite under the same id is seen)."""
    artifact = store.load(kind, artifact_id)
    if artifact is None:
        raise ValueError(f"No {kind} artifact {artifact_id!r} in {store.home()}.")
    return str(artifact.config.get("provenance", {}).get("created", ""))


@st.cache_resource(show_spinner="Loading the image set…", max_entries=2)
def imageset(name: str, path: str | None) -> ImageSet:
    """An image set, loaded once per process."""
    from core import imagesets

    return imagesets.load_imageset(name, path)


def redraw_after_stop() -> None:
    """Ask for one fresh run of this page once the current run has ended.

    Stop (top right) ends a run where it stands and Streamlit draws nothing after it: the page would keep a frozen
    bar, lose everything below the job and offer no Resume until the visitor reloads. A click needs none of this
    (it starts its own run). The fresh run is requested the way Streamlit reruns a page whose source changed: on the
    session's event loop, with the page and query string the stopped run ended with, after that run has ended.
    """
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return
    session = Runtime.instance().get_app_session(ctx.session_id)
    loop = getattr(session, "_event_loop", None)
    if session is None or loop is None:
        return
    started = time.monotonic()

    def when_ended() -> None:
        running = getattr(session, "_scriptrunner", None) is not None
        if running and time.monotonic() - started < _REDRAW_WAIT_S:
            loop.call_later(0.1, when_ended)
            return
        session.request_rerun(getattr(session, "_client_state", None))

    loop.call_soon_threadsafe(when_ended)


class LiveView:
    """A long job's ``callback(step, steps, metrics)`` that draws its progress after every step (an epoch, an
    evaluation) with :meth:`draw`.

    Streamlit ends a run when the visitor presses Stop or clicks anything: that arrives as an exception at
    the next page update. The callback then returns True, so the job stops cleanly and keeps what it has
    (it resumes when run again), and :meth:`finish` raises the exception again so Streamlit does what was
    asked.
    """

    def __init__(self, text: str) -> None:
        self.bar = st.progress(0.0, text=text)
        self.chart = st.empty()
        self.ended: list[BaseException] = []

    def draw(self, step: int, steps: int, metrics: dict) -> None:
        raise NotImplementedError

    def __call__(self, step: int, steps: int, metrics: dict) -> bool | None:
        try:
            self.draw(step, steps, metrics)
        except BaseException as stop:  # Stop, a click, or a closed tab
            self.ended.append(stop)
            if isinstance(stop, StopException):
                redraw_after_stop()
            return True
        return None

    def finish(self) -> None:
        """Re-raise a Stop that arrived during the job; else clear the live view (the page draws the result)."""
        if self.ended:
            raise self.ended[0]
        self.bar.empty()
        self.chart.empty()
