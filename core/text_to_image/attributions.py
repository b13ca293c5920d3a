"""Which words of a sentence pushed a text-as-image classifier's prediction: attributions through the whole
chain, classifier <- image <- layout <- pooled hidden states <- token embeddings, and a check of whether they
are faithful.

Every step of the chain is differentiable here: the encoder reads the token embeddings (``inputs_embeds``),
the chosen layers are pooled as the dataset's texts were, the layout's scaler and its pixel averaging are
the same arithmetic as :meth:`core.layout.FeatureLayout.transform` written in torch (checked equal to it),
and the classifier reads the image through its own preprocessing. Two methods:

- ``integrated_gradients`` (Sundararajan et al. 2017): the token embeddings move on a straight path from a
  baseline (``BASELINES``: every word replaced by the [PAD] embedding, by the [MASK] embedding, or by zeros;
  [CLS] and [SEP] kept) to the sentence; a token's attribution is its embedding's difference from the
  baseline times the integral of the target logit's gradient along the path, summed over the embedding's
  dimensions. The integral is a quadrature (``RULES``): Gauss-Legendre nodes and weights
  (:func:`numpy.polynomial.legendre.leggauss` on [0, 1], as Captum's ``method="gausslegendre"``), exact for
  polynomials of degree 2n - 1, the midpoint rule, or the trapezoid rule refined where the path is rough
  (``adaptive``, the default). Through a classifier's ReLUs and the layout's clipping the gradient jumps along the
  path, so no fixed rule converges fast there; but each gradient pass reads the target logit too, so every
  interval between two gradients knows its own completeness: what its trapezoid predicts (its width times the
  mean of its ends' gradients, summed over the tokens) against the logit's measured change over it. The adaptive
  rule starts from 15 equal intervals (16 gradients, one batch), halves the intervals that miss most, one new
  gradient each and a batch at a time, until their misses add up to at most the tolerance of the logit's whole
  change or ``steps`` gradients are spent. The attributions are never rescaled: the sum of the misses bounds the
  completeness gap (bench/bench_attributions.py measures every rule). The attributions add up to the logit's change
  from the baseline to the sentence (completeness); the gap is reported and :func:`completeness_advice` says what
  to do when it is large.
- ``gradient_x_input``: the gradient at the sentence times (embedding - baseline), one backward pass; it
  need not add up to the change, and a word can take the wrong sign.

:func:`deletion_check` tests an explanation against the model itself (Samek et al. 2017): the words are deleted
from the sentence most-attributed first, one more at a time, and the target logit re-predicted; the area over
that curve is compared with deleting the same words in seeded random orders. An explanation that does not beat
random deletion says little about this sentence.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.layout import FeatureLayout

METHODS = ("integrated_gradients", "gradient_x_input")
RULES = ("adaptive", "gausslegendre", "midpoint")
ADAPTIVE_START = 15
"""The adaptive rule's first equal intervals (their 16 ends: one batch of gradients at the default batch size)."""
BASELINES = ("pad", "mask", "zeros")
BASELINE_TITLES = {
    "pad": "every word replaced by [PAD]",
    "mask": "every word replaced by [MASK]",
    "zeros": "every word's embedding set to zeros",
}
FRAME_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>")


@dataclass(frozen=True)
class AttributionSettings:
    """How the words are attributed and checked; the Classify page's widgets read their defaults here.

    Attributes:
        method: one of ``METHODS``.
        steps: integrated gradients' quadrature nodes (gradients along the path); for the adaptive rule, the
            most it may take.
        rule: the quadrature, one of ``RULES``.
        baseline: what the words are replaced by at the path's start, one of ``BASELINES``.
        batch_size: path points per forward and backward pass.
        max_steps: the most steps offered; the advice for a large completeness gap knows it.
        tolerance: the completeness gap, as a share of the logit's change, above which the split is flagged.
        random_orders: seeded random deletion orders the explanation is compared with.
        seed: the seed of those orders.
    """

    method: str = "integrated_gradients"
    steps: int = 64
    rule: str = "adaptive"
    baseline: str = "pad"
    batch_size: int = 16
    max_steps: int = 256
    tolerance: float = 0.05
    random_orders: int = 8
    seed: int = 0

    def check(self) -> AttributionSettings:
        """Raises ValueError for a bad setting; returns self."""
        for name, allowed in (("method", METHODS), ("rule", RULES), ("baseline", BASELINES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}.")
        for name in ("steps", "batch_size", "max_steps", "random_orders"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.rule == "adaptive" and self.method == "integrated_gradients" and int(self.steps) < 2:
            raise ValueError(f"the adaptive rule needs at least 2 steps (the path's ends), got {self.steps}.")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance must lie between 0 and 1, got {self.tolerance}.")
        return self


DEFAULTS = AttributionSettings()


def path_nodes(steps: int, rule: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """The quadrature's points on [0, 1] and their weights (summing to 1) for ``steps`` gradients.

    Raises:
        ValueError: Fewer than one step, or an unknown rule.
    """
    if rule not in RULES or rule == "adaptive":
        raise ValueError(f"rule must be one of {[r for r in RULES if r != 'adaptive']}, got {rule!r}.")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    if rule == "gausslegendre":
        points, weights = np.polynomial.legendre.leggauss(steps)
        return (points + 1) / 2, weights / 2
    return (np.arange(steps) + 0.5) / steps, np.full(steps, 1 / steps)


class LayoutImages(torch.nn.Module):
    """A fitted layout's transform in torch: scale the features, then each pixel the mean of its features.

    ``channels`` > 1: the layout was fitted on one layer's features and each of the vector's ``channels`` layers
    becomes its own channel, (n, channels, H, W) (a dataset of one layer per channel)."""

    def __init__(self, layout: FeatureLayout, channels: int = 1) -> None:
        super().__init__()
        self.layout, self.channels = layout, int(channels)
        matrix = torch.as_tensor(layout._matrix.toarray(), dtype=torch.float32)  # (features, pixels)
        self.register_buffer("matrix", matrix)
        self.register_buffer("scale_min", torch.as_tensor(np.asarray(layout.scale_min_), dtype=torch.float32))
        if layout.scaler in ("log", "norm2"):
            self.register_buffer("shift", torch.as_tensor(np.asarray(layout._log_shift()), dtype=torch.float32))
        if layout.scaler == "minmax":
            self.register_buffer("span", torch.as_tensor(np.asarray(layout.scale_span_), dtype=torch.float32))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n = len(features)
        if self.channels > 1:  # every layer's vector a row of the layout, as it was fitted
            features = features.reshape(n * self.channels, -1)
        scaler = self.layout.scaler
        if scaler in ("log", "norm2"):
            scaled = torch.log(torch.clamp(features + self.shift + 1, min=1.0)) / float(self.layout.scale_max_)
            scaled = scaled.clamp(0.0, 1.0)
        elif scaler == "minmax":
            scaled = ((features - self.scale_min) / self.span).clamp(0.0, 1.0)
        else:
            scaled = features
        shape = (self.channels, *self.layout.shape_) if self.channels > 1 else self.layout.shape_
        return (scaled @ self.matrix).reshape(n, *shape)


@dataclass
class Attribution:
    """Per-token attributions of one sentence toward one class."""

    tokens: list[str]
    scores: np.ndarray  # one per token, in the logit's units
    target: int
    probabilities: np.ndarray  # softmax(logits): the raw ones
    logit: float  # the target logit for the sentence
    baseline_logit: float  # ... and for the baseline
    method: str
    steps: int  # gradients taken
    rule: str = "gausslegendre"
    baseline: str = "pad"
    logits: np.ndarray | None = None  # every class's logit for the sentence

    def calibrated(self, temperature: float) -> np.ndarray:
        """The class probabilities at the model's fitted ``temperature``: softmax(logits / T), as Classify shows."""
        from core.calibration import scaled_probabilities

        if self.logits is None:
            raise ValueError("this attribution was made without its logits; attribute the sentence again.")
        return scaled_probabilities(self.logits, temperature)

    @property
    def change(self) -> float:
        """The target logit's change from the baseline to the sentence."""
        return self.logit - self.baseline_logit

    @property
    def completeness_gap(self) -> float:
        """|sum of attributions - (logit - baseline logit)|: near 0 for integrated gradients with enough steps."""
        return float(abs(self.scores.sum() - self.change))

    @property
    def relative_gap(self) -> float:
        """The completeness gap as a share of the logit's change (the change floored at 1e-6)."""
        return self.completeness_gap / max(abs(self.change), 1e-6)

    def table(self) -> list[dict[str, Any]]:
        pairs = zip(self.tokens, self.scores, strict=True)
        return [{"position": i, "token": t, "attribution": float(s)} for i, (t, s) in enumerate(pairs)]


_READERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fold_batch_norms(module: torch.nn.Module) -> None:
    """Fold every convolution that a batch norm directly follows (registered next to it) into one convolution, in
    place; a batch norm that carries its activation (timm's ``BatchNormAct2d``) leaves that activation behind."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    children = list(module.named_children())
    for _, child in children:
        _fold_batch_norms(child)
    for (conv_name, conv), (norm_name, norm) in zip(children, children[1:], strict=False):
        if (
            isinstance(conv, torch.nn.Conv2d)
            and isinstance(norm, torch.nn.BatchNorm2d)
            and norm.track_running_stats
            and conv.out_channels == norm.num_features
        ):
            setattr(module, conv_name, fuse_conv_bn_eval(conv, norm))
            after = [m for m in (getattr(norm, "drop", None), getattr(norm, "act", None)) if m is not None]
            setattr(module, norm_name, torch.nn.Sequential(*after) if after else torch.nn.Identity())


def reader(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` as the attributions read it: a copy with every convolution and the batch norm after it folded
    into one convolution and its tensors in channels-last order, the same function about 1.5 times faster on a
    CPU (see docs/benchmarks.md). Made once per model; the copy is checked against the model on one input and
    the model itself is used where they differ (a backbone whose registration order is not its forward order)."""
    if model in _READERS:
        return _READERS[model]
    from core.text_to_image.classifiers import input_shape, preprocess_for

    model.eval()
    fast = copy.deepcopy(model).eval()
    _fold_batch_norms(fast)
    fast = fast.to(memory_format=torch.channels_last)
    fast.config = model.config
    device = next(model.parameters()).device
    probe = torch.rand(2, *input_shape(model.config), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        batch = preprocess_for(model.config)(probe.to(device))
        expected, found = model(batch), fast(batch)
    same = torch.allclose(found, expected, rtol=1e-3, atol=1e-3 * float(expected.abs().max()) + 1e-5)
    _READERS[model] = fast if same else model
    return _READERS[model]


class Chain(torch.nn.Module):
    """Token embeddings -> the classifier's logits, exactly as a dataset images a text and a model reads it."""

    def __init__(self, imager: Any, model: torch.nn.Module) -> None:
        super().__init__()
        from core.text_to_image.classifiers import preprocess_for

        self.encoder, self.model = imager.encoder, reader(model)
        self.layers, self.pooling = list(imager.layers), imager.pooling
        self.device = next(model.parameters()).device  # the encoder may sit on another device (a GPU)
        from core.text_to_image.datasets import layout_rows

        self.images = LayoutImages(imager.layout, layout_rows(imager.config)).to(self.device)
        self.preprocess = preprocess_for(model.config)
        # normalised by the batch's own statistics (the paper's code), an image must be read alone
        self.alone = not model.config.get("normalise_stats")

    def features(self, embeds: torch.Tensor, mask: torch.Tensor, extra: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.encoder.model(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True, **extra)
        return self.encoder._pool(out.hidden_states, self.layers, mask, self.pooling)

    def forward(self, embeds: torch.Tensor, mask: torch.Tensor, extra: dict[str, torch.Tensor]) -> torch.Tensor:
        images = self.images(self.features(embeds, mask, extra).float().to(self.device))
        if self.alone:
            return torch.cat([self.model(self.preprocess(image[None])) for image in images])
        return self.model(self.preprocess(images))


def _inputs(encoder: Any, text: str) -> dict[str, torch.Tensor]:
    encoded = encoder.tokenizer(
        [text],
        truncation=True,
        max_length=encoder.max_length,
        return_tensors="pt",
        return_token_type_ids=bool(getattr(encoder, "_use_types", True)),
    )
    return {k: v.to(encoder.device) for k, v in encoded.items()}


def _frame(tokenizer: Any, ids: torch.Tensor) -> torch.Tensor:
    """Which positions are the sentence's frame ([CLS], [SEP] or their kin): kept in the baseline."""
    framing = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}
    framing.discard(None)  # only the sentence's frame is kept: [UNK] and typed [MASK] are words here
    return torch.as_tensor([i in framing for i in ids[0].tolist()], dtype=torch.bool, device=ids.device)


def _baseline(table: torch.nn.Module, tokenizer: Any, ids: torch.Tensor, embeds: torch.Tensor, kind: str):
    frame = _frame(tokenizer, ids)
    baseline = embeds.clone()
    if kind == "zeros":
        baseline[0, ~frame] = 0.0
    else:
        token = tokenizer.pad_token_id if kind == "pad" else tokenizer.mask_token_id
        if token is None:
            raise ValueError(f"{type(tokenizer).__name__} has no {kind} token; choose another baseline.")
        baseline[0, ~frame] = table(torch.tensor([token], device=ids.device))[0].float()
    return baseline


class _Path:
    """The straight path from the baseline's token embeddings to the sentence's, read through the chain."""

    def __init__(self, chain: Chain, start, difference, mask, inputs, target: int, batch_size: int) -> None:
        self.chain, self.start, self.difference, self.mask = chain, start, difference, mask
        self.inputs, self.target, self.batch_size = inputs, target, batch_size

    def _points(self, alphas: np.ndarray):
        for first in range(0, len(alphas), self.batch_size):
            chunk = torch.as_tensor(alphas[first : first + self.batch_size], dtype=torch.float32)
            chunk = chunk.to(self.start.device).view(-1, 1, 1)
            extra = {k: v.expand(len(chunk), -1) for k, v in self.inputs.items()}
            yield self.start + chunk * self.difference, self.mask.expand(len(chunk), -1), extra

    def gradients(self, alphas: np.ndarray) -> np.ndarray:
        """(nodes, tokens): at each point, the target logit's gradient times (embedding - baseline), summed over
        each token's dimensions."""
        return self.gradients_and_logits(alphas)[0]

    def gradients_and_logits(self, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`gradients` and the target logit at each point (read on the same forward pass)."""
        rows, values = [], []
        for points, mask, extra in self._points(alphas):
            points = points.detach().requires_grad_(True)
            logit = self.chain(points, mask, extra)[:, self.target]
            (gradient,) = torch.autograd.grad(logit.sum(), points)
            rows.append((gradient * self.difference).sum(dim=-1).detach().cpu().numpy())
            values.append(logit.detach().cpu().numpy())
        return np.concatenate(rows).astype(np.float64), np.concatenate(values).astype(np.float64)


def sentence_path(
    imager: Any,
    model: torch.nn.Module,
    text: str,
    target: int | None = None,
    baseline: str = DEFAULTS.baseline,
    batch_size: int = DEFAULTS.batch_size,
) -> tuple[_Path, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The straight path from ``baseline``'s token embeddings to ``text``'s, read through the chain toward class
    ``target`` (default: the predicted one); with the token ids and every class's logits for the sentence and for
    the baseline.

    Raises:
        ValueError: A class the model does not have, or a baseline token the tokenizer lacks.
    """
    encoder = imager.encoder
    chain = Chain(imager, model)
    inputs = _inputs(encoder, text)
    ids, mask = inputs.pop("input_ids"), inputs.pop("attention_mask")
    table = encoder.model.get_input_embeddings()
    with torch.no_grad():
        embeds = table(ids).float()
        start = _baseline(table, encoder.tokenizer, ids, embeds, baseline)
        logits = chain(torch.cat([embeds, start]), mask.expand(2, -1), {k: v.expand(2, -1) for k, v in inputs.items()})
        logits, baseline_logits = logits[0], logits[1]
        target = int(logits.argmax()) if target is None else int(target)
        if not 0 <= target < len(logits):
            raise ValueError(f"the model has {len(logits)} classes; class {target} does not exist.")
    return _Path(chain, start, embeds - start, mask, inputs, target, batch_size), ids, logits, baseline_logits


def adaptive_integral(path: _Path, budget: int, tolerance: float = DEFAULTS.tolerance) -> tuple[np.ndarray, int, float]:
    """Integrated gradients by the trapezoid rule on intervals halved where the path is rough (the ``adaptive``
    rule of the module's docstring).

    Every gradient pass also reads the target logit, so each interval knows its own completeness: the trapezoid's
    estimate (its width times the mean of its ends' gradients, summed over the tokens) against the logit's
    measured change over it. The intervals that miss most are halved, one new gradient each and a batch at a
    time, until the misses add up to at most ``tolerance`` of the logit's whole change (or 1e-3) or the budget is
    spent. Nothing is rescaled: the sum of the misses bounds the completeness gap.

    Args:
        path: the path, read through the chain.
        budget: the most gradients to take (at least two: the path's ends).
        tolerance: stop once the intervals' misses add up to less than this share of the logit's change.

    Returns:
        The tokens' attributions, the gradients taken and the intervals' misses added up.
    """
    if budget < 2:
        raise ValueError(f"the adaptive rule needs at least 2 steps (the path's ends), got {budget}.")
    edges = np.linspace(0.0, 1.0, min(ADAPTIVE_START, budget - 1) + 1)
    gradients, values = path.gradients_and_logits(edges)
    points = {float(a): (gradients[k], float(values[k])) for k, a in enumerate(edges)}
    intervals = [(float(edges[k]), float(edges[k + 1])) for k in range(len(edges) - 1)]
    used = len(edges)
    floor = max(tolerance * abs(values[-1] - values[0]), 1e-3)

    def estimate(interval: tuple[float, float]) -> np.ndarray:
        low, high = interval
        return (high - low) * (points[low][0] + points[high][0]) / 2

    def miss(interval: tuple[float, float]) -> float:
        return abs(estimate(interval).sum() - (points[interval[1]][1] - points[interval[0]][1]))

    misses = np.asarray([miss(i) for i in intervals])
    while used < budget and misses.sum() > floor:
        # the fewest of the worst intervals whose halving could bring the rest's misses under the floor
        order = np.argsort(-misses, kind="stable")
        left = misses.sum() - np.cumsum(misses[order])
        count = int(np.argmax(left <= floor)) + 1 if (left <= floor).any() else len(order)
        worst = sorted(int(k) for k in order[: min(count, path.batch_size, budget - used)])
        middles = [sum(intervals[k]) / 2 for k in worst]
        found, centre = path.gradients_and_logits(np.asarray(middles))
        for k, middle in enumerate(middles):
            points[middle] = (found[k], float(centre[k]))
        halves = [
            half for k, m in zip(worst, middles, strict=True) for half in ((intervals[k][0], m), (m, intervals[k][1]))
        ]
        split = set(worst)
        intervals = sorted([interval for k, interval in enumerate(intervals) if k not in split] + halves)
        used += len(worst)
        misses = np.asarray([miss(i) for i in intervals])
    scores = sum(estimate(interval) for interval in intervals)
    return np.asarray(scores, dtype=np.float64), used, float(misses.sum())


def attribute(
    imager: Any,
    model: torch.nn.Module,
    text: str,
    target: int | None = None,
    method: str = DEFAULTS.method,
    steps: int = DEFAULTS.steps,
    batch_size: int = DEFAULTS.batch_size,
    rule: str = DEFAULTS.rule,
    baseline: str = DEFAULTS.baseline,
) -> Attribution:
    """Attributions of ``text``'s tokens toward class ``target`` (default: the predicted one).

    Args:
        imager: the dataset's imager (:func:`core.text_to_image.classify.dataset_imager`).
        model: a trained classifier of that dataset.
        text: one sentence.
        target: the class whose logit is explained.
        method: ``integrated_gradients`` or ``gradient_x_input``.
        steps: integrated gradients' gradients along the path (the quadrature's nodes; the adaptive rule's most).
        batch_size: path points per forward and backward pass.
        rule: the quadrature, one of ``RULES``.
        baseline: the path's start, one of ``BASELINES``.

    Raises:
        ValueError: A bad setting, an empty text or a class the model does not have.
    """
    AttributionSettings(method, steps, rule, baseline, batch_size, max(steps, 1)).check()
    if not isinstance(text, str) or not text.strip():
        raise ValueError("type a sentence to explain.")
    path, ids, logits, baseline_logits = sentence_path(imager, model, text.strip(), target, baseline, batch_size)
    target = path.target
    if method == "gradient_x_input":
        scores, used = path.gradients(np.ones(1))[0], 1
    elif rule == "adaptive":
        scores, used, _ = adaptive_integral(path, steps)
    else:
        alphas, weights = path_nodes(steps, rule)
        scores, used = weights @ path.gradients(alphas), steps
    return Attribution(
        imager.encoder.tokenizer.convert_ids_to_tokens(ids[0].tolist()),
        np.asarray(scores, dtype=np.float64),
        target,
        torch.softmax(logits, dim=0).detach().cpu().numpy(),
        float(logits[target]),
        float(baseline_logits[target]),
        method,
        used,
        rule if method == "integrated_gradients" else "none",
        baseline,
        logits.detach().cpu().numpy().astype(np.float64),
    )


def word_spans(tokens: list[str]) -> list[tuple[str, list[int]]]:
    """Word pieces joined back into words (``##`` continuations): each word and its token positions, the
    frame tokens ([CLS], [SEP], padding) left out."""
    spans: list[tuple[str, list[int]]] = []
    for position, token in enumerate(tokens):
        if token in FRAME_TOKENS:
            continue
        if token.startswith("##") and spans:
            word, positions = spans[-1]
            spans[-1] = (word + token[2:], [*positions, position])
        else:
            spans.append((token, [position]))
    return spans


def words(attribution: Attribution) -> list[tuple[str, float]]:
    """Word pieces joined back into words (``##`` continuations), each with the sum of its pieces'
    attributions; the special tokens left out."""
    scores = attribution.scores
    return [(word, float(sum(scores[p] for p in positions))) for word, positions in word_spans(attribution.tokens)]


def completeness_advice(
    attribution: Attribution, max_steps: int = DEFAULTS.max_steps, tolerance: float = DEFAULTS.tolerance
) -> str | None:
    """What to do when the attributions miss the logit's change by more than ``tolerance`` of it (None when
    they do not): advice that fits the method, the quadrature and the steps already used."""
    gap, change = attribution.completeness_gap, abs(attribution.change)
    if gap <= tolerance * change + 1e-3:
        return None
    share = 100 * gap / max(change, 1e-6)
    miss = f"The attributions miss the logit's change ({attribution.change:+.3f}) by {gap:.3f} ({share:.0f} %)"
    if attribution.method == "gradient_x_input":
        return (
            f"{miss}: gradient × input reads one gradient, at the sentence, so its words need not add up and a word "
            "can take the wrong sign where the model bends. Integrated gradients follow the whole path from the "
            "baseline and add up."
        )
    if attribution.steps < max_steps:
        steps = attribution.steps
        return f"{miss}: the path is rough for this model at {steps} steps; raise the steps (up to {max_steps})."
    return (
        f"{miss} even at the most steps offered ({max_steps}): the model bends sharply along the path from this "
        "baseline (its ReLUs and the layout's clipping), so more steps help little. Try another baseline, and judge "
        "the words by the deletion check beside them."
    )


@dataclass
class Deletion:
    """The target's logit as the sentence's words are deleted, most-attributed first and in seeded random orders.

    The logit, not the probability: it is what the attributions split, and it does not saturate where the
    probability sits at 0 or 1.
    """

    words: list[str]
    order: list[int]  # word indices, the most attributed (toward the target) first
    deleted: np.ndarray  # the numbers of words deleted at which the curves are read, from 0 to all of them
    attributed: np.ndarray  # the target logit with the top ``deleted`` words gone
    random: np.ndarray  # (orders, len(deleted)): the same for each random order
    target: int

    @staticmethod
    def _area(curves: np.ndarray) -> np.ndarray:
        return (curves[..., :1] - curves).mean(axis=-1)

    @property
    def area(self) -> float:
        """Area over the attributed curve (AOPC, Samek et al. 2017): the mean drop of the logit over the curve."""
        return float(self._area(self.attributed))

    @property
    def random_areas(self) -> np.ndarray:
        """The same area for each random order."""
        return self._area(self.random)

    @property
    def beaten(self) -> float:
        """The share of random orders whose area is below the attributed one (ties count half)."""
        randoms = self.random_areas
        ties = np.isclose(randoms, self.area)
        return float(((randoms < self.area) & ~ties).sum() + 0.5 * ties.sum()) / len(randoms)

    def verdict(self) -> str:
        """In words: whether the explanation beats random deletion."""
        randoms = self.random_areas
        figures = (
            f"deleting the most-attributed words first lowers the logit by {self.area:.3f} on average over the "
            f"curve; {len(randoms)} random orders by {np.median(randoms):.3f} (median; "
            f"{randoms.min():.3f} to {randoms.max():.3f})"
        )
        if len(self.words) < 2:
            return f"One word: every order is the same ({figures})."
        if self.beaten >= 0.9:
            return f"The explanation beats random deletion: {figures}."
        if self.beaten > 0.5:
            return f"The explanation is only a little better than random deletion: {figures}."
        return f"The explanation is no better than random deletion, so read its colours as noise here: {figures}."


CURVE_POINTS = 9
"""The most points a deletion curve is read at (evenly spaced in the share of words deleted)."""


def deletion_check(
    imager: Any,
    model: torch.nn.Module,
    text: str,
    attribution: Attribution,
    random_orders: int = DEFAULTS.random_orders,
    seed: int = DEFAULTS.seed,
    batch_size: int = 32,
) -> Deletion:
    """Delete ``text``'s words most-attributed first (ties in sentence order) and re-predict the attributed
    class's logit; the same for ``random_orders`` seeded random orders.

    A deleted word is taken out of the sentence (all its word pieces); [CLS] and [SEP] stay. The curves are read
    after 0, 1, ... n words (at most ``CURVE_POINTS`` points, evenly spaced, for a long sentence).

    Raises:
        ValueError: Fewer than one random order, or an attribution of another sentence.
    """
    if random_orders < 1:
        raise ValueError(f"random_orders must be at least 1, got {random_orders}.")
    encoder = imager.encoder
    inputs = _inputs(encoder, text.strip())
    ids = inputs.pop("input_ids")[0]
    inputs.pop("attention_mask")
    if encoder.tokenizer.convert_ids_to_tokens(ids.tolist()) != attribution.tokens:
        raise ValueError("the attribution was computed for another sentence.")
    spans = word_spans(attribution.tokens)
    scores = np.asarray([sum(attribution.scores[p] for p in positions) for _, positions in spans])
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    generator = np.random.default_rng(seed)
    orders = [order, *(generator.permutation(len(spans)).tolist() for _ in range(random_orders))]
    deleted = np.unique(np.round(np.linspace(0, len(spans), min(len(spans) + 1, CURVE_POINTS))).astype(int))
    variants: dict[frozenset[int], int] = {}
    rows = [
        [variants.setdefault(frozenset(p for i in sequence[:k] for p in spans[i][1]), len(variants)) for k in deleted]
        for sequence in orders
    ]
    chain = Chain(imager, model)
    table = encoder.model.get_input_embeddings()
    pad = encoder.tokenizer.pad_token_id or 0
    logits = np.zeros(len(variants))
    gone_sets = list(variants)
    with torch.no_grad():
        for first in range(0, len(gone_sets), batch_size):
            chunk = gone_sets[first : first + batch_size]
            kept = [[int(t) for p, t in enumerate(ids.tolist()) if p not in gone] for gone in chunk]
            width = max(len(k) for k in kept)
            batch = torch.full((len(kept), width), pad, dtype=ids.dtype, device=ids.device)
            mask = torch.zeros((len(kept), width), dtype=torch.long, device=ids.device)
            for i, row in enumerate(kept):
                batch[i, : len(row)] = torch.as_tensor(row, device=ids.device)
                mask[i, : len(row)] = 1
            extra = {k: torch.zeros_like(batch) for k in inputs}  # token types: one segment
            found = chain(table(batch).float(), mask, extra)[:, attribution.target]
            logits[first : first + len(chunk)] = found.cpu().numpy()
    curves = logits[np.asarray(rows)]
    return Deletion([w for w, _ in spans], order, deleted, curves[0], curves[1:], attribution.target)
