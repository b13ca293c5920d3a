"""SimpNet (Hasanpour et al. 2018) as a word-vector regressor: the CIFAR design's 13 conv layers with
three fully connected layers to a word vector in place of its classifier (Baughman et al., SC'21)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SIMPNET_PLAN: tuple[int | str, ...] = (66, 128, 128, 128, 192, "M", 192, 192, 192, 192, 288, "M", 288, 355, 432)
"""SimpNet's CIFAR design (Hasanpour et al. 2018): thirteen 3x3 convolutions, two 2x2 max pools."""


class SimpNet(nn.Module):
    """SimpNet's 13 conv layers (BatchNorm, ReLU; dropout 0.2 after the first pool, 0.3 after the second),
    global max pooling, and three fully connected layers to ``out_dim`` in place of the classifier.

    Args:
        in_channels: 3 for colour, 1 for grey images.
        out_dim: the word-vector size (50 for GloVe 6B 50d).
        width: multiplies every conv width (1.0 = SimpNet's CIFAR design, a ~5.4M-parameter body; which variant
            the poster used is not stated).
    """

    def __init__(self, in_channels: int = 3, out_dim: int = 50, width: float = 1.0):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}.")
        layers: list[nn.Module] = []
        channels, pools = in_channels, 0
        for step in SIMPNET_PLAN:
            if step == "M":
                pools += 1
                layers += [nn.MaxPool2d(2), nn.Dropout2d(0.2 if pools == 1 else 0.3)]
                continue
            out = max(4, int(round(int(step) * width)))
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.features = nn.Sequential(*layers)
        hidden = max(32, int(round(512 * width)))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(inplace=True),
            nn.Linear(hidden // 2, out_dim),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_max_pool2d(self.features(images), 1))


def parameter_count(width: float = 1.0, in_channels: int = 3) -> dict[str, int]:
    """Parameters of SimpNet's conv body and of the whole regressor at a width."""
    model = SimpNet(in_channels, 50, width)
    body = sum(p.numel() for p in model.features.parameters())
    return {"body": body, "total": body + sum(p.numel() for p in model.head.parameters())}
