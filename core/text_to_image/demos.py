"""Portable demos: a dataset (its fitted layout and imager settings), chosen trained models, the dataset's
logistic-regression baselines and the layout Sentence → Image starts on, in one archive, prepared on one machine
and opened on another, offline.

The archive is a zip of JSON and safetensors only. Every array the store keeps as ``.npy`` or ``.npz`` goes
in as a safetensors file (converted back on import); weights are safetensors already; configs are JSON.
``manifest.json`` lists every file with its SHA-256 and size, what each artifact is, and the provenance of
the export. An import reads nothing but JSON and safetensors (never pickle), checks the file list, every
hash, that each model's dataset comes with it (or is already here, identical), that the layouts load and
that each model's weights fit the architecture its config describes; then it moves the artifacts into the
store, each folder in one rename. A damaged or mismatched archive is refused with a message that says
what is wrong, and nothing of it is left in the store.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from core import store

FORMAT, VERSION = "crossmodal-lab demo", 1
MANIFEST = "manifest.json"
KINDS = ("datasets", "models", "baselines", "imagers")
MAX_BYTES = 16 * 2**30
"""The most an archive may unpack to (a guard against zip bombs)."""
_NPZ, _NPY = ".npz.safetensors", ".npy.safetensors"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pack(path: Path) -> tuple[str, bytes]:
    """A store file as (archive name suffix, bytes): arrays as safetensors, the rest as they are."""
    from safetensors.numpy import save

    if path.suffix == ".npy":
        return path.name + ".safetensors", save({"array": np.asarray(np.load(path, allow_pickle=False), order="C")})
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return path.name + ".safetensors", save({k: np.asarray(arrays[k], order="C") for k in arrays.files})
    if path.suffix in (".json", ".safetensors"):
        return path.name, path.read_bytes()
    raise ValueError(f"{path} is neither JSON, safetensors nor a NumPy array; it cannot go into a demo.")


def _unpack(name: str, data: bytes, target: Path) -> None:
    """Write an archive file back in the store's own format."""
    from safetensors.numpy import load

    target.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(_NPY):
        buffer = io.BytesIO()
        np.save(buffer, load(data)["array"], allow_pickle=False)
        target.with_name(target.name[: -len(".safetensors")]).write_bytes(buffer.getvalue())
    elif name.endswith(_NPZ):
        arrays = load(data)
        if {"file", "allow_pickle"} & set(arrays):
            raise ValueError(f"{name} holds an array named like a NumPy argument ({sorted(arrays)})")
        with open(target.with_name(target.name[: -len(".safetensors")]), "wb") as handle:
            np.savez(handle, **arrays)
    else:
        target.write_bytes(data)


def demo_imagers(dataset: store.Artifact) -> list[store.Artifact]:
    """The fitted layout Sentence → Image would start on for this dataset's pooling (none when none is fitted)."""
    from core.text_to_image import imaging

    found = [a for a in imaging.list_imagers() if a.config.get("pooling") == dataset.config.get("pooling")]
    chosen = imaging.recommended_imager(found)
    return [chosen] if chosen is not None else []


def export_demo(
    path: str | Path, dataset_id: str, model_ids: list[str], imager_ids: list[str] | None = None
) -> dict[str, Any]:
    """Write a demo archive of dataset ``dataset_id``, the models ``model_ids`` (each trained on it), every
    logistic-regression baseline fitted on it, and the imagers ``imager_ids`` (default: :func:`demo_imagers`,
    so the other machine need not fit the Sentence → Image layout again).

    Returns:
        The manifest written into the archive.
    """
    from core.text_to_image import imaging
    from core.text_to_image.datasets import DATASETS
    from core.text_to_image.imaging import IMAGERS
    from core.text_to_image.training import BASELINES, MODELS

    dataset = store.load(DATASETS, dataset_id)
    if dataset is None:
        raise ValueError(f"no dataset {dataset_id!r} here; see: python -m core t2i-datasets")
    if not model_ids:
        raise ValueError("choose at least one trained model for the demo.")
    items = [("datasets", dataset)]
    for model_id in dict.fromkeys(model_ids):
        model = store.load(MODELS, model_id)
        if model is None:
            raise ValueError(
                f"no trained model {model_id!r} here; see: python -m core t2i-results --dataset {dataset_id}"
            )
        if model.config.get("dataset") != dataset_id:
            raise ValueError(
                f"model {model_id} was trained on dataset {model.config.get('dataset')}, not {dataset_id}."
            )
        items.append(("models", model))
    items += [("baselines", b) for b in store.list_artifacts(BASELINES) if b.config.get("dataset") == dataset_id]
    if imager_ids is None:
        imagers = demo_imagers(dataset)
    else:
        imagers = [store.load(IMAGERS, i) for i in dict.fromkeys(imager_ids)]
        if None in imagers:
            raise ValueError(f"no fitted layout {imager_ids[imagers.index(None)]!r} here; see: python -m core list")
    for imager in imagers:  # its corpus embeddings stay home: the statistics its relative images need go along
        imaging.keep_corpus_statistics(imager)
    items += [("imagers", imager) for imager in imagers]
    files: dict[str, bytes] = {}
    listed = []
    for kind, artifact in items:
        names = []
        for file in sorted(p for p in artifact.path.rglob("*") if p.is_file()):
            suffix, data = _pack(file)
            relative = file.relative_to(artifact.path).with_name(suffix).as_posix()
            name = f"{kind}/{artifact.id}/{relative}"
            files[name] = data
            names.append({"name": name, "sha256": _sha256(data), "bytes": len(data)})
        listed.append({"kind": kind, "id": artifact.id, "files": names})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "dataset": dataset_id,
        "models": list(dict.fromkeys(model_ids)),
        "baselines": [a.id for k, a in items if k == "baselines"],
        "imagers": [a.id for k, a in items if k == "imagers"],
        "artifacts": listed,
        "provenance": store.provenance(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
            for name, data in files.items():
                archive.writestr(name, data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return manifest


def _refuse(why: str) -> ValueError:
    return ValueError(f"this demo archive is refused: {why}. Nothing was imported.")


def _read_archive(source: str | Path | bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every file, after the structural and hash checks."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError) as error:
        raise _refuse(f"it is not a readable zip file ({error})") from error
    with archive:
        names = archive.namelist()
        for name in names:
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or "\\" in name:
                raise _refuse(f"it holds a file outside its own folders ({name!r})")
            if not (name == MANIFEST or name.endswith((".json", ".safetensors"))):
                raise _refuse(f"it holds {name!r}, which is neither JSON nor safetensors (pickle is never read)")
        if MANIFEST not in names:
            raise _refuse("it has no manifest.json")
        if archive.getinfo(MANIFEST).file_size > 2**24:
            raise _refuse("its manifest is implausibly large")
        try:
            manifest = json.loads(archive.read(MANIFEST))
            listed_sizes = {
                f["name"]: int(f["bytes"]) for item in manifest.get("artifacts", []) for f in item.get("files", [])
            }
        except (zipfile.BadZipFile, ValueError, OSError, TypeError, KeyError, AttributeError) as error:
            raise _refuse(f"its manifest is damaged ({error})") from error
        sizes = {n: archive.getinfo(n).file_size for n in names if n != MANIFEST}
        wrong = [n for n, size in sizes.items() if listed_sizes.get(n) != size]
        if wrong:
            raise _refuse(f"{wrong[0]} is not the size its manifest says (or is not listed)")
        if sum(sizes.values()) > MAX_BYTES:
            raise _refuse(f"it would unpack to more than {MAX_BYTES / 2**30:.0f} GiB")
        try:
            files = {n: archive.read(n) for n in names if n != MANIFEST}
        except (zipfile.BadZipFile, ValueError, OSError) as error:  # a corrupt member fails its CRC here
            raise _refuse(f"a file in it is damaged ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse("its manifest is not a Crossmodal Lab demo manifest")
    if manifest.get("version") != VERSION:
        raise _refuse(f"it was written in demo format {manifest.get('version')}; this lab reads format {VERSION}")
    listed = {f["name"]: f for item in manifest.get("artifacts", []) for f in item.get("files", [])}
    if set(listed) != set(files):
        missing, extra = sorted(set(listed) - set(files)), sorted(set(files) - set(listed))
        raise _refuse(f"its files do not match its manifest (missing {missing[:3]}, unlisted {extra[:3]})")
    for name, entry in listed.items():
        if _sha256(files[name]) != entry.get("sha256"):
            raise _refuse(f"{name} does not match its SHA-256 in the manifest (the file was changed or damaged)")
    for item in manifest["artifacts"]:
        if item.get("kind") not in KINDS or not isinstance(item.get("id"), str) or not item["id"].isalnum():
            raise _refuse(f"it lists an artifact the lab does not know ({item.get('kind')!r}, {item.get('id')!r})")
        if not all(f["name"].startswith(f"{item['kind']}/{item['id']}/") for f in item["files"]):
            raise _refuse(f"the files of {item['kind']}/{item['id']} lie outside its folder")
    return manifest, files


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and values (NaN equal to NaN: a diverged model's saved probabilities are still the same file)."""
    floats = np.issubdtype(a.dtype, np.floating) and np.issubdtype(b.dtype, np.floating)
    return np.array_equal(a, b, equal_nan=floats)


def _same_content(first: Path, second: Path) -> bool:
    """Two store files hold the same thing (arrays compared as arrays, JSON as data, the rest byte for byte)."""
    if first.suffix == ".npy":
        a, b = np.load(first, allow_pickle=False), np.load(second, allow_pickle=False)
        return a.dtype == b.dtype and _equal(a, b)
    if first.suffix == ".npz":
        with np.load(first, allow_pickle=False) as a, np.load(second, allow_pickle=False) as b:
            return set(a.files) == set(b.files) and all(_equal(a[k], b[k]) for k in a.files)
    if first.suffix == ".json":
        return store.read_json(first) == store.read_json(second)
    return first.read_bytes() == second.read_bytes()


def _same_files(folder: Path, other: Path) -> bool:
    mine = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    theirs = {p.relative_to(other).as_posix(): p for p in other.rglob("*") if p.is_file()}
    if set(mine) != set(theirs):
        return False
    try:
        return all(_same_content(mine[k], theirs[k]) for k in mine)
    except (OSError, ValueError):  # an unreadable file here is not the same artifact
        return False


def contents_line(manifest: dict[str, Any]) -> str:
    """What a demo archive holds, in one sentence, saying what it lacks that the other machine would redo."""
    models, baselines, imagers = manifest["models"], manifest.get("baselines", []), manifest.get("imagers", [])
    parts = [f"dataset {manifest['dataset']}", f"{len(models)} model{'s' * (len(models) != 1)}"]
    parts.append(
        f"its logistic-regression baseline{'s' * (len(baselines) != 1)} ({', '.join(baselines)})"
        if baselines
        else "no logistic-regression baseline (none fitted yet: fit it on Train to take it along)"
    )
    parts.append(
        f"the Sentence → Image layout {imagers[0]}"
        if imagers
        else "no Sentence → Image layout (none fitted with this pooling; the other machine would fit one)"
    )
    return "In the archive: " + "; ".join(parts) + "."


def _check_unpacked(root: Path, manifest: dict[str, Any]) -> None:
    """Configs, layouts and weights of the unpacked artifacts (in ``root``) are what they claim to be."""
    from core.layout import FeatureLayout
    from core.text_to_image.classify import load_model

    datasets = {i["id"] for i in manifest["artifacts"] if i["kind"] == "datasets"}
    for item in manifest["artifacts"]:
        folder = root / item["kind"] / item["id"]
        try:
            config = store.read_json(folder / store.CONFIG_NAME)
        except (OSError, ValueError) as error:
            raise _refuse(f"{item['kind']}/{item['id']} has no readable config.json") from error
        try:
            if item["kind"] == "datasets":
                FeatureLayout.load(folder / "layout")
            elif item["kind"] == "imagers":
                for name in ("combined", "per_layer"):
                    FeatureLayout.load(folder / name)
            elif item["kind"] == "baselines":
                if config.get("dataset") not in datasets and store.load("datasets", str(config.get("dataset"))) is None:
                    raise _refuse(
                        f"baseline {item['id']} needs dataset {config.get('dataset')}, which is neither in it nor here"
                    )
                np.load(folder / "test_probabilities.npy", allow_pickle=False)
            else:
                if config.get("dataset") not in datasets and store.load("datasets", str(config.get("dataset"))) is None:
                    raise _refuse(
                        f"model {item['id']} needs dataset {config.get('dataset')}, which is neither in it nor here"
                    )
                load_model(folder)
        except (ValueError, OSError) as error:
            if "is refused" in str(error):
                raise
            raise _refuse(f"{item['kind']}/{item['id']} does not load ({error})") from error


def import_demo(source: str | Path | bytes) -> list[tuple[str, str, bool]]:
    """Check a demo archive (a path or its bytes) and move its artifacts into the store.

    Returns:
        The (kind, id, new) of every artifact: ``new`` is False for one already here (identical, left as it is).

    Raises:
        ValueError: the archive is damaged, unsafe or does not fit this lab (nothing is written then).
    """
    manifest, files = _read_archive(source)
    runs = store.home() / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    imported: list[tuple[str, str, bool]] = []
    with tempfile.TemporaryDirectory(dir=runs, prefix=".demo-") as staging:
        root = Path(staging)
        try:
            for name, data in files.items():
                _unpack(name, data, root / name)
        except Exception as error:  # a malformed safetensors member, a missing array: not what was exported
            raise _refuse(f"a file in it cannot be read back ({str(error)[:200]})") from error
        _check_unpacked(root, manifest)
        moves = []
        for item in manifest["artifacts"]:
            kind, artifact_id = item["kind"], item["id"]
            target = store.artifact_dir(kind, artifact_id)
            if target.exists():
                if not _same_files(target, root / kind / artifact_id):
                    raise _refuse(f"{kind}/{artifact_id} is already here with other contents; it is not replaced")
            else:
                moves.append((root / kind / artifact_id, target))
            imported.append((kind, artifact_id, not target.exists()))
        done = []
        try:
            for staged, target in moves:
                target.parent.mkdir(parents=True, exist_ok=True)
                staged.rename(target)
                done.append(target)
        except BaseException as error:  # a stop between two renames too: nothing of the demo is left
            for target in done:
                shutil.rmtree(target, ignore_errors=True)
            if isinstance(error, OSError):
                raise ValueError(
                    f"the demo could not be written into {runs} ({error}); nothing was imported."
                ) from error
            raise
    return imported
