"""One way to run a job that produces an artifact: look it up by its config's hash, else build it,
save it, and return it.

Every long task of the lab (embedding a corpus, fitting layouts, building an image dataset,
training a model, fitting a baseline, ...) is one job function in its method's package, and both
the CLI and the pages call that function; they differ only in how they draw progress, which they
pass in as a ``progress(label) -> callback`` factory (:data:`Progress`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core import store
from core.store import Artifact, Callback

Progress = Callable[[str], Callback]
"""Makes the progress callback of one stage of a job from the stage's label (e.g. "Embedding")."""

Writer = Callable[[Path], None]
"""Writes an artifact's files into the folder it is given (the folder is published atomically)."""


class FoundMeanwhile(Exception):
    """Raised by a build that finds its artifact published by another process meanwhile."""


def no_progress(label: str) -> Callback | None:
    """A :data:`Progress` that draws nothing."""
    return None


def build_or_load(
    kind: str,
    config: dict[str, Any],
    build: Callable[[str], tuple[dict[str, Any], Writer]],
    accept: Callable[[Artifact], bool] | None = None,
    force: bool = False,
) -> Artifact:
    """The artifact of ``kind`` that ``config`` defines: the stored one, or a new one.

    Args:
        kind: the artifact kind (a folder of the store).
        config: what defines the artifact; its hash is the artifact's id.
        build: ``build(artifact_id) -> (more_config, write)``: does the work, returns what to add to
            the config (results, quality figures, provenance) and a function that writes the files.
            It may raise (e.g. :class:`core.errors.Interrupted`); nothing is published then.
        accept: whether a stored artifact can be returned as it is (e.g. only a finished one).
        force: build again even if an acceptable artifact is stored.

    Returns:
        The artifact, loaded from the store.
    """
    artifact_id = store.config_hash(config)
    found = store.load(kind, artifact_id)
    if found is not None and not force and (accept is None or accept(found)):
        return found
    try:
        more, write = build(artifact_id)
    except FoundMeanwhile:
        return store.load(kind, artifact_id)
    with store.writing(kind, artifact_id, {**config, **more}) as folder:
        write(folder)
    return store.load(kind, artifact_id)


# --------------------------------------------------------------------------- jobs that did not finish


def _pending_dir(kind: str) -> Path:
    return store.home() / "runs" / ".pending" / kind


def record_pending(kind: str, settings: dict[str, Any]) -> str:
    """Note that a job of ``kind`` with these (JSON-able) settings has started; returns its key. A page offers
    to resume it until :func:`clear_pending` says it finished."""
    key = store.config_hash(settings)
    store.atomic_write_json(_pending_dir(kind) / f"{key}.json", settings)
    return key


def clear_pending(kind: str, key: str) -> None:
    """The job noted under ``key`` finished: nothing to offer any more."""
    (_pending_dir(kind) / f"{key}.json").unlink(missing_ok=True)


def list_pending(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """The (key, settings) of every job of ``kind`` that started and did not finish, newest first."""
    folder = _pending_dir(kind)
    found = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []:
        try:
            found.append((path.stem, store.read_json(path)))
        except (ValueError, OSError):
            continue
    return found
