"""The settings of a leave-one-out study (images -> words): one frozen dataclass, its defaults, and the presets.

:class:`StudySettings` holds the user's choices; :func:`core.images_to_words.loo.study_config` turns them and an
image set into the study's config (what its id is the hash of).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.imagesets import IMAGESETS
from core.wordvectors import WORD_MODES

LOSSES = ("mse", "cosine")


@dataclass(frozen=True)
class StudySettings:
    """A leave-one-out study's settings: the paper's (25 epochs, full width, MSE, the best word per
    class) by default, with our optimiser choice (Adam, lr 1e-3, batch 128). Pages and the CLI read
    their defaults from here.

    Attributes:
        imageset: ``fashion_mnist`` (offline), ``cifar100`` (online) or ``folder``.
        path: the image folder (``folder``) or a data folder.
        classes: the classes to leave out in turn (None: all).
        per_class: training images per class (None: all).
        epochs: passes over the trained classes' images per fold.
        width: SimpNet width multiplier (1.0 = the ~5.4M-parameter body).
        batch_size: images per step.
        lr: Adam's learning rate.
        seed: the study seed (each fold's seed is ``seed * 1000 + class index``).
        loss: ``mse`` (the paper) or ``cosine``.
        words: ``best`` (one word per class, the paper) or ``average`` (the mean of the name's words).
        table: a class-name table (a CSV path or a packaged table's name; None: the image set's own).
        threads: CPU threads per fold (None: torch's current count); recorded in the study.
        shuffled_control: also train every fold with the trained classes' words permuted (the
            shuffled-words control; twice the cost; not part of the study's id).
    """

    imageset: str = "fashion_mnist"
    path: str | None = None
    classes: tuple[str, ...] | None = None
    per_class: int | None = None
    epochs: int = 25
    width: float = 1.0
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    loss: str = "mse"
    words: str = "best"
    table: str | None = None
    threads: int | None = None
    shuffled_control: bool = False

    def check(self) -> None:
        """Raise ``ValueError`` naming the first invalid value."""
        if self.imageset not in IMAGESETS:
            raise ValueError(f"unknown image set {self.imageset!r}; choose one of {', '.join(IMAGESETS)}.")
        if self.classes is not None and not all(isinstance(c, str) for c in self.classes):
            raise ValueError(f"classes must be class names, got {list(self.classes)}.")
        if self.per_class is not None and (not _whole(self.per_class) or self.per_class < 1):
            raise ValueError(f"per_class must be a positive whole number or None (all), got {self.per_class}.")
        if not _whole(self.epochs) or self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}.")
        if not self.width > 0:
            raise ValueError(f"width must be positive, got {self.width}.")
        if not _whole(self.batch_size) or self.batch_size < 2:
            raise ValueError(f"batch size must be at least 2, got {self.batch_size}.")
        if not self.lr > 0:
            raise ValueError(f"the learning rate must be positive, got {self.lr}.")
        if not _whole(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a whole number of at least 0, got {self.seed}.")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        if self.words not in WORD_MODES:
            raise ValueError(f"words must be one of {WORD_MODES}, got {self.words!r}.")
        if self.threads is not None and (not _whole(self.threads) or self.threads < 1):
            raise ValueError(f"threads must be at least 1 (or None: torch's current count), got {self.threads}.")


def _whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


DEFAULTS = StudySettings()

LAPTOP = StudySettings(epochs=5, width=0.25, per_class=1000)
"""The laptop study: Fashion-MNIST, all 10 classes, quarter width, 1,000 training images per class, 5 epochs
(sized for about half an hour on two CPU cores; docs/benchmarks.md has the measured time)."""

PAPER = StudySettings(imageset="cifar100")
"""The poster's study: CIFAR-100, every class left out in turn, the full-width SimpNet, 25 epochs."""

PRESETS = {"laptop": LAPTOP, "paper": PAPER}
