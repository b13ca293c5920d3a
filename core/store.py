"""Artifacts on disk: ``<home>/runs/<kind>/<id>/`` holding data files and a ``config.json``.

The home folder is ``$CROSSMODAL_HOME`` when set, else ``~/.cache/crossmodal-lab``. Every
artifact carries its configuration and provenance (package versions, time, seed, sources) in
``config.json``. Writes are atomic: files are written under a temporary name and renamed, and a
whole artifact becomes visible only when its folder is renamed into place, so an interrupted
write never leaves a half-written artifact behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HOME_ENV = "CROSSMODAL_HOME"
CONFIG_NAME = "config.json"
_TRACKED_PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "transformers",
    "openTSNE",
    "umap-learn",
    "pandas",
)


def home() -> Path:
    """The folder every artifact lives under."""
    env = os.environ.get(HOME_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "crossmodal-lab"
    return path


@contextmanager
def scratch_home(unless_set: bool = False) -> Iterator[Path]:
    """A store of its own for the block: ``$CROSSMODAL_HOME`` set to a new temporary folder, removed afterwards and
    the previous setting restored. With ``unless_set``, a ``$CROSSMODAL_HOME`` already set is used as it is."""
    previous = os.environ.get(HOME_ENV)
    if unless_set and previous:
        yield home()
        return
    with tempfile.TemporaryDirectory(prefix="crossmodal-") as folder:
        os.environ[HOME_ENV] = folder
        try:
            yield Path(folder)
        finally:
            if previous is None:
                os.environ.pop(HOME_ENV, None)
            else:
                os.environ[HOME_ENV] = previous


def package_versions(names: tuple[str, ...] = _TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape an artifact's numbers."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(**extra: Any) -> dict[str, Any]:
    """A provenance record: time, machine, package versions, plus whatever the caller adds."""
    record = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }
    record.update(extra)
    return record


def config_hash(config: dict[str, Any], length: int = 12) -> str:
    """A short stable hash of a JSON-able config, used as an artifact id."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, with a clear error when it is missing or damaged."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); delete it to rebuild.") from error


@dataclass(frozen=True)
class Artifact:
    """A finished artifact: its kind, id, folder and config."""

    kind: str
    id: str
    path: Path
    config: dict[str, Any]

    def file(self, name: str) -> Path:
        """Path of one of the artifact's files."""
        return self.path / name


def _check_name(value: str, what: str) -> str:
    if not value or any(ch in value for ch in "/\\") or value.startswith("."):
        raise ValueError(f"Invalid artifact {what} {value!r}: use letters, digits, '-' and '_'.")
    return value


def artifact_dir(kind: str, artifact_id: str, root: Path | None = None) -> Path:
    """Folder of an artifact (it may not exist yet)."""
    root = root if root is not None else home()
    return root / "runs" / _check_name(kind, "kind") / _check_name(artifact_id, "id")


def load(kind: str, artifact_id: str, root: Path | None = None) -> Artifact | None:
    """The finished artifact ``kind/id``, or None when there is none."""
    path = artifact_dir(kind, artifact_id, root)
    if not (path / CONFIG_NAME).is_file():
        return None
    return Artifact(kind, artifact_id, path, read_json(path / CONFIG_NAME))


def list_artifacts(kind: str, root: Path | None = None) -> list[Artifact]:
    """Finished artifacts of a kind, newest first."""
    root = root if root is not None else home()
    folder = root / "runs" / _check_name(kind, "kind")
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(".") or not (path / CONFIG_NAME).is_file():
                continue
            try:
                found.append(Artifact(kind, path.name, path, read_json(path / CONFIG_NAME)))
            except ValueError:
                continue
    found.sort(key=lambda a: (a.path / CONFIG_NAME).stat().st_mtime, reverse=True)
    return found


@contextmanager
def writing(kind: str, artifact_id: str, config: dict[str, Any], root: Path | None = None) -> Iterator[Path]:
    """Build an artifact in a temporary folder; it appears under its id only if the block succeeds.

    Yields the temporary folder to write files into. ``config`` (which should hold a
    ``provenance`` record) is written last as ``config.json``. An existing artifact with the same
    id is replaced.
    """
    final = artifact_dir(kind, artifact_id, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{artifact_id}."))
    try:
        yield tmp
        atomic_write_json(tmp / CONFIG_NAME, config)
        if final.exists():
            trash = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{artifact_id}.old."))
            os.replace(final, trash / "old")
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            try:
                os.replace(tmp, final)
            except OSError:
                if not (final / CONFIG_NAME).is_file():
                    raise
                # another writer published the same id (the same config) first: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def shard_dir(kind: str, artifact_id: str, root: Path | None = None) -> Path:
    """A folder for the resumable, partial work of an artifact still being built."""
    root = root if root is not None else home()
    path = root / "runs" / _check_name(kind, "kind") / f".partial-{_check_name(artifact_id, 'id')}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shard_dirs(kind: str, root: Path | None = None) -> list[tuple[str, Path]]:
    """The (name, folder) of every :func:`shard_dir` of ``kind`` that exists, sorted by name."""
    runs = (root if root is not None else home()) / "runs" / _check_name(kind, "kind")
    found = sorted(runs.glob(".partial-*")) if runs.is_dir() else []
    return [(path.name.removeprefix(".partial-"), path) for path in found if path.is_dir()]


Callback = Callable[[int, int, dict], "bool | None"]
"""``callback(step, total, metrics)``; returning True asks the caller to stop cleanly."""
