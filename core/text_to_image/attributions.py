"""Which tokens of a sentence pushed a text-as-image classifier's prediction: attributions through the whole
chain, classifier <- image <- layout <- pooled hidden states <- token embeddings.

Every step of the chain is differentiable here: the encoder reads the token embeddings (``inputs_embeds``),
the chosen layers are pooled as the dataset's texts were, the layout's scaler and its pixel averaging are
the same arithmetic as :meth:`core.layout.FeatureLayout.transform` written in torch (checked equal to it),
and the classifier reads the image through its own preprocessing. Two methods:

- ``integrated_gradients`` (Sundararajan et al. 2017): the token embeddings move in ``steps`` straight
  steps from a baseline (every word replaced by the [PAD] embedding; [CLS] and [SEP] kept) to the sentence;
  a token's attribution is its embedding's difference from the baseline times the mean gradient of the
  target logit along the way, summed over the embedding's dimensions. The attributions add up to the
  logit's change from the baseline to the sentence (completeness); the gap is reported.
- ``gradient_x_input``: the gradient at the sentence times (embedding - baseline), one backward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.layout import FeatureLayout

METHODS = ("integrated_gradients", "gradient_x_input")


class LayoutImages(torch.nn.Module):
    """A fitted layout's transform in torch: scale the features, then each pixel the mean of its features."""

    def __init__(self, layout: FeatureLayout) -> None:
        super().__init__()
        self.layout = layout
        matrix = torch.as_tensor(layout._matrix.toarray(), dtype=torch.float32)  # (features, pixels)
        self.register_buffer("matrix", matrix)
        self.register_buffer("scale_min", torch.as_tensor(np.asarray(layout.scale_min_), dtype=torch.float32))
        if layout.scaler in ("log", "norm2"):
            self.register_buffer("shift", torch.as_tensor(np.asarray(layout._log_shift()), dtype=torch.float32))
        if layout.scaler == "minmax":
            self.register_buffer("span", torch.as_tensor(np.asarray(layout.scale_span_), dtype=torch.float32))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        scaler = self.layout.scaler
        if scaler in ("log", "norm2"):
            scaled = torch.log(torch.clamp(features + self.shift + 1, min=1.0)) / float(self.layout.scale_max_)
            scaled = scaled.clamp(0.0, 1.0)
        elif scaler == "minmax":
            scaled = ((features - self.scale_min) / self.span).clamp(0.0, 1.0)
        else:
            scaled = features
        return (scaled @ self.matrix).reshape(len(features), *self.layout.shape_)


@dataclass
class Attribution:
    """Per-token attributions of one sentence toward one class."""

    tokens: list[str]
    scores: np.ndarray  # one per token, in the logit's units
    target: int
    probabilities: np.ndarray
    logit: float  # the target logit for the sentence
    baseline_logit: float  # ... and for the baseline
    method: str
    steps: int

    @property
    def completeness_gap(self) -> float:
        """|sum of attributions - (logit - baseline logit)|: near 0 for integrated gradients with enough steps."""
        return float(abs(self.scores.sum() - (self.logit - self.baseline_logit)))

    def table(self) -> list[dict[str, Any]]:
        pairs = zip(self.tokens, self.scores, strict=True)
        return [{"position": i, "token": t, "attribution": float(s)} for i, (t, s) in enumerate(pairs)]


class Chain(torch.nn.Module):
    """Token embeddings -> the classifier's logits, exactly as a dataset images a text and a model reads it."""

    def __init__(self, imager: Any, model: torch.nn.Module) -> None:
        super().__init__()
        from core.text_to_image.classifiers import preprocess_for

        self.encoder, self.model = imager.encoder, model.eval()
        self.layers, self.pooling = list(imager.layers), imager.pooling
        self.device = next(model.parameters()).device  # the encoder may sit on another device (a GPU)
        self.images = LayoutImages(imager.layout).to(self.device)
        self.preprocess = preprocess_for(model.config)

    def features(self, embeds: torch.Tensor, mask: torch.Tensor, extra: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.encoder.model(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True, **extra)
        return self.encoder._pool(out.hidden_states, self.layers, mask, self.pooling)

    def forward(self, embeds: torch.Tensor, mask: torch.Tensor, extra: dict[str, torch.Tensor]) -> torch.Tensor:
        images = self.images(self.features(embeds, mask, extra).float().to(self.device))
        # one image at a time: a preprocessing that normalises by the batch's statistics must see only its image
        return torch.cat([self.model(self.preprocess(image[None])) for image in images])


def _inputs(encoder: Any, text: str) -> dict[str, torch.Tensor]:
    encoded = encoder.tokenizer(
        [text],
        truncation=True,
        max_length=encoder.max_length,
        return_tensors="pt",
        return_token_type_ids=bool(getattr(encoder, "_use_types", True)),
    )
    return {k: v.to(encoder.device) for k, v in encoded.items()}


def attribute(
    imager: Any,
    model: torch.nn.Module,
    text: str,
    target: int | None = None,
    method: str = "integrated_gradients",
    steps: int = 128,
    batch_size: int = 8,
) -> Attribution:
    """Attributions of ``text``'s tokens toward class ``target`` (default: the predicted one).

    Args:
        imager: the dataset's imager (:func:`core.text_to_image.classify.dataset_imager`).
        model: a trained classifier of that dataset.
        text: one sentence.
        target: the class whose logit is explained.
        method: ``integrated_gradients`` or ``gradient_x_input``.
        steps: integrated gradients' steps (midpoint rule).
        batch_size: interpolation steps per forward pass.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("type a sentence to explain.")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    encoder = imager.encoder
    chain = Chain(imager, model)
    inputs = _inputs(encoder, text.strip())
    ids, mask = inputs.pop("input_ids"), inputs.pop("attention_mask")
    table = encoder.model.get_input_embeddings()
    with torch.no_grad():
        embeds = table(ids).float()
        tokenizer = encoder.tokenizer
        framing = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}
        framing.discard(None)  # only the sentence's frame is kept: [UNK] and typed [MASK] are words here
        special = torch.as_tensor([i in framing for i in ids[0].tolist()], dtype=torch.bool, device=ids.device)
        baseline = embeds.clone()
        pad = torch.tensor([tokenizer.pad_token_id], device=ids.device)
        baseline[0, ~special] = table(pad)[0].float()
        logits = chain(embeds, mask, inputs)[0]
        target = int(logits.argmax()) if target is None else int(target)
        if not 0 <= target < len(logits):
            raise ValueError(f"the model has {len(logits)} classes; class {target} does not exist.")
        baseline_logit = float(chain(baseline, mask, inputs)[0, target])
    difference = embeds - baseline
    midpoints = (torch.arange(steps, dtype=torch.float32, device=embeds.device) + 0.5) / steps
    alphas = torch.ones(1, device=embeds.device) if method == "gradient_x_input" else midpoints
    gradient_sum = torch.zeros_like(embeds)
    for start in range(0, len(alphas), batch_size):
        chunk = alphas[start : start + batch_size].view(-1, 1, 1)
        points = (baseline + chunk * difference).detach().requires_grad_(True)
        repeat = len(chunk)
        extra = {k: v.expand(repeat, -1) for k, v in inputs.items()}
        out = chain(points, mask.expand(repeat, -1), extra)[:, target].sum()
        (gradient,) = torch.autograd.grad(out, points)
        gradient_sum += gradient.sum(dim=0, keepdim=True)
    scores = (difference * gradient_sum / len(alphas)).sum(dim=-1)[0].detach().cpu().numpy()
    tokens = encoder.tokenizer.convert_ids_to_tokens(ids[0].tolist())
    return Attribution(
        tokens,
        scores.astype(np.float64),
        target,
        torch.softmax(logits, dim=0).detach().cpu().numpy(),
        float(logits[target]),
        baseline_logit,
        method,
        len(alphas),
    )


def words(attribution: Attribution) -> list[tuple[str, float]]:
    """Word pieces joined back into words (``##`` continuations), each with the sum of its pieces'
    attributions; the special tokens left out."""
    joined: list[tuple[str, float]] = []
    for token, score in zip(attribution.tokens, attribution.scores, strict=True):
        if token in ("[CLS]", "[SEP]", "[PAD]", "<s>", "</s>"):
            continue
        if token.startswith("##") and joined:
            word, total = joined[-1]
            joined[-1] = (word + token[2:], total + float(score))
        else:
            joined.append((token, float(score)))
    return joined
