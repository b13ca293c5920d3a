"""Live classification: new texts imaged exactly as a dataset's were, every chosen model's
probabilities, the ensemble's vote, and an input-gradient saliency mapped back to features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import store
from core.layout import FeatureLayout
from core.store import Artifact
from core.text_to_image.classifiers import SlicedClassifier, build_classifier, check_images, preprocess_for


def load_model(folder: str | Path, device: str = "cpu") -> SlicedClassifier:
    """A trained model from a folder holding ``model.safetensors`` and its ``config.json``.

    The architecture is rebuilt from the config (no weights are downloaded: they all come from the
    checkpoint). Anything else is refused: a folder without a config of a trained model, pickle
    files, or weights that do not fit the config's architecture.
    """
    from core.train import load_checkpoint

    folder = Path(folder)
    config = store.read_json(folder / store.CONFIG_NAME)
    if not isinstance(config, dict) or "classifier" not in config or "dataset" not in config:
        raise ValueError(
            f"{folder}/config.json does not describe a trained text-as-image model (no classifier / dataset)."
        )
    model = build_classifier({**config["classifier"], "pretrained": False})
    load_checkpoint(folder, model, config, ("dataset", "classifier"))
    model.config["pretrained"] = config["classifier"]["pretrained"]  # the weights came from the checkpoint
    return model.to(device).eval()


@dataclass
class DatasetImager:
    """Turns new texts into images exactly as a dataset's texts were: same encoder, layers, layout."""

    encoder: Any
    layers: list[int]
    pooling: str
    layout: FeatureLayout
    config: dict[str, Any]

    def images(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(features (n, F), images (n, H, W); (n, 3, H, W) for a dataset of one layer per channel) of ``texts``."""
        from core.text_to_image.datasets import images_of

        features = self.encoder.embed(texts, layers=self.layers, pooling=self.pooling)
        return features, images_of(self.layout, features, self.config)


def dataset_imager(dataset: Artifact, encoder: Any = None) -> DatasetImager:
    """The imager of a dataset (its encoder is loaded unless given; it must be the same model and revision)."""
    from core.encoders import TextEncoder

    config = dataset.config
    encoder = encoder or TextEncoder.from_name(config["encoder"]["name"])
    now, then = encoder.describe(), config["encoder"]
    if (now["model_id"], now["revision"]) != (then["model_id"], then["revision"]):
        raise ValueError(
            f"dataset {dataset.id} was made with {then['model_id']} ({then['revision'][:12]}), "
            f"not {now['model_id']} ({now['revision'][:12]})."
        )
    return DatasetImager(
        encoder, list(config["layers"]), config["pooling"], FeatureLayout.load(dataset.file("layout")), config
    )


def saliency_and_logits(
    model: SlicedClassifier, image: np.ndarray, target: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Input-gradient saliency of one (H, W) image: |d logit[target] / d pixel| (target: the predicted class).

    Returns (saliency (H, W), class logits): the logits, so that a caller can calibrate them (softmax(logits / T)).
    """
    config = model.config
    tensor = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
    check_images(config, tensor)
    device = next(model.parameters()).device
    tensor = tensor.to(device).requires_grad_(True)
    model.eval()
    with torch.enable_grad():
        logits = model(preprocess_for(config)(tensor))
        target = int(logits.argmax(1)) if target is None else int(target)
        logits[0, target].backward()
    return tensor.grad[0].abs().cpu().numpy(), logits.detach()[0].float().cpu().numpy()


def saliency(model: SlicedClassifier, image: np.ndarray, target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Input-gradient saliency of one (H, W) image (see :func:`saliency_and_logits`).

    Returns (saliency (H, W), class probabilities).
    """
    found, logits = saliency_and_logits(model, image, target)
    return found, torch.softmax(torch.from_numpy(logits), 0).numpy()


def influential_features(
    layout: FeatureLayout, saliency_map: np.ndarray, layers: list[int], hidden: int, values: np.ndarray, k: int = 10
) -> list[dict[str, Any]]:
    """The features on the ``k`` most salient pixels that hold features, each as (layer, dimension) through the layout.

    Empty pixels (0 in every image) are passed over, whatever their gradient; features that share a
    pixel share its saliency; every index returned is a valid feature of ``values`` (one text's
    feature vector). A (C, H, W) map is of an image of one layer per channel: the layout places one layer's
    dimensions, and channel c holds layer c's.
    """
    maps = saliency_map if saliency_map.ndim == 3 else saliency_map[None]  # grey: one channel, 0
    _, height, width = maps.shape
    rows, seen = [], set()
    for flat in np.argsort(maps, axis=None)[::-1]:
        channel, rest = divmod(int(flat), height * width)
        row, col = divmod(rest, width)
        placed_here = layout.inverse(row, col)
        if len(placed_here):
            seen.add((channel, row, col))
        for placed in placed_here:
            feature = channel * hidden + int(placed)
            layer_index, dimension = divmod(feature, hidden)
            rows.append(
                {
                    "feature": int(feature),
                    "layer": int(layers[layer_index]),
                    "dimension": int(dimension),
                    "pixel": (row, col),
                    "saliency": float(maps[channel, row, col]),
                    "value": float(values[feature]),
                }
            )
        if len(seen) >= k:
            break
    return rows


def classify(
    models: dict[str, SlicedClassifier], image: np.ndarray, temperatures: dict[str, float | None] | None = None
) -> dict[str, Any]:
    """Every model's class probabilities for one image, and the ensemble's vote (mean probability).

    Args:
        models: the models by name.
        image: one (H, W) image.
        temperatures: each model's fitted temperature by name (see :mod:`core.text_to_image.calibration`): its
            probabilities are then softmax(logits / T), the calibrated ones. A model with none (or None for all)
            gives its raw softmax(logits).

    Returns:
        ``per_model`` (the probabilities shown: calibrated where a temperature was given), ``raw`` (every model's
        uncalibrated probabilities), ``mean``, ``votes`` and ``vote`` (of the probabilities shown) and
        ``temperatures`` (the one used for each model, 1.0 for raw).
    """
    from core.calibration import scaled_probabilities
    from core.train import forward_batches

    tensor = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
    per_model, raw, used = {}, {}, {}
    for name, model in models.items():
        check_images(model.config, tensor)
        logits = forward_batches(model, tensor, preprocess_for(model.config))[0].numpy()
        used[name] = float((temperatures or {}).get(name) or 1.0)
        raw[name] = scaled_probabilities(logits).astype(np.float32)
        per_model[name] = scaled_probabilities(logits, used[name]).astype(np.float32)
    if not per_model:
        raise ValueError("no trained model to classify with; train one first.")
    mean = np.mean(list(per_model.values()), axis=0)
    votes = np.bincount([int(p.argmax()) for p in per_model.values()], minlength=len(mean))
    return {
        "per_model": per_model,
        "raw": raw,
        "mean": mean,
        "votes": votes,
        "vote": int(mean.argmax()),
        "temperatures": used,
    }
