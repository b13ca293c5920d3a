"""Sequence tasks that are not language: DNA, peptides and music as labelled symbol sequences.

Offline, from packages (see ../shared/OFFLINE.md):

- ``splice``: the UCI splice-junction windows (3,186 x 60 nt; EI / IE / N) as Debian's ``r-cran-mlbench``
  ships them (``DNA.rda``, 180 binary indicators per record: A=100, C=010, G=001, T=000), read with the
  ``rdata`` package (no R needed). Close to the paper's data, not the same: Kao & Lee read Hilbert-CNN's
  ``splice.txt`` (3,190 records, 15 of them with the ambiguity codes N, D, R or S); ``DNA.rda`` holds 3,186
  with A, C, G, T only, in another order (3,175 of its sequences identical to the paper's, 11 differ). Give
  that file as a ``hilbert`` task to train on the paper's records;
- ``promoters``: E. coli promoters (106 x 57 nt, Debian ``r-cran-kernlab``'s ``promotergene.rda``), a
  demo-sized set;
- ``amp``: antimicrobial peptides against UniProt sequences (5,200, ``modlamp``'s ``AMPvsUniProt.csv``);
- ``composers``: composer from pitch sequences of ``music21``'s corpus (Bach, Palestrina, Monteverdi by
  default), windows of notes, every window of a piece on the same side of the split (``groups``) and
  held-out pieces voted over their windows.

Online or from a file: any CSV of (sequence, label); the Hilbert-CNN text files the paper read, for H3 /
H4 / H3K9ac (three lines per record: name, sequence, label) and for splice junctions (``splice.txt``, one
record a line: class, name, sequence); the PLUS protein files the paper read (``*.fa``: localization,
fluorescence, stability); and a MAESTRO v1 folder (its JSON index and MIDI files; composer per piece, its
official split).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ResourceUnavailable

DNA_CODE = {(1, 0, 0): "A", (0, 1, 0): "C", (0, 0, 1): "G", (0, 0, 0): "T"}
"""How ``DNA.rda`` stores a base in three indicator columns."""

R_DATA = {
    "DNA.rda": ("mlbench", "df941ad89a49f705a29bf38e52c91dc34029539cedb13fa24f803f1224278c9e"),
    "promotergene.rda": ("kernlab", "60a4f650f412129d9b7a776243cebe3bf0c845a0fbb79c31121344f48c89233c"),
}
"""The R data files the offline DNA tasks read: file -> (Debian r-cran package, SHA-256)."""

DATA_ENV = "CROSSMODAL_DATA"


@dataclass
class TokenTask:
    """A labelled set of symbol sequences.

    Attributes:
        name: the task's name.
        sequences: each a list of symbols (strings: bases, amino acids, MIDI pitches).
        labels: class index per sequence, or a value per sequence for a regression task.
        label_names: the classes; empty for a regression task (the paper's fluorescence and stability).
        groups: a group per sequence (e.g. the piece a music window comes from); sequences of one group
            are kept on one side of a split, and held-out groups are voted over. None: every sequence is
            its own group.
        fixed_split: the data's own split (e.g. MAESTRO's), used instead of a seeded one when given.
        source: where the data came from.
        note: what a user should know about it.
    """

    name: str
    sequences: list[list[str]]
    labels: np.ndarray
    label_names: list[str]
    groups: np.ndarray | None = None
    source: str = ""
    note: str = ""
    record: dict[str, Any] = field(default_factory=dict)
    fixed_split: np.ndarray | None = None  # "train" / "validation" / "test" per sequence, when the data has one

    @property
    def regression(self) -> bool:
        """A task whose targets are values (e.g. fluorescence, stability), not classes."""
        return not self.label_names

    @property
    def symbols(self) -> list[str]:
        """Every symbol the task uses, sorted (numbers numerically)."""
        found = {s for sequence in self.sequences for s in sequence}
        return sorted(found, key=lambda s: (not s.lstrip("-").isdigit(), int(s) if s.lstrip("-").isdigit() else 0, s))

    def counts(self) -> dict[str, int]:
        if self.regression:
            return {"values": len(self.labels)}
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.label_names)}


def check_task(task: TokenTask, max_symbols: int | None = None) -> None:
    """Raise ValueError, naming the row and what to do, for an empty sequence, a task with one class, or a
    sequence longer than ``max_symbols``."""
    if len(task.sequences) != len(task.labels):
        raise ValueError(f"{task.name}: {len(task.sequences)} sequences but {len(task.labels)} labels.")
    for row, sequence in enumerate(task.sequences):
        if not sequence:
            raise ValueError(f"{task.name}: row {row + 1} has an empty sequence; remove it or give it symbols.")
        if max_symbols is not None and len(sequence) > max_symbols:
            raise ValueError(
                f"{task.name}: row {row + 1} has {len(sequence)} symbols but the model reads at most {max_symbols} "
                "(with [CLS] and [SEP]); cut the sequences into windows or keep their first and last parts."
            )
    if task.regression:
        bad = np.flatnonzero(~np.isfinite(np.asarray(task.labels, dtype=float)))
        if len(bad):
            raise ValueError(f"{task.name}: row {bad[0] + 1} has no finite target value; fix or remove it.")
        if np.ptp(task.labels) == 0:
            raise ValueError(f"{task.name}: every target is the same value; there is nothing to learn.")
        return
    present = np.unique(task.labels)
    if len(present) < 2:
        only = task.label_names[int(present[0])] if len(present) else "none"
        raise ValueError(f"{task.name}: every sequence has the label {only!r}; a classifier needs two classes or more.")


# --------------------------------------------------------------------------- files


def data_file(name: str) -> Path:
    """An R data file of :data:`R_DATA`, checked against its SHA-256: from ``$CROSSMODAL_DATA``, the
    environment's ``share/crossmodal-data`` (where ``scripts/setup.sh`` extracts Debian's package), or a
    system-wide R library."""
    from core.hub import checked_file

    package, digest = R_DATA[name]
    places = [Path(p) for p in os.environ.get(DATA_ENV, "").split(os.pathsep) if p]
    places += [Path(sys.prefix) / "share" / "crossmodal-data", Path("/usr/lib/R/site-library")]
    install = (
        f"run scripts/setup.sh (it fetches Debian's r-cran-{package} with apt-get download and extracts its data "
        f"files, no R needed), or set {DATA_ENV} to a folder holding {package}/data/{name}"
    )
    for place in places:
        path = place / package / "data" / name
        if path.is_file():
            return checked_file(path, digest, f"r-cran-{package}'s {name}", install)
    raise ResourceUnavailable(f"{name} (Debian r-cran-{package}) is not on this machine; {install}.")


def _read_rda(path: Path) -> dict[str, Any]:
    import rdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdata warns that the files declare no encoding (they are ASCII)
        return rdata.read_rda(str(path))


def decode_dna(indicators: np.ndarray) -> list[str]:
    """Sequences from ``DNA.rda``'s indicator columns: (n, 3 * length) 0/1 -> strings of A, C, G, T.

    Raises:
        ValueError: a triple that is not a base's code.
    """
    indicators = np.asarray(indicators, dtype=int)
    if indicators.ndim != 2 or indicators.shape[1] % 3:
        raise ValueError(f"expected (n, 3 x length) indicators, got {indicators.shape}.")
    triples = indicators.reshape(len(indicators), -1, 3)
    out = []
    for row, record in enumerate(triples):
        try:
            out.append("".join(DNA_CODE[tuple(t)] for t in record))
        except KeyError as error:
            raise ValueError(f"record {row + 1} holds {error.args[0]}, which is no base's code.") from None
    return out


def load_splice(path: Path | None = None) -> TokenTask:
    """The splice-junction task (EI: exon-intron donor, IE: intron-exon acceptor, N: neither)."""
    frame = _read_rda(path or data_file("DNA.rda"))["DNA"]
    sequences = decode_dna(frame.iloc[:, :-1].astype(int).to_numpy())
    classes = frame.iloc[:, -1].astype(str).to_numpy()
    names = ["ei", "ie", "n"]
    return TokenTask(
        "splice",
        [list(s) for s in sequences],
        np.array([names.index(c) for c in classes]),
        names,
        source="UCI splice junctions (3,186 x 60 nt) via Debian r-cran-mlbench DNA.rda",
        note="not the paper's file: Kao & Lee read Hilbert-CNN's splice.txt (3,190 records, 15 with the ambiguity "
        "codes N, D, R or S; here 3,186 with A, C, G, T only, in another order: 3,175 sequences identical, 11 "
        "differ). EI windows hold the donor's GT at positions 31-32, IE the acceptor's AG at 29-30",
    )


def load_promoters(path: Path | None = None) -> TokenTask:
    """E. coli promoters (+) against non-promoters (-), 57 nt each."""
    frame = _read_rda(path or data_file("promotergene.rda"))["promotergene"]
    labels = np.array([0 if str(c) == "-" else 1 for c in frame.iloc[:, 0]])
    sequences = [[str(b).upper() for b in row] for row in frame.iloc[:, 1:].astype(str).to_numpy()]
    return TokenTask(
        "promoters",
        sequences,
        labels,
        ["non-promoter", "promoter"],
        source="E. coli promoters (106 x 57 nt) via Debian r-cran-kernlab promotergene.rda",
        note="a tiny demo set: figures on it vary a lot with the seed",
    )


def load_amp(path: Path | None = None) -> TokenTask:
    """Antimicrobial peptides (AMP) against UniProt sequences, from modlamp's data."""
    import pandas as pd

    from core.hub import package_path

    path = path or package_path("modlamp", "data/AMPvsUniProt.csv")
    if path is None:
        raise ResourceUnavailable("modlamp's data is not installed: pip install --no-deps modlamp==4.3.3.")
    frame = pd.read_csv(path, header=None, skiprows=1, names=["sequence", "label"], skipinitialspace=True)
    return TokenTask(
        "amp",
        [list(str(s).strip().upper()) for s in frame["sequence"]],
        frame["label"].astype(int).to_numpy(),
        ["UniProt", "AMP"],
        source="modlamp AMPvsUniProt.csv (5,200 peptides, 7-174 amino acids)",
    )


COMPOSERS = ("bach", "palestrina", "monteverdi")


def pitch_sequence(path: str | Path) -> list[int]:
    """The MIDI pitches of a score's notes in time order (a chord gives each of its pitches, low to high)."""
    from music21 import converter

    score = converter.parse(str(path))
    pitches: list[tuple[float, int]] = []
    for element in score.flatten().notes:
        for pitch in sorted(p.midi for p in element.pitches):
            pitches.append((float(element.offset), pitch))
    return [p for _, p in sorted(pitches, key=lambda item: item[0])]


def windows(pitches: list[int], length: int, stride: int | None = None) -> list[list[int]]:
    """Consecutive windows of ``length`` notes (``stride`` apart, default ``length``); a piece shorter than
    one window gives none."""
    stride = stride or length
    return [pitches[start : start + length] for start in range(0, len(pitches) - length + 1, stride)]


def load_composers(
    composers: tuple[str, ...] = COMPOSERS,
    pieces: int = 40,
    window: int = 64,
    progress: Callable[[int, int, dict], Any] | None = None,
) -> TokenTask:
    """Composer classification from ``music21``'s corpus: up to ``pieces`` scores per composer (the first ones
    in the corpus's order), cut into windows of ``window`` notes; ``groups`` is the piece."""
    from music21 import corpus

    found = {c: list(corpus.getComposer(c))[:pieces] for c in composers}
    empty = [c for c, paths in found.items() if not paths]
    if empty:
        raise ValueError(f"music21's corpus has no scores by {', '.join(empty)}; choose from e.g. {COMPOSERS}.")
    sequences, labels, groups, done, total = [], [], [], 0, sum(len(p) for p in found.values())
    for label, composer in enumerate(composers):
        for path in found[composer]:
            for piece_window in windows(pitch_sequence(path), window):
                sequences.append([str(p) for p in piece_window])
                labels.append(label)
                groups.append(f"{composer}/{Path(str(path)).name}")
            done += 1
            if progress is not None:
                progress(done, total, {"piece": Path(str(path)).name})
    return TokenTask(
        "composers",
        sequences,
        np.array(labels),
        list(composers),
        np.array(groups),
        source=f"music21 corpus, {pieces} pieces per composer at most, windows of {window} notes",
        note="a piece's windows stay on one side of the split; held-out pieces are voted over their windows",
        record={"composers": list(composers), "pieces": pieces, "window": window},
    )


def load_csv(
    path: str | Path,
    sequence_column: str = "sequence",
    label_column: str = "label",
    sep: str = "",
    values: bool = False,
) -> TokenTask:
    """A CSV of (sequence, label) rows. Symbols are the sequence's characters, or its items split by ``sep``
    (e.g. a space for pitches). ``values``: the labels are numbers to regress (e.g. fluorescence), not classes.

    Raises:
        ValueError: a missing column, an empty sequence or a non-numeric value (naming its row), or a
            single class.
    """
    import pandas as pd

    from core.corpora import read_csv_table

    try:
        frame = read_csv_table(path)
    except ValueError as error:
        raise ValueError(f"{Path(path).name}: {error}.") from error
    missing = [c for c in (sequence_column, label_column) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no column {', '.join(missing)}; its columns are {', '.join(frame.columns)}.")
    names = [] if values else sorted(frame[label_column].astype(str).unique())
    sequences = []
    for row, value in enumerate(frame[sequence_column]):
        text = "" if pd.isna(value) else str(value).strip()
        if not text:
            raise ValueError(f"{path}: row {row + 2} has an empty {sequence_column!r}; remove it or fill it in.")
        sequences.append(text.split(sep) if sep else list(text.replace(" ", "")))
    if values:
        numbers = pd.to_numeric(frame[label_column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(numbers))
        if len(bad):
            raise ValueError(f"{path}: row {bad[0] + 2} has {frame[label_column].iloc[bad[0]]!r}, not a number.")
        labels = numbers
    else:
        labels = np.array([names.index(str(v)) for v in frame[label_column]])
    task = TokenTask(Path(path).stem, sequences, labels, names, source=f"CSV {path}")
    check_task(task)
    return task


SPLICE_CLASSES = {"EI": "ei", "IE": "ie", "N": "n"}
"""A splice record's class in the UCI / Hilbert-CNN file -> the lab's class name (as ``load_splice`` names it)."""
AMBIGUITY_CODES = set("NDRS")
"""The IUPAC codes beside A, C, G and T in the paper's splice file: any base, A/G/T, A/G, C/G."""


def load_hilbert_text(path: str | Path) -> TokenTask:
    """A Hilbert-CNN data file the paper read, in file order: ``splice.txt`` (one record a line: class EI / IE /
    N, a name, the 60 bases, comma-separated; the paper's 3,190 records, the ambiguity codes N, D, R and S
    kept as symbols of their own, as the paper's tokenizer read them) or the H3 / H4 / H3K9ac files (three
    lines per record: a name, the sequence and a 0/1 label).

    Raises:
        ValueError: naming the line that is not a record of either kind.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as text ({error}).") from None
    first = next((line for line in lines if line.strip()), "")
    if first.count(",") == 2:
        return _splice_text(path, lines)
    if len(lines) % 3:
        raise ValueError(f"{path}: {len(lines)} lines is not three per record (name, sequence, label).")
    sequences, labels = [], []
    for record in range(len(lines) // 3):
        sequence, label = lines[3 * record + 1].strip().upper(), lines[3 * record + 2].strip()
        if label not in ("0", "1"):
            raise ValueError(f"{path}: line {3 * record + 3} should be a 0/1 label, got {label!r}.")
        sequences.append(list(sequence))
        labels.append(int(label))
    task = TokenTask(path.stem, sequences, np.array(labels), ["0", "1"], source=f"Hilbert-CNN file {path}")
    check_task(task)
    return task


def _splice_text(path: Path, lines: list[str]) -> TokenTask:
    names = list(SPLICE_CLASSES.values())
    sequences, labels = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 3 or parts[0].upper() not in SPLICE_CLASSES or not parts[2]:
            raise ValueError(
                f"{path}: line {number} is not a splice record (class EI, IE or N, a name, the bases): {line[:60]!r}."
            )
        sequences.append(list(parts[2].upper()))
        labels.append(names.index(SPLICE_CLASSES[parts[0].upper()]))
    ambiguous = sum(1 for sequence in sequences if AMBIGUITY_CODES & set(sequence))
    task = TokenTask(
        "splice",
        sequences,
        np.array(labels),
        names,
        source=f"splice junctions from {path.name} ({len(sequences):,} records, the file's order)",
        note=f"{ambiguous} record{'s' if ambiguous != 1 else ''} with the ambiguity codes N, D, R or S, each read as a "
        "symbol of its own (the paper's file: 3,190 records, 15 of them)",
        record={"file": "hilbert-splice"},
    )
    check_task(task)
    return task


PLUS_TASKS = ("localization", "fluorescence", "stability")
LOCATIONS = (
    *("Cell.membrane", "Cytoplasm", "Endoplasmic.reticulum", "Extracellular", "Golgi.apparatus"),
    *("Lysosome/Vacuole", "Mitochondrion", "Nucleus", "Peroxisome", "Plastid"),
)
"""The localization task's ten classes, in the order the PLUS code numbers them."""
PLUS_MAX_LENGTH = {"localization": 512, "fluorescence": 256, "stability": 50}
"""The paper's model positions per protein task ([CLS] and [SEP] included)."""
PLUS_TRUNCATE = {"localization": 1000}
"""The paper's truncation before the cut to the maximum length: longer sequences keep their first and last
halves (localization only, as in its data configuration)."""
AMINO_ACIDS = "ARNDCQEGHILKMFPSTWYVX"
AMINO_SYNONYMS = {"O": "K", "U": "C", "B": "X", "Z": "X"}
"""How the PLUS code reads the rarer letters: pyrrolysine as lysine, selenocysteine as cysteine, B and Z (and any
other letter) as X."""
PLUS_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def _fasta(path: Path) -> list[tuple[str, str]]:
    """(header, sequence) of each record of a FASTA file; lines starting with '#' are comments."""
    records: list[tuple[str, list[str]]] = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if line.startswith("#"):
            continue
        line = line.strip()
        if line.startswith(">"):
            records.append((line[1:], []))
        elif line:
            if not records:
                raise ValueError(f"{path}: line {number} holds a sequence before any '>' header; is it FASTA?")
            records[-1][1].append(line.upper())
    return [(header, "".join(parts)) for header, parts in records]


def _plus_files(path: Path, task: str | None) -> tuple[str, dict[str, Path]]:
    """The PLUS task and its files (split -> file) at ``path``: one ``{task}_{split}.fa`` file, or a folder
    holding a task's train, dev and test files."""
    if path.is_file():
        stem = path.name.removesuffix(".fa")
        named, _, part = stem.rpartition("_")
        found = task or (named if named in PLUS_TASKS else stem if stem in PLUS_TASKS else None)
        if found not in PLUS_TASKS:
            raise ValueError(
                f"{path.name}: which PLUS task is it? Name the file {{task}}_{{train|dev|test}}.fa with a task of "
                f"{', '.join(PLUS_TASKS)}, as the PLUS data names them."
            )
        return found, {"all": path}
    if not path.is_dir():
        raise ValueError(f"there is no PLUS file or folder {path}.")
    candidates = [t for t in PLUS_TASKS if task in (None, t) and any(path.rglob(f"{t}_train.fa"))]
    if len(candidates) != 1:
        held = ", ".join(candidates) or "none of " + ", ".join(PLUS_TASKS)
        raise ValueError(
            f"{path} holds the PLUS files of {held}; point to one task's folder (its {{task}}_train.fa, "
            "_dev.fa and _test.fa) or to one file."
        )
    found = candidates[0]
    files = {}
    for part in PLUS_SPLITS:
        matches = sorted(path.rglob(f"{found}_{part}.fa"))
        if not matches:
            raise ValueError(f"{path} has {found}_train.fa but no {found}_{part}.fa; the paper used all three.")
        files[part] = matches[0]
    return found, files


def load_plus(path: str | Path, task: str | None = None) -> TokenTask:
    """A PLUS protein task the paper used (localization: 10 classes; fluorescence and stability: values, read
    by Spearman's rho) from its ``.fa`` files, downloaded from the PLUS site (http://ailab.snu.ac.kr/PLUS/):
    a folder holding a task's ``{task}_train.fa``, ``_dev.fa`` and ``_test.fa`` (their own split) or one file.

    Read as the paper's code reads them: a record's label is its header's second field (localization: up to a
    '-'); residues upper-cased, O read as K, U as C, B, Z and any other letter as X; localization sequences
    longer than 1,000 residues keep their first and last 500; then every sequence is cut to the paper's
    maximum length less [CLS] and [SEP] (510 / 254 / 48 residues).

    Raises:
        ValueError: naming the file and record that cannot be read, or what the folder lacks.
    """
    path = Path(path)
    found, files = _plus_files(path, task)
    keep = PLUS_MAX_LENGTH[found] - 2
    truncate = PLUS_TRUNCATE.get(found)
    sequences, labels, splits, cut = [], [], [], 0
    for part, file in files.items():
        for number, (header, sequence) in enumerate(_fasta(file), start=1):
            fields = header.split()
            if len(fields) < 2 or not sequence:
                raise ValueError(f"{file.name}: record {number} ({header[:40]!r}) has no label or no sequence.")
            if found == "localization":
                label = fields[1].split("-")[0]
                if label not in LOCATIONS:
                    raise ValueError(
                        f"{file.name}: record {number} has the location {label!r}, not one of {', '.join(LOCATIONS)}."
                    )
                labels.append(LOCATIONS.index(label))
            else:
                try:
                    labels.append(float(fields[1]))
                except ValueError:
                    raise ValueError(f"{file.name}: record {number} has {fields[1]!r}, not a number.") from None
            residues = [c if c in AMINO_ACIDS else AMINO_SYNONYMS.get(c, "X") for c in sequence]
            if truncate is not None and len(residues) > truncate:
                residues = residues[: truncate // 2] + residues[-(truncate // 2) :]
            cut += len(residues) > keep
            sequences.append(residues[:keep])
            splits.append(PLUS_SPLITS.get(part, ""))
    regression = found != "localization"
    result = TokenTask(
        found,
        sequences,
        np.array(labels, dtype=float if regression else int),
        [] if regression else list(LOCATIONS),
        source=f"PLUS {found} ({', '.join(f.name for f in files.values())}; {len(sequences):,} proteins)",
        note=f"{cut:,} sequence{'s' if cut != 1 else ''} cut to the paper's {keep} residues"
        + (", localization ones over 1,000 residues first kept as their first and last 500" if truncate else ""),
        record={"plus": found},
        fixed_split=np.array(splits) if "all" not in files else None,
    )
    check_task(result, keep)
    return result


MUSIC_NOTES = ("lab", "paper")
"""How MAESTRO's MIDI files become notes: ``lab``, through music21 (the first part's notes in time order, a
chord's pitches low to high, consecutive windows); ``paper``, as the paper's code read them
(:func:`core.nontext.midi.paper_windows`: the first instrument's notes as pretty_midi lists them, chunks each
sorted by start)."""


def load_maestro(folder: str | Path, window: int = 128, first_instrument: bool = True, notes: str = "lab") -> TokenTask:
    """MAESTRO v1 (the paper's music data): composer classification over its index's ``canonical_composer``,
    windows of ``window`` notes (the paper: 128, of the first instrument) read the ``notes`` way
    (:data:`MUSIC_NOTES`), its official train / validation / test split, and a vote per piece on the held-out
    ones. Composers are numbered in sorted order (the paper's code: in the order the index first names them;
    which output unit stands for which composer, nothing more).

    ``folder`` holds ``maestro-v1.0.0.json`` (or any ``maestro-*.json`` index) and the MIDI files it names.
    """
    import json

    if notes not in MUSIC_NOTES:
        raise ValueError(f"notes must be one of {MUSIC_NOTES}, got {notes!r}.")
    folder = Path(folder)
    index = sorted(folder.glob("maestro-*.json"))
    if not index:
        raise ValueError(f"{folder} holds no maestro-*.json index; download MAESTRO v1 and point to its folder.")
    pieces = json.loads(index[0].read_text())
    if isinstance(pieces, dict):  # v2+ indexes are column-wise
        keys = list(pieces)
        pieces = [{k: pieces[k][i] for k in keys} for i in pieces[keys[0]]]
    names = sorted({p["canonical_composer"] for p in pieces})
    sequences, labels, groups, splits = [], [], [], []
    for piece in pieces:
        if notes == "paper":
            from core.nontext.midi import paper_windows

            piece_windows = paper_windows(folder / piece["midi_filename"], window)
        else:
            from music21 import converter

            score = converter.parse(str(folder / piece["midi_filename"]))
            part = score.parts[0] if first_instrument and score.parts else score
            pitches = [
                p.midi for element in part.flatten().notes for p in sorted(element.pitches, key=lambda x: x.midi)
            ]
            piece_windows = windows(pitches, window)
        for piece_window in piece_windows:
            sequences.append([str(p) for p in piece_window])
            labels.append(names.index(piece["canonical_composer"]))
            groups.append(piece["midi_filename"])
            splits.append(piece["split"])
    how = ", read the paper's way (first instrument, chunks sorted by start)" if notes == "paper" else ""
    return TokenTask(
        "maestro",
        sequences,
        np.array(labels),
        names,
        np.array(groups),
        source=f"MAESTRO index {index[0].name} ({len(pieces)} pieces), windows of {window} notes{how}",
        note="the official split; held-out pieces are voted over their windows",
        record={"window": window, **({"notes": notes} if notes != "lab" else {})},
        fixed_split=np.array(["validation" if s == "validation" else s for s in splits]),
    )


TASKS: dict[str, tuple[str, Callable[..., TokenTask]]] = {
    "splice": ("DNA splice junctions (UCI, 3,186 x 60 nt; close to the paper's 3,190)", load_splice),
    "promoters": ("E. coli promoters (106 x 57 nt; a tiny demo)", load_promoters),
    "amp": ("antimicrobial peptides vs UniProt (5,200)", load_amp),
    "composers": ("composer from pitch windows (music21 corpus)", load_composers),
}
"""The tasks that load offline: name -> (title, loader)."""


def available_tasks() -> list[dict[str, Any]]:
    """Each offline task, whether its data is here, and what to do if not."""
    rows = []
    for name, (title, _) in TASKS.items():
        try:
            if name == "splice":
                data_file("DNA.rda")
            elif name == "promoters":
                data_file("promotergene.rda")
            elif name == "amp":
                from core.hub import package_path

                if package_path("modlamp", "data/AMPvsUniProt.csv") is None:
                    raise ResourceUnavailable("pip install --no-deps modlamp==4.3.3")
            else:
                from core.hub import package_available

                if not package_available("music21"):
                    raise ResourceUnavailable("pip install music21==10.5.1")
            rows.append({"name": name, "title": title, "available": True, "note": ""})
        except ResourceUnavailable as error:
            rows.append({"name": name, "title": title, "available": False, "note": str(error)})
    return rows


def load_task(name: str, **options: Any) -> TokenTask:
    """An offline task by name (``options`` go to its loader, e.g. ``pieces`` for composers)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; offline tasks: {', '.join(TASKS)} (or a CSV file).")
    return TASKS[name][1](**options)
