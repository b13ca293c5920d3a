"""The three encoders Kao & Lee compare, each with the same classification head on the [CLS] position:

- ``pretrained``: the text model as pretrained on English (offline: the packaged all-MiniLM-L6-v2, a
  BertModel with bert-base's vocabulary; online: bert-base-uncased or any hub BERT);
- ``random``: the same configuration, every weight randomly initialised (the model's own initialiser);
- ``random-embeddings``: the pretrained body with its word embeddings randomly re-initialised (the
  paper's ablation: is it the token embeddings or the layers that transfer?).

The head is a dropout and a linear layer on the last layer's [CLS] vector (the paper used
``BertForSequenceClassification``'s pooler + linear; the pooler is left out here because the packaged
model's pooler was never trained for classification).

A task uses a handful of ids (4 bases, 20 amino acids, up to 128 pitches, the special tokens), so the word
embedding can be cut to those rows (:meth:`TokenClassifier.compact`): the same outputs and the same Adam
updates (rows that never get a gradient never move), with a far smaller embedding to update each step.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

VARIANTS = ("pretrained", "random", "random-embeddings")
VARIANT_TITLES = {
    "pretrained": "pretrained on English",
    "random": "randomly initialised",
    "random-embeddings": "pretrained body, random word embeddings",
}


class TokenClassifier(nn.Module):
    """A BERT-style encoder, a dropout and a linear head on the [CLS] (first) position.

    Args:
        encoder: a transformers encoder (``BertModel`` or alike) taking ``input_ids`` and ``attention_mask``.
        n_classes: outputs of the head (1: a regression task's value).
        pad_id: the id of padding (masked out of attention).
        dropout: before the head.
    """

    def __init__(self, encoder: nn.Module, n_classes: int, pad_id: int, dropout: float = 0.1) -> None:
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"the head needs at least one output, got {n_classes}.")
        self.encoder, self.pad_id = encoder, int(pad_id)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)
        self.register_buffer("id_map", torch.empty(0, dtype=torch.long), persistent=True)

    def compact(self, used_ids: list[int]) -> TokenClassifier:
        """Keep only the word-embedding rows of ``used_ids`` (every id the task's sequences can hold); ids are
        translated on the way in. Outputs and training are unchanged."""
        embeddings = self.encoder.get_input_embeddings()
        used = torch.as_tensor(sorted(set(used_ids)), dtype=torch.long)
        small = nn.Embedding(len(used), embeddings.embedding_dim)
        small.weight.data.copy_(embeddings.weight.data[used])
        self.encoder.set_input_embeddings(small)
        id_map = torch.full((embeddings.num_embeddings,), -1, dtype=torch.long)
        id_map[used] = torch.arange(len(used))
        self.id_map = id_map.to(small.weight.device)
        return self

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != self.pad_id).long()
        if self.id_map.numel():
            ids = self.id_map[ids]
            if bool((ids < 0).any()):
                raise ValueError("an id outside the task's mapping reached the model; encode with its mapping.")
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
        return self.head(self.dropout(hidden))


def build(encoder: nn.Module, variant: str, n_classes: int, pad_id: int, seed: int) -> TokenClassifier:
    """A classifier of ``variant`` (:data:`VARIANTS`) from a loaded pretrained ``encoder`` (which is copied,
    never changed). The head starts from ``seed`` and is the same for every variant of a seed."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
    config = copy.deepcopy(encoder.config)
    config.output_hidden_states = False
    torch.manual_seed(seed)
    head = nn.Linear(config.hidden_size, n_classes)
    if variant == "random":
        body = type(encoder)(config)  # the model's own initialiser, from the seed
    else:
        body = copy.deepcopy(encoder)
        body.config.output_hidden_states = False
        if variant == "random-embeddings":
            weight = body.get_input_embeddings().weight
            nn.init.normal_(weight.data, mean=0.0, std=getattr(config, "initializer_range", 0.02))
    model = TokenClassifier(body, n_classes, pad_id)
    model.head.load_state_dict(head.state_dict())
    return model
