"""Fine-tuning runs of BERT on non-text tokens, and comparisons of the three encoders side by side.

A *run* is one variant with one seed on one task: a ``token-runs`` artifact holding its settings, its
validation curve (accuracy, macro F1 and loss every ``eval_every`` steps), its held-out figures (accuracy,
macro F1, F1 per class; a vote per group for music), its fine-tuned weights (safetensors) and provenance. A
*comparison* is every run that shares the task, data, split, mapping and training budget
(:attr:`TokenSettings.comparison_id`), whatever its variant and seed: the same data, split, seed list and budget
for every variant.

Runs train through the lab's one :class:`core.train.Trainer`: the progress file after every evaluation
makes a stopped or interrupted run resume where it was; a run stopped on request is published with status
"stopped" and resumes when asked again.
"""

from __future__ import annotations

import functools
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import jobs, store, sweeps
from core.nontext import models, tasks, text, tokens
from core.nontext.tasks import TokenTask
from core.settings import from_record, to_record
from core.store import Artifact, Callback

RUNS = "token-runs"
TASK_CACHE = "token-tasks"
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "linear")
CORRECT_FILE, TRUTH_FILE = "test_correct.npy", "test_truth.npy"
WEIGHTS_FILE = "model.safetensors"
"""The fine-tuned classifier's weights (encoder, head and id map), float32; runs stored before it was kept have
none, so they cannot be compared after fine-tuning (:mod:`core.nontext.similarity`)."""
NO_PER_EXAMPLE = "no per-example results stored (run again for intervals)"
SPLIT_METHODS = ("lab", "paper")
"""``lab``: a seeded NumPy shuffle (of the groups, when the task has them) cut by cumulative shares; ``paper``:
Python's ``random.seed(seed); random.shuffle`` of the records in the file's order, cut at ``int(0.9 n)`` and
``int(0.95 n)``, as the paper's preprocessing and evaluation code split its DNA data (:func:`paper_split`)."""
MUSIC_TASKS = ("composers", "maestro")
MUSIC_FRAMES = ("lab", "paper")
"""How a music window is read: ``lab``, between [CLS] and [SEP]; ``paper``, its notes alone (the paper's music
code: no [CLS], no [SEP]; its windows are all full, so no padding is read either)."""
VOTES = ("soft", "majority", "first")
"""A held-out piece's vote over its windows: ``soft``, the class of the mean of the windows' probabilities (the
lab's); ``majority``, the class most windows predict, ties to the lowest class (what the paper describes);
``first``, the first window's class (what the paper's ``Music/evaluate.py`` computes as written:
``torch.mode`` of the first window's argmax)."""
_OMITTED_AT_DEFAULT = ("split_method", "head", "music_notes", "music_frame", "vote")
"""Settings added after comparisons were stored: at their default they stay out of the identity, so those
comparisons keep their ids."""


@dataclass(frozen=True)
class TokenSettings:
    """A comparison's settings; pages and the CLI read their defaults from here.

    Attributes:
        task: an offline task (:data:`core.nontext.tasks.TASKS`), or ``csv`` / ``hilbert`` (a file), ``plus`` (a
            PLUS ``.fa`` file or a folder of one task's three) or ``maestro`` (a MAESTRO v1 folder) with ``path``.
        path: the file of a ``csv`` or ``hilbert`` task, the file or folder of a ``plus`` one, the folder of a
            ``maestro`` one.
        values: a ``csv`` task's labels are values to regress (fluorescence, stability: Spearman), not classes.
        pieces, window: the composers task's pieces per composer, and notes per window (composers, maestro).
        encoder: the pretrained text model (packaged name, folder or hub id).
        variants: which encoders to compare (:data:`core.nontext.models.VARIANTS`).
        seeds: one run per variant and seed (the head, dropout and batch order follow the seed).
        steps: optimiser steps per run.
        eval_every: steps between evaluations on the validation split (a point of the curve).
        batch_size: sequences per step.
        lr: the learning rate (every parameter).
        optimizer: ``adam`` (the paper) or ``adamw`` (weight decay 0.01, the lab's).
        schedule: ``linear`` decay to 0 without warm-up (the paper) or ``constant`` (the lab's).
        mapping, mapping_seed, shift, keep_specials: the token mapping (:mod:`core.nontext.tokens`); the special
            tokens kept is the lab's choice, sent through the mapping the paper's. ``mapping_seed`` None: each run
            gets the table of its own seed (as the paper's GLUE code seeded its permutation).
        split_seed: the seed of the shuffle before the split (the paper: 100).
        shares: train / validation / test shares (the paper: 0.9 / 0.05 / 0.05).
        split_method: :data:`SPLIT_METHODS` (``lab``: the lab's NumPy shuffle; ``paper``: the paper's, exactly);
            a task with its own split (MAESTRO, a PLUS folder) keeps it either way.
        head: :data:`core.nontext.models.HEADS` (``lab``: on the [CLS] vector; ``paper``: pooler + linear).
        music_notes: how MAESTRO's MIDI files become notes (:data:`core.nontext.tasks.MUSIC_NOTES`).
        music_frame: :data:`MUSIC_FRAMES`, for the music tasks.
        vote: :data:`VOTES`, the held-out pieces' vote (music tasks).
        texts, max_length: a text task's (:data:`core.nontext.text.TEXT_TASKS`) texts sampled (None: all; the seed
            is ``split_seed``) and its model positions, [CLS] and [SEP] included (longer texts are cut).
        compact: cut the word embedding to the task's ids (the same results, faster).
        device: ``cuda`` or ``cpu`` (None: CUDA when present); not part of the run's identity.
    """

    task: str = "splice"
    path: str | None = None
    values: bool = False
    pieces: int = 40
    window: int = 64
    encoder: str = "all-MiniLM-L6-v2"
    variants: tuple[str, ...] = ("pretrained", "random")
    seeds: tuple[int, ...] = (0,)
    steps: int = 200
    eval_every: int = 25
    batch_size: int = 32
    lr: float = 1e-4
    optimizer: str = "adamw"
    schedule: str = "constant"
    mapping: str = "random"
    mapping_seed: int | None = 100
    shift: int = 1000
    keep_specials: bool = True
    split_seed: int = 100
    shares: tuple[float, float, float] = (0.9, 0.05, 0.05)
    compact: bool = True
    device: str | None = field(default=None, compare=False)
    split_method: str = "lab"
    head: str = "lab"
    music_notes: str = "lab"
    music_frame: str = "lab"
    vote: str = "soft"
    texts: int | None = 2000
    max_length: int = 128

    def check(self) -> None:
        """Raise ValueError for a bad setting before any costly work."""
        bad = [v for v in self.variants if v not in models.VARIANTS]
        if bad or not self.variants:
            raise ValueError(f"variants must be some of {models.VARIANTS}, got {self.variants!r}.")
        if not self.seeds:
            raise ValueError("give at least one seed.")
        if self.steps < 1 or self.eval_every < 1 or self.eval_every > self.steps:
            raise ValueError(
                f"steps ({self.steps}) and eval_every ({self.eval_every}) must be >= 1, eval_every <= steps."
            )
        if self.batch_size < 2 or not self.lr > 0:
            raise ValueError(f"batch size must be >= 2 and lr > 0, got {self.batch_size} and {self.lr}.")
        if self.optimizer not in OPTIMIZERS or self.schedule not in SCHEDULES:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS} and schedule one of {SCHEDULES}.")
        if self.mapping not in tokens.KINDS:
            raise ValueError(f"mapping must be one of {tokens.KINDS}, got {self.mapping!r}.")
        if len(self.shares) != 3 or abs(sum(self.shares) - 1) > 1e-6 or min(self.shares) <= 0:
            raise ValueError(f"shares must be three positive parts of 1 (train, validation, test), got {self.shares}.")
        for name, value, allowed in (
            ("split_method", self.split_method, SPLIT_METHODS),
            ("head", self.head, models.HEADS),
            ("music_notes", self.music_notes, tasks.MUSIC_NOTES),
            ("music_frame", self.music_frame, MUSIC_FRAMES),
            ("vote", self.vote, VOTES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
        if self.task in ("csv", "hilbert", "plus", "maestro", "text-csv") and not self.path:
            raise ValueError(f"a {self.task} task needs a file or folder (path).")
        if self.task in text.TEXT_TASKS and not 3 <= self.max_length <= 512:
            raise ValueError(f"max_length must be 3 to 512 positions ([CLS], [SEP] included), got {self.max_length}.")
        if self.task in text.TEXT_TASKS and self.texts is not None and self.texts < 4:
            raise ValueError(f"texts must be at least 4 (or None: all of them), got {self.texts}.")

    def identity(self) -> dict[str, Any]:
        """What a comparison is (every setting but variants, seeds and device; the music settings for music
        tasks only; the settings of :data:`_OMITTED_AT_DEFAULT` only where they differ from their default)."""
        record = asdict(self)
        for key in ("variants", "seeds", "device"):
            record.pop(key)
        if self.task != "composers":
            record.pop("pieces")
        if self.task not in MUSIC_TASKS:
            for key in ("window", "music_frame", "vote"):
                record.pop(key)
        if self.task != "maestro":
            record.pop("music_notes")
        else:
            record.pop("split_method")  # MAESTRO keeps its own split
        if not self.values:
            record.pop("values")
        if self.task not in text.TEXT_TASKS:
            for key in ("texts", "max_length"):
                record.pop(key)
        defaults = TokenSettings()
        for key in _OMITTED_AT_DEFAULT:
            if key in record and record[key] == getattr(defaults, key):
                record.pop(key)
        return record

    @property
    def comparison_id(self) -> str:
        return store.config_hash(self.identity())


LAPTOP = TokenSettings()
"""The lab's choices: splice junctions, all-MiniLM-L6-v2 pretrained against randomly initialised, one seed, 200
steps of batch 32, AdamW 1e-4, the lab's split (a NumPy shuffle), the lab's head (no pooler), the special tokens
kept; music: [CLS] + notes + [SEP], a soft vote per piece. About ten minutes on two CPU cores
(docs/benchmarks.md)."""
FULL = TokenSettings(
    encoder="bert-base-uncased",
    variants=models.VARIANTS,
    seeds=(0, 1, 2),
    steps=3600,
    eval_every=100,
    batch_size=16,
    lr=1e-5,
    optimizer="adam",
    schedule="linear",
    keep_specials=False,
    window=128,
    split_method="paper",
    head="paper",
    music_notes="paper",
    music_frame="paper",
    vote="majority",
)
"""The paper's setting as the lab reads its code, for a GPU: bert-base-uncased (online), the three encoders, three
seeds (the lab's choice), Adam 1e-5 with linear decay, batch 16 (the DNA scripts' 8 x 2 accumulated; the protein
scripts accumulate 16 x 2 and the music ones use 32, so for those tasks the batch is the lab's), 3,600 steps (20
epochs of the splice training split: the code's default epochs; its run scripts train one); the
paper's split (Python's random, seed 100: its rows exactly, given the paper's file), its head (pooler + linear),
the special tokens sent through the table; music: windows of 128 notes read as the paper's code read them, no
[CLS] / [SEP], a majority vote per piece.

What still differs: the table is of the paper's kind, not the paper's (its pickles cannot be regenerated), and
one table (seed 100) serves every run seed where the paper's run scripts took table seed = run seed; a protein's
residues start from their own wordpieces where the paper's code started from the codes 1-21 (the unused slots)
before the table; MAESTRO's composers are numbered in sorted order, the paper's in the order its index first
names them; the offline splice data is DNA.rda's 3,186 records, not the paper's file (give its splice.txt as a
``hilbert`` task)."""
PRESETS = {"laptop": LAPTOP, "full": FULL}


def load(settings: TokenSettings, progress: Callback | None = None, tokenizer: Any = None) -> TokenTask:
    """The task the settings name. Under the paper's split (``split_method="paper"``) a task without a split of
    its own gets it as its ``fixed_split``, so everything that reads the loaded task (the runs, the similarity
    of their encoders) reads the same rows. A text task is tokenised by ``tokenizer`` (None: the encoder's,
    loaded here)."""
    task = _load_task(settings, progress, tokenizer)
    if settings.split_method == "paper" and task.fixed_split is None:
        rows = split(task, settings.shares, settings.split_seed, "paper")
        sides = np.empty(len(task.labels), dtype=object)
        for name, chosen in rows.items():
            sides[chosen] = name
        task = replace(task, fixed_split=sides.astype(str))
    return task


def _load_task(settings: TokenSettings, progress: Callback | None, tokenizer: Any = None) -> TokenTask:
    if settings.task in text.TEXT_TASKS:
        if tokenizer is None:
            from core.hub import load_text_model

            tokenizer = load_text_model(settings.encoder).tokenizer
        chosen = (settings.task, tokenizer, settings.max_length, settings.texts, settings.split_seed, settings.path)
        return text.load_text(*chosen, encoder=settings.encoder)
    if settings.task == "csv":
        return tasks.load_csv(settings.path, values=settings.values)
    if settings.task == "hilbert":
        return tasks.load_hilbert_text(settings.path)
    if settings.task == "plus":
        return tasks.load_plus(settings.path)
    if settings.task == "maestro":
        return tasks.load_maestro(settings.path, settings.window, notes=settings.music_notes)
    if settings.task == "composers":
        return _cached_composers(settings.pieces, settings.window, progress)
    return tasks.load_task(settings.task)


def _cached_composers(pieces: int, window: int, progress: Callback | None) -> TokenTask:
    """The composers task, parsed from music21's scores once (a minute or two) and kept as an artifact."""
    import json

    config = {
        "task": "composers",
        "composers": list(tasks.COMPOSERS),
        "pieces": pieces,
        "window": window,
        "music21": store.package_versions(("music21",)).get("music21", ""),
    }

    def build(artifact_id: str):
        task = tasks.load_composers(tasks.COMPOSERS, pieces, window, progress)
        record = {"sequences": task.sequences, "labels": task.labels.tolist(), "groups": task.groups.tolist()}
        return {"source": task.source, "note": task.note, "label_names": task.label_names}, lambda folder: (
            folder / "task.json"
        ).write_text(json.dumps(record))

    found = jobs.build_or_load(TASK_CACHE, config, build)
    record = json.loads(found.file("task.json").read_text())
    return TokenTask(
        "composers",
        record["sequences"],
        np.array(record["labels"]),
        found.config["label_names"],
        np.array(record["groups"]),
        found.config["source"],
        found.config["note"],
        {"composers": list(tasks.COMPOSERS), "pieces": pieces, "window": window},
    )


def paper_split(n: int, shares: tuple[float, float, float], seed: int) -> dict[str, np.ndarray]:
    """The paper's split of ``n`` records: ``random.seed(seed); random.shuffle(records)`` (Python's generator,
    the only thing it draws from), the first ``int(shares[0] n)`` for training, up to ``int((shares[0] +
    shares[1]) n)`` for validation (the paper's dev split), the rest for the test; each part's rows in the
    records' order. With the paper's shares and seed 100 these are the paper's rows of its file."""
    import random

    order = list(range(n))
    random.Random(seed).shuffle(order)
    train_end = int(n * shares[0])
    validation_end = int(n * round(shares[0] + shares[1], 12))  # 0.9 + 0.05 is 0.9500000000000001; the paper: 0.95
    found = {"train": order[:train_end], "validation": order[train_end:validation_end], "test": order[validation_end:]}
    return {name: np.sort(np.array(rows, dtype=np.int64)) for name, rows in found.items()}


def split(task: TokenTask, shares: tuple[float, float, float], seed: int, method: str = "lab") -> dict[str, np.ndarray]:
    """Train / validation / test rows: the task's own split when it has one; else a seeded shuffle cut by
    ``shares`` (:data:`SPLIT_METHODS`: the lab's NumPy shuffle, or the paper's, :func:`paper_split`), and with
    groups whole groups are shuffled and cut, so no group is on two sides (the paper's way shuffles the groups in
    the order they first appear)."""
    if method not in SPLIT_METHODS:
        raise ValueError(f"the split method must be one of {SPLIT_METHODS}, got {method!r}.")
    if task.fixed_split is not None:
        rows = {name: np.flatnonzero(task.fixed_split == name) for name in ("train", "validation", "test")}
        empty = [name for name, found in rows.items() if not len(found)]
        if empty:
            raise ValueError(f"{task.name}: its own split has no {', '.join(empty)} rows.")
        return rows
    groups = task.groups if task.groups is not None else np.arange(len(task.labels))
    if method == "paper":
        unique = np.array(list(dict.fromkeys(groups.tolist())))
        parts = {name: unique[chosen] for name, chosen in paper_split(len(unique), shares, seed).items()}
    else:
        rng = np.random.default_rng(seed)
        unique, sizes = np.unique(groups, return_counts=True)
        order = rng.permutation(len(unique))
        unique, sizes = unique[order], sizes[order]
        cumulative = np.cumsum(sizes) / sizes.sum()
        cut_train, cut_val = shares[0], shares[0] + shares[1]
        parts = {
            "train": unique[cumulative <= cut_train + 1e-9],
            "validation": unique[(cumulative > cut_train + 1e-9) & (cumulative <= cut_val + 1e-9)],
            "test": unique[cumulative > cut_val + 1e-9],
        }
    # each part's rows in the task's order (training shuffles them)
    rows = {name: np.flatnonzero(np.isin(groups, chosen)) for name, chosen in parts.items()}
    empty = [name for name, found in rows.items() if not len(found)]
    if empty:
        raise ValueError(f"{task.name}: the {', '.join(empty)} split is empty; use more data or larger shares.")
    if not task.regression and len(np.unique(task.labels[rows["train"]])) < 2:
        raise ValueError(f"{task.name}: the training split has one class only; use more data or another seed.")
    return rows


def _round_order(eval_every: int, lengths: torch.Tensor):
    """Batches of one round (``eval_every`` steps): rows drawn without replacement (a fresh permutation each
    round, several when one is too short), grouped by length so little padding is read, in shuffled order."""

    def order(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
        needed = eval_every * batch_size
        drawn = torch.cat([torch.randperm(n, generator=generator) for _ in range(-(-needed // n))])[:needed]
        by_length = drawn[torch.argsort(lengths[drawn], stable=True)]
        batches = list(by_length.split(batch_size))
        return [batches[i] for i in torch.randperm(len(batches), generator=generator)]

    return order


def _trim(pad: int):
    """Cut a batch's columns after its longest sequence (sequences are padded on the right)."""

    def preprocess(batch: torch.Tensor) -> torch.Tensor:
        longest = int((batch != pad).sum(1).max())
        return batch[:, :longest]

    return preprocess


def _metrics(
    model: torch.nn.Module, ids: torch.Tensor, labels: torch.Tensor, pad: int, regression: bool = False
) -> tuple[dict, np.ndarray]:
    """Loss and metrics on a split, and the outputs: class probabilities, or predicted values (regression:
    Spearman's rho, as the paper reports for fluorescence and stability, and the mean squared error)."""
    from sklearn.metrics import accuracy_score, f1_score

    from core.train import forward_batches

    logits = forward_batches(model, ids, _trim(pad), batch_size=128).float()
    if regression:
        from scipy.stats import spearmanr

        predicted, truth = logits[:, 0].numpy(), labels.cpu().numpy()
        rho = spearmanr(predicted, truth).statistic if np.ptp(predicted) > 0 else 0.0
        mse = float(np.mean((predicted - truth) ** 2))
        return {"loss": mse, "spearman": float(np.nan_to_num(rho)), "mse": mse}, predicted
    loss = float(torch.nn.functional.cross_entropy(logits, labels.cpu()))
    predicted = logits.argmax(1).numpy()
    truth = labels.cpu().numpy()
    return {
        "loss": loss,
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
    }, torch.softmax(logits, 1).numpy()


def task_mapping(
    settings: TokenSettings, task: TokenTask, tokenizer: Any, seed: int | None = None
) -> tokens.TokenMapping:
    """The token mapping ``settings`` give for ``task`` on ``tokenizer``'s vocabulary (pitches of music tasks
    start from ``pitch + 128``, as in the paper; music windows are read without [CLS] and [SEP] under the
    paper's ``music_frame``; a text task's symbols are its token ids). With ``mapping_seed`` None the table is
    that of the run's ``seed`` (None: the first of the settings' seeds, or 0)."""
    music = task.name in MUSIC_TASKS
    token_ids = "text" in task.record
    table_seed = settings.mapping_seed
    if table_seed is None:
        table_seed = int(seed if seed is not None else (settings.seeds or (0,))[0])
    return tokens.build_mapping(
        task.symbols,
        tokens.Vocabulary.of(tokenizer, [] if token_ids else task.symbols),
        settings.mapping,
        table_seed,
        settings.shift,
        settings.keep_specials,
        pitches=music,
        framed=not (music and settings.music_frame == "paper"),
        token_ids=token_ids,
    )


def run_config(
    settings: TokenSettings,
    task: TokenTask,
    mapping: tokens.TokenMapping,
    variant: str,
    seed: int,
    encoder_record: dict[str, Any],
) -> dict[str, Any]:
    return {
        "comparison": settings.comparison_id,
        "settings": settings.identity(),
        "task": {
            "name": task.name,
            "source": task.source,
            "n": len(task.labels),
            "label_names": task.label_names,
            **task.record,
        },
        "encoder": encoder_record,
        "mapping": mapping.record(),
        "variant": variant,
        "seed": int(seed),
    }


def train_run(
    settings: TokenSettings,
    variant: str,
    seed: int,
    task: TokenTask | None = None,
    callback: Callback | None = None,
    loaded: Any = None,
    weights: bool = False,
) -> Artifact:
    """Train (or resume, or load) one run: ``variant`` with ``seed`` under ``settings``.

    ``callback(step, steps, metrics)`` after every evaluation; True stops the run (published as "stopped";
    the same call resumes it). ``weights``: a stored run without its fine-tuned weights (made before runs kept
    them) trains again, as one without per-example results always does. Returns the ``token-runs`` artifact.
    """
    from core.hub import load_text_model

    settings.check()
    loaded = loaded if loaded is not None else load_text_model(settings.encoder)
    task = task if task is not None else load(settings, tokenizer=loaded.tokenizer)
    max_length = int(getattr(loaded.model.config, "max_position_embeddings", 512))
    mapping = task_mapping(settings, task, loaded.tokenizer, seed)
    tasks.check_task(task, max_length - (2 if mapping.framed else 0))
    encoder_record = {
        "name": loaded.name,
        "model_id": loaded.model_id,
        "revision": loaded.revision,
        "layers": int(loaded.model.config.num_hidden_layers),
        "hidden": int(loaded.model.config.hidden_size),
    }
    config = run_config(settings, task, mapping, variant, seed, encoder_record)
    return jobs.build_or_load(
        RUNS,
        config,
        lambda artifact_id: _train(settings, task, mapping, loaded, variant, seed, max_length, artifact_id, callback),
        # a run stored before per-example results were kept trains again (the same numbers, and now those)
        accept=lambda found: (
            found.config.get("status") == "finished"
            and found.file(TRUTH_FILE).is_file()
            and (not weights or found.file(WEIGHTS_FILE).is_file())
        ),
    )


def _train(settings, task, mapping, loaded, variant, seed, max_length, artifact_id, callback):
    from core.device import default_device
    from core.train import Trainer

    device = torch.device(settings.device or default_device())
    rows = split(task, settings.shares, settings.split_seed, settings.split_method)
    ids = tokens.encode_all(task.sequences, mapping, max_length)
    regression = task.regression
    labels = torch.tensor(np.asarray(task.labels), dtype=torch.float32 if regression else torch.long)
    pad = mapping.specials["[PAD]"]
    model = models.build(loaded.model, variant, 1 if regression else len(task.label_names), pad, seed, settings.head)
    if settings.compact:
        model.compact(mapping.used_ids())
    model = model.to(device)
    if settings.optimizer == "adam":
        optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    else:
        optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
    rounds = -(-settings.steps // settings.eval_every)
    total = rounds * settings.eval_every
    schedule = (lambda step: max(0.0, 1 - step / total)) if settings.schedule == "linear" else None
    validation = (ids[rows["validation"]], labels[rows["validation"]])
    lengths = (ids[rows["train"]] != pad).sum(1)

    def evaluate(trained: torch.nn.Module) -> dict[str, float]:
        found, _ = _metrics(trained, *validation, pad, regression)
        return {f"val_{k}": v for k, v in found.items()}

    def relay(epoch: int, epochs: int, record: dict) -> bool | None:
        record["step"] = epoch * settings.eval_every
        if callback is None:
            return None
        return callback(
            record["step"], total, {k: round(v, 4) for k, v in record.items() if k.startswith(("val_", "train_"))}
        )

    partial = store.shard_dir(RUNS, artifact_id)
    started = time.perf_counter()
    trainer = Trainer(
        model,
        _mse if regression else torch.nn.functional.cross_entropy,
        optimiser,
        rounds,
        settings.batch_size,
        seed,
        preprocess=_trim(pad),
        evaluate=evaluate,
        progress=partial,
        callback=relay,
        batch_order=_round_order(settings.eval_every, lengths),
        schedule=schedule,
    )
    result = trainer.fit(ids[rows["train"]], labels[rows["train"]])
    for number, record in enumerate(result.history, start=1):
        record["step"] = number * settings.eval_every
    test_metrics, probabilities = _metrics(model, ids[rows["test"]], labels[rows["test"]], pad, regression)
    reference = (
        _mean_predictor(task, rows) if regression else _per_class(task, rows["test"], probabilities, settings.vote)
    )
    more = {
        "status": "finished" if len(result.history) >= rounds else "stopped",
        "history": result.history,
        "test": {**test_metrics, **reference},
        "split": {k: int(len(v)) for k, v in rows.items()},
        "tokens_per_second": _tokens_per_second(result.history, lengths, settings.batch_size),
        "seconds": round(sum(r["seconds"] for r in result.history), 2),
        "device": str(device),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "provenance": store.provenance(session_seconds=round(time.perf_counter() - started, 2)),
    }

    truth = np.asarray(task.labels)[rows["test"]]

    def write(folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(folder / WEIGHTS_FILE))
        np.save(folder / "test_probabilities.npy", probabilities.astype(np.float32), allow_pickle=False)
        np.save(folder / "test_rows.npy", rows["test"], allow_pickle=False)
        np.save(folder / TRUTH_FILE, truth, allow_pickle=False)
        if not regression:  # 1 / 0 per test example, in test_rows' order: what paired comparisons read
            correct = (probabilities.argmax(1) == truth).astype(np.int8)
            np.save(folder / CORRECT_FILE, correct, allow_pickle=False)
        if more["status"] == "finished":
            shutil.rmtree(partial, ignore_errors=True)

    return more, write


def _tokens_per_second(history: list[dict], lengths: torch.Tensor, batch_size: int) -> float:
    """Training tokens (real ones, padding excluded) per second of the optimiser steps (evaluations excluded)."""
    seconds = sum(r.get("train_seconds", r["seconds"]) for r in history)
    steps = sum(r.get("steps", 0) for r in history)
    return float(steps * batch_size * lengths.float().mean() / seconds) if seconds else 0.0


def _mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.mse_loss(outputs[:, 0].float(), targets.float())


def _mean_predictor(task: TokenTask, rows: dict[str, np.ndarray]) -> dict[str, float]:
    """The regression reference: the test MSE of always answering the training split's mean."""
    mean = float(np.mean(task.labels[rows["train"]]))
    return {"mean_predictor_mse": float(np.mean((task.labels[rows["test"]] - mean) ** 2))}


def piece_vote(probabilities: np.ndarray, vote: str = "soft") -> int:
    """The class a piece's windows vote for (:data:`VOTES`), from their probabilities in the piece's order."""
    if vote == "soft":
        return int(probabilities.mean(0).argmax())
    if vote == "majority":
        return int(np.bincount(probabilities.argmax(1), minlength=probabilities.shape[1]).argmax())
    if vote == "first":
        return int(probabilities[0].argmax())
    raise ValueError(f"vote must be one of {VOTES}, got {vote!r}.")


def _per_class(task: TokenTask, test_rows: np.ndarray, probabilities: np.ndarray, vote: str = "soft") -> dict[str, Any]:
    from sklearn.metrics import f1_score

    truth, predicted = task.labels[test_rows], probabilities.argmax(1)
    per_class = f1_score(truth, predicted, average=None, labels=list(range(len(task.label_names))), zero_division=0)
    found: dict[str, Any] = {"f1_per_class": dict(zip(task.label_names, map(float, per_class), strict=True))}
    counts = np.bincount(truth, minlength=len(task.label_names))
    found["majority_rate"] = float(counts.max() / counts.sum())
    if task.groups is not None:  # a vote per group (piece) over its windows, in the task's order
        groups = task.groups[test_rows]
        pieces = np.unique(groups)
        by_vote = {
            way: float(np.mean([truth[groups == g][0] == piece_vote(probabilities[groups == g], way) for g in pieces]))
            for way in VOTES
        }
        found["vote"], found["vote_accuracy"], found["vote_accuracy_by"] = vote, by_vote[vote], by_vote
        found["groups"] = len(pieces)
    return found


def run_comparison(
    settings: TokenSettings, callback: Callback | None = None, progress: Callback | None = None
) -> list[Artifact]:
    """Every run of a comparison (each variant with each seed), one after another; finished runs are loaded,
    a stopped one resumes. ``callback(step, steps, metrics)`` follows the running run (``metrics["run"]`` says
    which); True stops it, and the comparison with it (:class:`core.errors.Interrupted`)."""
    from core.errors import Interrupted
    from core.hub import load_text_model

    settings.check()
    loaded = load_text_model(settings.encoder)
    task = load(settings, progress, loaded.tokenizer)
    pending = jobs.record_pending(RUNS, to_record(settings, omit=("device",)))  # once there is something to resume
    plan = [(variant, seed) for variant in settings.variants for seed in settings.seeds]
    labels = [f"{variant}, seed {seed}" for variant, seed in plan]
    found: list[Artifact] = []

    def keep(artifact: Artifact) -> None:
        label = labels[len(found)]  # runs finish in order: one after another
        found.append(artifact)
        if artifact.config["status"] != "finished":
            raise Interrupted(f"stopped during {label}; run the comparison again to resume it.")

    def job_callback(index: int, done: int) -> Callback:
        def relay(step: int, steps: int, metrics: dict) -> bool | None:
            return callback(step, steps, {"run": labels[index], **metrics}) if callback else None

        return relay

    # one after another: a run writes its own artifact and progress file as it trains
    sweeps.sweep(
        functools.partial(train_run, loaded=loaded),
        [(settings, variant, seed, task) for variant, seed in plan],
        keep,
        use_ray=False,
        callback=_runs_report_their_steps,
        job_callback=job_callback,
    )
    jobs.clear_pending(RUNS, pending)
    return found


def _runs_report_their_steps(done: int, total: int, info: dict) -> None:
    """The comparison's progress is each run's steps (``job_callback``), not a count of runs; a run stopped on
    request is published as "stopped" and ends the comparison through ``keep``."""
    return None


def list_runs(comparison: str | None = None) -> list[Artifact]:
    """Token runs (of one comparison when given), newest first."""
    return [a for a in store.list_artifacts(RUNS) if comparison is None or a.config.get("comparison") == comparison]


def comparisons() -> dict[str, list[Artifact]]:
    """Comparison id -> its runs, the comparison with the newest run first."""
    grouped: dict[str, list[Artifact]] = {}
    for run in list_runs():
        grouped.setdefault(run.config["comparison"], []).append(run)
    return grouped


def comparison_label(runs: list[Artifact]) -> str:
    c = runs[0].config
    s = c["settings"]
    variants = sorted({r.config["variant"] for r in runs})
    seeds = sorted({r.config["seed"] for r in runs})
    chosen = [f"{key.replace('_', ' ')} {s[key]}" for key in _OMITTED_AT_DEFAULT if key in s]
    return (
        f"{c['task']['name']} · {c['encoder']['name']} · {', '.join(variants)} · seeds {', '.join(map(str, seeds))} · "
        f"{s['steps']} step{'s' if s['steps'] != 1 else ''} of {s['batch_size']} · {s['optimizer']} {s['lr']:g}"
        + "".join(f" · {text}" for text in chosen)
    )


def settings_of(run: Artifact) -> TokenSettings:
    """The settings a run belongs to (its variant and seed alone)."""
    record = {**run.config["settings"], "variants": [run.config["variant"]], "seeds": [run.config["seed"]]}
    return from_record(TokenSettings, record)


def _regression_row(variant: str, chosen: list[Artifact], threshold: float, found: dict) -> dict[str, Any]:
    rho = np.array([r.config["test"]["spearman"] for r in chosen])
    return {
        "variant": models.VARIANT_TITLES[variant],
        "seeds": len(chosen),
        "test Spearman": float(rho.mean()),
        "± (std over seeds)": float(rho.std()) if len(chosen) > 1 else float("nan"),
        "95% interval": _interval_text(found),
        "test MSE": float(np.mean([r.config["test"]["mse"] for r in chosen])),
        **_reached(chosen, threshold, "val_spearman", "Spearman"),
        "MSE of the training mean": chosen[0].config["test"]["mean_predictor_mse"],
    }


def _reached(chosen: list[Artifact], threshold: float, metric: str, name: str) -> dict[str, Any]:
    """The median over seeds of the steps to reach ``threshold`` (None when no seed did), and how many did."""
    reached = [r for r in (steps_to_reach(a.config["history"], threshold, metric) for a in chosen) if r is not None]
    return {
        f"steps to {threshold:.2f} val. {name}": float(np.median(reached)) if reached else None,
        "reached in": f"{len(reached)} of {len(chosen)} seeds",
    }


def steps_to_reach(history: list[dict], threshold: float, metric: str = "val_accuracy") -> int | None:
    """The first evaluated step at which ``metric`` reaches ``threshold`` (None: never)."""
    for record in history:
        if record.get(metric, -np.inf) >= threshold:
            return int(record["step"])
    return None


def results_table(runs: list[Artifact], threshold: float, found: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per variant: held-out accuracy and macro F1 (mean and spread over seeds) with the accuracy's 95%
    interval and the smallest difference the design detects (:func:`comparison_evidence`, passed as ``found`` or
    computed), F1 per class, steps to reach ``threshold`` validation accuracy (median over seeds), and the
    majority-class rate to read them by."""
    found = found if found is not None else comparison_evidence(runs)
    rows = []
    for variant in models.VARIANTS:
        chosen = [r for r in runs if r.config["variant"] == variant and r.config.get("status") == "finished"]
        if not chosen:
            continue
        if "spearman" in chosen[0].config["test"]:
            rows.append(_regression_row(variant, chosen, threshold, found["variants"][variant]))
            continue
        accuracy = np.array([r.config["test"]["accuracy"] for r in chosen])
        f1 = np.array([r.config["test"]["f1"] for r in chosen])
        row = {
            "variant": models.VARIANT_TITLES[variant],
            "seeds": len(chosen),
            "test accuracy": float(accuracy.mean()),
            "± (std over seeds)": float(accuracy.std()) if len(chosen) > 1 else float("nan"),
            "95% interval": _interval_text(found["variants"][variant]),
            "detectable difference (points)": round(100 * found["variants"][variant]["detectable"], 1),
            "test macro F1": float(f1.mean()),
            **_reached(chosen, threshold, "val_accuracy", "accuracy"),
            "majority class": chosen[0].config["test"]["majority_rate"],
        }
        for name in chosen[0].config["test"]["f1_per_class"]:
            row[f"F1 {name}"] = float(np.mean([r.config["test"]["f1_per_class"][name] for r in chosen]))
        if "vote_accuracy" in chosen[0].config["test"]:
            row["piece vote accuracy"] = float(np.mean([r.config["test"]["vote_accuracy"] for r in chosen]))
            row["piece vote"] = chosen[0].config["test"].get("vote", "soft")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- the evidence behind a comparison


def per_example(run: Artifact) -> dict[str, np.ndarray] | None:
    """A finished run's per-example test results: ``correct`` (1 / 0, classification) or ``predicted`` and
    ``truth`` (regression), in the test split's order; None for a run stored before they were kept."""
    if run.file(TRUTH_FILE).is_file() and run.file(CORRECT_FILE).is_file():
        return {"correct": np.load(run.file(CORRECT_FILE), allow_pickle=False)}
    if run.file(TRUTH_FILE).is_file() and "spearman" in run.config["test"]:
        predicted = np.load(run.file("test_probabilities.npy"), allow_pickle=False)
        return {"predicted": predicted.astype(np.float64), "truth": np.load(run.file(TRUTH_FILE), allow_pickle=False)}
    return None


def _spearman(*arrays: np.ndarray) -> float:
    from scipy.stats import spearmanr

    predicted, truth = arrays[-2], arrays[-1]
    return float(np.nan_to_num(spearmanr(predicted, truth).statistic)) if np.ptp(predicted) > 0 else 0.0


def _spearman_interval(values: list[np.ndarray], statistic, what: str) -> Any:
    """A paired bootstrap (scipy.stats.bootstrap, resampling test examples with every array kept together) of a
    Spearman statistic, as a :class:`core.evidence.Interval`."""
    from scipy import stats

    from core.evidence import CONFIDENCE, RESAMPLES, Interval

    estimate = statistic(*values)
    result = stats.bootstrap(
        tuple(values),
        statistic,
        paired=True,
        vectorized=False,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES // 2,
        method="percentile",
        random_state=0,
    )
    low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high), CONFIDENCE, what, int(len(values[0])))


def comparison_evidence(runs_found: list[Artifact]) -> dict[str, Any]:
    """Each variant's test accuracy (or Spearman) with its interval, and each variant against the pretrained
    encoder, paired on the same test examples and seeds (:func:`core.evidence.compare_paired`; the paper's claim:
    pretrained beats random init). Runs stored without per-example results say so (:data:`NO_PER_EXAMPLE`)."""
    from core import evidence

    finished: dict[str, dict[int, Artifact]] = {}
    for run in runs_found:
        if run.config.get("status") == "finished":
            finished.setdefault(run.config["variant"], {})[run.config["seed"]] = run
    variants = [v for v in models.VARIANTS if v in finished]
    if not variants:
        return {"variants": {}, "comparisons": [], "sentences": []}
    regression = "spearman" in next(iter(finished[variants[0]].values())).config["test"]
    stored = {v: {seed: per_example(run) for seed, run in finished[v].items()} for v in variants}
    found: dict[str, Any] = {}
    for variant in variants:
        seeds = sorted(finished[variant])
        metric = "spearman" if regression else "accuracy"
        values = [finished[variant][s].config["test"][metric] for s in seeds]
        n = finished[variant][seeds[0]].config["split"]["test"]
        record: dict[str, Any] = {"metric": metric, "estimate": float(np.mean(values)), "seeds": seeds, "n": n}
        if len(seeds) > 1:
            bounds = (-1.0, 1.0) if regression else (0.0, 1.0)
            record["interval"] = evidence.interval_over_seeds(values, bounds=bounds).to_record()
        elif stored[variant][seeds[0]] is None:
            record["interval"], record["note"] = None, NO_PER_EXAMPLE
        elif regression:
            one = stored[variant][seeds[0]]
            interval = _spearman_interval([one["predicted"], one["truth"]], _spearman, "bootstrap over examples")
            record["interval"] = interval.to_record()
        else:
            record["interval"] = evidence.interval_over_examples(stored[variant][seeds[0]]["correct"]).to_record()
        if not regression:
            record["detectable"] = evidence.detectable_difference(n, len(seeds), record["estimate"])
        found[variant] = record
    comparisons = []
    reference = "pretrained" if "pretrained" in variants else None
    for other in [v for v in variants if reference and v != reference]:
        what = f"{models.VARIANT_TITLES[reference]} − {models.VARIANT_TITLES[other]}"
        seeds = sorted(set(finished[reference]) & set(finished[other]))
        pairs = [(stored[reference][s], stored[other][s]) for s in seeds]
        entry: dict[str, Any] = {"a": reference, "b": other, "seeds": seeds, "claim": "greater"}
        if not seeds:
            entry.update(note="no seed run by both", sentence=f"{what}: no seed was run by both, nothing to pair.")
        elif any(a is None or b is None for a, b in pairs):
            entry.update(note=NO_PER_EXAMPLE, sentence=f"{what}: {NO_PER_EXAMPLE}.")
        elif regression:
            arrays = [np.mean([a["predicted"] for a, _ in pairs], 0), np.mean([b["predicted"] for _, b in pairs], 0)]
            truth = pairs[0][0]["truth"]

            def gap(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> float:
                return _spearman(a, t) - _spearman(b, t)

            interval = _spearman_interval([*arrays, truth], gap, "paired bootstrap over examples")
            entry["difference"] = interval.to_record()
            entry["sentence"] = (
                f"{what}: Spearman {interval.estimate:+.3f} [{interval.low:+.3f}, {interval.high:+.3f}] "
                f"(95% paired bootstrap over {interval.n} test examples of the seed-averaged predictions; no test "
                "beyond the interval)."
            )
        else:
            a = np.stack([p["correct"] for p, _ in pairs])
            b = np.stack([q["correct"] for _, q in pairs])
            entry.update(evidence.compare_paired(a, b, claim="greater", what=what).to_record())
        comparisons.append(entry)
    return {"variants": found, "comparisons": comparisons, "sentences": [c["sentence"] for c in comparisons]}


def _interval_text(record: dict[str, Any]) -> str:
    interval = record.get("interval")
    if interval is None:
        return record.get("note", NO_PER_EXAMPLE)
    return f"[{interval['low']:.3f}, {interval['high']:.3f}] ({interval['method']}, n = {interval['n']})"
