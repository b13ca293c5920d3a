"""Text-as-image classifiers: a sliced ImageNet backbone, new conv layers and a fully connected head.

The paper's design (Benarab 2021): grayscale layout images are copied to 3 channels, upsampled x3
(nearest) and z-normalised per batch; a frozen backbone slice feeds four new convolution layers,
adaptive average pooling and a fully connected head.

Two styles of the new layers (``STYLES``):

- ``lab`` (the default): Conv -> BatchNorm -> ReLU blocks, PyTorch's default initialisation, the
  frozen slice always in eval mode (its BatchNorm keeps ImageNet's statistics), torchvision's
  current best ImageNet weights (``DEFAULT``).
- ``paper``: the original code exactly: Conv -> ReLU -> BatchNorm blocks, dropout after the first
  three blocks (0.2 Wide-ResNet50-2, 0.05 ResNeXt50 / ShuffleNetV2 / VGG16), dropout 0.3 twice in
  the head (before each of AlexNet's first two linear layers; after the first two hidden layers of
  the others), Xavier initialisation (normal for convs, uniform with ReLU gain for linears), the
  frozen slice following the model's train/eval mode (its BatchNorm uses batch statistics while
  training), torchvision's V1 ImageNet weights (``pretrained=True`` in 2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class HeadSpec:
    """The new layers after a backbone slice: four convolutions, a pool and a fully connected head."""

    kernel: int
    channels: tuple[int, int, int, int]
    pool: int
    hidden: tuple[int, ...]
    dropout: float = 0.0
    lr_convs: float = 5e-5
    lr_head: float = 1e-3


STYLES = ("lab", "paper")
PAPER_HEAD_DROPOUT = 0.3
"""The dropout of the paper code's heads (twice in each)."""

_WIDE = (192, 128, 64, 32)
PAPER_HEADS: dict[str, HeadSpec] = {
    # the original code's AlexNet convs: 192 -> 192 -> 192 -> 192 -> 64 (1,649,292 trainable parameters with the head)
    "alexnet": HeadSpec(2, (192, 192, 192, 64), 5, (700, 50), 0.0, 1e-5, 5e-4),
    "wide_resnet50_2": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.2, 5e-5, 1e-4),
    "resnext50_32x4d": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.05, 5e-5, 1e-3),
    "shufflenet_v2_x1_0": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.0, 5e-4, 1e-3),
    "vgg16": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.0, 5e-5, 1e-3),
}
"""The paper's new layers per backbone (METHODS.md): kernel, widths, pool, head, dropout, learning rates.
In the lab's style ``dropout`` follows each hidden layer of the head; the paper's style puts
:data:`PAPER_CONV_DROPOUT` in the conv stack instead."""

PAPER_CONV_DROPOUT = {
    "alexnet": 0.0,
    "wide_resnet50_2": 0.2,
    "resnext50_32x4d": 0.05,
    "shufflenet_v2_x1_0": 0.05,
    "vgg16": 0.05,
}
"""The original code's dropout after each of the first three new conv blocks."""


NORMALISATIONS = ("batch", "split")
"""How images are z-normalised: with each batch's own mean and std (the paper's code), or with the training
split's (ours: an image then always gives the same backbone input, so a frozen slice's outputs can be
computed once and reused every epoch, and a prediction does not depend on the batch it is in)."""


def to_backbone_input(
    images: torch.Tensor, upsample: int = 3, stats: tuple[float, float] | None = None
) -> torch.Tensor:
    """(n, H, W) grayscale layout images -> (n, 3, H*k, W*k), nearest upsampling, z-normalised with ``stats``
    (mean, std) when given, else with the batch's own mean and std (the paper's code). Images with one layer per
    channel, (n, 3, H, W), keep their own three channels."""
    grey = images.ndim == 3
    if not grey and not (images.ndim == 4 and images.shape[1] == 3):
        raise ValueError(
            f"expected grayscale images shaped (n, height, width) or three-channel ones shaped (n, 3, height, "
            f"width), got {tuple(images.shape)}."
        )
    x = images.unsqueeze(1).float() if grey else images.float()
    if upsample > 1:
        x = F.interpolate(x, scale_factor=upsample, mode="nearest")
    mean, std = (x.mean(), x.std()) if stats is None else stats
    x = (x - mean) / (std + 1e-6)
    return x.expand(-1, 3, -1, -1) if grey else x


def preprocess_for(config: dict):
    """The function that turns stored images into this classifier's inputs (its upsampling and normalisation)."""
    stats = config.get("normalise_stats")
    stats = (float(stats[0]), float(stats[1])) if stats else None
    return lambda batch: to_backbone_input(batch, config["upsample"], stats)


class NewLayers(nn.Module):
    """The trainable part of a frozen-slice classifier, fed the slice's precomputed feature maps.

    Its parameters are the classifier's own (shared, not copied), so training it trains the classifier.
    """

    def __init__(self, model: SlicedClassifier) -> None:
        super().__init__()
        self.convs, self.pool, self.head = model.convs, model.pool, model.head
        self.param_groups = model.param_groups

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.convs(features)))


class SlicedClassifier(nn.Module):
    """A backbone slice (frozen unless ``finetune``), four new conv + BatchNorm layers, pooling and a head.

    Args:
        body: the sliced backbone (images (n, 3, h, w) -> feature map (n, c, h', w')).
        in_channels: channels of the body's feature map.
        spec: the new layers.
        n_classes: outputs of the head.
        finetune: train the body too (default: frozen, as in the paper).
        style: ``lab`` or ``paper`` (see the module's docstring).
        dropout_first: in the paper style, the head's dropout comes before each of its first two linear
            layers (the original AlexNet head) rather than after the first two hidden layers.
        conv_dropout: in the paper style, the dropout after each of the first three conv blocks.
    """

    def __init__(
        self,
        body: nn.Module,
        in_channels: int,
        spec: HeadSpec,
        n_classes: int = 2,
        finetune: bool = False,
        style: str = "lab",
        dropout_first: bool = False,
        conv_dropout: float = 0.0,
    ):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least two classes, got {n_classes}.")
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}.")
        self.body, self.spec, self.finetune, self.style = body, spec, finetune, style
        for parameter in self.body.parameters():
            parameter.requires_grad_(finetune)
        self.convs = self._convs(in_channels, conv_dropout)
        self.pool = nn.AdaptiveAvgPool2d(spec.pool)
        self.head = self._head(spec.channels[-1] * spec.pool * spec.pool, n_classes, dropout_first)
        if style == "paper":
            self.convs.apply(_xavier)
            self.head.apply(_xavier)

    def _convs(self, width: int, dropout: float) -> nn.Sequential:
        spec, layers = self.spec, []
        for number, out in enumerate(spec.channels):
            conv = nn.Conv2d(width, out, spec.kernel)
            if self.style == "lab":
                layers += [conv, nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            else:
                layers += [conv, nn.ReLU(), nn.BatchNorm2d(out)]
                if dropout and number < len(spec.channels) - 1:
                    layers.append(nn.Dropout(dropout))
            width = out
        return nn.Sequential(*layers)

    def _head(self, width: int, n_classes: int, dropout_first: bool) -> nn.Sequential:
        sizes, head = [width, *self.spec.hidden], [nn.Flatten()]
        for number, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
            if self.style == "lab":
                dropout = [nn.Dropout(self.spec.dropout)] if self.spec.dropout else []
                head += [nn.Linear(a, b), nn.ReLU(inplace=True), *dropout]
            elif dropout_first:
                head += [nn.Dropout(PAPER_HEAD_DROPOUT)] if number < 2 else []
                head += [nn.Linear(a, b), nn.ReLU(inplace=True)]
            else:
                head += [nn.Linear(a, b), nn.ReLU(inplace=True)]
                head += [nn.Dropout(PAPER_HEAD_DROPOUT)] if number < 2 else []
        head.append(nn.Linear(sizes[-1], n_classes))
        return nn.Sequential(*head)

    def train(self, mode: bool = True) -> SlicedClassifier:
        super().train(mode)
        if not self.finetune and self.style == "lab":
            self.body.eval()  # a frozen body keeps its BatchNorm statistics (the paper's code let them follow)
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for (n, 3, h, w) backbone inputs (see :func:`to_backbone_input`)."""
        # a frozen body needs no graph, unless gradients must reach the input (saliency)
        with torch.set_grad_enabled(torch.is_grad_enabled() and (self.finetune or images.requires_grad)):
            features = self.body(images)
        return self.classify_features(features)

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        """Logits for the body's feature maps: the new layers and the head alone."""
        return self.head(self.pool(self.convs(features)))

    def param_groups(self) -> list[dict]:
        """Optimizer groups with the paper's two learning rates (new convs; head), plus the body when fine-tuned."""
        groups = [
            {"params": list(self.convs.parameters()), "lr": self.spec.lr_convs},
            {"params": list(self.head.parameters()), "lr": self.spec.lr_head},
        ]
        if self.finetune:
            groups.append({"params": list(self.body.parameters()), "lr": self.spec.lr_convs})
        return groups


def _xavier(module: nn.Module) -> None:
    """The paper code's initialisation: Xavier normal for convs, Xavier uniform with ReLU gain for linears."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("relu"))
    elif isinstance(module, nn.Conv2d):
        nn.init.xavier_normal_(module.weight)


GENERIC_HEAD = HeadSpec(3, (192, 128, 64, 32), 5, (700, 50), 0.0, 5e-5, 1e-3)
"""New layers after a cut the paper did not use (this project's choice; kernel and pool shrink to fit the map)."""


def head_for(backbone: str, node: str, map_size: int) -> HeadSpec:
    """The paper's new layers at the paper's cut; otherwise :data:`GENERIC_HEAD`, its kernel and pool
    reduced so four valid convolutions fit a ``map_size`` x ``map_size`` feature map."""
    from dataclasses import replace

    from core.text_to_image.backbones import _info

    if backbone in PAPER_HEADS and node == _info(backbone).paper_node:
        return PAPER_HEADS[backbone]
    kernel = GENERIC_HEAD.kernel
    while kernel > 1 and map_size - len(GENERIC_HEAD.channels) * (kernel - 1) < 2:
        kernel -= 1
    remaining = map_size - len(GENERIC_HEAD.channels) * (kernel - 1)
    return replace(GENERIC_HEAD, kernel=kernel, pool=max(1, min(GENERIC_HEAD.pool, remaining)))


def classifier_config(
    backbone: str,
    node: str | None = None,
    pretrained: bool = True,
    finetune: bool = False,
    n_classes: int = 2,
    image_shape: tuple[int, ...] = (50, 50),
    upsample: int = 3,
    normalise_stats: tuple[float, float] | None = None,
    style: str = "lab",
) -> dict:
    """Everything that defines a text-as-image classifier's architecture, as JSON-able values.

    ``image_shape``: (H, W) of grey images, or (3, H, W) of images with one layer per channel (recorded as
    ``channels: 3``). ``normalise_stats``: the (mean, std) every image is z-normalised with (the training split's); None
    normalises each batch with its own (the paper's code). ``style``: the new layers' style (:data:`STYLES`),
    recorded only when it is not the lab's.
    """
    from core.text_to_image.backbones import _info

    info = _info(backbone)
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}.")
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least two classes, got {n_classes}.")
    if upsample < 1:
        raise ValueError(f"upsample must be at least 1, got {upsample}.")
    return {
        "backbone": backbone,
        "node": node or info.cut,
        "pretrained": bool(pretrained),
        "finetune": bool(finetune),
        "n_classes": int(n_classes),
        "image_shape": [int(image_shape[-2]), int(image_shape[-1])],
        **({"channels": 3} if len(image_shape) == 3 else {}),
        "upsample": int(upsample),
        **({"normalise_stats": [float(normalise_stats[0]), float(normalise_stats[1])]} if normalise_stats else {}),
        **({"style": style} if style != "lab" else {}),
    }


def build_classifier(config: dict) -> SlicedClassifier:
    """The classifier a :func:`classifier_config` describes (backbone weights loaded when pretrained).

    Raises:
        ValueError: an unknown backbone or cut point, or a cut whose map is too small for the head.
        ResourceUnavailable: pretrained weights that cannot be had here.
    """
    from dataclasses import asdict

    from core.text_to_image.backbones import build_backbone, slice_backbone

    style = config.get("style", "lab")
    weights = "IMAGENET1K_V1" if style == "paper" else "DEFAULT"
    body = slice_backbone(
        build_backbone(config["backbone"], pretrained=config["pretrained"], weights=weights).eval(), config["node"]
    )
    height, width = (side * config["upsample"] for side in config["image_shape"])
    with torch.inference_mode():
        features = body.eval()(torch.zeros(1, 3, height, width))
    if features.ndim != 4:
        raise ValueError(f"{config['node']!r} does not give a feature map; choose a convolutional cut point.")
    spec = head_for(config["backbone"], config["node"], min(features.shape[-2:]))
    model = SlicedClassifier(
        body,
        int(features.shape[1]),
        spec,
        config["n_classes"],
        config["finetune"],
        style,
        dropout_first=config["backbone"] == "alexnet",
        conv_dropout=PAPER_CONV_DROPOUT.get(config["backbone"], 0.0)
        if spec is PAPER_HEADS.get(config["backbone"])
        else 0.0,
    )
    model.config = {**config, "head": asdict(spec), "feature_map": list(features.shape[1:])}
    return model


def input_shape(config: dict) -> tuple[int, ...]:
    """The shape of one image a model takes: (H, W) grayscale, or (3, H, W) of one layer per channel."""
    side, channels = tuple(config["image_shape"]), int(config.get("channels", 1))
    return side if channels == 1 else (channels, *side)


def check_images(config: dict, images: torch.Tensor) -> None:
    """Raise ValueError unless ``images`` are the images the model was built for: (n, H, W) grayscale, or
    (n, 3, H, W) for a model of images with one layer per channel."""
    expected = input_shape(config)
    side, channels = expected[-2:], int(config.get("channels", 1))
    if images.ndim != len(expected) + 1 or tuple(images.shape[1:]) != expected:
        kind = "grayscale images" if channels == 1 else f"images of {channels} channels (one layer each)"
        raise ValueError(
            f"this model takes {side[0]}x{side[1]} {kind}, "
            f"got an array shaped {tuple(images.shape)}; "
            "use images made with the layout of the model's dataset."
        )
