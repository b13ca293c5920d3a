"""Sliced-backbone classifiers: the paper's heads, preprocessing, and learning a separable toy task."""

from __future__ import annotations

import pytest
import torch

from core.text_to_image.backbones import BACKBONES, build_backbone, slice_backbone
from core.text_to_image.classifiers import PAPER_HEADS, SlicedClassifier, to_backbone_input

CHANNELS = {"alexnet": 192, "wide_resnet50_2": 256, "resnext50_32x4d": 256, "shufflenet_v2_x1_0": 116, "vgg16": 256}


def paper_model(name: str) -> SlicedClassifier:
    info = next(i for i in BACKBONES if i.name == name)
    body = slice_backbone(build_backbone(name, pretrained=False), info.paper_node)
    return SlicedClassifier(body, CHANNELS[name], PAPER_HEADS[name])


def test_preprocessing_copies_grey_to_three_channels_upsampled_and_normalised():
    images = torch.rand(4, 50, 50)
    x = to_backbone_input(images)
    assert x.shape == (4, 3, 150, 150)
    assert torch.equal(x[:, 0], x[:, 2]) and torch.equal(x[0, 0, :3, :3], x[0, 0, 0, 0].expand(3, 3))
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-3
    layered = to_backbone_input(torch.rand(4, 3, 50, 50))  # one layer per channel: each channel its own
    assert layered.shape == (4, 3, 150, 150) and not torch.equal(layered[:, 0], layered[:, 2])
    with pytest.raises(ValueError, match="grayscale images"):
        to_backbone_input(torch.rand(4, 2, 50, 50))


@pytest.mark.parametrize("name", ["alexnet", "shufflenet_v2_x1_0"])
def test_paper_heads_take_50_pixel_images(name):
    model = paper_model(name).eval()
    with torch.inference_mode():
        logits = model(to_backbone_input(torch.rand(2, 50, 50)))
    assert logits.shape == (2, 2)
    frozen = [p.requires_grad for p in model.body.parameters()]
    assert frozen and not any(frozen)  # the slice is frozen, as in the paper


def test_head_widths_follow_the_paper():
    model = paper_model("alexnet")
    linear = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(1600, 700), (700, 50), (50, 2)]


def test_a_sliced_classifier_learns_a_separable_task(separable):
    torch.manual_seed(0)
    model = paper_model("alexnet")
    images, labels = separable()
    inputs = to_backbone_input(images)
    optimiser = torch.optim.Adam(model.param_groups())
    for _ in range(40):
        model.train()
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimiser.step()
    model.eval()
    test_images, test_labels = separable(seed=1)
    with torch.inference_mode():
        accuracy = (model(to_backbone_input(test_images)).argmax(1) == test_labels).float().mean()
    assert accuracy >= 0.9


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="at least two classes"):
        SlicedClassifier(torch.nn.Identity(), 3, PAPER_HEADS["alexnet"], n_classes=1)


def test_build_classifier_uses_the_paper_head_at_the_paper_cut_and_fits_other_cuts():
    from core.text_to_image.classifiers import PAPER_HEADS, build_classifier, classifier_config, to_backbone_input

    paper = build_classifier(classifier_config("alexnet", pretrained=False))
    assert paper.config["node"] == "features.4" and paper.config["feature_map"] == [192, 17, 17]
    assert paper.spec == PAPER_HEADS["alexnet"]
    deep = build_classifier(classifier_config("vgg16", "features.30", pretrained=False))  # a 4x4 map
    assert deep.config["feature_map"][1:] == [4, 4] and deep.spec.kernel == 1
    with torch.inference_mode():
        assert deep.eval()(to_backbone_input(torch.rand(2, 50, 50))).shape == (2, 2)


def test_classifier_config_and_images_are_checked():
    from core.text_to_image.classifiers import check_images, classifier_config

    with pytest.raises(ValueError, match="Unknown backbone"):
        classifier_config("lenet")
    with pytest.raises(ValueError, match="at least two classes"):
        classifier_config("alexnet", n_classes=1)
    config = classifier_config("alexnet", image_shape=(50, 50))
    check_images(config, torch.zeros(3, 50, 50))
    with pytest.raises(ValueError, match="takes 50x50 grayscale images, got an array shaped \\(3, 40, 40\\)"):
        check_images(config, torch.zeros(3, 40, 40))


def test_alexnet_new_layers_and_head_have_the_original_codes_parameter_count():
    """The original code's AlexNet model: convs 192 -> 192 -> 192 -> 192 -> 64 (kernel 2, each with BatchNorm), an
    adaptive pool to 5 x 5 and the head 1600 -> 700 -> 50 -> 2: 1,649,292 trainable parameters."""
    from core.text_to_image.classifiers import build_classifier, classifier_config

    model = build_classifier(classifier_config("alexnet", pretrained=False))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 1_649_292
