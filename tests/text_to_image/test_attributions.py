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


def test_gauss_legendre_nodes_integrate_polynomials_exactly_and_both_rules_weigh_to_one():
    from core.text_to_image.attributions import path_nodes

    points, weights = path_nodes(4, "gausslegendre")
    assert ((points > 0) & (points < 1)).all() and weights.sum() == pytest.approx(1.0)
    for degree in range(8):  # n nodes: exact up to degree 2n - 1
        assert (weights * points**degree).sum() == pytest.approx(1 / (degree + 1), abs=1e-12)
    points, weights = path_nodes(4, "midpoint")
    np.testing.assert_allclose(points, [0.125, 0.375, 0.625, 0.875])
    assert weights.sum() == pytest.approx(1.0)
    assert abs((weights * points**4).sum() - 0.2) > 1e-3  # the midpoint rule is not exact there


def test_the_chain_reads_a_batch_of_images_as_it_reads_each_alone(chain_parts):
    from core.text_to_image.attributions import Chain, _inputs

    imager, model = chain_parts
    chain = Chain(imager, model)
    assert not chain.alone  # the model normalises with its training split's statistics
    inputs = _inputs(imager.encoder, "a tender, funny film")
    ids, mask = inputs.pop("input_ids"), inputs.pop("attention_mask")
    embeds = imager.encoder.model.get_input_embeddings()(ids).float()
    points = torch.cat([embeds, 0.5 * embeds, 0.1 * embeds])
    extra = {k: v.expand(3, -1) for k, v in inputs.items()}
    with torch.no_grad():
        together = chain(points, mask.expand(3, -1), extra)
        chain.alone = True
        alone = chain(points, mask.expand(3, -1), extra)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("baseline", ["pad", "mask", "zeros"])
def test_every_baseline_keeps_the_frame_and_adds_up(chain_parts, baseline):
    from core.text_to_image.attributions import attribute, completeness_advice

    imager, model = chain_parts
    found = attribute(imager, model, "A tedious, overlong and humourless film.", target=0, steps=64, baseline=baseline)
    assert found.baseline == baseline and found.scores[0] == 0 and found.scores[-1] == 0
    assert completeness_advice(found) is None, (baseline, found.scores.sum(), found.change)


def test_the_baselines_are_different_starting_points(chain_parts):
    from core.text_to_image.attributions import attribute

    imager, model = chain_parts
    starts = {
        b: attribute(imager, model, "Fine.", target=0, method="gradient_x_input", baseline=b)
        for b in ("pad", "mask", "zeros")
    }
    logits = [found.baseline_logit for found in starts.values()]
    assert len({round(v, 6) for v in logits}) == 3 and len({round(f.logit, 6) for f in starts.values()}) == 1


def test_word_pieces_are_joined_into_words_and_their_scores_summed():
    from core.text_to_image.attributions import Attribution, word_spans, words

    tokens = ["[CLS]", "a", "dr", "##ear", "##y", "film", "[SEP]"]
    found = Attribution(tokens, np.array([0, 0.5, 0.25, 0.125, 0.0625, -1, 0]), 1, np.array([0.4, 0.6]), 1, 0, "x", 1)
    assert word_spans(tokens) == [("a", [1]), ("dreary", [2, 3, 4]), ("film", [5])]
    assert words(found) == [("a", 0.5), ("dreary", 0.4375), ("film", -1.0)]


def _made(method="integrated_gradients", steps=16, rule="gausslegendre", total=1.0, change=1.0):
    from core.text_to_image.attributions import Attribution

    scores = np.array([0.0, total, 0.0])
    return Attribution(["[CLS]", "fine", "[SEP]"], scores, 0, np.array([0.7, 0.3]), change, 0.0, method, steps, rule)


def test_the_completeness_advice_fits_the_case_it_flags():
    from core.text_to_image.attributions import completeness_advice

    assert completeness_advice(_made(total=0.97), max_steps=64) is None  # within 5 %
    fewer = completeness_advice(_made(steps=16, total=0.8), max_steps=64)
    assert "raise the steps (up to 64)" in fewer and "20 %" in fewer and "at 16 steps" in fewer
    most = completeness_advice(_made(steps=64, total=0.8), max_steps=64)
    assert "raise the steps" not in most and "even at the most steps offered (64)" in most
    assert "another baseline" in most and "deletion check" in most
    one = completeness_advice(_made(method="gradient_x_input", steps=1, rule="none", total=0.5), max_steps=64)
    assert "gradient × input reads one gradient" in one and "raise the steps" not in one


def test_the_deletion_areas_and_the_verdict():
    from core.text_to_image.attributions import Deletion

    k = np.arange(4)
    randoms = np.array([[0.9, 0.8, 0.6, 0.2], [0.9, 0.85, 0.7, 0.2], [0.9, 0.9, 0.8, 0.2]])
    good = Deletion(["a", "b", "c"], [0, 1, 2], k, np.array([0.9, 0.3, 0.25, 0.2]), randoms, 0)
    assert good.area == pytest.approx((0 + 0.6 + 0.65 + 0.7) / 4)
    np.testing.assert_allclose(good.random_areas, [(0.1 + 0.3 + 0.7) / 4, (0.05 + 0.2 + 0.7) / 4, (0.1 + 0.7) / 4])
    assert good.beaten == 1.0 and good.verdict().startswith("The explanation beats random deletion")
    assert "lowers the logit by 0.487" in good.verdict()  # its area, in the words
    noise = Deletion(["a", "b", "c"], [2, 1, 0], k, np.array([0.9, 0.9, 0.85, 0.2]), randoms, 0)
    assert noise.beaten == 0.0 and "no better than random deletion" in noise.verdict()
    middling = Deletion(["a", "b", "c"], [1, 0, 2], k, randoms[1], randoms, 0)
    assert middling.beaten == pytest.approx(1.5 / 3) and "no better than random" in middling.verdict()
    better = Deletion(["a", "b", "c"], [1, 0, 2], k, np.array([0.9, 0.82, 0.65, 0.2]), randoms, 0)
    assert better.beaten == pytest.approx(2 / 3) and "only a little better" in better.verdict()


def test_the_deletion_check_re_predicts_the_sentence_without_its_words(chain_parts):
    from core.text_to_image.attributions import attribute, deletion_check, words

    imager, model = chain_parts
    text = "The acting was excellent."
    found = attribute(imager, model, text, steps=16)
    check = deletion_check(imager, model, text, found, random_orders=4, seed=3)
    scores = [s for _, s in words(found)]
    assert check.words == ["the", "acting", "was", "excellent", "."]
    assert check.order == sorted(range(5), key=lambda i: -scores[i])
    assert list(check.deleted) == [0, 1, 2, 3, 4, 5] and check.random.shape == (4, 6)
    assert check.attributed[0] == pytest.approx(found.logit, abs=1e-4)
    np.testing.assert_allclose(check.random[:, -1], check.attributed[-1])  # every order ends on no words at all
    top = check.words[check.order[0]]
    kept = " ".join(w for w in check.words if w != top).replace(" .", ".")
    alone = attribute(imager, model, kept, found.target, method="gradient_x_input")  # one pass: its logit
    assert check.attributed[1] == pytest.approx(alone.logit, abs=1e-4)
    again = deletion_check(imager, model, text, found, random_orders=4, seed=3)
    np.testing.assert_array_equal(again.random, check.random)  # seeded


def test_a_long_sentences_deletion_curve_is_read_at_a_few_points(chain_parts):
    from core.text_to_image.attributions import CURVE_POINTS, attribute, deletion_check

    imager, model = chain_parts
    text = "A long , slow , dull , tired , flat , grey , lifeless and utterly forgettable film ."
    found = attribute(imager, model, text, method="gradient_x_input")
    check = deletion_check(imager, model, text, found, random_orders=2)
    n = len(check.words)
    assert n > CURVE_POINTS and len(check.deleted) == CURVE_POINTS
    assert check.deleted[0] == 0 and check.deleted[-1] == n and np.all(np.diff(check.deleted) > 0)


def test_bad_settings_and_deletion_requests_are_refused(chain_parts):
    from core.text_to_image.attributions import AttributionSettings, attribute, deletion_check, path_nodes

    imager, model = chain_parts
    with pytest.raises(ValueError, match="rule must be one of"):
        attribute(imager, model, "fine", rule="simpson")
    with pytest.raises(ValueError, match="baseline must be one of"):
        attribute(imager, model, "fine", baseline="unk")
    with pytest.raises(ValueError, match="steps must be at least 1"):
        attribute(imager, model, "fine", steps=0)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        path_nodes(0)
    with pytest.raises(ValueError, match="tolerance must lie between 0 and 1"):
        AttributionSettings(tolerance=1.5).check()
    found = attribute(imager, model, "fine", method="gradient_x_input")
    with pytest.raises(ValueError, match="random_orders must be at least 1"):
        deletion_check(imager, model, "fine", found, random_orders=0)
    with pytest.raises(ValueError, match="computed for another sentence"):
        deletion_check(imager, model, "not fine", found)


def _batch_norms(module: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.BatchNorm2d) for m in module.modules())


def test_the_reader_folds_the_batch_norms_and_reads_as_the_model_does(chain_parts):
    """The attributions' copy of a model: no batch norm left, channels-last weights, the model's own logits on the
    dataset's images; the model itself is untouched, and the copy is made once."""
    from core.text_to_image.attributions import reader
    from core.text_to_image.classifiers import preprocess_for

    imager, model = chain_parts
    before = _batch_norms(model)
    fast = reader(model)
    assert fast is not model and fast is reader(model)
    assert before > 0 and _batch_norms(model) == before and _batch_norms(fast) == 0
    conv = next(m for m in fast.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    _, images = imager.images(["a tender, funny film", "a dull mess", "not bad at all"])
    batch = preprocess_for(model.config)(torch.as_tensor(images))
    with torch.no_grad():
        torch.testing.assert_close(fast(batch), model(batch), rtol=1e-4, atol=1e-4)


def test_the_reader_keeps_the_activation_a_timm_batch_norm_carries():
    """EfficientNet-Lite's batch norms carry their ReLU6 (timm's BatchNormAct2d): folded, the activation stays."""
    from core.text_to_image.attributions import reader
    from core.text_to_image.classifiers import build_classifier, classifier_config, preprocess_for

    model = build_classifier({**classifier_config("efficientnet_lite0", image_shape=(20, 20)), "pretrained": False})
    fast = reader(model.eval())
    assert fast is not model and _batch_norms(fast) == 0
    assert sum(isinstance(m, torch.nn.ReLU6) for m in fast.modules()) == sum(
        isinstance(m, torch.nn.ReLU6) for m in model.modules()
    )
    batch = preprocess_for(model.config)(torch.rand(4, 20, 20, generator=torch.Generator().manual_seed(1)))
    with torch.no_grad():
        torch.testing.assert_close(fast(batch), model(batch), rtol=1e-4, atol=1e-4)


class _NormFirst(torch.nn.Module):
    """A conv registered before its batch norm but run after it: folding the pair would change the function."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.norm = torch.nn.BatchNorm2d(3)
        self.head = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.norm.running_mean.uniform_(-1, 1)
            self.norm.running_var.uniform_(0.5, 2)
        self.config = {"image_shape": [8, 8], "upsample": 1, "normalise_stats": [0.5, 0.3]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(self.norm(x)).mean(dim=(2, 3)))


def test_the_reader_falls_back_to_the_model_when_folding_would_change_it():
    from core.text_to_image.attributions import reader

    model = _NormFirst().eval()
    assert reader(model) is model


class _KinkedPath:
    """A path whose integrand jumps, as a ReLU makes it: F(a) = 3 relu(a - 0.37) + a², split between two tokens
    (token 0 carries the kink, token 1 the smooth part); counts the gradients it is asked for."""

    batch_size = 16

    def __init__(self, kink: float = 3.0) -> None:
        self.kink, self.gradients_taken = kink, 0

    def value(self, alphas):
        return self.kink * np.maximum(alphas - 0.37, 0) + alphas**2

    def gradients_and_logits(self, alphas):
        alphas = np.asarray(alphas)
        self.gradients_taken += len(alphas)
        return np.stack([self.kink * (alphas > 0.37), 2 * alphas], axis=1), self.value(alphas)


def test_the_adaptive_rule_halves_the_rough_intervals_until_the_misses_are_small():
    from core.text_to_image.attributions import adaptive_integral, path_nodes

    path = _KinkedPath()
    change = path.value(1.0) - path.value(0.0)
    scores, used, missed = adaptive_integral(path, budget=64, tolerance=0.001)
    assert used == path.gradients_taken and 16 < used < 40  # the kinked interval halved, the smooth ones left
    assert abs(scores.sum() - change) <= missed <= max(0.001 * change, 1e-3)  # the misses bound the gap
    assert scores[0] == pytest.approx(3 * 0.63, rel=0.002) and scores[1] == pytest.approx(1.0, abs=2e-3)
    alphas, weights = path_nodes(used, "midpoint")  # the same gradients spent evenly miss by more
    even = weights @ path.gradients_and_logits(alphas)[0]
    assert abs(even.sum() - change) > abs(scores.sum() - change)


def test_the_adaptive_rule_keeps_to_its_budget_and_never_rescales():
    from core.text_to_image.attributions import AttributionSettings, adaptive_integral

    path = _KinkedPath()
    change = path.value(1.0) - path.value(0.0)
    scores, used, missed = adaptive_integral(path, budget=16, tolerance=1e-6)
    assert used == 16  # no room to halve: the 15 equal intervals' trapezoid sum, its miss left as it is
    np.testing.assert_allclose(scores, [3 * (9 / 15 + 1 / 30), 1.0])  # nodes 6/15 .. 1 lie past the kink
    assert abs(scores.sum() - change) == pytest.approx(0.01) and missed >= 0.01
    smooth = _KinkedPath(kink=0.0)  # a linear integrand: the trapezoids are exact, nothing to halve
    scores, used, missed = adaptive_integral(smooth, budget=64)
    assert used == 16 and missed < 1e-12 and scores.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 2 steps"):
        AttributionSettings(steps=1, rule="adaptive").check()


def test_the_adaptive_rule_adds_up_through_the_chain(chain_parts):
    from core.text_to_image.attributions import DEFAULTS, attribute, completeness_advice

    imager, model = chain_parts
    text = "A tedious, overlong and humourless film."
    assert DEFAULTS.rule == "adaptive"
    found = attribute(imager, model, text, target=0)
    assert found.rule == "adaptive" and 16 <= found.steps <= DEFAULTS.steps
    assert completeness_advice(found) is None or found.steps == DEFAULTS.steps
    np.testing.assert_allclose(found.calibrated(1.0), found.probabilities, atol=1e-6)  # T = 1: the raw ones
    assert found.calibrated(4.0).max() < found.probabilities.max()  # a temperature above 1 softens them
    reference = attribute(imager, model, text, target=0, steps=256, rule="midpoint")
    scale = np.abs(reference.scores).max()
    assert np.abs(found.scores - reference.scores).max() <= 0.2 * scale
    large = np.abs(reference.scores) > 0.25 * scale  # the words that matter keep their side
    np.testing.assert_array_equal(np.sign(found.scores[large]), np.sign(reference.scores[large]))
