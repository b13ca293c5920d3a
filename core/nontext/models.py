"""The three encoders Kao & Lee compare, each with the same classification head on the [CLS] position:

- ``pretrained``: the text model as pretrained on English (offline: the packaged all-MiniLM-L6-v2, a
  BertModel with bert-base's vocabulary; online: bert-base-uncased or any hub BERT);
- ``random``: the same configuration, every weight randomly initialised (the model's own initialiser);
- ``random-embeddings``: the pretrained body with its word embeddings randomly re-initialised (the
  paper's ablation: is it the token embeddings or the layers that transfer?).

Two heads (:data:`HEADS`), on the first position ([CLS]):

- ``paper``: ``BertForSequenceClassification``'s, as the paper's code used: the encoder's pooler (a dense
  layer and tanh on the last layer's [CLS] vector; pretrained weights for the pretrained encoders, random
  ones for the randomly initialised), a dropout (the encoder's ``hidden_dropout_prob``) and a linear layer
  initialised as BERT's (normal, std ``initializer_range``; bias 0). The full preset's.
- ``lab``: a dropout (0.1) and a linear layer (PyTorch's default initialisation) on the last layer's [CLS]
  vector, the pooler left out: the lab's choice (the laptop preset's), because the packaged MiniLM's pooler
  was never trained for classification.

A task uses a handful of ids (4 bases, 20 amino acids, up to 128 pitches, the special tokens), so the word
embedding can be cut to those rows (:meth:`TokenClassifier.compact`): the same outputs and the same Adam
updates (rows that never get a gradient never move), with a far smaller embedding to update each step.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

VARIANTS = ("pretrained", "random", "random-embeddings")
HEADS = ("lab", "paper")
HEAD_TITLES = {
    "lab": "dropout + linear on the [CLS] vector (the lab's)",
    "paper": "pooler + dropout + linear, BertForSequenceClassification's (the paper's)",
}
VARIANT_TITLES = {
    "pretrained": "pretrained on English",
    "random": "randomly initialised",
    "random-embeddings": "pretrained body, random word embeddings",
}


def check_head(encoder: nn.Module, head: str) -> None:
    """Raise ValueError for an unknown ``head``, or the paper's head on an ``encoder`` without a pooler."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}.")
    if head == "paper" and getattr(encoder, "pooler", None) is None:
        raise ValueError(
            f"the paper's head reads the encoder's pooler, and this {type(encoder).__name__} has none; "
            "use the lab's head (head='lab')."
        )


class TokenClassifier(nn.Module):
    """A BERT-style encoder and a head on the [CLS] (first) position: a dropout and a linear layer, on the
    pooler's output (``head="paper"``) or on the last layer's vector (``head="lab"``).

    Args:
        encoder: a transformers encoder (``BertModel`` or alike) taking ``input_ids`` and ``attention_mask``.
        n_classes: outputs of the head (1: a regression task's value).
        pad_id: the id of padding (masked out of attention).
        dropout: before the linear layer.
        head: one of :data:`HEADS`.

    Raises:
        ValueError: no output, an unknown head, or the paper's head on an encoder without a pooler.
    """

    def __init__(
        self, encoder: nn.Module, n_classes: int, pad_id: int, dropout: float = 0.1, head: str = "lab"
    ) -> None:
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"the head needs at least one output, got {n_classes}.")
        check_head(encoder, head)
        self.pooled = head == "paper"
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
        out = self.encoder(input_ids=ids, attention_mask=mask)
        hidden = out.pooler_output if self.pooled else out.last_hidden_state[:, 0]
        return self.head(self.dropout(hidden))


def build(
    encoder: nn.Module, variant: str, n_classes: int, pad_id: int, seed: int, head: str = "lab"
) -> TokenClassifier:
    """A classifier of ``variant`` (:data:`VARIANTS`) with ``head`` (:data:`HEADS`) from a loaded pretrained
    ``encoder`` (which is copied, never changed). The head starts from ``seed`` and is the same for every variant
    of a seed; the paper's head reads the encoder's own pooler (pretrained, or random with the random body)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}.")
    check_head(encoder, head)  # before any copy of the encoder
    config = copy.deepcopy(encoder.config)
    config.output_hidden_states = False
    torch.manual_seed(seed)
    linear = nn.Linear(config.hidden_size, n_classes)
    if head == "paper":  # BertForSequenceClassification's classifier: BERT's own initialisation
        nn.init.normal_(linear.weight, mean=0.0, std=getattr(config, "initializer_range", 0.02))
        nn.init.zeros_(linear.bias)
    dropout = float(getattr(config, "hidden_dropout_prob", 0.1)) if head == "paper" else 0.1
    if variant == "random":
        body = type(encoder)(config)  # the model's own initialiser, from the seed
    else:
        body = copy.deepcopy(encoder)
        body.config.output_hidden_states = False
        if variant == "random-embeddings":
            weight = body.get_input_embeddings().weight
            nn.init.normal_(weight.data, mean=0.0, std=getattr(config, "initializer_range", 0.02))
    model = TokenClassifier(body, n_classes, pad_id, dropout, head)
    model.head.load_state_dict(linear.state_dict())
    return model
