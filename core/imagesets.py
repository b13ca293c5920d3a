"""Labelled image sets with English class names: Fashion-MNIST (offline, Debian package), CIFAR-100
(online, torchvision download) and any ImageFolder (one sub-folder per class).

Every loader returns an :class:`ImageSet`: uint8 images shaped (n, channels, height, width) with
the train / test split the set comes with (an ImageFolder is split here, stratified and seeded).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ResourceUnavailable

FASHION_ENV = "CROSSMODAL_FASHION_MNIST"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
IMAGESETS = ("fashion_mnist", "cifar10", "cifar100", "folder")


@dataclass
class ImageSet:
    """Images (uint8, n x C x H x W) and labels of a train and a test split, with class names."""

    name: str
    class_names: list[str]
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    def subsample(self, per_class: int | None, seed: int = 0) -> ImageSet:
        """At most ``per_class`` training images of each class (test images: a quarter of that), seeded."""
        if not per_class:
            return self
        rng = np.random.default_rng(seed)

        def pick(labels: np.ndarray, limit: int) -> np.ndarray:
            rows = [rng.permutation(np.flatnonzero(labels == c))[:limit] for c in range(len(self.class_names))]
            return np.sort(np.concatenate(rows))

        train, test = pick(self.train_labels, per_class), pick(self.test_labels, max(1, per_class // 4))
        return ImageSet(
            self.name,
            self.class_names,
            self.train_images[train],
            self.train_labels[train],
            self.test_images[test],
            self.test_labels[test],
            {**self.source, "per_class": per_class, "subsample_seed": seed},
        )


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzipped or not, as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} cannot be read ({error}); reinstall the data.") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes.")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {body.size}.")
    return body.reshape(shape)


def load_fashion_mnist(folder: str | Path | None = None) -> ImageSet:
    """Fashion-MNIST from Debian's ``dataset-fashion-mnist`` files (or ``$CROSSMODAL_FASHION_MNIST``)."""
    folder = Path(folder or os.environ.get(FASHION_ENV) or FASHION_DIR)
    names = {
        k: folder / f"{k}-idx{3 if 'images' in k else 1}-ubyte.gz"
        for k in ("train-images", "train-labels", "t10k-images", "t10k-labels")
    }
    missing = [p.name for p in names.values() if not p.is_file()]
    if missing:
        raise ResourceUnavailable(
            f"Fashion-MNIST is not in {folder} (missing {', '.join(missing)}): "
            "sudo apt-get install dataset-fashion-mnist, "
            f"or set {FASHION_ENV} to a folder holding the four IDX files."
        )
    arrays = {k: _read_idx(p) for k, p in names.items()}
    return ImageSet(
        "fashion_mnist",
        list(FASHION_CLASSES),
        arrays["train-images"][:, None],
        arrays["train-labels"].astype(np.int64),
        arrays["t10k-images"][:, None],
        arrays["t10k-labels"].astype(np.int64),
        {"imageset": "fashion_mnist", "folder": str(folder)},
    )


def cifar_root(classes: int = 100) -> Path:
    """Where CIFAR-10 or CIFAR-100 is downloaded to (once) and read from: ``<home>/data/cifar<classes>``."""
    from core import store

    return store.home() / "data" / f"cifar{classes}"


def cifar100_root() -> Path:
    """Where CIFAR-100 is downloaded to (once) and read from: ``<home>/data/cifar100``."""
    return cifar_root(100)


def load_cifar(classes: int = 100, root: str | Path | None = None) -> ImageSet:
    """CIFAR-10 or CIFAR-100 through torchvision (downloaded once into ``root``; needs internet the first time)."""
    import torchvision

    if classes not in (10, 100):
        raise ValueError(f"CIFAR comes with 10 or 100 classes, got {classes}.")
    dataset = torchvision.datasets.CIFAR10 if classes == 10 else torchvision.datasets.CIFAR100
    root = Path(root or cifar_root(classes))
    try:
        train = dataset(str(root), train=True, download=True)
        test = dataset(str(root), train=False, download=True)
    except (OSError, RuntimeError) as error:
        raise ResourceUnavailable(
            f"CIFAR-{classes} is not in {root} and could not be downloaded ({error}); "
            "connect to the internet once, or use the offline fashion_mnist set."
        ) from error
    return ImageSet(
        f"cifar{classes}",
        list(train.classes),
        train.data.transpose(0, 3, 1, 2).copy(),
        np.asarray(train.targets, dtype=np.int64),
        test.data.transpose(0, 3, 1, 2).copy(),
        np.asarray(test.targets, dtype=np.int64),
        {"imageset": f"cifar{classes}", "root": str(root)},
    )


def load_cifar100(root: str | Path | None = None) -> ImageSet:
    """CIFAR-100 through torchvision (see :func:`load_cifar`)."""
    return load_cifar(100, root)


def load_image_folder(path: str | Path, size: int = 32, test_size: float = 0.2, seed: int = 0) -> ImageSet:
    """Any folder with one sub-folder of images per class (torchvision ``ImageFolder``), resized to
    ``size`` x ``size`` RGB and split stratified and seeded."""
    import torchvision
    from sklearn.model_selection import train_test_split

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder; an image folder holds one sub-folder of images per class.")
    empty = [d.name for d in sorted(path.iterdir()) if d.is_dir() and not any(f.is_file() for f in d.rglob("*"))]
    if empty:
        raise ValueError(f"class folder(s) {', '.join(empty)} in {path} hold no images; remove them or add images.")
    transform = torchvision.transforms.Compose(
        [torchvision.transforms.Resize((size, size)), torchvision.transforms.PILToTensor()]
    )
    try:
        folder = torchvision.datasets.ImageFolder(str(path), transform=lambda image: transform(image.convert("RGB")))
    except (FileNotFoundError, RuntimeError) as error:
        raise ValueError(f"{path}: {error}") from error
    if len(folder.classes) < 2:
        raise ValueError(
            f"{path} has {len(folder.classes)} class folder(s); a classifier (and leave-one-out) needs at least two: "
            "add one sub-folder of images per class."
        )
    images = np.stack([_read_image(folder, i) for i in range(len(folder))])
    labels = np.asarray(folder.targets, dtype=np.int64)
    train, test = train_test_split(np.arange(len(labels)), test_size=test_size, stratify=labels, random_state=seed)
    return ImageSet(
        "folder",
        list(folder.classes),
        images[train],
        labels[train],
        images[test],
        labels[test],
        {"imageset": "folder", "path": str(path.resolve()), "size": size, "test_size": test_size, "seed": seed},
    )


def _read_image(folder: Any, index: int) -> np.ndarray:
    try:
        return folder[index][0].numpy()
    except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError is an OSError
        path = folder.samples[index][0]
        raise ValueError(f"{path} is not a readable image ({error}); remove or replace it.") from error


def load_imageset(name: str, path: str | Path | None = None) -> ImageSet:
    """``fashion_mnist`` (offline), ``cifar10`` / ``cifar100`` (online) or ``folder`` (``path`` required)."""
    if name == "fashion_mnist":
        return load_fashion_mnist(path)
    if name in ("cifar10", "cifar100"):
        return load_cifar(int(name[5:]), path)
    if name == "folder":
        if path is None:
            raise ValueError("an image folder needs its path (one sub-folder of images per class).")
        return load_image_folder(path)
    raise ValueError(f"unknown image set {name!r}; choose one of {', '.join(IMAGESETS)}.")


def load_source(source: dict[str, Any]) -> ImageSet:
    """An image set again from the ``source`` it recorded (a study's ``config["imageset"]``): the same loader,
    folder and settings, and the same subsample (images per class and seed).

    Raises:
        ValueError: a set made in memory (no loader can make it again), or an unknown loader.
        FileNotFoundError / ResourceUnavailable: the loader's own errors (a folder that is gone, a set not here).
    """
    name = source.get("imageset")
    if name == "fashion_mnist":
        loaded = load_fashion_mnist(source.get("folder"))
    elif name in ("cifar10", "cifar100"):
        loaded = load_cifar(int(name[5:]), source.get("root"))
    elif name == "folder" and source.get("path"):
        loaded = load_image_folder(
            source["path"], source.get("size", 32), source.get("test_size", 0.2), source.get("seed", 0)
        )
    else:
        raise ValueError(
            f"the image set {name!r} was not made by a loader here ({', '.join(IMAGESETS)}), "
            "so it cannot be loaded again; "
            "run the study from Python with the same ImageSet (core.images_to_words.loo.run_study)."
        )
    return loaded.subsample(source.get("per_class"), source.get("subsample_seed", 0))


def available_imagesets() -> list[dict[str, Any]]:
    """The image sets and whether each can be used here now."""
    folder = Path(os.environ.get(FASHION_ENV) or FASHION_DIR)
    return [
        {
            "name": "fashion_mnist",
            "offline": True,
            "available": (folder / "train-images-idx3-ubyte.gz").is_file(),
            "note": "10 classes, 60k + 10k, 28x28 grey (Debian dataset-fashion-mnist)",
        },
        {
            "name": "cifar10",
            "offline": False,
            "available": (cifar_root(10) / "cifar-10-batches-py" / "data_batch_1").is_file(),
            "note": "10 classes, 50k + 10k, 32x32 colour (torchvision download, then read from the store)",
        },
        {
            "name": "cifar100",
            "offline": False,
            "available": (cifar100_root() / "cifar-100-python" / "train").is_file(),
            "note": "100 classes, 50k + 10k, 32x32 colour (torchvision download, then read from the store)",
        },
        {
            "name": "folder",
            "offline": True,
            "available": True,
            "note": "any folder with one sub-folder of images per class",
        },
    ]
