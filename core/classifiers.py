"""Text-as-image classifiers: a sliced ImageNet backbone, new conv layers and a fully connected head.

The paper's design (Benarab 2021): grayscale layout images are copied to 3 channels, upsampled x3
(nearest) and z-normalised per batch; a frozen backbone slice feeds four new convolution +
BatchNorm + ReLU layers, adaptive average pooling and a fully connected head.
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


_WIDE = (192, 128, 64, 32)
PAPER_HEADS: dict[str, HeadSpec] = {
    # the paper gives 192 -> ... -> 64 for AlexNet; the two middle widths are this project's choice
    "alexnet": HeadSpec(2, (160, 128, 96, 64), 5, (700, 50), 0.0, 1e-5, 5e-4),
    "wide_resnet50_2": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.2, 5e-5, 1e-4),
    "resnext50_32x4d": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.05, 5e-5, 1e-3),
    "shufflenet_v2_x1_0": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.0, 5e-4, 1e-3),
    "vgg16": HeadSpec(4, _WIDE, 10, (1600, 700, 50), 0.0, 5e-5, 1e-3),
}
"""The paper's new layers per backbone (METHODS.md): kernel, widths, pool, head, dropout, learning rates."""


def to_backbone_input(images: torch.Tensor, upsample: int = 3) -> torch.Tensor:
    """(n, H, W) grayscale layout images -> (n, 3, H*k, W*k), nearest upsampling, z-normalised per batch."""
    if images.ndim != 3:
        raise ValueError(f"expected grayscale images shaped (n, height, width), got {tuple(images.shape)}.")
    x = images.unsqueeze(1).float()
    if upsample > 1:
        x = F.interpolate(x, scale_factor=upsample, mode="nearest")
    x = (x - x.mean()) / (x.std() + 1e-6)
    return x.expand(-1, 3, -1, -1)


class SlicedClassifier(nn.Module):
    """A backbone slice (frozen unless ``finetune``), four new conv + BatchNorm layers, pooling and a head.

    Args:
        body: the sliced backbone (images (n, 3, h, w) -> feature map (n, c, h', w')).
        in_channels: channels of the body's feature map.
        spec: the new layers.
        n_classes: outputs of the head.
        finetune: train the body too (default: frozen, as in the paper).
    """

    def __init__(self, body: nn.Module, in_channels: int, spec: HeadSpec, n_classes: int = 2, finetune: bool = False):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least two classes, got {n_classes}.")
        self.body, self.spec, self.finetune = body, spec, finetune
        for parameter in self.body.parameters():
            parameter.requires_grad_(finetune)
        layers: list[nn.Module] = []
        width = in_channels
        for out in spec.channels:
            layers += [nn.Conv2d(width, out, spec.kernel), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            width = out
        self.convs = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(spec.pool)
        sizes = [width * spec.pool * spec.pool, *spec.hidden]
        head: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(sizes, sizes[1:], strict=False):
            head += [nn.Linear(a, b), nn.ReLU(inplace=True)] + ([nn.Dropout(spec.dropout)] if spec.dropout else [])
        head.append(nn.Linear(sizes[-1], n_classes))
        self.head = nn.Sequential(*head)

    def train(self, mode: bool = True) -> SlicedClassifier:
        super().train(mode)
        if not self.finetune:
            self.body.eval()  # a frozen body keeps its BatchNorm statistics
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for (n, 3, h, w) backbone inputs (see :func:`to_backbone_input`)."""
        with torch.set_grad_enabled(self.finetune and torch.is_grad_enabled()):
            features = self.body(images)
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
