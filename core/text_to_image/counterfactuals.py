"""Edit a word, see what changes: a sentence and an edited copy through the same chain, side by side.

In the spirit of LIT's datapoint editor: one-click edits (:func:`edits`) replace a word by its antonym from a small
table of review words (:data:`ANTONYMS`, the lab's, both directions), delete a word, or swap two neighbouring words;
any other edit is typed. :func:`compare` runs both sentences exactly as Classify does (the dataset's imager, every
chosen model, each at its fitted temperature) and keeps both images, their difference and both predictions, so the
edited sentence's figures are the ones Classify shows when that sentence is typed there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

_PAIRS = (
    ("good", "bad"),
    ("great", "terrible"),
    ("best", "worst"),
    ("better", "worse"),
    ("love", "hate"),
    ("loved", "hated"),
    ("loves", "hates"),
    ("like", "dislike"),
    ("beautiful", "ugly"),
    ("beautifully", "badly"),
    ("funny", "unfunny"),
    ("fun", "tedious"),
    ("brilliant", "dreadful"),
    ("wonderful", "awful"),
    ("excellent", "poor"),
    ("fresh", "stale"),
    ("clever", "stupid"),
    ("smart", "dumb"),
    ("moving", "dull"),
    ("gripping", "boring"),
    ("tender", "cold"),
    ("warm", "cold"),
    ("charming", "irritating"),
    ("delightful", "dreary"),
    ("enjoyable", "unbearable"),
    ("masterpiece", "mess"),
    ("success", "failure"),
    ("strong", "weak"),
    ("rich", "thin"),
    ("original", "derivative"),
    ("subtle", "heavy-handed"),
    ("joyful", "joyless"),
    ("perfect", "flawed"),
    ("memorable", "forgettable"),
    ("satisfying", "disappointing"),
    ("well", "poorly"),
    ("always", "never"),
    ("is", "isn't"),
    ("was", "wasn't"),
)
ANTONYMS: dict[str, str] = {**dict(_PAIRS), **{b: a for a, b in _PAIRS if b not in dict(_PAIRS)}}
"""A small table of review words and their opposites (the lab's; lower case; both directions, the first pair
listing a word winning where a word has two)."""

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")


@dataclass(frozen=True)
class Edit:
    """One edit of a sentence: its ``kind`` (antonym, delete, swap), a label to show and the edited ``text``."""

    kind: str
    label: str
    text: str


def words(text: str) -> list[tuple[int, int, str]]:
    """The words of ``text`` with their spans: (start, end, word); punctuation is not a word."""
    return [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def _cased(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _tidy(text: str) -> str:
    """Spaces after a deletion: no double spaces, none before punctuation, none at the ends; a capital first."""
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text).strip()
    text = re.sub(r"^[,.;:!?]\s*", "", text)
    return text[:1].upper() + text[1:] if text else text


def replace_word(text: str, index: int, word: str) -> str:
    """``text`` with its ``index``-th word replaced by ``word`` (in the replaced word's case)."""
    start, end, old = words(text)[index]
    return text[:start] + _cased(word, old) + text[end:]


def delete_word(text: str, index: int) -> str:
    """``text`` without its ``index``-th word."""
    start, end, _ = words(text)[index]
    return _tidy(text[:start] + text[end:])


def swap_words(text: str, first: int, second: int) -> str:
    """``text`` with two of its words (by index) exchanged, each keeping the other's place."""
    found = words(text)
    (a0, a1, a), (b0, b1, b) = sorted((found[first], found[second]))
    if a0 == found[0][0] and a[:1].isupper() and a[1:].islower() and b.islower():  # the sentence's capital moves
        a, b = a.lower(), b[:1].upper() + b[1:]
    return text[:a0] + b + text[a1:b0] + a + text[b1:]


def edits(text: str, limit: int = 40) -> list[Edit]:
    """One-click counterfactuals of ``text``: every word of :data:`ANTONYMS` replaced by its opposite, then every
    word deleted, then every two neighbouring words swapped; at most ``limit``, the antonyms first."""
    found = words(text)
    out: list[Edit] = []
    for i, (_, _, word) in enumerate(found):
        opposite = ANTONYMS.get(word.lower())
        if opposite:
            out.append(Edit("antonym", f"{word} → {_cased(opposite, word)}", replace_word(text, i, opposite)))
    if len(found) > 1:
        out += [Edit("delete", f"delete «{w}»", delete_word(text, i)) for i, (_, _, w) in enumerate(found)]
        out += [
            Edit("swap", f"swap «{found[i][2]}» and «{found[i + 1][2]}»", swap_words(text, i, i + 1))
            for i in range(len(found) - 1)
            if found[i][2].lower() != found[i + 1][2].lower()
        ]
    return [e for e in out if e.text and e.text != text][:limit]


def compare(imager: Any, models: dict[str, Any], text: str, edited: str, temperatures: dict | None = None) -> dict:
    """Both sentences through the chain, as Classify runs one: ``features`` and ``images`` (original, edited),
    ``difference`` (edited − original image), ``results`` (:func:`core.text_to_image.classify.classify` of each)
    and ``changed``: the models whose predicted class differs between the two.

    Raises:
        ValueError: an empty sentence, or an edit that leaves the sentence as it was.
    """
    from core.text_to_image import classify

    text, edited = (text or "").strip(), (edited or "").strip()
    if not text or not edited:
        raise ValueError("type both sentences: the original and the edited copy.")
    if text == edited:
        raise ValueError("the edited sentence is the same as the original; change a word (or pick an edit).")
    pairs = [imager.images([t]) for t in (text, edited)]  # one at a time, as Classify embeds a typed sentence
    features = np.concatenate([f for f, _ in pairs])
    images = np.concatenate([i for _, i in pairs])
    results = [classify.classify(models, image, temperatures) for image in images]
    changed = [
        name
        for name in models
        if int(results[0]["per_model"][name].argmax()) != int(results[1]["per_model"][name].argmax())
    ]
    return {
        "texts": (text, edited),
        "features": features,
        "images": images,
        "difference": np.asarray(images[1], dtype=np.float32) - np.asarray(images[0], dtype=np.float32),
        "results": results,
        "changed": changed,
    }
