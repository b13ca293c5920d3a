"""Named presets of text -> image: a whole run (corpus, encoder, layout, split, training) in one action.

- ``workshop``: a demo that learns, on two CPU cores in a few minutes: the offline Rotten Tomatoes
  snippets, all-MiniLM-L6-v2 read through its mean-pooled vectors (what it was trained for), every
  layer, the lab's layout, EfficientNet-Lite0's packaged ImageNet slice computed once, and the
  logistic-regression baseline on the same split to read it against.
- ``paper``: Benarab 2021 as its public code ran it: IMDB's 50,000 reviews, bert-base-uncased's
  [CLS] vectors of ``hidden_states[6:12]``, pyDeepInsight's 2021 LogScaler, scikit-learn t-SNE with
  its defaults on the raw scaled features, the 2021 rotation and binning, the layout fitted on every
  row (the paper's leak), torch's ``random_split`` 80/20 after seed 42, the original new layers
  (:mod:`core.text_to_image.classifiers`, style ``paper``) on AlexNet's V1 ImageNet slice, 15 epochs
  of batch 32 with per-batch z-normalisation and the last epoch kept. Needs the internet (IMDB,
  bert-base, torchvision's weights).
- ``paper-offline``: the same settings with the three online inputs replaced by packaged ones
  (Rotten Tomatoes snippets, all-MiniLM-L6-v2's [CLS] vectors of its six layers, EfficientNet-Lite0's
  slice); :data:`SUBSTITUTIONS` says which.

:func:`differences` lists every setting in which the lab's preset differs from the paper's, with the
reason; docs/presets.md is generated from it (``python -m core t2i-preset-differences``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from core import corpora, jobs
from core.calibration import Calibration
from core.layout import DEFAULTS as LAYOUT_DEFAULTS
from core.store import Artifact, Callback
from core.text_to_image import jobs as t2i_jobs
from core.text_to_image import training
from core.text_to_image.datasets import DatasetSettings
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
    split: str = "stratified"
    fit_on: str = "train"
    train: TrainSettings = TrainSettings()
    note: str = ""

    def dataset_settings(self) -> DatasetSettings:
        """How the preset turns its corpus into an image dataset."""
        return DatasetSettings(
            layers=tuple(self.layers) if self.layers else None,
            pooling=self.pooling,
            layout=dict(self.layout),
            test_size=self.test_size,
            seed=self.split_seed,
            fit_on=self.fit_on,
            split=self.split,
        )


PAPER_LAYOUT: dict[str, Any] = {
    **asdict(LAYOUT_DEFAULTS),
    "method": "sklearn_tsne",
    "pixels": 50,
    "discretization": "digitize",
    "rotation": "pydeepinsight2021",
    "scaler": "norm2",
    "reduce_dim": None,
    "metric": "euclidean",
    "perplexity": 30.0,
    "early_exaggeration_iter": 250,
    "n_iter": 750,
    "random_state": 1701,
}
"""The paper code's layout: LogScaler ``log(x + |min| + 1) / max``, scikit-learn TSNE with its defaults
(euclidean, perplexity 30, 1,000 iterations, random_state 1701) on the raw scaled features, the 2021
rotation and ``np.digitize`` binning on 50 x 50 pixels."""


def layout_base(name: str) -> dict[str, Any]:
    """The layout settings a form starts from: ``lab`` (the lab's defaults) or ``paper`` (:data:`PAPER_LAYOUT`)."""
    if name not in ("lab", "paper"):
        raise ValueError(f"layout base must be 'lab' or 'paper', got {name!r}.")
    return dict(PAPER_LAYOUT) if name == "paper" else asdict(LAYOUT_DEFAULTS)


WORKSHOP = RunPreset(
    "workshop",
    "Workshop demo",
    train=TrainSettings(backbone="efficientnet_lite0", epochs=15, batch_size=32),
    note="3,000 Rotten Tomatoes snippets, all-MiniLM-L6-v2 mean-pooled, EfficientNet-Lite0's frozen ImageNet slice",
)
PAPER = RunPreset(
    "paper",
    "The paper's exact settings (Benarab 2021)",
    corpus="imdb",
    n=None,
    encoder="bert-base-uncased",
    pooling="cls",
    layers=(6, 7, 8, 9, 10, 11),
    layout=PAPER_LAYOUT,
    split="random_split",
    fit_on="all",
    train=TrainSettings(backbone="alexnet", epochs=15, batch_size=32, validation=0.0, normalise="batch", style="paper"),
    note="IMDB 50k, bert-base-uncased [CLS] of hidden_states[6:12], the 2021 pyDeepInsight layout fitted on all "
    "rows, the original new layers on AlexNet's V1 slice, per-batch z-normalisation, 15 epochs of batch 32, the last "
    "epoch kept; needs the internet",
)
SUBSTITUTIONS = {
    "corpus": ("imdb", "rotten_tomatoes", "IMDB needs the hub; the Rotten Tomatoes snippets ship with the lab"),
    "n": (None, 3000, "3,000 texts keep the run within minutes on two CPU cores"),
    "encoder": (
        "bert-base-uncased",
        "all-MiniLM-L6-v2",
        "bert-base needs the hub; all-MiniLM-L6-v2 is a packaged BertModel with bert-base's vocabulary",
    ),
    "layers": ((6, 7, 8, 9, 10, 11), (-6, -5, -4, -3, -2, -1), "all-MiniLM-L6-v2 has six layers: all of them"),
    "train.backbone": (
        "alexnet",
        "efficientnet_lite0",
        "AlexNet's weights are torchvision's download; EfficientNet-Lite0's ship in a package",
    ),
}
"""What ``paper-offline`` replaces: setting -> (the paper's, the offline stand-in, why)."""
PAPER_OFFLINE = replace(
    PAPER,
    name="paper-offline",
    title="The paper's settings, offline stand-ins (Benarab 2021)",
    corpus="rotten_tomatoes",
    n=3000,
    encoder="all-MiniLM-L6-v2",
    layers=(-6, -5, -4, -3, -2, -1),
    train=replace(PAPER.train, backbone="efficientnet_lite0"),
    note="the paper's layout, split and training, with packaged stand-ins for its online inputs: Rotten Tomatoes "
    "(3,000 snippets), all-MiniLM-L6-v2's [CLS] of its six layers, EfficientNet-Lite0's slice",
)
PRESETS = {preset.name: preset for preset in (WORKSHOP, PAPER, PAPER_OFFLINE)}


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
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds each stage took: ``dataset`` (embedding, layout, images), ``baseline``, ``training``; a stage
    found done before takes about none."""

    def summary(self) -> dict[str, Any]:
        from core.text_to_image import calibration, results

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
            "stage_seconds": {k: round(v, 1) for k, v in self.stages.items()},
            "calibration": calibration.summary(self.model),
        }
        fitted = calibration.model_calibration(self.model)
        warnings = [check.message() if check.degenerate else ""]
        warnings.append(fitted.message() if isinstance(fitted, Calibration) else "")
        if any(warnings):
            found["warning"] = " ".join(w for w in warnings if w)
        return found


def run(
    chosen: RunPreset,
    progress: jobs.Progress = jobs.no_progress,
    callback: Callback | None = None,
    before_training: Callable[[Artifact], None] | None = None,
) -> RunOutcome:
    """Build the preset's dataset, fit the baseline and train its model (each step reused when done before).

    ``progress(label)`` draws the dataset build; ``callback(epoch, epochs, metrics)`` follows training and
    may return True to stop it (the best epoch so far is kept; running the preset again resumes);
    ``before_training(dataset)`` is called once the dataset and its baseline exist (a live view draws their
    reference lines from it).
    """
    started = stage = time.perf_counter()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal stage
        now = time.perf_counter()
        stages[name], stage = now - stage, now

    corpus = corpora.load_corpus(chosen.corpus, n=chosen.n, seed=chosen.corpus_seed)
    dataset = t2i_jobs.build_dataset(corpus, chosen.encoder, chosen.dataset_settings(), progress=progress)
    lap("dataset")
    baseline = training.logistic_baseline(dataset)
    lap("baseline")
    if before_training is not None:
        before_training(dataset)
    model = training.train_model(dataset, chosen.train, callback)
    lap("training")
    return RunOutcome(dataset, model, baseline, time.perf_counter() - started, stages)


MEASURED = {
    # preset: (texts, seconds building the dataset, baseline seconds, training's one-off seconds (the model and the
    # frozen slice's pass over the images), seconds per epoch): `python -m core t2i-preset workshop` from an empty
    # store on the two-core machine, 2026-12-04 (3 min 21 s in all; docs/benchmarks.md, E3)
    "workshop": (3000, 25.5, 1.5, 23.8, 10.0),
}
"""What each preset's stages took here, to say before a run how long it should take."""


def expected_seconds(chosen: RunPreset) -> float | None:
    """How long ``chosen`` should take from an empty store on two quiet CPU cores: its measured stages scaled by
    its texts (every stage) and its epochs (training); None for a preset never measured here."""
    if chosen.name not in MEASURED:
        return None
    texts, build, baseline, once, per_epoch = MEASURED[chosen.name]
    share = (chosen.n or texts) / texts
    return share * (build + baseline + once + per_epoch * chosen.train.epochs)


def duration(seconds: float) -> str:
    """``4 min 54 s`` / ``12 s``."""
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def describe(chosen: RunPreset) -> str:
    """One line that says what the preset runs."""
    t = chosen.train
    return (
        f"{chosen.title}: {chosen.corpus} ({'all' if chosen.n is None else f'{chosen.n:,}'} texts), {chosen.encoder} "
        f"{chosen.pooling}-pooled, layout fitted on {'the training rows' if chosen.fit_on == 'train' else 'all rows'}, "
        f"{t.backbone} ({'frozen' if not t.finetune else 'fine-tuned'}), {t.epochs} epochs of batch {t.batch_size}, "
        f"normalised per {'batch' if t.normalise == 'batch' else 'training split'}, "
        f"{'the paper' if t.style == 'paper' else 'the lab'}'s new layers."
    )


STYLE_DETAILS = {
    "blocks": {"lab": "Conv → BatchNorm → ReLU", "paper": "Conv → ReLU → BatchNorm"},
    "conv dropout": {
        "lab": "none",
        "paper": "after the first three blocks: 0.2 Wide-ResNet50-2; 0.05 ResNeXt50, ShuffleNetV2, VGG16; none AlexNet",
    },
    "head dropout": {
        "lab": "after every hidden layer: 0.2 Wide-ResNet50-2, 0.05 ResNeXt50, none otherwise",
        "paper": "0.3 twice (before AlexNet's first two linears; after the others' first two hidden layers)",
    },
    "initialisation": {"lab": "PyTorch's defaults", "paper": "Xavier (normal for convs, uniform with ReLU gain)"},
    "slice BatchNorm": {
        "lab": "eval mode: ImageNet's statistics",
        "paper": "follows the model: batch statistics while training",
    },
    "torchvision weights": {"lab": "DEFAULT (V2 for Wide-ResNet50-2, ResNeXt50)", "paper": "IMAGENET1K_V1"},
}
"""What a classifier style means, setting by setting (see :mod:`core.text_to_image.classifiers`)."""

WHY = {
    "corpus": "IMDB needs the hub; the lab's demo runs offline on the packaged Rotten Tomatoes snippets",
    "n": "a few thousand texts train in minutes on a laptop",
    "encoder": "all-MiniLM-L6-v2 ships in a package (offline) and is trained for sentence vectors",
    "pooling": "all-MiniLM-L6-v2 was trained to give mean-pooled sentence vectors, not [CLS] ones",
    "layers": "all six of MiniLM's layers (the paper's indices 6..11 need a 12-layer model)",
    "layout.method": "openTSNE on exact neighbours: 9x faster than pyDeepInsight's scikit-learn t-SNE on 2,304 "
    "features at equal trustworthiness (docs/benchmarks.md, A)",
    "layout.discretization": "the 2021 digitize leaves the last row and column nearly empty; floor binning does not",
    "layout.rotation": "every hull edge tried, each the right way round, gives the minimum box; the 2021 code rotated "
    "by +angle (not -angle) and skipped the hull's closing edge",
    "layout.scaler": "DeepInsight's norm-2 as its paper defines it; the 2021 code's +|min| differs for positive minima",
    "layout.reduce_dim": "PCA to 50 first: the same neighbours in a fraction of the time",
    "layout.metric": "cosine is the usual distance between embedding features",
    "layout.early_exaggeration_iter": "100 + 150 iterations from a PCA start reach the same trustworthiness",
    "layout.n_iter": "100 + 150 iterations from a PCA start reach the same trustworthiness",
    "split": "a stratified split keeps the class shares equal in both parts",
    "fit_on": "the layout sees only the training rows: no test-set leak",
    "train.backbone": "EfficientNet-Lite0's ImageNet weights ship in a package (offline)",
    "train.validation": "a tenth of the training split chooses the best epoch; the test split chooses nothing",
    "train.normalise": "the training split's mean and std: a prediction does not depend on its batch, and a frozen "
    "slice's outputs are computed once (6x faster per epoch)",
    "train.style": "the lab's new layers (below)",
    "new layers: blocks": "the usual order (BatchNorm normalises the conv's output, then ReLU)",
    "new layers: conv dropout": "the lab's choice, not tuned against the paper's (run both presets to compare)",
    "new layers: head dropout": "the lab's choice, not tuned against the paper's (run both presets to compare)",
    "new layers: initialisation": "the lab's choice, not tuned against the paper's (run both presets to compare)",
    "new layers: slice BatchNorm": "a frozen slice keeps ImageNet's statistics: a prediction does not depend on "
    "its batch, and the slice's outputs can be computed once",
    "new layers: torchvision weights": "torchvision's better weights today (ImageNet top-1 81.6 vs 78.5% for "
    "Wide-ResNet50-2, 81.2 vs 77.6% for ResNeXt50)",
}
"""Why the lab's preset differs from the paper's, setting by setting."""


def flatten(chosen: RunPreset) -> dict[str, Any]:
    """A preset's settings as one flat mapping (``layout.*`` and ``train.*`` for the nested ones)."""
    record = asdict(chosen)
    flat = {k: v for k, v in record.items() if k not in ("layout", "train", "name", "title", "note")}
    flat.update({f"layout.{k}": v for k, v in record["layout"].items() if k != "n_jobs"})
    flat.update({f"train.{k}": v for k, v in record["train"].items() if k != "device"})
    return flat


def differences(lab: RunPreset = WORKSHOP, paper: RunPreset = PAPER) -> list[dict[str, str]]:
    """Every setting in which ``lab`` differs from ``paper`` (read from the two presets), with the reason,
    followed by what their classifier styles mean where they differ."""
    ours, theirs = flatten(lab), flatten(paper)
    rows = [
        {
            "setting": key,
            "paper": show_value(theirs[key], key),
            "lab": show_value(ours[key], key),
            "why": WHY.get(key, ""),
        }
        for key in theirs
        if ours.get(key) != theirs[key]
    ]
    if lab.train.style != paper.train.style:
        for name, by_style in STYLE_DETAILS.items():
            rows.append(
                {
                    "setting": f"new layers: {name}",
                    "paper": by_style[paper.train.style],
                    "lab": by_style[lab.train.style],
                    "why": WHY[f"new layers: {name}"],
                }
            )
    return rows


_NONE_MEANS = {"n": "all", "layers": "the encoder's default", "layout.reduce_dim": "off"}


def show_value(value: Any, key: str = "") -> str:
    """A setting as the tables show it (None as what it means for that setting)."""
    if value is None:
        return _NONE_MEANS.get(key, "none")
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def differences_markdown(lab: RunPreset = WORKSHOP, paper: RunPreset = PAPER) -> str:
    """:func:`differences` as a Markdown table (what docs/presets.md holds)."""
    lines = [
        f"# {lab.title} vs {paper.title}",
        "",
        "Generated by `python -m core t2i-preset-differences` from the two presets' settings "
        "(`core/text_to_image/presets.py`); do not edit by hand.",
        "",
        "| setting | the paper's code | the lab's preset | why the lab differs |",
        "|---|---|---|---|",
    ]
    for row in differences(lab, paper):
        lines.append("| " + " | ".join(_cell(row[k]) for k in ("setting", "paper", "lab", "why")) + " |")
    lines += [
        "",
        "`paper-offline` runs the paper's settings with packaged stand-ins for its online inputs:",
        "",
        "| setting | the paper's | offline stand-in | why |",
        "|---|---|---|---|",
    ]
    for key, (theirs, stand_in, why) in SUBSTITUTIONS.items():
        lines.append(
            "| " + " | ".join(_cell(v) for v in (key, show_value(theirs, key), show_value(stand_in, key), why)) + " |"
        )
    return "\n".join(lines) + "\n"
