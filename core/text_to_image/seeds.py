"""Seeds as an axis of the text-as-image method: the ImageNet slice against a randomly initialised slice of the
same backbone, and the logistic-regression baseline, on one image dataset, over several seeds, with evidence.

A *seed sweep* (:class:`SeedSettings`) trains each seed x slice (ImageNet, random init) as one ``models`` artifact
(:func:`core.text_to_image.training.train_model`, the seed being :attr:`TrainSettings.seed`) and fits the
logistic-regression baseline on the raw embeddings of the same split once (L-BFGS does not depend on a seed, so its
one fit is paired with every seed). The jobs run through :func:`core.sweeps.sweep`, one after another or as Ray
tasks; a finished model is found by its config's hash, so a stopped sweep run again skips what finished and resumes
at the next unfinished job (a model stopped mid-training resumes at its last epoch).

:func:`seed_evidence` reads each model's stored ``test_probabilities.npy`` against the dataset's held-out labels and
turns them into evidence with :mod:`core.evidence` only: per slice the mean held-out accuracy over seeds with its
interval over seeds and, per seed, its interval over test examples; the paired comparisons (ImageNet slice against
random init, and against logistic regression) on the same test examples and seeds; the smallest difference this
test size and number of seeds detects; and a verdict in words on the claim :data:`CLAIM`.

On Ray each task writes its model into the store itself, so every node of a cluster must see the same
``$CROSSMODAL_HOME`` (a local Ray instance does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import evidence, store, sweeps
from core.errors import Interrupted
from core.settings import from_record, to_record
from core.store import Artifact, Callback
from core.text_to_image import datasets, results, training
from core.text_to_image.presets import WORKSHOP
from core.text_to_image.training import BASELINES, MODELS, TrainSettings

SWEEPS = "t2i-seed-sweeps"
"""The artifact kind of a sweep's record: its settings and whether it finished (what the Results page lists)."""

IMAGENET, RANDOM, LOGISTIC = "imagenet", "random", "logistic"
VARIANTS = (IMAGENET, RANDOM, LOGISTIC)
TITLES = {
    IMAGENET: "ImageNet slice",
    RANDOM: "random-init slice",
    LOGISTIC: "logistic regression on the embeddings",
}
CLAIM = "the ImageNet slice beats a randomly initialised slice"
VERDICTS = {
    evidence.SUPPORTED: "SUPPORTED",
    evidence.CONTRADICTED: "CONTRADICTED",
    evidence.INCONCLUSIVE: "INCONCLUSIVE",
}
BASELINE_SEED = training.DEFAULTS.seed
"""The seed the logistic-regression baseline is fitted with (the Results page's: its fit is reused)."""


@dataclass(frozen=True)
class SeedSettings:
    """A seed sweep on one image dataset; the training settings default to the workshop preset's.

    Attributes:
        dataset: the image dataset's id.
        seeds: the seeds, each one model per slice (:attr:`TrainSettings.seed`).
        backbone, node, finetune, epochs, batch_size, validation, normalise, style, device: the training of both
            slices (see :class:`core.text_to_image.training.TrainSettings`); only ``pretrained`` differs.
        logistic: also fit the logistic-regression baseline on the raw embeddings (needs the dataset's embeddings).
        C: the baseline's inverse regularisation strength.
    """

    dataset: str
    seeds: tuple[int, ...] = (0, 1, 2)
    backbone: str = WORKSHOP.train.backbone
    node: str | None = WORKSHOP.train.node
    finetune: bool = WORKSHOP.train.finetune
    epochs: int = WORKSHOP.train.epochs
    batch_size: int = WORKSHOP.train.batch_size
    validation: float = WORKSHOP.train.validation
    normalise: str = WORKSHOP.train.normalise
    style: str = WORKSHOP.train.style
    device: str | None = None
    logistic: bool = True
    C: float = 1.0

    def check(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(
                f"a seed sweep needs a dataset id (see: python -m core t2i-datasets), got {self.dataset!r}."
            )
        if not isinstance(self.seeds, tuple) or not self.seeds:
            raise ValueError(f"seeds must be one or more integers (e.g. 0 1 2), got {self.seeds!r}.")
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**31:
                raise ValueError(f"each seed must be an integer from 0 to 2**31 - 1, got {seed!r}.")
        if len(set(self.seeds)) != len(self.seeds):
            repeated = sorted({s for s in self.seeds if self.seeds.count(s) > 1})
            raise ValueError(f"each seed once: {', '.join(map(str, repeated))} is given more than once.")
        if not self.C > 0:
            raise ValueError(f"the baseline's C must be positive, got {self.C}.")
        self.train_settings(IMAGENET, self.seeds[0]).check()

    def train_settings(self, variant: str, seed: int) -> TrainSettings:
        """The training of one slice (``imagenet`` or ``random``) with one seed."""
        if variant not in (IMAGENET, RANDOM):
            raise ValueError(f"a trained variant is {IMAGENET!r} or {RANDOM!r}, got {variant!r}.")
        return TrainSettings(
            backbone=self.backbone,
            node=self.node,
            pretrained=variant == IMAGENET,
            finetune=self.finetune,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            seed=int(seed),
            validation=float(self.validation),
            device=self.device,
            normalise=self.normalise,
            style=self.style,
        )

    def plan(self) -> list[tuple[str, int | None]]:
        """Every job of the sweep in the order it runs: each seed's two slices, then the baseline (seed None)."""
        jobs: list[tuple[str, int | None]] = [(v, int(s)) for s in self.seeds for v in (IMAGENET, RANDOM)]
        return jobs + ([(LOGISTIC, None)] if self.logistic else [])

    @property
    def sweep_id(self) -> str:
        """The id of the sweep's record (its settings without the device)."""
        return store.config_hash(to_record(self, omit=("device",)))


def settings_from_train(dataset: str, seeds: tuple[int, ...], train: TrainSettings, **more: Any) -> SeedSettings:
    """A sweep whose slices train as ``train`` does (its seed and initialisation aside)."""
    return SeedSettings(
        dataset=dataset,
        seeds=tuple(seeds),
        backbone=train.backbone,
        node=train.node,
        finetune=train.finetune,
        epochs=train.epochs,
        batch_size=train.batch_size,
        validation=train.validation,
        normalise=train.normalise,
        style=train.style,
        device=train.device,
        **more,
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds written as integers apart (``0 1 2`` or ``0, 1, 2``); checked by :meth:`SeedSettings.check`."""
    words = text.replace(",", " ").split()
    try:
        return tuple(int(word) for word in words)
    except ValueError:
        raise ValueError(f"seeds are integers (e.g. 0 1 2), got {text.strip()!r}.") from None


def label(variant: str, seed: int | None) -> str:
    return TITLES[variant] if seed is None else f"{TITLES[variant]}, seed {seed}"


# --------------------------------------------------------------------------- the stored results of each job


def stored_model(dataset: Artifact, settings: SeedSettings, variant: str, seed: int) -> Artifact | None:
    """The finished model of one slice and seed, or None when it has not finished."""
    config = training.model_config(dataset, settings.train_settings(variant, seed))
    found = store.load(MODELS, store.config_hash(config))
    return found if found is not None and found.config.get("status") == "finished" else None


def stored_baseline(dataset: Artifact, settings: SeedSettings) -> Artifact | None:
    """The logistic-regression baseline of the dataset with the sweep's C, or None when it has not been fitted."""
    return store.load(BASELINES, store.config_hash(training.baseline_config(dataset, settings.C, BASELINE_SEED)))


def stored(dataset: Artifact, settings: SeedSettings, variant: str, seed: int | None) -> Artifact | None:
    """The finished artifact of one job of the sweep, or None."""
    if variant == LOGISTIC:
        return stored_baseline(dataset, settings)
    return stored_model(dataset, settings, variant, int(seed))


def correct(dataset: Artifact, artifact: Artifact) -> np.ndarray:
    """1 / 0 per held-out example (in the dataset's order): whether the model's stored prediction is right."""
    probabilities = np.load(artifact.file("test_probabilities.npy"), allow_pickle=False)
    labels = results.held_out_labels(dataset)
    if len(probabilities) != len(labels):
        raise ValueError(
            f"{artifact.kind}/{artifact.id} holds {len(probabilities)} held-out predictions, the dataset {dataset.id} "
            f"has {len(labels)} held-out rows."
        )
    return (probabilities.argmax(1) == labels).astype(np.int64)


# --------------------------------------------------------------------------- running a sweep


def _job(
    home: str, dataset: Artifact, settings: SeedSettings, variant: str, seed: int | None, callback: Callback | None
) -> tuple[str, int | None, str]:
    """One job of a sweep (here or as a Ray task): train one slice with one seed, or fit the baseline; returns
    what it made (the artifact is in the store)."""
    if os.environ.get(store.HOME_ENV) != home:  # a Ray worker started for another store
        os.environ[store.HOME_ENV] = home
    if variant == LOGISTIC:
        return variant, seed, training.logistic_baseline(dataset, settings.C, seed=BASELINE_SEED).id
    return variant, seed, training.train_model(dataset, settings.train_settings(variant, int(seed)), callback).id


def _write_record(settings: SeedSettings, status: str) -> None:
    record = {"settings": to_record(settings, omit=("device",)), "dataset": settings.dataset, "status": status}
    with store.writing(SWEEPS, settings.sweep_id, {**record, "provenance": store.provenance()}):
        pass


def run_sweep(settings: SeedSettings, callback: Callback | None = None, use_ray: bool = False) -> dict[str, Any]:
    """Run (or resume) a seed sweep and return its evidence (:func:`seed_evidence`).

    Jobs already finished are skipped; the others run through :func:`core.sweeps.sweep`, in the order of
    :meth:`SeedSettings.plan`. ``callback(done, total, info)`` after each job, and (one after another) after each
    epoch with ``info["epoch"]``; True stops: the running model keeps its best epoch (status "stopped") and
    :class:`core.errors.Interrupted` is raised; running the sweep again resumes it.
    """
    settings.check()
    dataset = datasets.find_dataset(settings.dataset)
    if settings.logistic and "embeddings" not in dataset.config:
        raise ValueError(
            f"dataset {dataset.id} records no embeddings, so the logistic-regression baseline cannot be fitted; "
            "run the sweep without it (--no-logistic)."
        )
    plan = settings.plan()
    todo = [(v, s) for v, s in plan if stored(dataset, settings, v, s) is None]
    total, done = len(plan), len(plan) - len(todo)
    _write_record(settings, "started")
    stopped = "the seed sweep stopped after {done} of {total} jobs; finished models are kept, run it again to resume."

    def keep(result: tuple[str, int | None, str]) -> dict[str, Any]:
        variant, seed, artifact_id = result
        artifact = store.load(BASELINES if variant == LOGISTIC else MODELS, artifact_id)
        if artifact is None or artifact.config.get("status", "finished") != "finished":
            raise Interrupted(f"stopped during {label(variant, seed)}; run the sweep again to resume it.")
        return {"job": label(variant, seed), "accuracy": round(float(artifact.config["metrics"]["accuracy"]), 4)}

    def job_callback(index: int, done: int) -> Callback:
        name = label(*todo[index])

        def relay(epoch: int, epochs: int, metrics: dict) -> bool | None:
            info = {"job": name, "epoch": f"{epoch}/{epochs}"}
            if "accuracy" in metrics:
                info["accuracy"] = round(float(metrics["accuracy"]), 4)
            return callback(done, total, info) if callback is not None else None

        return relay

    home = str(store.home())
    try:
        sweeps.sweep(
            _job,
            [(home, dataset, settings, v, s) for v, s in todo],
            keep,
            use_ray=use_ray,
            callback=callback,
            done=done,
            total=total,
            job_callback=job_callback,
            stopped=stopped,
        )
    except BaseException:
        _write_record(settings, "stopped")
        raise
    _write_record(settings, "finished")
    return seed_evidence(settings)


def sweeps_of(dataset: Artifact) -> list[SeedSettings]:
    """The seed sweeps started on ``dataset``, newest first."""
    found = []
    for artifact in store.list_artifacts(SWEEPS):
        if artifact.config.get("dataset") == dataset.id:
            try:
                found.append(from_record(SeedSettings, artifact.config["settings"]))
            except (KeyError, TypeError):
                continue  # a record of another version is not offered
    return found


# --------------------------------------------------------------------------- the evidence


def _variant_record(variant: str, found: dict[int | None, np.ndarray], ids: dict[int | None, str]) -> dict[str, Any]:
    keys = sorted(found, key=lambda s: -1 if s is None else s)
    accuracies = [float(found[s].mean()) for s in keys]
    n = int(found[keys[0]].size)
    record: dict[str, Any] = {
        "title": TITLES[variant],
        "seeds": [s for s in keys if s is not None],
        "n": n,
        "accuracy": float(np.mean(accuracies)),
        "interval": evidence.interval_over_seeds(accuracies, bounds=(0.0, 1.0)).to_record(),
        "per_seed": [
            {
                "seed": s,
                "accuracy": float(found[s].mean()),
                "interval": evidence.interval_over_examples(found[s]).to_record(),
                "id": ids[s],
            }
            for s in keys
        ],
    }
    record["detectable"] = evidence.detectable_difference(n, len(keys), record["accuracy"])
    if len(keys) == 1:  # no spread over seeds to show: the interval over the test examples instead
        record["interval"] = record["per_seed"][0]["interval"]
        record["note"] = (
            "one fit (L-BFGS does not depend on a seed): its interval is over the test examples"
            if variant == LOGISTIC
            else "one seed so far: its interval is over the test examples"
        )
    return record


def seed_evidence(settings: SeedSettings) -> dict[str, Any]:
    """What a seed sweep's finished jobs show (a sweep not yet finished shows what it has; ``missing`` says what
    is left). Per slice: the mean held-out accuracy over its seeds with a Student-t interval over seeds
    (:func:`core.evidence.interval_over_seeds`) and, per seed, a bootstrap interval over the test examples
    (:func:`core.evidence.interval_over_examples`); the ImageNet slice against the random-init slice and against
    logistic regression, paired on the same test examples and seeds (:func:`core.evidence.compare_paired`); the
    smallest difference this test size and number of seeds detects (:func:`core.evidence.detectable_difference`);
    and the verdict on :data:`CLAIM` with its sentence; the majority-class rate and chance beside them."""
    settings.check()
    dataset = datasets.find_dataset(settings.dataset)
    ref = results.reference(dataset)
    plan = settings.plan()
    artifacts = {(v, s): stored(dataset, settings, v, s) for v, s in plan}
    correctness = {key: correct(dataset, a) for key, a in artifacts.items() if a is not None}
    n = int(len(results.held_out_labels(dataset)))
    variants: dict[str, Any] = {}
    for variant in VARIANTS:
        found = {s: c for (v, s), c in correctness.items() if v == variant}
        if found:
            ids = {s: artifacts[(variant, s)].id for s in found}
            variants[variant] = _variant_record(variant, found, ids)
    paired_seeds = [int(s) for s in settings.seeds if (IMAGENET, s) in correctness and (RANDOM, s) in correctness]
    comparisons = []
    verdict, sentence = None, f"{CLAIM[0].upper()}{CLAIM[1:]}: no seed has both slices finished yet."
    if paired_seeds:
        a = np.stack([correctness[(IMAGENET, s)] for s in paired_seeds])
        b = np.stack([correctness[(RANDOM, s)] for s in paired_seeds])
        what = f"{TITLES[IMAGENET]} − {TITLES[RANDOM]}"
        against_random = evidence.compare_paired(a, b, claim="greater", what=what)
        comparisons.append({"a": IMAGENET, "b": RANDOM, "seeds": paired_seeds, **against_random.to_record()})
        verdict = VERDICTS[against_random.verdict]
        sentence = f"{CLAIM[0].upper()}{CLAIM[1:]}? {against_random.sentence}"
    imagenet_seeds = [int(s) for s in settings.seeds if (IMAGENET, s) in correctness]
    if imagenet_seeds and (LOGISTIC, None) in correctness:
        a = np.stack([correctness[(IMAGENET, s)] for s in imagenet_seeds])
        b = np.tile(correctness[(LOGISTIC, None)], (len(imagenet_seeds), 1))  # one fit, paired with every seed
        what = f"{TITLES[IMAGENET]} − {TITLES[LOGISTIC]}"
        against_logistic = evidence.compare_paired(a, b, claim="greater", what=what)
        comparisons.append({"a": IMAGENET, "b": LOGISTIC, "seeds": imagenet_seeds, **against_logistic.to_record()})
    design_seeds = len(paired_seeds) or len(settings.seeds)
    design_accuracy = float(np.mean([variants[v]["accuracy"] for v in (IMAGENET, RANDOM)])) if paired_seeds else 0.5
    missing = [label(v, s) for (v, s), a in artifacts.items() if a is None]
    return {
        "dataset": dataset.id,
        "sweep": settings.sweep_id,
        "settings": to_record(settings, omit=("device",)),
        "claim": CLAIM,
        "complete": not missing,
        "missing": missing,
        "n": n,
        "seeds": paired_seeds,
        "reference": {"majority_class": ref.majority_class, "majority_rate": ref.majority_rate, "chance": ref.chance},
        "variants": variants,
        "comparisons": comparisons,
        "detectable_difference": evidence.detectable_difference(n, design_seeds, design_accuracy),
        "design": {"n": n, "seeds": design_seeds, "accuracy": design_accuracy},
        "verdict": verdict,
        "sentence": sentence,
    }
