"""The hybrid classifier: a vision transformer's tokens read by a text model's layers.

The paper (Liu, Chui & Lee 2023) publishes only its abstract, so the wiring here is the lab's own:

- ``stack`` (default): the vision model's last-layer tokens ([CLS] + patches) go through a linear adapter
  (vision width -> text width) and a layer norm, then through the first ``n`` encoder layers of the text
  model; a dropout and a linear head read the [CLS] position.
- ``parallel``: the same path, and the head reads the vision model's [CLS] vector and the text layers'
  [CLS] vector side by side (concatenated).

Ablation variants (:data:`VARIANTS`), each with the same head type and the same data, folds and seeds:
``vision`` (the vision model alone: the head on its [CLS] vector), ``random-text`` (the hybrid with the
text layers randomly initialised by the text model's own initialiser: tests whether it is the text
knowledge or just the extra depth that helps) and ``pretrained-text`` (the hybrid as meant).

The vision model is frozen by default: the model then takes its cached tokens as input. With
``vision_module`` given, the model takes pixels and runs the (frozen) vision model itself, which gives the
same outputs (used to measure what the cache saves).

One more reference, outside the ablation's variants (:data:`FINETUNED`, :class:`FineTunedVision`): the vision
model itself fine-tuned end to end as a classifier (its backbone learning too, read out as it classifies), the
"original model" the paper most likely compared against.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

WIRINGS = ("stack", "parallel")
READOUTS = ("cls", "mean-pool")
VARIANTS = ("vision", "random-text", "pretrained-text")
VARIANT_TITLES = {
    "vision": "vision model alone",
    "random-text": "hybrid, text layers randomly initialised (control)",
    "pretrained-text": "hybrid, pretrained text layers",
}
FINETUNED = "vision-finetuned"
"""The vision model fine-tuned end to end: a reference row, not one of :data:`VARIANTS` (a search's variants, and
so its identity, stay what they were)."""
VARIANT_TITLES[FINETUNED] = "vision model fine-tuned end to end (the original model)"


def text_layers(text_model: nn.Module, count: int | None, pretrained: bool, seed: int) -> nn.ModuleList:
    """The first ``count`` encoder layers of a BERT-style ``text_model`` (all when None): copies of the
    pretrained ones, or the same architecture initialised by the model's own initialiser from ``seed``.
    The text model itself is never changed."""
    layers = getattr(getattr(text_model, "encoder", None), "layer", None)
    if layers is None:
        raise ValueError(
            f"the text model ({type(text_model).__name__}) has no encoder.layer list; choose a BERT-style model "
            "(all-MiniLM-L6-v2, bert-base-uncased)."
        )
    count = len(layers) if count is None else int(count)
    if not 1 <= count <= len(layers):
        raise ValueError(f"the text model has {len(layers)} layers; choose 1 to {len(layers)}, got {count}.")
    if pretrained:
        return nn.ModuleList(copy.deepcopy(layer) for layer in layers[:count])
    config = copy.deepcopy(text_model.config)
    config.num_hidden_layers = count
    torch.manual_seed(seed)
    fresh = type(text_model)(config)
    return nn.ModuleList(fresh.encoder.layer)


class HybridClassifier(nn.Module):
    """Vision tokens (or pixels), optionally through text layers, to class scores (see the module doc).

    Args:
        vision_hidden: width of the vision tokens.
        n_classes: outputs of the head.
        layers: text encoder layers (None: the vision model alone).
        text_hidden: width of the text layers.
        wiring: ``stack`` or ``parallel`` (ignored without layers).
        dropout: before the head.
        vision_module: a frozen vision model taking pixels (``pixel_values -> last_hidden_state``); None: the
            inputs are its cached tokens.
    """

    def __init__(
        self,
        vision_hidden: int,
        n_classes: int,
        layers: nn.ModuleList | None = None,
        text_hidden: int | None = None,
        wiring: str = "stack",
        dropout: float = 0.1,
        vision_module: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if wiring not in WIRINGS:
            raise ValueError(f"wiring must be one of {WIRINGS}, got {wiring!r}.")
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least two classes, got {n_classes}.")
        self.wiring = wiring if layers is not None else "vision"
        self.layers = layers
        self.vision_module = vision_module
        if vision_module is not None:
            vision_module.requires_grad_(False)
        if layers is not None:
            width = int(text_hidden or vision_hidden)
            self.adapter = nn.Sequential(nn.Linear(vision_hidden, width), nn.LayerNorm(width))
            head_in = width + (vision_hidden if wiring == "parallel" else 0)
        else:
            head_in = vision_hidden
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(head_in, n_classes)

    def tokens(self, inputs: torch.Tensor) -> torch.Tensor:
        """The vision tokens of a batch: the inputs themselves, or the frozen vision model's output."""
        if self.vision_module is None:
            return inputs.float()
        self.vision_module.eval()
        with torch.no_grad():
            return self.vision_module(pixel_values=inputs).last_hidden_state.float()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens = self.tokens(inputs)
        if self.layers is None:
            return self.head(self.dropout(tokens[:, 0]))
        hidden = self.adapter(tokens)
        for layer in self.layers:
            out = layer(hidden)
            hidden = out[0] if isinstance(out, tuple) else out
        pooled = hidden[:, 0]
        if self.wiring == "parallel":
            pooled = torch.cat([tokens[:, 0], pooled], dim=1)
        return self.head(self.dropout(pooled))


def build(
    variant: str,
    vision_hidden: int,
    n_classes: int,
    text_model: nn.Module | None,
    layer_count: int | None,
    wiring: str,
    seed: int,
    vision_module: nn.Module | None = None,
) -> HybridClassifier:
    """A classifier of ``variant`` (:data:`VARIANTS`). The adapter and head start from ``seed`` whatever
    the variant, so the variants of one seed differ only in their text layers."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
    layers = None
    text_hidden = None
    if variant != "vision":
        if text_model is None:
            raise ValueError("the hybrid variants need a text model.")
        layers = text_layers(text_model, layer_count, variant == "pretrained-text", seed)
        text_hidden = text_model.config.hidden_size
    torch.manual_seed(seed)
    return HybridClassifier(vision_hidden, n_classes, layers, text_hidden, wiring, vision_module=vision_module)


class FineTunedVision(nn.Module):
    """The vision model fine-tuned as a classifier: uint8 images -> its input normalisation -> the whole backbone
    (a copy that learns; the model given is never changed) -> its readout -> dropout -> a linear head.

    Args:
        backbone: the vision model (``pixel_values -> last_hidden_state``, and ``pooler_output`` for ``mean-pool``).
        n_classes: outputs of the head.
        readout: ``cls`` (the [CLS] token after the final norm: DINOv2, ViT) or ``mean-pool`` (its pooler: BEiT).
        preprocess: uint8 images (n, C, H, W) -> the backbone's pixels (e.g. :meth:`VisionModel.pixels`).
        seed: the head's initialisation; the same seed gives the vision model alone's head the same start.
        dropout: before the head.
    """

    def __init__(
        self,
        backbone: nn.Module,
        n_classes: int,
        readout: str,
        preprocess: Callable[[torch.Tensor], torch.Tensor],
        seed: int,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}.")
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least two classes, got {n_classes}.")
        self.backbone = copy.deepcopy(backbone).requires_grad_(True)
        self.readout, self.preprocess = readout, preprocess
        torch.manual_seed(seed)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.config.hidden_size, n_classes)

    def parameter_groups(self, learning_rate: float, backbone_factor: float) -> list[dict]:
        """The optimiser's groups: the head at ``learning_rate``, the backbone at ``backbone_factor`` times it."""
        return [
            {"params": list(self.head.parameters()), "lr": learning_rate},
            {"params": list(self.backbone.parameters()), "lr": learning_rate * backbone_factor},
        ]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.backbone(pixel_values=self.preprocess(images))
        vector = out.pooler_output if self.readout == "mean-pool" else out.last_hidden_state[:, 0]
        return self.head(self.dropout(vector.float()))
