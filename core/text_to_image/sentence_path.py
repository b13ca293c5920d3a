"""The whole path of one sentence through the text-as-image method, step by step, for teaching.

:func:`trace` runs one sentence through a dataset's chain and keeps what every step produced: its tokens and
ids; the pooled hidden state of every layer (embeddings layer through the last), each drawn on the same
per-layer grid; the pooled vectors of the dataset's layers; where the sentence's strongest features sit on the
combined layout; the image; the feature maps of the classifier's pretrained slice; the class probabilities and
the saliency map; and the attention of every head of every layer (transformers' ``output_attentions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.layout import FeatureLayout
from core.text_to_image import classify
from core.text_to_image.classifiers import SlicedClassifier, preprocess_for
from core.text_to_image.datasets import layout_rows
from core.text_to_image.imaging import stack_layers


@dataclass
class SentencePath:
    """What every step of the method made of one sentence."""

    text: str
    tokens: list[str]
    ids: list[int]
    all_layers: np.ndarray  # (L + 1, hidden): the pooled vector of every hidden state
    layer_images: np.ndarray  # (L + 1, h, w): each on the same per-layer grid
    features: np.ndarray  # (len(dataset layers) * hidden,): what the dataset's layout reads
    strongest: list[dict]  # the features with the largest scaled values and the pixels they sit on
    image: np.ndarray  # (H, W); (3, H, W) of one layer per channel
    slice_maps: np.ndarray  # (channels, h, w): the classifier's pretrained slice, most active channels first
    probabilities: np.ndarray  # softmax(logits): the raw ones
    saliency: np.ndarray  # (H, W); (3, H, W) of one layer per channel
    logits: np.ndarray
    attention: np.ndarray | None = None  # (layers, heads, tokens, tokens): output_attentions of every layer

    def calibrated(self, temperature: float) -> np.ndarray:
        """The class probabilities at the model's fitted ``temperature``: softmax(logits / T), as Classify shows."""
        from core.calibration import scaled_probabilities

        return scaled_probabilities(self.logits, temperature)


def trace(
    imager: classify.DatasetImager,
    per_layer: FeatureLayout,
    model: SlicedClassifier,
    text: str,
    strongest: int = 8,
    channels: int = 8,
) -> SentencePath:
    """One sentence through the whole chain (``per_layer``: a layout over the encoder's hidden dimensions, e.g.
    the per-layer layout of a fitted imager of the same encoder and pooling)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("type a sentence to follow.")
    encoder = imager.encoder
    if per_layer.n_features_in_ != encoder.hidden_size:
        raise ValueError(
            f"the per-layer layout places {per_layer.n_features_in_} features; "
            f"{encoder.name} has {encoder.hidden_size} hidden dimensions."
        )
    text = text.strip()
    encoded = encoder.tokenizer([text], truncation=True, max_length=encoder.max_length)
    ids = list(encoded["input_ids"][0])
    every = list(range(encoder.num_layers + 1))
    all_layers = encoder.embed([text], layers=every, pooling=imager.pooling).reshape(len(every), encoder.hidden_size)
    features, images = imager.images([text])
    # one layer per channel: the layout places one layer's dimensions, every layer's vector read through it
    scaled = imager.layout.scale(stack_layers(features, layout_rows(imager.config))).reshape(-1)
    order = np.argsort(-scaled)[:strongest]
    hidden, placed = encoder.hidden_size, len(imager.layout.coords_)
    top = [
        {
            "layer": imager.layers[int(f) // hidden],
            "dimension": int(f) % hidden,
            "value": float(features[0, f]),
            "scaled": float(scaled[f]),
            "pixel": tuple(int(v) for v in imager.layout.coords_[int(f) % placed]),
        }
        for f in order
    ]
    batch = preprocess_for(model.config)(torch.as_tensor(images))
    with torch.inference_mode():
        maps = model.body(batch)[0].float().numpy()
    active = np.argsort(-maps.mean(axis=(1, 2)))[:channels]
    saliency, logits = classify.saliency_and_logits(model, images[0])
    _, attention = encoder.attentions(text)
    return SentencePath(
        text,
        encoder.tokenizer.convert_ids_to_tokens(ids),
        ids,
        all_layers,
        per_layer.transform(all_layers),
        features[0],
        top,
        images[0],
        maps[active],
        torch.softmax(torch.from_numpy(logits), 0).numpy(),
        saliency,
        logits,
        attention,
    )
