"""Named presets of text -> image: a whole run (corpus, encoder, layout, split, training) in one action.

- ``workshop``: a demo that learns, on two CPU cores in a few minutes: the offline Rotten Tomatoes
  snippets, all-MiniLM-L6-v2 read through its mean-pooled vectors (what it was trained for), every
  layer, the lab's layout, EfficientNet-Lite0's packaged ImageNet slice computed once, and the
  logistic-regression baseline on the same split to read it against.
- ``paper``: Benarab 2021's settings where the lab has them: bert-base-uncased (online), the [CLS]
  vector of ``hidden_states[6:12]``, the layout fitted on every row (the paper's leak), 15 epochs of
  batch 32 with per-batch z-normalisation. Its backbones are the paper's five (online); offline,
  choose one of the packaged ones.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core import corpora, jobs
from core.layout import DEFAULTS as LAYOUT_DEFAULTS
from core.store import Artifact, Callback
from core.text_to_image import jobs as t2i_jobs
from core.text_to_image import training
from core.text_to_image.training import TrainSettings


@dataclass(frozen=True)
class RunPreset:
    """Everything a run from a corpus to a trained model needs."""

    name: str
    title: str
    corpus: str = "rotten_tomatoes"
    n: int | None = 3000
    corpus_seed: int = 0
    encoder: str = "all-MiniLM-L6-v2"
    pooling: str = "mean"
    layers: tuple[int, ...] | None = None
    layout: dict[str, Any] = field(default_factory=lambda: asdict(LAYOUT_DEFAULTS))
    test_size: float = 0.2
    split_seed: int = 42
    fit_on: str = "train"
    train: TrainSettings = TrainSettings()
    note: str = ""


WORKSHOP = RunPreset(
    "workshop",
    "Workshop demo",
    train=TrainSettings("efficientnet_lite0", epochs=15, batch_size=32),
    note="3,000 Rotten Tomatoes snippets, all-MiniLM-L6-v2 mean-pooled, EfficientNet-Lite0's frozen ImageNet slice",
)
PAPER = RunPreset(
    "paper",
    "The paper's settings (Benarab 2021)",
    n=None,
    encoder="bert-base-uncased",
    pooling="cls",
    layers=(6, 7, 8, 9, 10, 11),
    fit_on="all",
    train=TrainSettings("alexnet", epochs=15, batch_size=32, normalise="batch"),
    note="bert-base-uncased [CLS] of hidden_states[6:12], layout fitted on all rows, per-batch z-normalisation, "
    "15 epochs of batch 32; needs internet for bert-base and the paper's backbones",
)
PRESETS = {preset.name: preset for preset in (WORKSHOP, PAPER)}


def preset(name: str, **changes: Any) -> RunPreset:
    """A named preset, with some settings changed (``n``, ``encoder``, ``train`` ...)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; the presets are {', '.join(PRESETS)}.")
    return replace(PRESETS[name], **{k: v for k, v in changes.items() if v is not None})


@dataclass
class RunOutcome:
    """What a preset run made, with the references to read its accuracy against."""

    dataset: Artifact
    model: Artifact
    baseline: Artifact
    seconds: float

    def summary(self) -> dict[str, Any]:
        from core.text_to_image import results

        ref, check = results.reference(self.dataset), results.check_predictions(self.model)
        found = {
            "dataset": self.dataset.id,
            "model": self.model.id,
            "status": self.model.config["status"],
            "accuracy": self.model.config["metrics"]["accuracy"],
            "best_epoch": self.model.config["best_epoch"],
            "logistic_regression_accuracy": self.baseline.config["metrics"]["accuracy"],
            "majority_class_rate": ref.majority_rate,
            "chance": ref.chance,
            "seconds": round(self.seconds, 1),
        }
        if check.degenerate:
            found["warning"] = check.message()
        return found


def run(chosen: RunPreset, progress: jobs.Progress = jobs.no_progress, callback: Callback | None = None) -> RunOutcome:
    """Build the preset's dataset, fit the baseline and train its model (each step reused when done before).

    ``progress(label)`` draws the dataset build; ``callback(epoch, epochs, metrics)`` follows training and
    may return True to stop it (the best epoch so far is kept; running the preset again resumes).
    """
    started = time.perf_counter()
    corpus = corpora.load_corpus(chosen.corpus, n=chosen.n, seed=chosen.corpus_seed)
    dataset = t2i_jobs.build_dataset(
        corpus,
        chosen.encoder,
        list(chosen.layers) if chosen.layers else None,
        chosen.pooling,
        dict(chosen.layout),
        chosen.test_size,
        chosen.split_seed,
        chosen.fit_on,
        progress,
    )
    baseline = training.logistic_baseline(dataset)
    model = training.train_model(dataset, chosen.train, callback)
    return RunOutcome(dataset, model, baseline, time.perf_counter() - started)


def describe(chosen: RunPreset) -> str:
    """One line that says what the preset runs."""
    t = chosen.train
    return (
        f"{chosen.title}: {chosen.corpus} ({'all' if chosen.n is None else f'{chosen.n:,}'} texts), {chosen.encoder} "
        f"{chosen.pooling}-pooled, layout fitted on {'the training rows' if chosen.fit_on == 'train' else 'all rows'}, "
        f"{t.backbone} ({'frozen' if not t.finetune else 'fine-tuned'}), {t.epochs} epochs of batch {t.batch_size}, "
        f"normalised per {'batch' if t.normalise == 'batch' else 'training split'}."
    )
