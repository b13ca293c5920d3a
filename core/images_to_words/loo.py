"""Images into word-vector space (Baughman et al., SC'21): SimpNet regresses the GloVe vector of each
image's class name; every class in turn is left out of training, and the question is whether the
model still moves the held-out class's images toward that class's word vector.

A study is a folder ``<home>/runs/studies/<id>/``: ``config.json`` (written when the study starts)
and ``folds/<class index>.json``, one per held-out class, each written atomically when its fold
finishes. An interrupted study resumes at the next unfinished fold (:func:`resume_study` needs only
its id: it reloads the image set from the recorded source); a finished fold is never recomputed
unless asked (``redo``), and a damaged fold file is reported, never deleted, until it is redone.
Folds run one after another, or as Ray tasks when asked (:mod:`core.sweeps`); each fold's seed
depends only on the study seed and the held-out class, so both ways give the same numbers.

The study's settings are :class:`core.images_to_words.settings.StudySettings`; one fold is
:mod:`core.images_to_words.folds`; what a study shows is :mod:`core.images_to_words.analysis`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import store
from core.images_to_words import folds
from core.images_to_words.folds import CONTROL_FIELDS, SHUFFLED_FIELDS
from core.images_to_words.settings import LAPTOP, StudySettings
from core.imagesets import ImageSet
from core.store import Callback

STUDIES = "studies"


def study_config(imageset: ImageSet, settings: StudySettings) -> dict[str, Any]:
    """Everything that defines a study's numbers (and so its id): ``settings`` (checked) on ``imageset``.

    The image set is the one the study runs on, already loaded and subsampled (its ``source`` is recorded);
    of ``settings`` only what changes the numbers is used: the classes left out, the training, the words.
    ``threads`` (default: torch's current count) is recorded as ``cpu_threads`` because it changes CPU results
    in the last digits (how reductions are split); every fold runs with exactly that many threads, here or
    in a Ray task, so both ways give the same numbers. ``table`` (a CSV path or a packaged table's name) maps
    class names to words; by default the image set's packaged table, or, where it has none (an image folder),
    one derived from the class names (:func:`core.wordvectors.names_table`).
    """
    from core.wordvectors import study_table

    settings.check()
    classes = list(settings.classes) if settings.classes else None
    unknown = sorted(set(classes or []) - set(imageset.class_names))
    if unknown:
        raise ValueError(
            f"unknown class(es) {', '.join(unknown)}; this image set has: {', '.join(imageset.class_names)}."
        )
    empty = [n for i, n in enumerate(imageset.class_names) if not (imageset.train_labels == i).any()]
    if empty:
        raise ValueError(f"class(es) {', '.join(empty)} have no training images; remove them from the image set.")
    table_name, rows = study_table(settings.table, imageset.name, list(imageset.class_names))
    return {
        "imageset": imageset.source,
        "class_names": list(imageset.class_names),
        "held_out": list(classes or imageset.class_names),
        "image_shape": list(imageset.shape),
        "train_images": int(len(imageset.train_labels)),
        "test_images": int(len(imageset.test_labels)),
        "model": {"name": "simpnet", "width": float(settings.width), "out_dim": 50},
        "training": {
            "epochs": int(settings.epochs),
            "batch_size": int(settings.batch_size),
            "lr": float(settings.lr),
            "optimizer": "adam",
            "loss": settings.loss,
            "seed": int(settings.seed),
            "cpu_threads": int(settings.threads or torch.get_num_threads()),
        },
        "words": {
            "vectors": "glove-6B-50d",
            "mode": settings.words,
            "table": table_name,
            "entries": _word_entries(imageset.class_names, table_name, rows, settings.words),
        },
    }


def _word_entries(classes: list[str], name: str, table: Any, mode: str) -> dict[str, str]:
    """The word(s) each class maps to, as recorded in a study's config: editing the table gives a new study."""
    rows = table.set_index("class")
    missing = [c for c in classes if c not in rows.index]
    if missing:
        raise ValueError(
            f"class(es) {', '.join(missing)} are not in the class-name table {name!r}; "
            "add a row for each (class, best, words)."
        )
    return {c: rows.loc[c, "best"] if mode == "best" else rows.loc[c, "words"] for c in classes}


def study_dir(study_id: str) -> Path:
    return store.artifact_dir(STUDIES, study_id)


def _fold_path(study_id: str, index: int) -> Path:
    return study_dir(study_id) / "folds" / f"{index:03d}.json"


def _scan_folds(study_id: str) -> tuple[dict[int, dict[str, Any]], list[Path]]:
    """The readable fold records by class index, and the fold files that cannot be read."""
    folder = study_dir(study_id) / "folds"
    folds, damaged = {}, []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = store.read_json(path)
            folds[int(record["index"])] = record
        except (ValueError, KeyError, TypeError):
            damaged.append(path)
    return folds, damaged


def damaged_message(study_id: str, damaged: list[Path], class_names: list[str]) -> str:
    """What is wrong with a study's damaged fold files and how to recompute them (nothing is deleted)."""
    classes = [class_names[int(p.stem)] for p in damaged if p.stem.isdigit() and int(p.stem) < len(class_names)]
    command = (
        f"python -m core loo-run --resume {study_id} --redo {' '.join(shlex.quote(c) for c in classes)}"
        if classes
        else ""
    )
    files, one = ", ".join(str(p) for p in damaged), len(damaged) == 1
    how = "delete it, or redo that class" if one else "delete them, or redo those classes"
    return (
        f"fold file{'' if one else 's'} {files} {'is' if one else 'are'} damaged (not a readable fold record); {how}"
        f"{f' ({command})' if command else ''}, to recompute {'that fold' if one else 'those folds'}. "
        "The other folds are kept."
    )


@dataclass
class Study:
    """A study's config, its finished folds, and any fold files that cannot be read (``damaged``)."""

    id: str
    config: dict[str, Any]
    folds: dict[int, dict[str, Any]]
    damaged: list[Path] = field(default_factory=list)

    @property
    def planned(self) -> list[str]:
        return list(self.config["held_out"])

    @property
    def complete(self) -> bool:
        done = {f["class"] for f in self.folds.values()}
        return all(name in done for name in self.planned)

    def damaged_message(self) -> str:
        """The damaged fold files and how to recompute them ('' when there are none)."""
        return damaged_message(self.id, self.damaged, self.config["class_names"]) if self.damaged else ""

    def label(self) -> str:
        c = self.config
        damaged = f" · {len(self.damaged)} damaged" if self.damaged else ""
        return (
            f"{c['imageset'].get('imageset', '?')} · {len(self.folds)}/{len(self.planned)} folds{damaged} · "
            f"width {c['model']['width']} · "
            f"{c['training']['epochs']} epochs · {c['training']['loss']} · {c['words']['mode']} word · {self.id}"
        )


def load_study(study_id: str, damaged_ok: bool = False) -> Study:
    """A study from the store, with whatever folds are finished.

    Args:
        study_id: the study's id.
        damaged_ok: keep going past damaged fold files (listed in ``Study.damaged``) instead of raising.

    Raises:
        FileNotFoundError: no such study.
        ValueError: a damaged fold file (unless ``damaged_ok``), named with what to do.
    """
    path = study_dir(study_id) / store.CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no study {study_id!r} in {store.home()}.")
    study = Study(study_id, store.read_json(path), *_scan_folds(study_id))
    if study.damaged and not damaged_ok:
        raise ValueError(study.damaged_message())
    return study


def list_studies() -> list[Study]:
    """Every study (finished or partial, with any damaged fold files in ``Study.damaged``), newest first."""
    found = []
    for artifact in store.list_artifacts(STUDIES):
        try:
            found.append(load_study(artifact.id, damaged_ok=True))
        except (ValueError, KeyError, TypeError):  # a config.json that is not a study's
            continue
    return found


def run_study(
    imageset: ImageSet,
    config: dict[str, Any],
    use_ray: bool = False,
    redo: list[str] | None = None,
    device: str | None = None,
    callback: Callback | None = None,
    shuffled: bool = False,
) -> Study:
    """Run (or resume) the study ``config`` describes on ``imageset``; returns it with every fold finished.

    ``shuffled`` adds the shuffled-words control (:func:`core.images_to_words.folds.shuffled_control`) to
    every fold that lacks it, new and finished ones alike (it trains each fold a second time; it is not part
    of the study's id).

    ``callback(folds_done, folds_total, metrics)`` after each fold (and, run sequentially, after each
    epoch with ``metrics["fold"]``); True stops cleanly: finished folds are kept and the next call
    resumes at the first unfinished one. ``redo`` names classes whose folds are recomputed (and whose
    fold files are overwritten, damaged or not); no other finished fold is touched.

    Raises:
        ValueError: bad words or ``redo`` names, or a damaged fold file of a class not in ``redo``.
    """
    from core import sweeps

    names = config["class_names"]
    targets = folds.study_targets(config)
    unknown = [name for name in redo or [] if name not in names]
    if unknown:
        raise ValueError(
            f"cannot redo {', '.join(map(repr, unknown))}: not a class of this study ({', '.join(names)})."
        )
    redone = {names.index(name) for name in redo or []}
    study_id = store.config_hash(config)
    folder = study_dir(study_id)
    done, damaged = _scan_folds(study_id)
    damaged = [path for path in damaged if path not in {_fold_path(study_id, index) for index in redone}]
    if damaged:
        raise ValueError(damaged_message(study_id, damaged, names))
    (folder / "folds").mkdir(parents=True, exist_ok=True)
    if not (folder / store.CONFIG_NAME).is_file():
        store.atomic_write_json(folder / store.CONFIG_NAME, {**config, "provenance": store.provenance()})
    todo = [names.index(n) for n in config["held_out"] if names.index(n) not in done or names.index(n) in redone]
    total = len(config["held_out"])
    finished = total - len(todo)

    def fold_progress(position: int, finished: int) -> Callback:
        index = todo[position]
        return lambda epoch, epochs, metrics: callback(
            finished, total, {"fold": names[index], "epoch": f"{epoch}/{epochs}", **metrics}
        )

    def keep(record: dict[str, Any]) -> dict[str, Any]:
        store.atomic_write_json(_fold_path(study_id, record["index"]), record)
        return {"fold": record["class"], "relative_change": record["relative_change"]}

    sweeps.sweep(
        folds.run_fold,
        [(config, index, imageset, targets, device, shuffled) for index in todo],
        keep,
        use_ray=use_ray,
        cpus_per_job=config["training"]["cpu_threads"],
        callback=callback,
        done=finished,
        total=total,
        job_callback=fold_progress,
        stopped="study stopped after {done} of {total} folds; run it again to resume.",
    )
    if shuffled:
        _add_shuffled(study_id, config, imageset, targets, use_ray, device, callback)
    return load_study(study_id)


def _add_shuffled(
    study_id: str,
    config: dict[str, Any],
    imageset: ImageSet,
    targets: np.ndarray,
    use_ray: bool,
    device: str | None,
    callback: Callback | None,
) -> None:
    """The shuffled-words control of every finished fold that lacks it, each fold file updated as it is done."""
    from core import sweeps

    done, _ = _scan_folds(study_id)
    todo = [fold for _, fold in sorted(done.items()) if not all(k in fold for k in SHUFFLED_FIELDS)]

    def fold_progress(position: int, finished: int) -> Callback:
        name = todo[position]["class"]
        return lambda epoch, epochs, metrics: callback(
            finished, len(todo), {"fold": f"{name} (shuffled words)", "epoch": f"{epoch}/{epochs}", **metrics}
        )

    def keep(record: dict[str, Any]) -> dict[str, Any]:
        store.atomic_write_json(_fold_path(study_id, record["index"]), record)
        return {"fold": f"{record['class']} (shuffled words)"}

    sweeps.sweep(
        _shuffled_record,
        [(config, fold, imageset, targets, device) for fold in todo],
        keep,
        use_ray=use_ray,
        cpus_per_job=config["training"]["cpu_threads"],
        callback=callback,
        job_callback=fold_progress,
        stopped="the shuffled-words control stopped after {done} of {total} folds; run it again to resume.",
    )


def _shuffled_record(
    config: dict[str, Any],
    fold: dict[str, Any],
    imageset: ImageSet,
    targets: np.ndarray,
    device: str | None,
    *,
    callback: Callback | None = None,
) -> dict[str, Any]:
    """A finished fold's record with its shuffled-words control added (one job of the control's sweep)."""
    return {**fold, **folds.shuffled_control(config, fold, imageset, targets, device, callback=callback)}


def resume_study(
    study_id: str,
    use_ray: bool = False,
    device: str | None = None,
    callback: Callback | None = None,
    redo: list[str] | None = None,
    shuffled: bool = False,
) -> Study:
    """Finish a study with exactly its recorded settings (so under the same id): the image set is reloaded
    from its recorded source (loader, folder, images per class, subsample seed) and only unfinished folds
    (and the classes in ``redo``) are computed; ``shuffled`` adds the shuffled-words control to every fold
    that lacks it.

    Raises:
        FileNotFoundError: no such study, or its image folder is gone.
        ValueError: the image set cannot be reloaded (made in memory) or no longer matches the study.
        ResourceUnavailable: the image set is not available here (e.g. CIFAR-100 offline).
    """
    from core.imagesets import load_source

    study = load_study(study_id, damaged_ok=True)
    config = {key: value for key, value in study.config.items() if key != "provenance"}
    if store.config_hash(config) != study_id:
        raise ValueError(
            f"the config.json of study {study_id} was edited (its settings no longer give its id); "
            "start a new study instead."
        )
    imageset = load_source(config["imageset"])
    recorded = (config["class_names"], config["image_shape"], config["train_images"], config["test_images"])
    found = (
        list(imageset.class_names),
        list(imageset.shape),
        int(len(imageset.train_labels)),
        int(len(imageset.test_labels)),
    )
    if found != recorded:
        raise ValueError(
            f"the image set {config['imageset']} is not the one study {study_id} ran on "
            f"(recorded: {recorded[2]} training images of {len(recorded[0])} classes, "
            f"found {found[2]} of {len(found[0])}); start a new study on it instead."
        )
    return run_study(imageset, config, use_ray=use_ray, redo=redo, device=device, callback=callback, shuffled=shuffled)


def missing_controls(study: Study) -> bool:
    """Whether some finished fold was recorded before folds carried their controls."""
    return any(any(k not in f for k in CONTROL_FIELDS) for f in study.folds.values())


def add_controls(study: Study) -> Study:
    """Compute the controls of every finished fold that lacks them (no retraining) and write them into
    its fold file; returns the study reloaded."""
    targets = folds.study_targets(study.config)
    for fold in study.folds.values():
        if any(k not in fold for k in CONTROL_FIELDS):
            updated = {**fold, **folds.fold_controls(study.config, fold, targets)}
            store.atomic_write_json(_fold_path(study.id, int(fold["index"])), updated)
    return load_study(study.id, damaged_ok=True)


def missing_shuffled(study: Study) -> bool:
    """Whether some finished fold has no shuffled-words control yet (it needs retraining)."""
    return any(not all(k in f for k in SHUFFLED_FIELDS) for f in study.folds.values())


def is_laptop_study(study: Study) -> bool:
    """Whether a study is the laptop study of :data:`core.images_to_words.settings.LAPTOP` (whatever its seed
    or loss)."""
    c = study.config
    preset = LAPTOP
    return (
        c["imageset"].get("imageset") == preset.imageset
        and c["imageset"].get("per_class") == preset.per_class
        and c["model"]["width"] == preset.width
        and c["training"]["epochs"] == preset.epochs
    )
