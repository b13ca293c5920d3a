"""Token attributions through the whole chain (classifier <- image <- layout <- embeddings <- tokens)."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def chain_parts(small_dataset, small_model):
    from core.text_to_image import classify

    imager = classify.dataset_imager(small_dataset)
    model = classify.load_model(small_model.path)
    return imager, model


def test_the_torch_layout_makes_the_same_images_as_the_layout(chain_parts):
    from core.text_to_image.attributions import LayoutImages

    imager, _ = chain_parts
    features, images = imager.images(["a tender, funny film", "a dull mess"])
    ours = LayoutImages(imager.layout)(torch.as_tensor(features)).numpy()
    np.testing.assert_allclose(ours, images, atol=1e-5)


def test_the_chain_gives_the_models_own_prediction(chain_parts):
    from core.text_to_image import classify
    from core.text_to_image.attributions import attribute

    imager, model = chain_parts
    text = "An excellent, moving film."
    _, images = imager.images([text])
    expected = classify.classify({"m": model}, images[0])["per_model"]["m"]
    found = attribute(imager, model, text, method="gradient_x_input")
    np.testing.assert_allclose(found.probabilities, expected, atol=1e-4)
    assert found.tokens[0] == "[CLS]" and found.tokens[-1] == "[SEP]"
    assert found.scores[0] == 0 and found.scores[-1] == 0  # [CLS] and [SEP] are the baseline's too


def test_integrated_gradients_add_up_to_the_logits_change(chain_parts):
    from core.text_to_image.attributions import attribute

    imager, model = chain_parts
    found = attribute(imager, model, "A tedious, overlong and humourless film.", steps=64)
    change = found.logit - found.baseline_logit
    assert found.completeness_gap <= 0.05 * abs(change) + 1e-3, (found.scores.sum(), change)


def test_swapping_the_telling_word_moves_its_attribution_and_the_prediction(chain_parts):
    from core.text_to_image.attributions import attribute, words

    imager, model = chain_parts
    good = attribute(imager, model, "The acting was excellent.", target=1, steps=24)
    bad = attribute(imager, model, "The acting was terrible.", target=1, steps=24)
    good_words, bad_words = dict(words(good)), dict(words(bad))
    assert set(good_words) - set(bad_words) == {"excellent"} and set(bad_words) - set(good_words) == {"terrible"}
    assert good_words["excellent"] != pytest.approx(bad_words["terrible"], abs=1e-6)
    assert not np.allclose(good.probabilities, bad.probabilities)


def test_an_unknown_token_is_a_word_not_part_of_the_frame(chain_parts):
    from core.text_to_image.attributions import attribute

    imager, model = chain_parts
    found = attribute(imager, model, "A great \U0001f642 film.", method="gradient_x_input")
    unknown = found.tokens.index("[UNK]")
    assert found.scores[unknown] != 0  # replaced by [PAD] in the baseline like every other word
    assert found.scores[0] == 0 and found.scores[-1] == 0


def test_bad_requests_are_refused_clearly(chain_parts):
    from core.text_to_image.attributions import attribute

    imager, model = chain_parts
    with pytest.raises(ValueError, match="type a sentence"):
        attribute(imager, model, "   ")
    with pytest.raises(ValueError, match="class 5 does not exist"):
        attribute(imager, model, "fine", target=5)
    with pytest.raises(ValueError, match="method must be one of"):
        attribute(imager, model, "fine", method="lime")
