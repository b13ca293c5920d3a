"""Reading precomputed embeddings with their metadata, in the formats the Embedding Projector and Embedding
Atlas read.

- The Projector's pair of TSV files: the vectors (one row per point, values separated by tabs, no header) and
  the metadata (a header line naming the columns, then one line per point; a single-column metadata file has
  no header, as the Projector reads it), or its ``projector_config.json``
  (``{"embeddings": [{"tensorName", "tensorPath", "metadataPath"}]}``, paths relative to the file).
- Parquet (pyarrow): the vectors in one list/array column, or in many numeric columns; every other column is
  metadata; optionally precomputed 2-D coordinates (``x``, ``y``) and neighbours (a column of neighbour row
  indices), as Embedding Atlas's ``--x --y --neighbors`` take them.

Every bad input raises a ValueError (or FileNotFoundError) whose message says what is wrong and where.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SUFFIXES = (".tsv", ".txt", ".json", ".parquet")
"""What :func:`load_vectors` reads: the Projector's TSV (or .txt), its config (.json), and Parquet."""
SINGLE_COLUMN = "label"
"""The name given to the one column of a header-less, single-column Projector metadata file."""


@dataclass
class VectorTable:
    """Points to map: their vectors, metadata, and what was precomputed.

    Attributes:
        vectors: (n, d) float32, or None when only coordinates were given.
        metadata: n rows, one column per metadata field (strings or numbers).
        coords: (n, 2) precomputed 2-D positions, or None (then they are fitted).
        neighbours: (n, k) precomputed neighbour row indices (-1 where a row has fewer), or None.
        source: where it came from (paths, format, columns chosen), for provenance.
    """

    vectors: np.ndarray | None
    metadata: pd.DataFrame
    coords: np.ndarray | None = None
    neighbours: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.metadata)


def vectors_sha256(vectors: np.ndarray) -> str:
    """A fingerprint of a float32 matrix (its shape and bytes): the cache key of its layout."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    digest = hashlib.sha256(repr(array.shape).encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"the {what} file {path} does not exist.")
    return path


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path.name} is not UTF-8 text ({error.reason} at byte {error.start}).") from error
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def read_vectors_tsv(path: str | Path) -> np.ndarray:
    """The Projector's vectors file: one point per line, values separated by tabs, no header.

    Raises:
        ValueError: an empty file, an empty line, a line with another number of values than the first
            (ragged rows), or a value that is not a number (each named by its line and column).
    """
    path = _existing(path, "vectors")
    lines = _lines(path)
    if not lines:
        raise ValueError(f"{path.name} holds no vectors.")
    widths = np.fromiter((line.count("\t") + 1 if line.strip() else 0 for line in lines), np.int64, len(lines))
    if (widths == 0).any():
        raise ValueError(f"{path.name}: line {int(np.argmax(widths == 0)) + 1} is empty; give one vector per line.")
    if (widths != widths[0]).any():
        bad = int(np.argmax(widths != widths[0]))
        raise ValueError(
            f"{path.name}: line {bad + 1} has {widths[bad]} values but line 1 has {widths[0]}; every vector needs "
            "the same number (ragged rows)."
        )
    try:  # pandas' C parser: a 100,000 x 768 file in seconds, without a Python string per value
        text = io.StringIO("\n".join(lines))
        vectors = pd.read_csv(text, sep="\t", header=None, dtype=np.float32, engine="c").to_numpy()
    except ValueError:
        for number, line in enumerate(lines, 1):
            for column, value in enumerate(line.split("\t"), 1):
                try:
                    float(value)
                except ValueError:
                    raise ValueError(
                        f"{path.name}: line {number}, column {column}: {value.strip()[:40]!r} is not a number."
                    ) from None
        raise
    _check_finite(vectors, path.name)
    return vectors


def _check_finite(vectors: np.ndarray, name: str) -> None:
    if not np.isfinite(vectors).all():
        row, column = np.argwhere(~np.isfinite(vectors))[0]
        raise ValueError(f"{name}: row {row + 1}, value {column + 1} is {vectors[row, column]} (not a finite number).")


def read_metadata_tsv(path: str | Path) -> pd.DataFrame:
    """The Projector's metadata file: a header line then one line per point, fields separated by tabs; a file
    whose lines have no tab is a single column with no header (named :data:`SINGLE_COLUMN`)."""
    path = _existing(path, "metadata")
    lines = _lines(path)
    if not lines:
        raise ValueError(f"{path.name} holds no metadata.")
    if not any("\t" in line for line in lines):
        return pd.DataFrame({SINGLE_COLUMN: lines})
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    for number, row in enumerate(rows, 2):
        if len(row) != len(header):
            raise ValueError(
                f"{path.name}: line {number} has {len(row)} fields but the header has {len(header)} "
                f"({', '.join(header)})."
            )
    frame = pd.DataFrame(rows, columns=_unique_names(header))
    for column in frame.columns:  # numbers stay numbers (colour scales), anything else stays text
        converted = pd.to_numeric(frame[column], errors="coerce")
        if converted.notna().all():
            frame[column] = converted
    return frame


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name.strip() or "column"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _match_rows(metadata: pd.DataFrame, n: int, where: str) -> pd.DataFrame:
    if len(metadata) != n:
        raise ValueError(
            f"{where} has {len(metadata):,} rows but there are {n:,} vectors; give one metadata row per vector "
            "(after the header line, when there is more than one column)."
        )
    return metadata.reset_index(drop=True)


def read_projector(vectors: str | Path, metadata: str | Path | None = None) -> VectorTable:
    """The Projector's TSV pair (metadata optional: then each point is named by its row number)."""
    matrix = read_vectors_tsv(vectors)
    if metadata is None:
        frame = pd.DataFrame({"row": np.arange(len(matrix))})
    else:
        frame = _match_rows(read_metadata_tsv(metadata), len(matrix), Path(metadata).name)
    source = {"format": "projector-tsv", "vectors": str(vectors), "metadata": str(metadata) if metadata else None}
    return VectorTable(matrix, frame, source=source)


def read_projector_config(path: str | Path, tensor: str | None = None) -> VectorTable:
    """The embedding named ``tensor`` (default: the first) of a ``projector_config.json``."""
    path = _existing(path, "projector config")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path.name} is not valid JSON ({error}).") from error
    found = config.get("embeddings") if isinstance(config, dict) else None
    if not found or not isinstance(found, list):
        raise ValueError(f"{path.name} has no 'embeddings' list (the Projector's projector_config.json has one).")
    names = [str(e.get("tensorName", f"embedding {i}")) for i, e in enumerate(found)]
    if tensor is not None and tensor not in names:
        raise ValueError(f"{path.name} has no embedding {tensor!r}; it has {', '.join(names)}.")
    entry = found[names.index(tensor) if tensor is not None else 0]
    if "tensorPath" not in entry:
        raise ValueError(f"{path.name}: embedding {entry.get('tensorName')!r} has no tensorPath.")
    meta = entry.get("metadataPath")
    table = read_projector(path.parent / entry["tensorPath"], path.parent / meta if meta else None)
    table.source = {
        **table.source,
        "format": "projector-config",
        "config": str(path),
        "tensor": entry.get("tensorName"),
    }
    return table


@dataclass(frozen=True)
class ParquetColumns:
    """A Parquet file's columns by what they can be: vector lists, numbers, integer lists, the rest."""

    lists: list[str]
    numeric: list[str]
    index_lists: list[str]
    other: list[str]
    rows: int


def parquet_columns(path: str | Path) -> ParquetColumns:
    """What each column of a Parquet file can be used as (read from its schema, no data)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _existing(path, "Parquet")
    try:
        schema, rows = pq.read_schema(path), pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as error:
        raise ValueError(f"{path.name} is not a Parquet file ({error}).") from error
    lists, numeric, index_lists, other = [], [], [], []
    for name, kind in zip(schema.names, schema.types, strict=True):
        if pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind) or pa.types.is_large_list(kind):
            value = kind.value_type
            if pa.types.is_integer(value):
                index_lists.append(name)
            if pa.types.is_integer(value) or pa.types.is_floating(value):
                lists.append(name)
            else:
                other.append(name)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            numeric.append(name)
        else:
            other.append(name)
    return ParquetColumns(lists, numeric, index_lists, other, rows)


def _list_matrix(column: Any, name: str, dtype: Any) -> np.ndarray:
    """A list column as an (n, width) matrix; ValueError naming the first null or ragged row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.null_count:
        raise ValueError(f"column {name!r}: row {column.is_null().index(True).as_py() + 1} is empty (null).")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths != lengths[0]).any():
        bad = int(np.argmax(lengths != lengths[0]))
        raise ValueError(
            f"column {name!r}: row {bad + 1} has {lengths[bad]} values but row 1 has {lengths[0]}; every vector "
            "needs the same number (ragged rows)."
        )
    values = pc.list_flatten(column)
    if values.null_count:
        raise ValueError(f"column {name!r} holds missing values (nulls) inside its vectors.")
    return (
        values.to_numpy(zero_copy_only=False).astype(dtype).reshape(len(column), int(lengths[0]) if len(lengths) else 0)
    )


def read_parquet(
    path: str | Path,
    vector_column: str | None = None,
    feature_columns: list[str] | None = None,
    x: str | None = None,
    y: str | None = None,
    neighbours: str | None = None,
) -> VectorTable:
    """A Parquet file's points.

    Args:
        path: the file.
        vector_column: the list/array column holding each point's vector.
        feature_columns: or the numeric columns that make the vector (one value each).
        x: a column of precomputed x positions (with ``y``): no layout is fitted then.
        y: its y positions.
        neighbours: a list column of each point's neighbours, as row indices.

    Without ``vector_column`` and ``feature_columns``, the only list column is the vectors; with none, every
    numeric column but ``x``, ``y`` is. Every column not used for the vectors is metadata.
    """
    import pyarrow.parquet as pq

    columns = parquet_columns(path)
    path = Path(path).expanduser()
    known = set(columns.lists + columns.numeric + columns.other)
    for name in [vector_column, x, y, neighbours, *(feature_columns or [])]:
        if name is not None and name not in known:
            raise ValueError(f"{path.name} has no column {name!r}; it has {', '.join(sorted(known))}.")
    if (x is None) != (y is None):
        raise ValueError("give both the x and the y column of the precomputed positions, or neither.")
    if vector_column is None and not feature_columns:
        vector_lists = [c for c in columns.lists if c not in columns.index_lists and c != neighbours]
        if len(vector_lists) == 1:
            vector_column = vector_lists[0]
        elif not vector_lists:
            feature_columns = [c for c in columns.numeric if c not in (x, y)] or None
        else:
            raise ValueError(f"{path.name} has several vector columns ({', '.join(vector_lists)}): choose one.")
    if vector_column is not None and vector_column not in columns.lists:
        raise ValueError(
            f"column {vector_column!r} is not a list of numbers; the vector columns are "
            f"{', '.join(columns.lists) or 'none'}."
        )
    for name in feature_columns or []:
        if name not in columns.numeric:
            raise ValueError(f"column {name!r} is not numeric, so it cannot be part of the vectors.")
    table = pq.read_table(path)
    vectors = None
    if vector_column is not None:
        vectors = _list_matrix(table.column(vector_column), vector_column, np.float32)
    elif feature_columns:
        vectors = np.column_stack([_numeric(table, c) for c in feature_columns]).astype(np.float32)
    if vectors is not None:
        if vectors.shape[1] < 2:
            raise ValueError(f"{path.name}: the vectors have {vectors.shape[1]} value(s) each; at least 2 are needed.")
        _check_finite(vectors, path.name)
    coords = np.column_stack([_numeric(table, x), _numeric(table, y)]) if x is not None else None
    if vectors is None and coords is None:
        raise ValueError(f"{path.name} has no vector column and no numeric columns: nothing to put on a map.")
    if coords is not None:
        _check_finite(coords, f"{path.name} (x, y)")
    near = None
    if neighbours is not None:
        if neighbours not in columns.index_lists:
            raise ValueError(f"column {neighbours!r} is not a list of row indices (integers).")
        near = _neighbour_matrix(table.column(neighbours), neighbours, len(table))
    used = {vector_column, x, y, neighbours, *(feature_columns or [])}
    keep = [c for c in table.column_names if c not in used and c not in columns.lists]
    metadata = table.select(keep).to_pandas() if keep else pd.DataFrame(index=range(len(table)))
    if metadata.columns.empty:
        metadata["row"] = np.arange(len(table))
    source = {
        "format": "parquet",
        "path": str(path),
        "vector_column": vector_column,
        "feature_columns": list(feature_columns or []),
        "x": x,
        "y": y,
        "neighbours": neighbours,
    }
    return VectorTable(vectors, metadata.reset_index(drop=True), coords, near, source)


def _numeric(table: Any, name: str) -> np.ndarray:
    values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(f"column {name!r}: row {int(np.argmax(np.isnan(values))) + 1} is missing (null or NaN).")
    return values


def _neighbour_matrix(column: Any, name: str, n: int) -> np.ndarray:
    """Each row's neighbour indices, padded with -1 to the longest row; ValueError for an index out of range."""
    lists = column.to_pylist()
    width = max((len(row or []) for row in lists), default=0)
    matrix = np.full((n, width), -1, dtype=np.int64)
    for i, row in enumerate(lists):
        row = [j for j in (row or []) if j is not None]
        matrix[i, : len(row)] = row
    if ((matrix >= n) | (matrix < -1)).any():
        bad = int(np.argwhere((matrix >= n) | (matrix < -1))[0, 0])
        raise ValueError(f"column {name!r}: row {bad + 1} names a neighbour outside rows 0..{n - 1}.")
    return matrix


def load_vectors(path: str | Path, metadata: str | Path | None = None, **parquet: Any) -> VectorTable:
    """Points from any supported file, chosen by its suffix (see :data:`SUFFIXES`); ``metadata`` goes with a
    Projector TSV, ``parquet`` are :func:`read_parquet`'s options (``tensor`` picks a config's embedding)."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path.name}: give a {', '.join(SUFFIXES)} file (the Projector's TSV, its config, Parquet).")
    if suffix == ".parquet":
        if metadata is not None:
            raise ValueError("a Parquet file carries its own metadata columns; leave the metadata file out.")
        return read_parquet(path, **parquet)
    if suffix == ".json":
        return read_projector_config(path, parquet.get("tensor"))
    return read_projector(path, metadata)
