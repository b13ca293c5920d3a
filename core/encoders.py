"""Text encoders: per-layer sentence vectors from a BERT-style transformer.

A :class:`TextEncoder` wraps a Hugging Face encoder model and its tokenizer and turns a list of
texts into a ``float32`` matrix with one row per text. The row holds, for every chosen entry of
the model's ``hidden_states`` (index 0 is the embeddings output, index ``i`` the output of
transformer layer ``i``), the pooled vector of that layer (``[CLS]`` token or attention-mask-aware
mean over the real tokens), the layers concatenated in the order asked for.

Where the model comes from (the packaged all-MiniLM-L6-v2, the five-part all-mpnet-base-v2, a
folder, or the hub) is :mod:`core.hub`'s business. A model that cannot be had raises
:class:`core.errors.ResourceUnavailable` with a message that says what to do; bad parameters and
bad input raise ``ValueError``.
"""

from __future__ import annotations

import contextlib
import inspect
import operator
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core import hub
from core.errors import Interrupted, ResourceUnavailable
from core.store import Callback


@dataclass(frozen=True)
class EncoderDefaults:
    """Default encoder settings used by the app and the CLI.

    Attributes:
        name: Encoder loaded when none is chosen (the packaged, offline one).
        pooling: How a layer's token vectors become one vector: ``"cls"`` or ``"mean"``.
        batch_size: Texts per forward pass.
    """

    name: str = hub.DEFAULT_TEXT_MODEL
    pooling: str = "cls"
    batch_size: int = 32


DEFAULTS = EncoderDefaults()
POOLINGS = ("cls", "mean")


def recommended_pooling(name: str) -> str:
    """The pooling a model was trained to be read through: the mask-aware mean for sentence-transformers
    models (all-MiniLM-L6-v2, all-mpnet-base-v2), the [CLS] vector otherwise (bert-base, the paper's choice).

    With all-MiniLM-L6-v2's [CLS] vector a classifier trained on a small Rotten Tomatoes set answered the majority
    class for every text; with its mean-pooled vector the same recipe learns.
    """
    key = str(name).strip().lower()
    sentence_models = ("all-minilm-l6-v2", "all-mpnet-base-v2")
    return "mean" if key.startswith("sentence-transformers/") or key in sentence_models else "cls"


def default_layers(num_layers: int) -> list[int]:
    """The ``hidden_states`` indices used when none are chosen.

    Args:
        num_layers: Number of transformer layers of the model (``config.num_hidden_layers``).

    Returns:
        For a 12-layer model the paper code's layers 6..11 (``hidden_states[6:12]``); otherwise the last
        six transformer layers ``L-5..L``; for a model with fewer than six layers every transformer layer ``1..L``.

    Raises:
        ValueError: ``num_layers`` is not a positive integer.
    """
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}.")
    num_layers = int(num_layers)
    if num_layers == 12:
        return list(range(6, 12))
    return list(range(max(1, num_layers - 5), num_layers + 1))


LAYER_SETS = {
    "paper-code": [6, 7, 8, 9, 10, 11],
    "last-six": [-6, -5, -4, -3, -2, -1],
}
"""Named layer choices of the text-as-image paper: its code takes ``hidden_states[6:12]`` (bert-base's layers
6..11, the last layer left out); its abstract says "the last six layers" (7..12 for bert-base)."""


def parse_layers(text: str) -> list[int] | None:
    """Layers typed as text ("6 7 8", "-2, -1", or a name of :data:`LAYER_SETS`): ``hidden_states`` indices,
    or None (the defaults) when blank.

    Raises:
        ValueError: something other than whole numbers separated by spaces or commas, or a set's name.
    """
    if text.strip() in LAYER_SETS:
        return list(LAYER_SETS[text.strip()])
    words = text.replace(",", " ").split()
    try:
        return [int(word) for word in words] or None
    except ValueError:
        raise ValueError(
            f"layers must be whole numbers separated by spaces or commas (hidden_states indices, 0 = the "
            f"embedding output, -1 = the last layer) or one of {', '.join(LAYER_SETS)}, got {text!r}."
        ) from None


def _accepts(model: Any, argument: str) -> bool:
    """Whether ``model.forward`` names ``argument`` (True when its signature cannot be read)."""
    try:
        return argument in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return True


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N' or None (pick automatically), got {device!r}."
        ) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ResourceUnavailable("device 'cuda' was asked for but no CUDA GPU is usable here; use device='cpu'.")
    return resolved


class TextEncoder:
    """A transformer text encoder returning pooled hidden states of chosen layers.

    Build one with :meth:`from_name`. The model is kept in eval mode on ``device``; ``embed`` runs
    under ``torch.inference_mode`` (and bf16 autocast on CUDA) and may be called from several
    threads.

    Attributes:
        name: The encoder's name as asked for (the absolute path for a local folder), so that
            ``from_name(encoder.name)`` loads it again.
        model_id: Hugging Face id, or the folder the weights were read from.
        revision: SHA-256 of the weights file for packaged and local models; the hub commit hash
            for hub models, or ``"unknown"``.
        num_layers: Number of transformer layers; ``hidden_states`` has ``num_layers + 1`` entries.
        hidden_size: Width of each hidden state.
        max_length: Tokens per text (special tokens included) beyond which a text is truncated:
            ``min(tokenizer.model_max_length, config.max_position_embeddings)``.
        device: Where the model runs.
        default_layers: ``default_layers(num_layers)``, used when ``layers`` is None.
        model: The underlying ``transformers`` model.
        tokenizer: The underlying ``transformers`` tokenizer.
    """

    def __init__(
        self, model: Any, tokenizer: Any, name: str, model_id: str, revision: str, device: torch.device
    ) -> None:
        """Wraps a loaded model and tokenizer; prefer :meth:`from_name`.

        Args:
            model: A ``transformers`` encoder model whose forward accepts ``output_hidden_states``.
            tokenizer: Its tokenizer.
            name: Display name.
            model_id: Hub id or folder.
            revision: Weights hash or commit hash.
            device: Where to run the model.

        Raises:
            ResourceUnavailable: The model is not a text encoder with layers and a hidden size.
        """
        config = model.config
        num_layers = getattr(config, "num_hidden_layers", None)
        hidden_size = getattr(config, "hidden_size", None)
        if not isinstance(num_layers, int) or not isinstance(hidden_size, int):
            raise ResourceUnavailable(
                f"{name} does not look like a text encoder (its config has no num_hidden_layers/hidden_size); "
                f"choose a BERT-style model, e.g. {DEFAULTS.name}."
            )
        if tokenizer.pad_token_id is None:
            raise ResourceUnavailable(f"the tokenizer of {name} has no padding token; choose a BERT-style encoder.")
        if next(model.parameters()).dtype != torch.float32:
            model = model.float()
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.name = name
        self.model_id = model_id
        self.revision = revision
        self.device = device
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        limits = [int(tokenizer.model_max_length or 0)]
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            limits.append(positions)
        limits = [x for x in limits if 0 < x < 1_000_000]
        self.max_length = min(limits) if limits else 512
        self.default_layers = default_layers(num_layers)
        self._pad_id = int(tokenizer.pad_token_id)
        self._pad_type_id = int(getattr(tokenizer, "pad_token_type_id", 0) or 0)
        # BERT takes token_type_ids; MPNet (and RoBERTa-style tokenizers) have none to give or take
        self._use_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ()) and _accepts(
            model, "token_type_ids"
        )
        self._tokenizer_lock = threading.Lock()
        self._attention_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"TextEncoder(name={self.name!r}, layers={self.num_layers}, "
            f"hidden={self.hidden_size}, device={self.device})"
        )

    @classmethod
    def from_name(cls, name: str = DEFAULTS.name, device: str | None = None) -> TextEncoder:
        """Loads an encoder by name, folder or Hugging Face id (see :func:`core.hub.load_text_model`).

        Args:
            name: a packaged name, a folder, or a Hugging Face id.
            device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``; None picks CUDA when available.

        Returns:
            The loaded encoder, in eval mode on ``device``.

        Raises:
            ResourceUnavailable: The package (or a part package), folder or hub model cannot be had here.
            ValueError: ``name`` is not a non-empty string, or ``device`` is not a device.
        """
        if not isinstance(name, (str, os.PathLike)) or not str(name).strip():
            raise ValueError(f"name must be an encoder name, a folder or a Hugging Face id, got {name!r}.")
        resolved = _resolve_device(device)
        loaded = hub.load_text_model(str(name))
        return cls(loaded.model, loaded.tokenizer, loaded.name, loaded.model_id, loaded.revision, resolved)

    def normalise_layers(self, layers: Sequence[int] | None = None) -> list[int]:
        """Checks ``layers`` and returns them as non-negative ``hidden_states`` indices, order kept.

        Args:
            layers: ``hidden_states`` indices (negatives count from the end); None means
                ``self.default_layers``.

        Returns:
            The indices in ``0..num_layers``, in the order given.

        Raises:
            ValueError: ``layers`` is empty, holds a non-integer, an index out of range, or the same
                hidden state twice (``-1`` and ``num_layers`` are the same one).
        """
        if layers is None:
            return list(self.default_layers)
        count = self.num_layers + 1
        valid = f"valid hidden_states indices are 0..{self.num_layers} (0 = embeddings output) or -{count}..-1"
        if isinstance(layers, (str, bytes)) or not isinstance(layers, (Sequence, np.ndarray, range)):
            raise ValueError(f"layers must be a list of integers or None (the defaults), got {layers!r}; {valid}.")
        normalised = []
        for layer in layers:
            if isinstance(layer, (bool, np.bool_)):
                raise ValueError(f"layers must hold integers, got {layer!r}; {valid}.")
            try:
                index = operator.index(layer)
            except TypeError as err:
                raise ValueError(f"layers must hold integers, got {layer!r}; {valid}.") from err
            if not -count <= index < count:
                raise ValueError(f"layer {index} is out of range for {self.name}: {valid}.")
            normalised.append(index % count)
        if not normalised:
            raise ValueError(
                f"layers is empty; give at least one layer or None for the defaults {self.default_layers}."
            )
        if len(set(normalised)) != len(normalised):
            dupes = sorted({x for x in normalised if normalised.count(x) > 1})
            raise ValueError(
                f"layers {list(layers)} name the same hidden state more than once ({dupes}, "
                "counting negative indices); give each layer once."
            )
        return normalised

    @staticmethod
    def _check_texts(texts: Sequence[str]) -> list[str]:
        if isinstance(texts, (str, bytes)):
            raise ValueError("texts must be a list of strings, not a single string; wrap one text as [text].")
        try:
            items = list(texts)
        except TypeError as err:
            raise ValueError(f"texts must be a list of strings, got {type(texts).__name__}.") from err
        if not items:
            raise ValueError("texts is empty; give at least one text.")
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise ValueError(f"texts[{i}] is a {type(text).__name__}, not a string; every text must be a str.")
            if not text.strip():
                raise ValueError(f"texts[{i}] is empty or only whitespace; remove it or give it some words.")
        return items

    def _tokenize(self, texts: list[str], max_length: int) -> dict[str, list[list[int]]]:
        with self._tokenizer_lock:
            return self.tokenizer(
                texts,
                add_special_tokens=True,
                truncation=True,
                max_length=max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=self._use_types,
            )

    def _collate(self, rows: list[int], encoded: dict[str, list[list[int]]]) -> dict[str, torch.Tensor]:
        """Right-pads the chosen rows into tensors (right padding keeps [CLS] at position 0)."""
        ids = [encoded["input_ids"][r] for r in rows]
        width = max(len(x) for x in ids)
        input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        types = np.full((len(rows), width), self._pad_type_id, dtype=np.int64) if self._use_types else None
        for i, r in enumerate(rows):
            n = len(ids[i])
            input_ids[i, :n] = ids[i]
            mask[i, :n] = 1
            if types is not None:
                types[i, :n] = encoded["token_type_ids"][r]
        batch = {"input_ids": input_ids, "attention_mask": mask}
        if types is not None:
            batch["token_type_ids"] = types
        return {key: torch.from_numpy(value).to(self.device, non_blocking=True) for key, value in batch.items()}

    def embed(
        self,
        texts: Sequence[str],
        layers: Sequence[int] | None = None,
        pooling: str = DEFAULTS.pooling,
        batch_size: int = DEFAULTS.batch_size,
        callback: Callback | None = None,
    ) -> np.ndarray:
        """Pooled hidden states of the chosen layers, one row per text.

        Texts are tokenized once, truncated at ``max_length`` tokens, and run in batches sorted by
        token length (longest first) to keep padding small; rows come back in input order.

        Args:
            texts: The texts, a list (or other sequence) of non-empty strings.
            layers: ``hidden_states`` indices (0 = embeddings output, ``i`` = transformer layer ``i``,
                negatives count from the end); None uses ``self.default_layers``.
            pooling: ``"cls"`` takes token 0 ([CLS]); ``"mean"`` averages the non-padding tokens.
            batch_size: Texts per forward pass, at least 1.
            callback: ``callback(texts_done, total, {"batch": i})`` after each batch (``i`` counts
                from 0); returning True stops the job.

        Returns:
            ``float32`` array of shape ``(len(texts), len(layers) * hidden_size)``: column
            ``j * hidden_size + d`` is dimension ``d`` of layer ``layers[j]``.

        Raises:
            ValueError: Bad texts, layers, pooling or batch size; the message says which.
            Interrupted: The callback returned True.
        """
        items = self._check_texts(texts)
        chosen = self.normalise_layers(layers)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer of at least 1, got {batch_size!r}.")
        batch_size = int(batch_size)

        encoded = self._tokenize(items, self.max_length)
        lengths = np.fromiter((len(x) for x in encoded["input_ids"]), dtype=np.int64, count=len(items))
        order = np.argsort(-lengths, kind="stable")
        total = len(items)
        out = np.empty((total, len(chosen) * self.hidden_size), dtype=np.float32)
        autocast = (
            torch.autocast(device_type="cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda"
            else contextlib.nullcontext()
        )
        done = 0
        with torch.inference_mode(), autocast:
            for i, start in enumerate(range(0, total, batch_size)):
                rows = order[start : start + batch_size]
                batch = self._collate(rows.tolist(), encoded)
                hidden = self.model(**batch, output_hidden_states=True).hidden_states
                pooled = self._pool(hidden, chosen, batch["attention_mask"], pooling)
                out[rows] = pooled.cpu().numpy()
                done += len(rows)
                if callback is not None and callback(done, total, {"batch": i}):
                    raise Interrupted(f"embedding stopped by its callback after {done} of {total} texts.")
        return out

    @staticmethod
    def _pool(hidden: tuple[torch.Tensor, ...], layers: list[int], mask: torch.Tensor, pooling: str) -> torch.Tensor:
        if pooling == "cls":
            return torch.cat([hidden[layer][:, 0].float() for layer in layers], dim=1)
        weights = mask.unsqueeze(-1).float()
        counts = weights.sum(dim=1)
        return torch.cat([(hidden[layer].float() * weights).sum(dim=1) / counts for layer in layers], dim=1)

    def unknown_share(self, texts: Sequence[str]) -> np.ndarray:
        """The share of each text's tokens (special tokens aside) that the tokenizer cannot read ([UNK]).

        Raises:
            ValueError: Bad texts, as for :meth:`embed`.
        """
        items = self._check_texts(texts)
        unknown = self.tokenizer.unk_token_id
        special = set(self.tokenizer.all_special_ids) - {unknown}
        shares = []
        for ids in self._tokenize(items, self.max_length)["input_ids"]:
            words = [i for i in ids if i not in special]
            shares.append(sum(i == unknown for i in words) / len(words) if words and unknown is not None else 0.0)
        return np.asarray(shares, dtype=np.float64)

    def truncated(self, texts: Sequence[str]) -> np.ndarray:
        """Which texts are longer than ``max_length`` tokens and so get truncated by :meth:`embed`.

        Args:
            texts: The texts, as for :meth:`embed`.

        Returns:
            A boolean array, one entry per text.

        Raises:
            ValueError: Bad texts, as for :meth:`embed`.
        """
        items = self._check_texts(texts)
        encoded = self._tokenize(items, self.max_length + 1)
        return np.fromiter((len(x) > self.max_length for x in encoded["input_ids"]), dtype=bool, count=len(items))

    def attentions(self, text: str) -> tuple[list[str], np.ndarray]:
        """The attention of every head of every layer for one text, as transformers' ``output_attentions`` gives
        it: ``(tokens, maps)`` with ``maps`` of shape (layers, heads, tokens, tokens), each row a query token's
        weights over the keys (rows sum to 1). The model runs with eager attention for the call (SDPA returns no
        maps) and goes back to its own implementation after.

        Raises:
            ValueError: A bad text, as for :meth:`embed`.
            ResourceUnavailable: A model whose attention cannot return its maps.
        """
        (item,) = self._check_texts([text])
        encoded = self._tokenize([item], self.max_length)
        batch = self._collate([0], encoded)
        config = self.model.config
        before = getattr(config, "_attn_implementation", None)
        with self._attention_lock, torch.inference_mode():
            try:
                if before not in (None, "eager"):
                    self.model.set_attn_implementation("eager")
                found = self.model(**batch, output_attentions=True).attentions
            except (AttributeError, ValueError) as error:
                raise ResourceUnavailable(f"{self.name} cannot return its attention maps ({error}).") from error
            finally:
                if before not in (None, "eager"):
                    self.model.set_attn_implementation(before)
        if not found:
            raise ResourceUnavailable(f"{self.name} returned no attention maps.")
        maps = torch.stack([layer[0] for layer in found]).float().cpu().numpy()
        return self.tokenizer.convert_ids_to_tokens(encoded["input_ids"][0]), maps

    def feature_names(self, layers: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """``(layer, dimension)`` for every column :meth:`embed` returns with these ``layers``.

        Args:
            layers: As for :meth:`embed`; negative indices come back as their non-negative equivalent.

        Returns:
            One ``(hidden_states index, dimension)`` pair per output column, in column order.

        Raises:
            ValueError: Bad layers.
        """
        return [(layer, d) for layer in self.normalise_layers(layers) for d in range(self.hidden_size)]

    def describe(self) -> dict:
        """A JSON-able description for provenance records.

        Returns:
            ``name``, ``model_id``, ``revision``, ``num_layers``, ``hidden_size`` and ``max_length``.
        """
        return {
            "name": self.name,
            "model_id": self.model_id,
            "revision": self.revision,
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "max_length": self.max_length,
        }


def available_encoders() -> list[dict]:
    """The text encoders the lab knows about, and whether each can be loaded right now (no network)."""
    return hub.available_text_models()
