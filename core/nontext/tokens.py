"""How a symbol sequence becomes the ids a text model reads.

Each symbol first gets a *base* id: its own wordpiece in the model's vocabulary (a base 'a', an amino acid
'k'), or, for MIDI pitches, ``pitch + 128`` as the paper's music code did; symbols with no wordpiece of their
own get ``1000 + their index``; the tokens of a text task are its tokenizer's own ids, each its own base id
(``token_ids``). The base id then goes through one of five mappings (:data:`KINDS`):

- ``random``: a seeded random table over the vocabulary of the paper's kind, built as the paper's
  ``gen_table.py`` builds it: the ids from 1000 up shuffled, the ids below 1000 (PAD, UNK, CLS, SEP, MASK
  and the unused slots) moved to the end, and ``id -> table[id]``. The paper's code sends the special
  tokens through the table too (``keep_specials=False``, the full preset); the lab keeps them by default
  (``keep_specials``, the lab's choice), so [CLS], [SEP] and [PAD] still mean what the model learnt. The
  paper's tables were pickles shuffled by Python's ``random``, which its ``gen_table.py`` never seeds (it
  seeds torch), so they cannot be regenerated; this one is made with a seeded NumPy generator: the same kind
  of table, not the paper's.
- ``shift-all`` (the paper's shift): ``id -> (id + c) mod vocab`` on every id, the special tokens included
  (as the paper's code adds ``c`` to every input id); with ``keep_specials`` the special tokens stay.
- ``shift`` (the lab's shift): ``id -> 1000 + (id - 1000 + c) mod (vocab - 1000)``, the symbols only, so
  no symbol lands on a special or unused id; the special tokens stay.
- ``wordpiece``: the base id itself (the symbols' own wordpieces; for a text task, the identity).
- ``permute``: ``id -> table[id]`` through a seeded permutation of the whole vocabulary, the special tokens
  and the unused slots included (``keep_specials=False``), as the paper's GLUE trainer scrambled text:
  ``random.seed(seed)``, then Python's ``random.shuffle`` of ``list(range(vocab))`` (:func:`permutation`). Made
  the same way from the same seed, so the table is the paper's own for a given seed and vocabulary size.

A sequence is read as ``[CLS] + its ids + [SEP]`` (``framed``), or as its ids alone, as the paper's music
code read its windows (no [CLS], no [SEP]).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

KINDS = ("random", "shift", "shift-all", "wordpiece", "permute")
KIND_TITLES = {
    "random": "seeded random table (the paper's kind)",
    "shift": "shift within ids >= 1000 (the lab's)",
    "shift-all": "(id + c) mod vocabulary (the paper's shift)",
    "wordpiece": "the symbols' own wordpieces",
    "permute": "seeded permutation of the whole vocabulary (the paper's GLUE table)",
}
RESERVED = 1000
"""Ids below this are the special tokens and the unused slots of a BERT vocabulary."""


@dataclass(frozen=True)
class Vocabulary:
    """What a mapping needs to know about a model's tokenizer."""

    size: int
    cls: int
    sep: int
    pad: int
    unk: int
    pieces: dict[str, int] = field(default_factory=dict)  # symbol -> the id of its lower-cased wordpiece, if any

    @classmethod
    def of(cls, tokenizer: Any, symbols: list[str]) -> Vocabulary:
        vocab = tokenizer.get_vocab()
        return cls(
            len(vocab),
            tokenizer.cls_token_id,
            tokenizer.sep_token_id,
            tokenizer.pad_token_id,
            tokenizer.unk_token_id,
            {s: vocab[s.lower()] for s in symbols if s.lower() in vocab},
        )

    @property
    def specials(self) -> dict[str, int]:
        return {"[CLS]": self.cls, "[SEP]": self.sep, "[PAD]": self.pad}


def random_table(size: int, seed: int) -> np.ndarray:
    """The paper's kind of table: ``table[id]`` is the new id; ids >= 1000 shuffled (seeded), then 0..999."""
    if size <= RESERVED:
        raise ValueError(f"a vocabulary of {size} ids has none above the {RESERVED} reserved ones to shuffle.")
    high = np.arange(RESERVED, size)
    np.random.default_rng(seed).shuffle(high)
    return np.concatenate([high, np.arange(RESERVED)])


def permutation(size: int, seed: int) -> np.ndarray:
    """The paper's GLUE table: ``table[id]`` is the new id, a permutation of all ``size`` ids (special tokens and
    unused slots too) made by ``random.seed(seed); random.shuffle(list(range(size)))`` (Python's generator, which
    the paper's trainer seeds with the run's seed before the shuffle; nothing of its own draws from that generator
    in between, the optional wandb and comet loggers aside)."""
    import random

    if size < 2:
        raise ValueError(f"a vocabulary of {size} id has nothing to permute.")
    order = list(range(size))
    random.Random(seed).shuffle(order)
    return np.asarray(order, dtype=np.int64)


@dataclass
class TokenMapping:
    """Symbol -> id, and the special tokens' ids, for one task on one vocabulary.

    Attributes:
        kind: one of :data:`KINDS`.
        seed: the random table's seed (``random``).
        shift: the offset (``shift``).
        keep_specials: keep [CLS], [SEP] and [PAD] as the model knows them (the lab's default; the paper's code
            remapped them too).
        base: symbol -> base id.
        ids: symbol -> the id the model reads.
        specials: name -> the id the model reads for it.
        vocabulary_specials: name -> its id in the model's vocabulary, before any mapping.
        framed: a sequence is read between [CLS] and [SEP] (False: its ids alone, as the paper's music code).
    """

    kind: str
    seed: int
    shift: int
    keep_specials: bool
    base: dict[str, int]
    ids: dict[str, int]
    specials: dict[str, int]
    vocabulary_specials: dict[str, int]
    framed: bool = True

    def record(self) -> dict[str, Any]:
        found = {"kind": self.kind, "seed": self.seed, "shift": self.shift, "keep_specials": self.keep_specials}
        if not self.framed:  # only when set: the records of framed mappings stay as they were
            found["framed"] = False
        return found

    def used_ids(self) -> list[int]:
        """Every id a sequence of this task can hold (symbols and specials), sorted."""
        return sorted(set(self.ids.values()) | set(self.specials.values()))

    def preview(self) -> list[dict[str, Any]]:
        """The table as rows: symbol, base id, id read."""
        rows = [{"symbol": s, "base id": b, "id read": self.ids[s]} for s, b in self.base.items()]
        return rows + [
            {"symbol": name, "base id": self.vocabulary_specials[name], "id read": i}
            for name, i in self.specials.items()
        ]

    def encode(self, sequence: list[str], max_length: int) -> list[int]:
        """[CLS] + the symbols' ids + [SEP] (the ids alone when not ``framed``), at most ``max_length`` ids.

        Raises:
            ValueError: a symbol the mapping does not know, or a sequence too long.
        """
        unknown = sorted({s for s in sequence if s not in self.ids})
        if unknown:
            raise ValueError(
                f"unknown symbols {', '.join(map(repr, unknown[:5]))}; the task's symbols are "
                f"{', '.join(list(self.ids)[:30])}."
            )
        if not self.framed:
            if len(sequence) > max_length:
                raise ValueError(f"{len(sequence)} symbols exceed the model's {max_length} positions.")
            return [self.ids[s] for s in sequence]
        if len(sequence) + 2 > max_length:
            raise ValueError(f"{len(sequence)} symbols + [CLS] + [SEP] exceed the model's {max_length} positions.")
        return [self.specials["[CLS]"], *(self.ids[s] for s in sequence), self.specials["[SEP]"]]


def base_ids(
    symbols: list[str], vocabulary: Vocabulary, pitches: bool = False, token_ids: bool = False
) -> dict[str, int]:
    """Each symbol's base id: ``pitch + 128`` for MIDI pitches (``pitches``), the id itself for a text task's
    token ids (``token_ids``), else its wordpiece, else 1000 + its index among the symbols without one.

    Raises:
        ValueError: a token id outside the vocabulary.
    """
    if pitches:
        return {s: int(s) + 128 for s in symbols}
    if token_ids:
        found = {s: int(s) for s in symbols}
        outside = [s for s, i in found.items() if not 0 <= i < vocabulary.size]
        if outside:
            raise ValueError(
                f"token ids {', '.join(outside[:5])} are outside the vocabulary of {vocabulary.size} ids; was the "
                "text tokenised by another model's tokenizer?"
            )
        return found
    without = [s for s in symbols if s not in vocabulary.pieces]
    base = {s: vocabulary.pieces[s] for s in symbols if s in vocabulary.pieces}
    base.update({s: RESERVED + i for i, s in enumerate(without)})
    return base


def build_mapping(
    symbols: list[str],
    vocabulary: Vocabulary,
    kind: str = "random",
    seed: int = 100,
    shift: int = 1000,
    keep_specials: bool = True,
    pitches: bool = False,
    framed: bool = True,
    token_ids: bool = False,
) -> TokenMapping:
    """The mapping of ``symbols`` on ``vocabulary`` (see the module's docstring).

    Raises:
        ValueError: an unknown kind, or a mapping that would give two symbols one id or a symbol a special id.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    base = base_ids(symbols, vocabulary, pitches, token_ids)
    specials = dict(vocabulary.specials)
    if kind in ("random", "permute"):
        table = random_table(vocabulary.size, seed) if kind == "random" else permutation(vocabulary.size, seed)
        ids = {s: int(table[b]) for s, b in base.items()}
        if not keep_specials:
            specials = {name: int(table[i]) for name, i in specials.items()}
    elif kind == "shift":
        span = vocabulary.size - RESERVED
        ids = {s: RESERVED + (b - RESERVED + shift) % span for s, b in base.items()}
    elif kind == "shift-all":
        ids = {s: (b + shift) % vocabulary.size for s, b in base.items()}
        if not keep_specials:
            specials = {name: (i + shift) % vocabulary.size for name, i in specials.items()}
    else:
        ids = dict(base)
    if len(set(ids.values())) != len(ids):
        raise ValueError("two symbols would read the same id; choose another mapping.")
    clash = sorted(set(ids.values()) & set(specials.values()))
    if clash:
        raise ValueError(f"a symbol would read a special token's id ({clash}); choose another seed or mapping.")
    return TokenMapping(kind, seed, shift, keep_specials, base, ids, specials, dict(vocabulary.specials), framed)


def encode_all(sequences: list[list[str]], mapping: TokenMapping, max_length: int) -> torch.Tensor:
    """Every sequence encoded and padded with [PAD] to the longest: (n, length) int64.

    Raises:
        ValueError: naming the first row with an unknown symbol or too many symbols.
    """
    encoded = []
    for row, sequence in enumerate(sequences):
        try:
            encoded.append(mapping.encode(sequence, max_length))
        except ValueError as error:
            raise ValueError(f"row {row + 1}: {error}") from None
    width = max(len(e) for e in encoded)
    out = torch.full((len(encoded), width), mapping.specials["[PAD]"], dtype=torch.long)
    for row, ids in enumerate(encoded):
        out[row, : len(ids)] = torch.as_tensor(ids)
    return out
