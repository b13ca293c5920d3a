"""The hybrid's grid search: batch size x learning rate x optimiser, k-fold stratified cross-validation on a
training pool, the best configuration refit on the whole pool and measured once on a test split the search
never sees, and the ablation (vision alone, random text layers, pretrained text layers) on the same folds; on
request (:attr:`SearchSettings.finetuned_reference`), the vision model fine-tuned end to end as one more row.

Every (configuration, fold, variant) trial is one artifact (``hybrid-trials``), so a stopped search resumes
at the next unfinished trial and a trial shared by two searches is trained once. The vision model is frozen:
its tokens are computed once per image set (``hybrid-tokens``) and every trial reads them. Trials run one
after another, or as Ray tasks (:mod:`core.sweeps`); every trial seeds its model and batch order from the
settings and runs on a fixed number of threads, so both ways give the same numbers.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from core import evidence, hub, jobs, store, sweeps
from core.device import default_device
from core.errors import Interrupted
from core.hybrid import models, vision
from core.imagesets import ImageSet, load_imageset
from core.settings import from_record, to_record
from core.store import Artifact, Callback
from core.train import Trainer, classification_metrics, forward_batches

OPTIMIZERS = ("sgd", "adam")
TOKENS, TRIALS, SEARCHES = "hybrid-tokens", "hybrid-trials", "hybrid-searches"
REFIT = -1  # the fold index of a refit on the whole pool, measured on the test split
PENDING = "hybrid-search"
METRICS = ("accuracy", "f1", "precision", "recall")
NO_PER_EXAMPLE = "no per-example results stored (run again for intervals)"
DEGENERATE_SHARE = 0.9
"""A trial whose held-out answers are this share or more one class is flagged as degenerate."""


@dataclass(frozen=True)
class SearchSettings:
    """One grid search and its ablation.

    Args:
        imageset: ``fashion_mnist`` (offline), ``cifar10`` / ``cifar100`` (online) or ``folder``.
        folder: the image folder (one sub-folder per class) for ``imageset="folder"``.
        per_class: training-pool images per class (None: all), drawn from the set's training split.
        test_per_class: test images per class, from the set's own test split (never seen by the search).
        vision: the vision model (:func:`core.hybrid.vision.load_vision_model`).
        text: the text model whose layers the hybrid borrows (:func:`core.hub.load_text_model`).
        text_layers: how many of its encoder layers, from the bottom (None: all).
        wiring: ``stack`` or ``parallel`` (:mod:`core.hybrid.models`).
        image_size: pixels per side fed to the vision model (a multiple of its patch).
        batch_sizes, learning_rates, optimizers: the grid.
        momentum: SGD's momentum.
        folds: k of the stratified k-fold cross-validation.
        epochs: passes over the training folds per trial (the last epoch's model is measured).
        seed: the seed of the subsample, folds, model initialisation and batch order.
        search_variant: the variant the grid is searched for.
        variants: the ablation rows, trained at the best configuration on the same folds.
        own_grids: every other variant is searched on the same grid as well and enters the ablation at its own
            best configuration (False: only the vision model alone is, the control keeps the hybrid's).
        refits: refits of each ablation row on the whole pool, seeds ``seed``, ``seed + 1``, ... (model
            initialisation and batch order; the data and folds stay ``seed``'s), each measured on the test split.
        threads: CPU threads per trial (fixed, so a trial gives the same numbers wherever it runs).
        finetuned_reference: add the vision model fine-tuned end to end (backbone and head learning together, read
            out as it classifies) as one more ablation row, compared with the hybrid like the others. Off by
            default: every one of its trials runs the whole backbone forward and backward on every image, where
            the other vision row trains a linear head on cached vectors (the laptop preset: about 1.5 hours on two
            busy CPU cores, measured at 6 s per batch of 16, against 10 minutes for the rest). The paper does not
            say how its "original BEiT" was trained; the lab's choice (simplest faithful): the vision model alone's
            own best configuration (optimizer, batch size, the head's learning rate; the searched one's when the
            vision model is not tuned), the same epochs, folds and refit seeds as every other row, no grid of its
            own.
        backbone_lr_factor: the fine-tuned backbone's learning rate as a share of the head's (0.1: a tenth, the
            lab's choice; the paper states none). Part of the search's identity only with ``finetuned_reference``.
    """

    imageset: str = "fashion_mnist"
    folder: str | None = None
    per_class: int | None = 100
    test_per_class: int | None = 40
    vision: str = vision.DEFAULT_VISION
    text: str = hub.DEFAULT_TEXT_MODEL
    text_layers: int | None = 2
    wiring: str = "stack"
    image_size: int = 56
    batch_sizes: tuple[int, ...] = (16, 32)
    learning_rates: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    optimizers: tuple[str, ...] = OPTIMIZERS
    momentum: float = 0.9
    folds: int = 3
    epochs: int = 3
    seed: int = 0
    search_variant: str = "pretrained-text"
    variants: tuple[str, ...] = models.VARIANTS
    own_grids: bool = True
    refits: int = 3
    threads: int = 2
    finetuned_reference: bool = False
    backbone_lr_factor: float = 0.1

    def check(self) -> None:
        """Raise ``ValueError`` naming the first invalid value."""
        if not self.batch_sizes or not self.learning_rates or not self.optimizers:
            raise ValueError("the grid needs at least one batch size, one learning rate and one optimizer.")
        bad = [b for b in self.batch_sizes if not isinstance(b, (int, np.integer)) or isinstance(b, bool) or b < 2]
        if bad:
            raise ValueError(f"batch sizes must be whole numbers of at least 2, got {bad}.")
        bad = [r for r in self.learning_rates if not isinstance(r, (int, float)) or not 0 < r < 10 or r != r]
        if bad:
            raise ValueError(f"learning rates must be positive numbers below 10 (e.g. 1e-4), got {bad}.")
        bad = [o for o in self.optimizers if o not in OPTIMIZERS]
        if bad:
            raise ValueError(f"unknown optimizer(s) {bad}; choose from {', '.join(OPTIMIZERS)}.")
        if len(set(self.batch_sizes)) < len(self.batch_sizes) or len(set(self.learning_rates)) < len(
            self.learning_rates
        ):
            raise ValueError("a batch size or learning rate is listed twice; list each value once.")
        if not isinstance(self.folds, int) or self.folds < 2:
            raise ValueError(f"cross-validation needs at least 2 folds, got {self.folds}.")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}.")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}.")
        if self.wiring not in models.WIRINGS:
            raise ValueError(f"wiring must be one of {models.WIRINGS}, got {self.wiring!r}.")
        if self.search_variant not in models.VARIANTS or not set(self.variants) <= set(models.VARIANTS):
            raise ValueError(f"variants come from {models.VARIANTS}.")
        for name, value in (("per_class", self.per_class), ("test_per_class", self.test_per_class)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive whole number or None (all), got {value}.")
        if self.per_class is not None and self.per_class < self.folds:
            raise ValueError(f"{self.per_class} images per class cannot be split into {self.folds} folds.")
        if self.text_layers is not None and (not isinstance(self.text_layers, int) or self.text_layers < 1):
            raise ValueError(f"text layers must be at least 1 (or None: all), got {self.text_layers}.")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}.")
        if not isinstance(self.refits, int) or isinstance(self.refits, bool) or self.refits < 1:
            raise ValueError(f"refits (seeds of the refit on the whole pool) must be at least 1, got {self.refits}.")
        if not isinstance(self.finetuned_reference, bool):
            raise ValueError(f"finetuned_reference is True or False, got {self.finetuned_reference!r}.")
        factor = self.backbone_lr_factor
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not 0 < factor <= 1:
            raise ValueError(
                f"the backbone's learning-rate factor (a share of the head's) must be in (0, 1], e.g. 0.1, "
                f"got {factor!r}."
            )
        if self.imageset == "folder" and not self.folder:
            raise ValueError("an image folder needs its path (one sub-folder of images per class).")

    def grid(self) -> list[dict[str, Any]]:
        """Every configuration, optimizer first, then batch size, then learning rate."""
        return [
            {"optimizer": o, "batch_size": int(b), "learning_rate": float(r)}
            for o in self.optimizers
            for b in self.batch_sizes
            for r in self.learning_rates
        ]

    def record(self) -> dict[str, Any]:
        """The settings as stored and hashed: every field, but the fine-tuned reference's only when it is on (so
        searches stored before it existed keep their ids)."""
        return to_record(self, omit=() if self.finetuned_reference else _FINETUNING)

    def search_id(self) -> str:
        return store.config_hash(self.record())

    def refit_seeds(self) -> list[int]:
        """The seeds of the refits: ``seed``, ``seed + 1``, ... (``refits`` of them)."""
        return [self.seed + k for k in range(self.refits)]

    def tuned(self) -> list[str]:
        """The variants other than the searched one that get their own grid (:attr:`own_grids`)."""
        others = [v for v in self.variants if v != self.search_variant]
        return others if self.own_grids else [v for v in others if v == "vision"]


_FINETUNING = ("finetuned_reference", "backbone_lr_factor")
"""Fields added after searches were stored: in a search's record (and id) only when the fine-tuned reference is on."""

LAPTOP = SearchSettings()
"""Two CPU cores: Fashion-MNIST (1,000-image pool, 400 test), DINOv2 ViT-S at 56 px (17 tokens), 2 MiniLM layers,
a 2 x 3 x 2 grid searched for every variant, 3 folds, 3 epochs, 3 refit seeds."""

PAPER_GRID_BATCHES = (8, 16, 24, 32, 48, 64)
PAPER_GRID_RATES = (1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4)
FULL = SearchSettings(
    imageset="cifar10",
    per_class=None,
    test_per_class=None,
    vision=vision.PAPER_VISION,
    text="bert-base-uncased",
    text_layers=None,
    image_size=224,
    batch_sizes=PAPER_GRID_BATCHES,
    learning_rates=PAPER_GRID_RATES,
    folds=5,
    epochs=3,
    threads=4,
)
"""For a GPU or a Ray cluster: BEiT with BERT, as the paper names them (the base sizes, BEiT-base + bert-base, are
the lab's reading), 6 x 8 = 48 (batch size, learning rate) pairs x 2 optimizers and 5 folds, as the paper says, on
CIFAR-10 (the lab's choice). The paper does not publish its grid's values, sizes or data set: these are the lab's
choice of the same size."""

PRESETS = {"laptop": LAPTOP, "full": FULL}


# --------------------------------------------------------------------------- data and frozen tokens


@dataclass
class SearchData:
    """The training pool (the only rows the search sees), the test split and their cached vision tokens."""

    images: ImageSet
    pool_tokens: torch.Tensor
    pool_labels: np.ndarray
    test_tokens: torch.Tensor
    test_labels: np.ndarray
    tokens_id: str
    vision_note: str
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    readout: str = "cls"
    pool_readout: torch.Tensor | None = None
    test_readout: torch.Tensor | None = None
    """The vector the vision model classifies from (:meth:`core.hybrid.vision.VisionModel.readout_vectors`), for
    the pool and the test split: what the vision model alone and the linear probe read."""

    def vision_inputs(self, which: str) -> torch.Tensor:
        """What the vision model alone reads, as a one-token sequence (n, 1, hidden): its readout vector."""
        found = self.pool_readout if which == "pool" else self.test_readout
        if found is None:
            found = (self.pool_tokens if which == "pool" else self.test_tokens)[:, 0].float()
        return found[:, None, :]


def load_images(settings: SearchSettings) -> ImageSet:
    """The image set: the training pool (``per_class`` per class of its training split) and the test split
    (``test_per_class`` per class of its own test split)."""
    loaded = load_imageset(settings.imageset, settings.folder)
    if len(loaded.class_names) < 2:
        raise ValueError("the image set has fewer than two classes; a classifier needs at least two.")
    pool = loaded.subsample(settings.per_class, settings.seed) if settings.per_class else loaded
    test = loaded.subsample(settings.test_per_class * 4, settings.seed) if settings.test_per_class else loaded
    return replace(pool, test_images=test.test_images, test_labels=test.test_labels)


def _images_sha256(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


@functools.lru_cache(maxsize=2)
def _vision_model(name: str) -> vision.VisionModel:
    return vision.load_vision_model(name)


@functools.lru_cache(maxsize=2)
def _text_model(name: str) -> hub.LoadedModel:
    return hub.load_text_model(name)


def frozen_tokens(settings: SearchSettings, images: ImageSet, progress: Callback | None = None) -> Artifact:
    """The vision model's last-layer tokens of the pool and test images, computed once per image set,
    vision model and size, and stored as float16 safetensors."""
    model = _vision_model(settings.vision)
    vision.check_size(settings.image_size, model.patch)
    config = {
        "vision": model.name,
        "revision": model.revision,
        "image_size": settings.image_size,
        "pool_sha256": _images_sha256(images.train_images),
        "test_sha256": _images_sha256(images.test_images),
    }

    def build(artifact_id: str):
        from safetensors.torch import save_file

        total = len(images.train_images) + len(images.test_images)
        relay = (lambda done, _t, m: progress(done, total, m)) if progress else None
        pool = model.encode(images.train_images, settings.image_size, progress=relay)
        offset = len(pool)
        relay = (lambda done, _t, m: progress(offset + done, total, m)) if progress else None
        test = model.encode(images.test_images, settings.image_size, progress=relay)
        more = {"tokens": list(pool.shape[1:]), "pool": len(pool), "test": len(test), **store.provenance()}
        return more, lambda folder: save_file({"pool": pool, "test": test}, str(folder / "tokens.safetensors"))

    return jobs.build_or_load(TOKENS, config, build)


def prepare(settings: SearchSettings, progress: Callback | None = None) -> SearchData:
    """The images, their frozen tokens and the folds of the pool (stratified, seeded)."""
    from safetensors.torch import load_file
    from sklearn.model_selection import StratifiedKFold

    settings.check()
    images = load_images(settings)
    counts = np.bincount(images.train_labels, minlength=len(images.class_names))
    if counts.min() < settings.folds:
        small = images.class_names[int(counts.argmin())]
        raise ValueError(
            f"class {small!r} has {counts.min()} training image(s); {settings.folds}-fold cross-validation needs "
            f"at least {settings.folds} per class: add images or use fewer folds."
        )
    artifact = frozen_tokens(settings, images, progress)
    tensors = load_file(str(artifact.file("tokens.safetensors")))
    splitter = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.seed)
    folds = list(splitter.split(np.zeros(len(images.train_labels)), images.train_labels))
    model = _vision_model(settings.vision)
    return SearchData(
        images,
        tensors["pool"],
        images.train_labels,
        tensors["test"],
        images.test_labels,
        artifact.id,
        model.note,
        folds,
        model.readout,
        model.readout_vectors(tensors["pool"]),
        model.readout_vectors(tensors["test"]),
    )


# --------------------------------------------------------------------------- one trial


def trial_identity(
    settings: SearchSettings, data: SearchData, config: dict, fold: int, variant: str, seed: int | None = None
) -> dict:
    """What defines a trial (its artifact id is this dict's hash); ``seed``: a refit's seed (default the
    settings' seed, the only one the folds use)."""
    finetuned = variant == models.FINETUNED
    text = _text_model(settings.text) if variant not in ("vision", models.FINETUNED) else None
    readout = {"readout": data.readout} if variant == "vision" and data.readout != "cls" else {}
    if finetuned:  # the backbone learns: what it is, how it reads out and how fast it learns define the trial
        loaded = _vision_model(settings.vision)
        readout = {
            "readout": data.readout,
            "vision": loaded.name,
            "vision_revision": loaded.revision,
            "image_size": settings.image_size,
            "backbone_lr_factor": float(settings.backbone_lr_factor),
        }
    return {
        **readout,
        "tokens": data.tokens_id,
        "labels": hashlib.sha256(np.asarray(data.pool_labels).tobytes()).hexdigest()[:16],
        "text": text.name if text else None,
        "text_revision": text.revision if text else None,
        "text_layers": settings.text_layers if text else None,
        "wiring": settings.wiring if text else None,
        "variant": variant,
        "config": config,
        "momentum": settings.momentum if config["optimizer"] == "sgd" else None,
        "epochs": settings.epochs,
        "seed": settings.seed if seed is None else int(seed),
        "folds": settings.folds,
        "fold": fold,
    }


def _optimiser(parameters, config: dict, momentum: float) -> torch.optim.Optimizer:
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(parameters, lr=config["learning_rate"], momentum=momentum)
    return torch.optim.Adam(parameters, lr=config["learning_rate"])


def train_trial(
    identity: dict,
    train: tuple[torch.Tensor, np.ndarray],
    held: tuple[torch.Tensor, np.ndarray],
    n_classes: int,
    text_name: str | None,
    threads: int,
    callback: Callback | None = None,
    vision_module: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Train one trial and measure it on ``held`` after every epoch; returns its record (history, final
    metrics, seconds). ``vision_module`` given: the inputs are pixels and the frozen vision model runs in the
    loop (the uncached way, for measuring what the token cache saves). A fine-tuned reference's trial
    (:data:`core.hybrid.models.FINETUNED`) takes uint8 images and trains a copy of the whole vision model."""
    with sweeps.pinned_threads(threads):
        started = time.perf_counter()
        finetuned = identity["variant"] == models.FINETUNED
        if finetuned:
            model, optimiser = _finetuned_model(identity, n_classes)
            before = [p.detach().clone() for p in model.backbone.parameters()]
        else:
            text = _text_model(text_name).model if text_name else None
            hidden = int(train[0].shape[-1]) if vision_module is None else vision_module.config.hidden_size
            model = models.build(
                identity["variant"],
                hidden,
                n_classes,
                text,
                identity["text_layers"],
                identity["wiring"] or "stack",
                identity["seed"],
                vision_module,
            ).to(default_device())
            trainable = [p for p in model.parameters() if p.requires_grad]
            optimiser = _optimiser(trainable, identity["config"], identity["momentum"] or 0.0)
        held_labels = np.asarray(held[1])
        answers: dict[str, np.ndarray] = {}

        def evaluate(trained: torch.nn.Module) -> dict[str, float]:
            predicted = forward_batches(trained, held[0], batch_size=128).argmax(1).numpy()
            answers["last"] = predicted
            top_share = float(np.bincount(predicted).max() / len(predicted))  # 1.0: one answer for everything
            return {**classification_metrics(held_labels, predicted), "top_class_share": top_share}

        trainer = Trainer(
            model,
            torch.nn.functional.cross_entropy,
            optimiser,
            identity["epochs"],
            identity["config"]["batch_size"],
            identity["seed"],
            evaluate=evaluate,
            callback=callback,
        )
        result = trainer.fit(train[0], torch.as_tensor(np.asarray(train[1])))
        if result.stopped and len(result.history) < identity["epochs"]:
            raise Interrupted("the search was stopped during a trial; finished trials are kept.")
        last = result.history[-1]
        finite = bool(np.isfinite(last["train_loss"]))
        more = {}
        if identity["fold"] == REFIT:  # 1 / 0 per test example, in the test split's order: paired comparisons
            more["test_correct"] = (answers["last"] == held_labels).astype(int).tolist()
        if finetuned:  # how far the backbone moved: ||after - before|| / ||before|| over all its weights
            after = model.backbone.parameters()
            moved = sum(float((a.detach() - b).double().pow(2).sum()) for a, b in zip(after, before, strict=True))
            size = sum(float(b.double().pow(2).sum()) for b in before)
            more["backbone_change"] = (moved / size) ** 0.5 if size else 0.0
        return {
            **more,
            "history": result.history,
            **{m: float(last[m]) for m in METRICS},
            "top_class_share": last["top_class_share"],
            "degenerate": last["top_class_share"] >= DEGENERATE_SHARE,
            "diverged": not finite,
            "seconds": time.perf_counter() - started,
            "threads": threads,
        }


def _finetuned_model(identity: dict, n_classes: int) -> tuple[models.FineTunedVision, torch.optim.Optimizer]:
    """A fine-tuned reference's model (a learning copy of the vision model, its head seeded as the vision model
    alone's) on the default device, and its optimiser: the head at the configuration's learning rate, the backbone
    at ``backbone_lr_factor`` times it."""
    loaded = _vision_model(identity["vision"])
    size = identity["image_size"]
    model = models.FineTunedVision(
        loaded.module, n_classes, identity["readout"], functools.partial(_pixels, loaded, size), identity["seed"]
    ).to(default_device())
    config = identity["config"]
    groups = model.parameter_groups(config["learning_rate"], identity["backbone_lr_factor"])
    return model, _optimiser(groups, config, identity["momentum"] or 0.0)


def _pixels(loaded: vision.VisionModel, size: int, images: torch.Tensor) -> torch.Tensor:
    return loaded.pixels(images, size)


def _trial_job(
    identity, tokens, labels, train_rows, held_tokens, held_labels, n_classes, text_name, threads, callback=None
):
    """One trial as a Ray task (or a plain call): train rows of the pool, measured on ``held``."""
    rows = torch.as_tensor(train_rows)
    return identity, train_trial(
        identity,
        (tokens[rows], labels[train_rows]),
        (held_tokens, held_labels),
        n_classes,
        text_name,
        threads,
        callback,
    )


def _arguments(settings: SearchSettings, data: SearchData, identity: dict) -> tuple:
    n_classes = len(data.images.class_names)
    vision_alone = identity["variant"] == "vision"
    finetuned = identity["variant"] == models.FINETUNED
    text = settings.text if not (vision_alone or finetuned) else None
    pool = data.vision_inputs("pool") if vision_alone else data.pool_tokens  # the vision model's own readout
    test = data.vision_inputs("test") if vision_alone else data.test_tokens
    if finetuned:  # the images themselves: the backbone runs in every step
        pool, test = torch.as_tensor(data.images.train_images), torch.as_tensor(data.images.test_images)
    if identity["fold"] == REFIT:
        train_rows = np.arange(len(data.pool_labels))
        held = (test, data.test_labels)
    else:
        train_rows, held_rows = data.folds[identity["fold"]]
        held = (pool[torch.as_tensor(held_rows)], data.pool_labels[held_rows])
    return (identity, pool, data.pool_labels, train_rows, *held, n_classes, text, settings.threads)


class _LazyArguments(Sequence):
    """The trials' arguments, each built when its trial starts (a fold's held-out tokens are a copy: one at a
    time here; Ray needs them all at once)."""

    def __init__(self, settings: SearchSettings, data: SearchData, identities: list[dict]) -> None:
        self.settings, self.data, self.identities = settings, data, identities

    def __len__(self) -> int:
        return len(self.identities)

    def __getitem__(self, index: int) -> tuple:
        return _arguments(self.settings, self.data, self.identities[index])


def _store_trial(identity: dict, record: dict) -> Artifact:
    def build(artifact_id: str):
        return {**record, **store.provenance()}, lambda folder: None

    return jobs.build_or_load(TRIALS, identity, build, accept=_complete)


def _complete(found: Artifact) -> bool:
    """A stored trial is complete; a refit stored before per-example results were kept is trained again (the
    same numbers, and now its test correctness)."""
    return found.config["fold"] != REFIT or "test_correct" in found.config


def stored_trial(identity: dict) -> Artifact | None:
    return store.load(TRIALS, store.config_hash(identity))


# --------------------------------------------------------------------------- the search


def planned_trials(settings: SearchSettings, data: SearchData, variant: str, best: dict | None = None) -> list[dict]:
    """The grid's trials of ``variant`` (every configuration x fold); with ``best`` given, its trials at that
    configuration instead (every fold, and the refits measured on the test split, one per refit seed)."""
    if best is None:
        return [trial_identity(settings, data, c, f, variant) for c in settings.grid() for f in range(settings.folds)]
    folds = [trial_identity(settings, data, best, f, variant) for f in range(settings.folds)]
    return folds + [trial_identity(settings, data, best, REFIT, variant, s) for s in settings.refit_seeds()]


def ablation_rows_plan(settings: SearchSettings, best: dict, own: dict[str, dict]) -> list[tuple[str, dict, bool]]:
    """The ablation's rows as (variant, configuration, at its own best): the searched variant at its best; every
    variant tuned on its own grid (``own``: variant -> its best) at its own best; the vision model alone also at
    the searched variant's configuration (what a grid tuned for one model would compare), and, when not tuned
    on its own, every other variant there too; last, with :attr:`SearchSettings.finetuned_reference`, the vision
    model fine-tuned end to end at the vision model alone's own best configuration (the searched one's when the
    vision model has no grid of its own)."""
    plan = [(settings.search_variant, best, False)]
    for variant in sorted(_variants(settings)[1:], key=lambda v: v == "vision"):  # the control first
        if variant in own:
            plan.append((variant, own[variant], True))
        if variant == "vision" or variant not in own:
            plan.append((variant, best, False))
    if settings.finetuned_reference:
        plan.append((models.FINETUNED, own.get("vision") or best, False))
    return plan


def ablation_plan(settings: SearchSettings, data: SearchData, best: dict, own: dict[str, dict]) -> list[dict]:
    """The trials of every ablation row (:func:`ablation_rows_plan`), each once."""
    plan = [t for v, c, _ in ablation_rows_plan(settings, best, own) for t in planned_trials(settings, data, v, c)]
    return list({store.config_hash(t): t for t in plan}.values())


def _variants(settings: SearchSettings) -> list[str]:
    return list(dict.fromkeys([settings.search_variant, *settings.variants]))


def _run_trials(
    settings: SearchSettings,
    data: SearchData,
    identities: list[dict],
    done_before: int,
    total: int,
    callback: Callback | None,
    use_ray: bool,
) -> None:
    todo = [i for i in identities if (found := stored_trial(i)) is None or not _complete(found)]
    done = done_before + len(identities) - len(todo)
    stopped = "the search was stopped; finished trials are kept."
    if callback is not None and callback(done, total, {"stage": "trials"}):
        raise Interrupted(stopped)

    def keep(result: tuple[dict, dict]) -> dict:
        identity, record = result
        _store_trial(identity, record)
        return {"stage": "trials", **_short(identity, record)}

    def job_callback(index: int, done: int) -> Callback:
        label = _short(todo[index])
        return lambda epoch, epochs, record: callback(
            done, total, {"stage": "epoch", "epoch": epoch, "epochs": epochs, **label}
        )

    sweeps.sweep(
        _trial_job,
        [_arguments(settings, data, i) for i in todo] if use_ray else _LazyArguments(settings, data, todo),
        keep,
        use_ray=use_ray,
        cpus_per_job=settings.threads,
        callback=callback,
        done=done,
        total=total,
        job_callback=job_callback,
        stopped=stopped,
    )


def _short(identity: dict, record: dict | None = None) -> dict:
    c = identity["config"]
    out = {
        "variant": identity["variant"],
        "fold": "refit" if identity["fold"] == REFIT else identity["fold"] + 1,
        "config": f"{c['optimizer']} b{c['batch_size']} lr{c['learning_rate']:g}",
    }
    if record is not None:
        out["accuracy"] = round(record["accuracy"], 3)
    return out


def grid_table(settings: SearchSettings, data: SearchData, variant: str | None = None) -> list[dict[str, Any]]:
    """Mean and spread over folds of every configuration's metrics for ``variant`` (default: the searched
    one), finished trials only."""
    rows = []
    for config in settings.grid():
        found = [
            stored_trial(trial_identity(settings, data, config, f, variant or settings.search_variant))
            for f in range(settings.folds)
        ]
        done = [a.config for a in found if a is not None]
        row: dict[str, Any] = {**config, "folds_done": len(done)}
        for m in METRICS:
            values = np.array([d[m] for d in done], dtype=float)
            row[f"mean_{m}"] = float(values.mean()) if len(values) else None
            row[f"std_{m}"] = float(values.std()) if len(values) else None
        row["fold_accuracy"] = [d["accuracy"] for d in done]
        row["diverged"] = any(d.get("diverged") for d in done)
        row["degenerate"] = any(d.get("degenerate") for d in done)
        row["trials"] = [a.id for a in found if a is not None]
        rows.append(row)
    return rows


def best_configuration(table: list[dict[str, Any]]) -> dict[str, Any]:
    """The configuration with the highest mean cross-validated accuracy (the first on a tie)."""
    complete = [r for r in table if r["mean_accuracy"] is not None]
    best = max(complete, key=lambda r: r["mean_accuracy"])
    return {k: best[k] for k in ("optimizer", "batch_size", "learning_rate")}


OWN = ", its own best configuration"


def row_title(variant: str, own: bool) -> str:
    """An ablation row's title: the variant, and whether it sits at its own best configuration."""
    return models.VARIANT_TITLES[variant] + (OWN if own else "")


def _ablation_row(settings: SearchSettings, data: SearchData, config: dict, variant: str, own: bool) -> dict:
    folds = [stored_trial(trial_identity(settings, data, config, f, variant)) for f in range(settings.folds)]
    refits = [
        (s, found)
        for s in settings.refit_seeds()
        if (found := stored_trial(trial_identity(settings, data, config, REFIT, variant, s))) is not None
    ]
    accuracy = np.array([a.config["accuracy"] for a in folds if a is not None], dtype=float)
    one = len(settings.refit_seeds()) == 1
    row = {
        "variant": variant,
        "title": row_title(variant, own),
        "own": own,
        "config": config,
        "cv_accuracy": float(accuracy.mean()) if len(accuracy) else None,
        "cv_std": float(accuracy.std()) if len(accuracy) else None,
        "fold_accuracy": accuracy.tolist(),
        "trials": [a.id for a in folds if a is not None] + [a.id for _, a in refits],
        "trial_labels": [f"fold {f + 1}" for f, a in enumerate(folds) if a is not None]
        + ["refit" if one else f"refit, seed {s}" for s, _ in refits],
        "refits": [{"seed": s, "id": a.id, "accuracy": a.config["accuracy"]} for s, a in refits],
    }
    if variant == models.FINETUNED:  # how fast the backbone learnt, and how far it moved in each refit
        row["backbone_learning_rate"] = config["learning_rate"] * settings.backbone_lr_factor if config else None
        for entry, (_, a) in zip(row["refits"], refits, strict=True):
            entry["backbone_change"] = a.config.get("backbone_change")
    row.update({f"test_{m}": (float(np.mean([a.config[m] for _, a in refits])) if refits else None) for m in METRICS})
    row["degenerate"] = any(a.config.get("degenerate") for a in [*folds, *(a for _, a in refits)] if a is not None)
    correct = [a.config.get("test_correct") for _, a in refits]
    row["test_interval"] = None
    if refits and all(correct):
        if len(refits) == 1:
            row["test_interval"] = evidence.interval_over_examples(correct[0]).to_record()
        else:  # the spread over refit seeds; each seed's own interval over the test examples beside it
            accuracies = [a.config["accuracy"] for _, a in refits]
            row["test_interval"] = evidence.interval_over_seeds(accuracies, bounds=(0.0, 1.0)).to_record()
            for entry, values in zip(row["refits"], correct, strict=True):
                entry["interval"] = evidence.interval_over_examples(values).to_record()
        n = len(correct[0])
        row["detectable"] = evidence.detectable_difference(n, len(refits), row["test_accuracy"])
    elif refits:
        row["test_note"] = NO_PER_EXAMPLE
    return row


def ablation_table(
    settings: SearchSettings, data: SearchData, best: dict, own: dict[str, dict] | None = None
) -> list[dict[str, Any]]:
    """Per ablation row (:func:`ablation_rows_plan`): fold accuracies (mean, spread) at its configuration and its
    refits' test metrics (mean over the refit seeds, with the interval)."""
    return [_ablation_row(settings, data, c, v, o) for v, c, o in ablation_rows_plan(settings, best, own or {})]


def _refit_correct(row: dict) -> dict[int, np.ndarray]:
    """The per-example test correctness of an ablation row's refits, by seed (empty: none stored with it)."""
    refits = row.get("refits")
    if refits is None:  # a row stored before refits had seeds: its one refit
        labels = row.get("trial_labels", [])
        refits = [{"seed": None, "id": row["trials"][labels.index("refit")]}] if "refit" in labels else []
    found = {}
    for entry in refits:
        trial = store.load(TRIALS, entry["id"])
        correct = trial.config.get("test_correct") if trial is not None else None
        if correct:
            found[entry["seed"]] = np.asarray(correct)
    return found


def _paired(a: dict[int, np.ndarray], b: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Two rows' test correctness on the refit seeds both have, stacked (seeds, examples); None: no seed shared."""
    seeds = [s for s in a if s in b]
    if not seeds:
        return None
    return np.stack([a[s] for s in seeds]), np.stack([b[s] for s in seeds])


def _row_key(row: dict) -> tuple[str, bool]:
    return row["variant"], row.get("own", "own" in row["title"])


def ablation_evidence(rows: list[dict]) -> list[dict[str, Any]]:
    """The hybrid with pretrained text layers against the control (random text layers) and the vision model
    alone: on the test split, paired on the same test examples (:func:`core.evidence.compare_paired`), and over
    the cross-validation folds, paired by fold (:func:`core.evidence.compare_folds`); on several refit seeds the
    test comparison pairs every seed's run of each test example. Each entry has its verdict and sentence; a refit
    stored without per-example results says so."""
    by = {_row_key(r): r for r in rows}
    hybrid = by.get(("pretrained-text", False))
    if hybrid is None:
        return []
    found = []
    for key, what in (
        (("random-text", True), "the same hybrid with random text layers, tuned on its own grid (the control)"),
        (("random-text", False), "the same hybrid with random text layers (the control: text knowledge or depth?)"),
        (("vision", True), "the vision model alone at its own best configuration"),
        (("vision", False), "the vision model alone at the hybrid's configuration (not tuned for it)"),
        (
            (models.FINETUNED, False),
            "the vision model fine-tuned end to end (the original model, most likely the paper's reference)",
        ),
    ):
        other = by.get(key)
        if other is None:
            continue
        entry: dict[str, Any] = {"a": hybrid["title"], "b": other["title"], "against": what}
        paired = _paired(_refit_correct(hybrid), _refit_correct(other))
        label = f"hybrid − {other['title']}, test accuracy"
        if paired is None:
            entry["test"] = {"note": NO_PER_EXAMPLE, "sentence": f"{label}: {NO_PER_EXAMPLE}."}
        else:
            entry["test"] = evidence.compare_paired(*paired, claim="greater", what=label).to_record()
            entry["test"]["seeds"] = len(paired[0])
            entry["gain"] = gain(entry["test"]["difference"]["estimate"], other.get("test_accuracy"))
        gains = np.array(hybrid["fold_accuracy"]) - np.array(other["fold_accuracy"])
        if len(gains) and len(hybrid["fold_accuracy"]) == len(other["fold_accuracy"]):
            what_cv = f"hybrid − {other['title']}, median CV accuracy gain"
            entry["cv"] = evidence.compare_folds(gains, claim="greater", what=what_cv).to_record()
        found.append(entry)
    return found


def gain(difference: float | None, reference: float | None) -> dict[str, float] | None:
    """The hybrid's gain over a reference both ways the paper's "+12.8 %" could mean: in points of accuracy and
    relative to the reference's accuracy (None: no difference, or a reference of 0)."""
    if difference is None or not reference:
        return None
    return {"points": 100 * difference, "relative": difference / reference, "reference": reference}


def gain_text(found: dict[str, float] | None) -> str:
    """A gain (:func:`gain`) in words: "+3.1 points (+4.2 % relative to its 0.741)"."""
    if found is None:
        return "no gain to state (no paired test result)"
    return f"{found['points']:+.1f} points ({100 * found['relative']:+.1f} % relative to its {found['reference']:.3f})"


def comparison_gains(config: dict) -> list[tuple[str, str]]:
    """Each comparison's gain in points and relative to the other side, as (the other side, the gain in words):
    the ablation's comparisons, then the one against the linear probe; a search stored before gains were kept
    gets them from its rows."""
    accuracy = {r["title"]: r.get("test_accuracy") for r in config["ablation"]}
    found = []
    for entry in config.get("comparisons") or ablation_evidence(config["ablation"]):
        estimate = entry["test"].get("difference", {}).get("estimate")
        found.append((entry["b"], gain_text(entry.get("gain") or gain(estimate, accuracy.get(entry["b"])))))
    probe = config.get("linear_probe") or {}
    if "hybrid_against_probe" in probe:
        estimate = probe["hybrid_against_probe"]["difference"]["estimate"]
        found.append((probe["title"], gain_text(gain(estimate, probe["test_accuracy"]))))
    return found


READOUTS = {"cls": "[CLS] vectors", "mean-pool": "pooled vectors (LayerNorm of the patch tokens' mean)"}
"""What the vision model alone and the linear probe read, by the vision model's readout."""
PROBE_ITERATIONS = 5000
UNDER_TRAINED = 0.05
"""A vision-alone head this far (5 points) or more below the linear probe's test accuracy is flagged."""


def linear_probe(data: SearchData, rows: list[dict]) -> dict[str, Any]:
    """The converged reference for the vision model alone: scikit-learn's LogisticRegression (L-BFGS, after
    standardising, ``max_iter`` 5,000, seed 0) on the same frozen vectors the vision head reads (the model's own
    readout: [CLS], or BEiT's pooler), fitted on
    the whole pool and measured on the same test split; each vision-alone row is compared with it (paired) and
    flagged "under-trained" when its test accuracy falls more than 5 points below."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pool = data.vision_inputs("pool")[:, 0].numpy()
    test = data.vision_inputs("test")[:, 0].numpy()
    classifier = LogisticRegression(max_iter=PROBE_ITERATIONS, random_state=0)
    probe = make_pipeline(StandardScaler(), classifier).fit(pool, data.pool_labels)
    correct = (probe.predict(test) == data.test_labels).astype(int)
    iterations = int(np.max(classifier.n_iter_))
    found: dict[str, Any] = {
        "title": f"linear probe on the frozen {READOUTS[data.readout]} (logistic regression, converged)",
        "test_accuracy": float(correct.mean()),
        "test_correct": correct.tolist(),
        "test_interval": evidence.interval_over_examples(correct).to_record(),
        "iterations": iterations,
        "converged": iterations < PROBE_ITERATIONS,
        "vision_rows": [],
    }
    for row in rows:
        if row["variant"] != "vision" or row["test_accuracy"] is None:
            continue
        gap = found["test_accuracy"] - row["test_accuracy"]
        entry: dict[str, Any] = {"title": row["title"], "gap": gap, "under_trained": gap > UNDER_TRAINED}
        mine = _refit_correct(row)
        if mine:
            what = f"linear probe − {row['title']}, test accuracy"
            seeds = np.stack(list(mine.values()))
            probe_runs = np.tile(correct, (len(seeds), 1))  # one deterministic fit, paired with every seed
            entry["comparison"] = evidence.compare_paired(probe_runs, seeds, claim="greater", what=what).to_record()
        found["vision_rows"].append(entry)
    found["under_trained"] = [e["title"] for e in found["vision_rows"] if e["under_trained"]]
    hybrid = next((r for r in rows if _row_key(r) == ("pretrained-text", False)), None)
    mine = _refit_correct(hybrid) if hybrid is not None else {}
    if mine:  # the hybrid against the converged vision-alone reference, paired on the test images and seeds
        seeds = np.stack(list(mine.values()))
        what = f"{hybrid['title']} − the linear probe on the vision model's frozen [CLS] vectors, test accuracy"
        comparison = evidence.compare_paired(seeds, np.tile(correct, (len(seeds), 1)), claim="greater", what=what)
        found["hybrid_against_probe"] = comparison.to_record() | {"seeds": len(seeds)}
    return found


def references(data: SearchData) -> dict[str, float]:
    """What a classifier must beat: chance (1 / classes) and the test split's majority-class share."""
    counts = np.bincount(data.test_labels, minlength=len(data.images.class_names))
    return {"chance": 1.0 / len(counts), "majority": float(counts.max() / counts.sum())}


def run_search(
    settings: SearchSettings,
    progress: Callable[[str], Callback | None] = jobs.no_progress,
    callback: Callback | None = None,
    use_ray: bool = False,
) -> Artifact:
    """Run (or resume) the whole search: the grid, then the ablation at its best configuration; returns the
    summary artifact (``hybrid-searches``). ``callback(done, total, info)`` after every trial (and epoch when
    sequential); True stops (:class:`core.errors.Interrupted`; finished trials are kept)."""
    settings.check()
    record = settings.record()
    started = time.perf_counter()
    data = prepare(settings, progress("Encoding images with the frozen vision model"))
    key = jobs.record_pending(PENDING, record)  # only a search whose data loaded is offered for resuming
    tuned = settings.tuned()
    grids = {v: planned_trials(settings, data, v) for v in [settings.search_variant, *tuned]}
    searching = [t for trials in grids.values() for t in trials]
    rows_expected = len(ablation_rows_plan(settings, {}, {v: {} for v in tuned}))
    total = len(searching) + rows_expected * (settings.folds + settings.refits)  # at most: rows may share trials
    _run_trials(settings, data, searching, 0, total, callback, use_ray)
    tables = {v: grid_table(settings, data, v) for v in grids}
    table = tables[settings.search_variant]
    best = best_configuration(table)
    own = {v: best_configuration(tables[v]) for v in tuned}
    searched = {store.config_hash(t) for t in searching}
    ablation = [t for t in ablation_plan(settings, data, best, own) if store.config_hash(t) not in searched]
    total = len(searching) + len(ablation)
    _run_trials(settings, data, ablation, len(searching), total, callback, use_ray)
    ablation_rows = ablation_table(settings, data, best, own)
    vision_table = tables.get("vision") if "vision" in tuned else None
    vision_best = own.get("vision")
    comparisons = ablation_evidence(ablation_rows)
    probe = linear_probe(data, ablation_rows)
    n_classes = len(data.images.class_names)
    summary = {
        "settings": record,
        "best": best,
        "grid": table,
        "vision_grid": vision_table,
        "vision_best": vision_best,
        "grids": {v: t for v, t in tables.items() if v != settings.search_variant},
        "bests": own,
        "ablation": ablation_rows,
        "comparisons": comparisons,
        "linear_probe": probe,
        "references": references(data),
        "classes": list(data.images.class_names),
        "pool": len(data.pool_labels),
        "test": len(data.test_labels),
        "n_classes": n_classes,
        "tokens": data.tokens_id,
        "vision_note": data.vision_note,
        "trials": total,
        "seconds": time.perf_counter() - started,  # this run's (a resumed search: the resumed part)
        "ray": use_ray,
        **store.provenance(),
    }

    def build(artifact_id: str):
        return summary, lambda folder: None

    found = jobs.build_or_load(SEARCHES, record, build, force=True)
    jobs.clear_pending(PENDING, key)
    return found


def list_searches() -> list[Artifact]:
    """Finished searches, newest first."""
    return store.list_artifacts(SEARCHES)


def search_label(artifact: Artifact) -> str:
    s = from_record(SearchSettings, artifact.config["settings"])
    best = artifact.config["best"]
    return (
        f"{s.imageset} · {s.vision} + {s.text} ({s.text_layers or 'all'} layers, {s.wiring}) · "
        f"{len(s.grid())} configurations x {s.folds} folds · best {best['optimizer']} b{best['batch_size']} "
        f"lr {best['learning_rate']:g}{' · fine-tuned reference' if s.finetuned_reference else ''} · {artifact.id}"
    )


def trial_history(trial_id: str) -> list[dict] | None:
    found = store.load(TRIALS, trial_id)
    return found.config["history"] if found is not None else None


def pending_searches() -> list[tuple[str, SearchSettings]]:
    return [(key, from_record(SearchSettings, record)) for key, record in jobs.list_pending(PENDING)]


def parse_values(text: str, kind: type, what: str) -> tuple:
    """Grid values typed as a comma- or space-separated list (``"16, 32"``, ``"1e-4 1e-3"``), each checked."""
    parts = [p for p in str(text).replace(",", " ").split() if p]
    if not parts:
        raise ValueError(f"{what}: give at least one value, e.g. {'16, 32' if kind is int else '1e-4, 1e-3'}.")
    values = []
    for part in parts:
        try:
            value = kind(part) if kind is float else int(float(part))
            if kind is int and float(part) != int(float(part)):
                raise ValueError
        except ValueError:
            kind_name = "whole number" if kind is int else "number"
            raise ValueError(f"{what}: {part!r} is not a {kind_name}.") from None
        values.append(value)
    return tuple(values)
