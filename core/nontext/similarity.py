"""Do a text-pretrained encoder fine-tuned on non-text tokens and a domain model represent the tokens alike?

Kao & Lee compared the hidden states of BERT fine-tuned on a protein task with those of PLUS-TFM, a Transformer
pretrained on proteins, by PWCCA (BERT–PLUS against randomly-initialised–PLUS and BERT–randomly-initialised,
``analysis/PWCCA_and_attn_match/feature_pwcca.py``), and matched the attention heads of two models by the L1
distance of their attention maps (``matching.py``). This module computes both for any two of :data:`SOURCES`:

- ``pretrained-before``: the pretrained text model as it was loaded, before any fine-tuning;
- ``pretrained-after``, ``random-after``, ``random-embeddings-after``: the encoders of a stored comparison's runs
  after fine-tuning (their ``model.safetensors``; runs stored before runs kept their weights have none and cannot
  be compared after fine-tuning);
- ``random-before``: the randomly initialised encoder a ``random`` run starts from (rebuilt from its seed), a
  control: what the measures give for a model that learnt nothing;
- ``domain``: a model of the domain given by Hugging Face id or folder (online unless cached; the paper used
  PLUS-TFM for proteins), reading each symbol as its own vocabulary's token for it.

**Inputs.** The first ``examples`` sequences of the task's test split (the comparison's split), every model
reading the same symbols ([CLS], the symbols, [SEP]; each model its own ids for them). **Vectors.** Each real
token's vector, padding masked out (as the paper's code, which kept every position of the attention mask): one
sample per token, not one mean-pooled vector per sequence, because CCA needs many more samples than dimensions
(100 splice sequences give 6,200 token vectors for 384 dimensions, mean pooling would give 100, fewer than the
dimensions, where every canonical correlation is 1 whatever the models). When there are more than ``max_tokens``
positions, a seeded sample of them is kept, the same positions for both models.

**Measures** (layer x layer, 0 = the embeddings): linear CKA (Kornblith et al. 2019) and PWCCA (Morcos et al.
2018), both on the tokens' vectors centred over the tokens. PWCCA is asymmetric: its weights (how much of the
representation each canonical direction carries) come from the first model, as the paper's ``PWCCA(X=BERT,
Y=PLUS)``. Its CCA can be regularised by a ridge of ``regularisation`` times the mean variance added to each
covariance; the default is none, so a representation against itself gives exactly 1 (the paper's code used
``rcca`` with an absolute ridge of 1e-4 to 1.5e-3 on the unnormalised covariances of 1,000 token vectors, a
small fraction of their variance). Directions below a millionth of the largest singular value (float32
round-off) are dropped before either measure. Spurious canonical correlations of
unrelated representations grow like sqrt(dimensions / samples), so every matrix comes with its **reference**:
the same measure for each layer against the other model's same-index layer with the token pairing shuffled (the
highest of those is reported), the level that means "nothing corresponds".

**Heads.** For each layer the two models share (same index, as the paper), the cost of pairing head h of one
with head g of the other is the mean over the inputs' real query positions of the L1 distance between their
attention rows over the real keys (0: identical attention, 2: disjoint); heads are matched one to one by
``scipy.optimize.linear_sum_assignment`` on that cost, and the mean matched distance stands beside the mean
distance of a uniformly random matching (exactly the mean of the cost matrix). The paper matched every input
separately and summed each whole padded map; one matching per layer over the mean cost says which head matches
which.

No library computes the measures: ``repsim`` (CKA, PWCCA) ships no Linux wheel (a C++ build from source), has no
regularised CCA and sets every self-similarity to 1 by convention; ``cka-pytorch`` (CKA only, no PWCCA) works
through module hooks and pulls in Lightning and seaborn; ``rsatoolbox`` compares dissimilarity matrices (RSA),
neither CKA nor PWCCA. Both measures are a few lines of NumPy on one thin SVD per layer, checked by the tests
(1 for a representation with itself, CKA unchanged by rotation and scaling, near 0 for independent ones).
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from core.nontext import models, runs, tokens
from core.nontext.runs import TokenSettings
from core.store import Artifact, Callback

SOURCES = (
    "pretrained-before",
    "pretrained-after",
    "random-before",
    "random-after",
    "random-embeddings-after",
    "domain",
)
SOURCE_TITLES = {
    "pretrained-before": "pretrained, before fine-tuning",
    "pretrained-after": "pretrained, after fine-tuning",
    "random-before": "randomly initialised, before fine-tuning",
    "random-after": "randomly initialised, after fine-tuning",
    "random-embeddings-after": "pretrained body with random word embeddings, after fine-tuning",
    "domain": "domain model",
}
AFTER = {"pretrained-after": "pretrained", "random-after": "random", "random-embeddings-after": "random-embeddings"}
"""The sources that are a run's fine-tuned encoder -> that run's variant."""
MEASURES = ("cka", "pwcca")
MEASURE_TITLES = {"cka": "linear CKA", "pwcca": "PWCCA"}
RANK_TOLERANCE = 1e-6
"""Directions whose singular value is below this share of the largest are dropped (float32 round-off)."""


@dataclass(frozen=True)
class SimilaritySettings:
    """What to compare; the CLI and the page read their defaults from here.

    Attributes:
        a, b: two of :data:`SOURCES` (rows and columns of the matrix; PWCCA's weights come from ``a``).
        examples: test sequences read by both models (the first of the test split).
        max_tokens: token vectors kept at most (a seeded sample of the positions when there are more).
        regularisation: PWCCA's ridge, a share of the mean variance added to each covariance's diagonal (0: none).
        seed: the seed whose runs are compared (None: the smallest seed with a finished run of each variant
            needed; 0 without a comparison).
        domain: the domain model's Hugging Face id or folder (source ``domain``).
        batch_size: sequences per forward pass.
        device: ``cuda`` or ``cpu`` (None: CUDA when present); not part of the result's identity.
    """

    a: str = "pretrained-before"
    b: str = "pretrained-after"
    examples: int = 100
    max_tokens: int = 4000
    regularisation: float = 0.0
    seed: int | None = None
    domain: str | None = None
    batch_size: int = 16
    device: str | None = field(default=None, compare=False)

    def check(self) -> None:
        """Raise ValueError for a bad setting before any costly work."""
        bad = [s for s in (self.a, self.b) if s not in SOURCES]
        if bad:
            raise ValueError(f"compare two of {', '.join(SOURCES)}; got {', '.join(map(repr, bad))}.")
        if self.examples < 2 or self.max_tokens < 10 or self.batch_size < 1:
            raise ValueError(
                f"examples must be >= 2, max_tokens >= 10 and batch_size >= 1, got {self.examples}, "
                f"{self.max_tokens} and {self.batch_size}."
            )
        if not 0 <= self.regularisation < 1:
            raise ValueError(f"regularisation must be in [0, 1), got {self.regularisation}.")
        if "domain" in (self.a, self.b) and not (self.domain and str(self.domain).strip()):
            raise ValueError("the domain model needs a Hugging Face id or a folder (domain).")


# --------------------------------------------------------------------------- the measures


@dataclass(frozen=True)
class _Layer:
    """One layer's token vectors, centred, as a thin SVD (float64): ``u`` (n, r), ``s`` (r), ``vt`` (r, dims)."""

    u: torch.Tensor
    s: torch.Tensor
    vt: torch.Tensor

    @classmethod
    def of(cls, x: np.ndarray) -> _Layer:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"a representation is (samples, dimensions), at least 2 samples; got {tuple(x.shape)}.")
        u, s, vt = torch.linalg.svd(x - x.mean(0), full_matrices=False)
        keep = s > (s[0] * RANK_TOLERANCE if len(s) and s[0] > 0 else torch.inf)
        return cls(u[:, keep], s[keep], vt[keep])

    @property
    def n(self) -> int:
        return len(self.u)


def _cka(x: _Layer, y: _Layer, m: torch.Tensor) -> float:
    """Linear CKA from the SVDs: ||Yc'Xc||_F^2 / (||Xc'Xc||_F ||Yc'Yc||_F), with ``m = Ux' Uy``."""
    if not len(x.s) or not len(y.s):
        return float("nan")
    cross = torch.sum((x.s[:, None] * m * y.s[None, :]) ** 2)
    return float(cross / (torch.linalg.vector_norm(x.s**2) * torch.linalg.vector_norm(y.s**2)))


def _pwcca(x: _Layer, y: _Layer, m: torch.Tensor, regularisation: float) -> float:
    """PWCCA from the SVDs, weights from ``x``'s side, with ``m = Ux' Uy``.

    With covariances ``S = V diag(s^2 / n) V'``, the ridge ``S + lambda * mean(s^2 / n) * I`` whitens ``Xc`` to
    ``Ux diag(d)``, ``d = (1 + lambda * mean / e)^-1/2`` (1 without ridge); the canonical correlations are the
    singular values of ``diag(dx) m diag(dy)``, the canonical variates ``Ux diag(dx) A``. Orthonormalised (QR,
    as Morcos et al.'s code), each variate's weight is the sum of |projection| of every dimension of ``Xc`` on
    it, and PWCCA is the weighted mean of the correlations."""
    if not len(x.s) or not len(y.s):
        return float("nan")

    def damping(layer: _Layer) -> torch.Tensor:
        variance = layer.s**2 / layer.n
        return 1 / torch.sqrt(1 + regularisation * variance.mean() / variance)

    dx, dy = damping(x), damping(y)
    a, rho, _ = torch.linalg.svd(dx[:, None] * m * dy[None, :], full_matrices=False)
    k = min(len(x.s), len(y.s))
    q, _ = torch.linalg.qr(dx[:, None] * a[:, :k])
    weights = torch.abs(q.T @ (x.s[:, None] * x.vt)).sum(1)
    return float(torch.sum(weights * torch.clamp(rho[:k], 0, 1)) / torch.sum(weights))


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same samples, (samples, dimensions) each: 1 for the same one up
    to rotation and scaling, near 0 for unrelated ones (about sqrt(dx * dy) / samples for isotropic noise)."""
    first, second = _check_pair(x, y)
    return _cka(first, second, first.u.T @ second.u)


def pwcca(x: np.ndarray, y: np.ndarray, regularisation: float = 0.0) -> float:
    """Projection-weighted CCA of two representations of the same samples, weights from ``x`` (see the module's
    docstring); 1 for the same one (without ``regularisation``), near 0 for unrelated ones with many more samples
    than dimensions."""
    first, second = _check_pair(x, y)
    return _pwcca(first, second, first.u.T @ second.u, regularisation)


def _check_pair(x: np.ndarray, y: np.ndarray) -> tuple[_Layer, _Layer]:
    if len(x) != len(y):
        raise ValueError(f"the two representations must hold the same samples, got {len(x)} and {len(y)} rows.")
    return _Layer.of(x), _Layer.of(y)


def similarity_matrices(
    xs: list[np.ndarray],
    ys: list[np.ndarray],
    regularisation: float = SimilaritySettings.regularisation,
    callback: Callback | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Linear CKA and PWCCA of every layer of ``xs`` (rows) against every layer of ``ys`` (columns), each layer
    (samples, dimensions) on the same samples, and their references: the highest value of each measure for a
    layer against the other model's same-index layer with the samples' pairing shuffled (``seed``).

    Returns:
        ``{"cka": [[...]], "pwcca": [[...]], "reference": {"cka": float, "pwcca": float}}``.
    """
    from core.errors import Interrupted

    lengths = {len(x) for x in xs} | {len(y) for y in ys}
    if len(lengths) != 1:
        raise ValueError(f"every layer must hold the same samples, got {sorted(lengths)} rows.")
    first, second = [_Layer.of(x) for x in xs], [_Layer.of(y) for y in ys]
    found = {measure: np.full((len(first), len(second)), np.nan) for measure in MEASURES}
    total, done = len(first) * len(second), 0
    for i, x in enumerate(first):
        for j, y in enumerate(second):
            m = x.u.T @ y.u
            found["cka"][i, j], found["pwcca"][i, j] = _cka(x, y, m), _pwcca(x, y, m, regularisation)
            done += 1
            if callback is not None and callback(done, total, {"stage": "layer pairs", "pair": f"{i} x {j}"}):
                raise Interrupted("the similarity was stopped; nothing was kept.")
    shuffled = torch.as_tensor(np.random.default_rng(seed).permutation(lengths.pop()))
    reference = {"cka": [], "pwcca": []}
    for x, y in zip(first, second, strict=False):  # the layers both have, by index
        m = x.u.T @ y.u[shuffled]
        reference["cka"].append(_cka(x, y, m))
        reference["pwcca"].append(_pwcca(x, y, m, regularisation))
    return {
        "cka": found["cka"].tolist(),
        "pwcca": found["pwcca"].tolist(),
        "reference": {k: float(np.nanmax(v)) for k, v in reference.items()},
    }


# --------------------------------------------------------------------------- heads


def attention_cost(first: torch.Tensor, second: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed L1 distances between the attention rows of every head of ``first`` (batch, heads, T, T) and
    every head of ``second`` (batch, heads', T, T), over the real query positions and keys of ``mask`` (batch, T):
    ``(cost (heads, heads'), rows)``; ``cost / rows`` is the mean distance per query row (0..2)."""
    real = (mask[:, :, None] & mask[:, None, :])[:, None].to(first.dtype)  # (batch, 1, query, key)

    def flat(maps: torch.Tensor) -> torch.Tensor:  # (heads, every real query-key pair of the batch)
        return (maps * real).transpose(0, 1).reshape(maps.shape[1], -1)

    cost = torch.cdist(flat(first)[None], flat(second)[None], p=1)[0]
    return cost.double().cpu(), mask.sum().double().cpu()


def match_heads(cost: np.ndarray) -> dict[str, Any]:
    """A one-to-one matching of the heads of two models in one layer, minimising the summed ``cost`` (heads,
    heads'): the pairs, their mean cost, the mean cost of a uniformly random matching (every pair equally
    likely: the mean of ``cost``), and the mean cost of pairing each head with the same-numbered one."""
    from scipy.optimize import linear_sum_assignment

    cost = np.asarray(cost, dtype=np.float64)
    rows, columns = linear_sum_assignment(cost)
    found = {
        "pairs": [[int(r), int(c)] for r, c in zip(rows, columns, strict=True)],
        "matched": float(cost[rows, columns].mean()),
        "random": float(cost.mean()),
    }
    if cost.shape[0] == cost.shape[1]:
        found["same_head"] = float(np.diag(cost).mean())
    return found


# --------------------------------------------------------------------------- the models and their inputs


@dataclass
class Subject:
    """One model reading the inputs: a transformers encoder (returning ``hidden_states`` and ``attentions``) and
    the ids it reads, (examples, width), with the mask of real positions."""

    source: str
    title: str
    encoder: torch.nn.Module
    ids: torch.Tensor
    mask: torch.Tensor
    model: str = ""


def _eager(encoder: torch.nn.Module) -> torch.nn.Module:
    """The encoder with attention that returns its maps (SDPA returns none); a model without the switch is kept."""
    with contextlib.suppress(AttributeError, ValueError):
        encoder.set_attn_implementation("eager")
    return encoder.eval()


def _padded(sequences: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.as_tensor(sequence)
    lengths = torch.tensor([len(s) for s in sequences])
    return ids, torch.arange(width)[None, :] < lengths[:, None]


@dataclass
class _Context:
    settings: TokenSettings
    task: Any
    loaded: Any
    mapping: tokens.TokenMapping
    sequences: list[list[str]]
    seed: int
    runs: dict[str, Artifact]  # variant -> the run of ``seed``
    comparison: str | None


def _lab_ids(context: _Context) -> list[list[int]]:
    return [context.mapping.encode(s, 10**9) for s in context.sequences]


def _n_outputs(context: _Context) -> int:
    return 1 if context.task.regression else len(context.task.label_names)


def _subject(source: str, context: _Context, choice: SimilaritySettings) -> Subject:
    title = SOURCE_TITLES[source]
    pad = context.mapping.specials["[PAD]"]
    if source == "pretrained-before":
        ids, mask = _padded(_lab_ids(context), pad)
        encoder = _eager(copy.deepcopy(context.loaded.model))  # the loaded model may be shared: never changed
        return Subject(source, title, encoder, ids, mask, context.loaded.model_id)
    if source == "random-before":
        ids, mask = _padded(_lab_ids(context), pad)
        built = models.build(context.loaded.model, "random", _n_outputs(context), pad, context.seed)
        return Subject(source, f"{title} (seed {context.seed})", _eager(built.encoder), ids, mask, "random init")
    if source in AFTER:
        return _finetuned(source, context)
    return _domain(choice.domain, context)


def _finetuned(source: str, context: _Context) -> Subject:
    from safetensors.torch import load_file

    variant = AFTER[source]
    run = context.runs.get(variant)
    if run is None:
        raise ValueError(
            f"comparison {context.comparison} has no finished {models.VARIANT_TITLES[variant]} run with seed "
            f"{context.seed}; choose another pair or seed."
        )
    if not run.file(runs.WEIGHTS_FILE).is_file():
        raise ValueError(
            f"run {run.id} ({variant}, seed {context.seed}) was stored before runs kept their fine-tuned weights, so "
            "it cannot be compared after fine-tuning; the encoders before fine-tuning and a domain model can be."
        )
    pad = context.mapping.specials["[PAD]"]
    model = models.build(context.loaded.model, variant, _n_outputs(context), pad, context.seed)
    if context.settings.compact:
        model.compact(context.mapping.used_ids())
    model.load_state_dict(load_file(str(run.file(runs.WEIGHTS_FILE))))
    ids, mask = _padded(_lab_ids(context), pad)
    if model.id_map.numel():
        ids = model.id_map[ids]
    title = f"{SOURCE_TITLES[source]} (seed {context.seed})"
    return Subject(source, title, _eager(model.encoder), ids, mask, f"run {run.id}")


def _domain(name: str, context: _Context) -> Subject:
    """A domain model reading each symbol as its vocabulary's own token (as written, lower or upper case),
    between its start and end tokens ([CLS] / [SEP], or BOS / EOS)."""
    from core.hub import load_text_model

    loaded = load_text_model(name)
    tokenizer = loaded.tokenizer
    vocabulary = tokenizer.get_vocab()
    start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    end = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if start is None or end is None:
        raise ValueError(f"{name} has no start and end tokens ([CLS] / [SEP] or BOS / EOS) to frame a sequence.")
    ids: dict[str, int] = {}
    for symbol in context.task.symbols:
        found = next((vocabulary[s] for s in (symbol, symbol.upper(), symbol.lower()) if s in vocabulary), None)
        if found is not None:
            ids[symbol] = found
    missing = [s for s in context.task.symbols if s not in ids]
    if missing:
        raise ValueError(
            f"{name}'s vocabulary has no token of its own for {', '.join(map(repr, missing[:8]))}; it cannot read "
            f"the {context.task.name} sequences one token per symbol."
        )
    width = max(len(s) for s in context.sequences) + 2
    limit = int(getattr(loaded.model.config, "max_position_embeddings", width))
    if width > limit:
        raise ValueError(f"{name} reads at most {limit} positions; these sequences need {width}.")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end
    framed = [[start, *(ids[s] for s in sequence), end] for sequence in context.sequences]
    padded, mask = _padded(framed, pad)
    model = _eager(copy.deepcopy(loaded.model))
    title = f"{SOURCE_TITLES['domain']} {loaded.name}"
    return Subject("domain", title, model, padded, mask, f"{loaded.model_id} @ {loaded.revision[:12]}")


def _context(choice: SimilaritySettings, comparison: str | None, base: TokenSettings | None, loaded: Any) -> _Context:
    from core.hub import load_text_model

    found: dict[str, Artifact] = {}
    if comparison is not None:
        runs_found = runs.list_runs(comparison)
        if not runs_found:
            raise ValueError(f"no comparison {comparison!r}; run: python -m core tokens-results")
        settings = runs.settings_of(runs_found[0])
        finished = [r for r in runs_found if r.config.get("status") == "finished"]
        needed = {AFTER[s] for s in (choice.a, choice.b) if s in AFTER}
        seeds = sorted({r.config["seed"] for r in finished})
        if choice.seed is not None:
            seed = int(choice.seed)
        else:
            full = [s for s in seeds if needed <= {r.config["variant"] for r in finished if r.config["seed"] == s}]
            seed = (full or seeds or [0])[0]
        found = {r.config["variant"]: r for r in finished if r.config["seed"] == seed}
        recorded = runs_found[0].config["encoder"]
    else:
        settings = base if base is not None else TokenSettings()
        seed = int(choice.seed) if choice.seed is not None else 0
        recorded = None
    settings.check()
    loaded = loaded if loaded is not None else load_text_model(recorded["name"] if recorded else settings.encoder)
    if recorded and recorded["revision"] not in ("unknown", loaded.revision):
        raise ValueError(
            f"{recorded['name']} is not the model this comparison fine-tuned (its weights changed since: "
            f"{loaded.revision[:12]}, not {recorded['revision'][:12]}); the encoder before fine-tuning is not here."
        )
    task = runs.load(settings, tokenizer=loaded.tokenizer)
    mapping = runs.task_mapping(settings, task, loaded.tokenizer, seed)
    test = runs.split(task, settings.shares, settings.split_seed)["test"][: choice.examples]
    sequences = [task.sequences[i] for i in test]
    limit = int(getattr(loaded.model.config, "max_position_embeddings", 512))
    tokens.encode_all(sequences, mapping, limit)  # a clear error for a sequence too long or a symbol unknown
    return _Context(settings, task, loaded, mapping, sequences, seed, found, comparison)


def _states(
    first: Subject, second: Subject, keep: torch.Tensor, choice: SimilaritySettings, callback: Callback | None
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
    """Both subjects' hidden states at the ``keep`` positions (per layer, (tokens, hidden)) and, per shared layer,
    the head-to-head attention cost (the mean L1 distance per real query row; None for a model that returns no
    attention maps), from one pass over the inputs."""
    from core.device import default_device
    from core.errors import Interrupted

    device = torch.device(choice.device or default_device())
    subjects = [first] if first is second else [first, second]
    for subject in subjects:
        subject.encoder.to(device)
    hidden: list[list[list[np.ndarray]]] = [[] for _ in subjects]
    costs: list[torch.Tensor] | None = []
    rows_read = torch.zeros((), dtype=torch.float64)
    n = len(first.ids)
    batches = list(range(0, n, choice.batch_size))
    with torch.inference_mode():
        for number, start in enumerate(batches, start=1):
            rows = slice(start, start + choice.batch_size)
            mask = first.mask[rows]
            width = int(mask.sum(1).max())
            mask, kept = mask[:, :width], keep[rows, :width]
            outputs = []
            for index, subject in enumerate(subjects):
                out = subject.encoder(
                    input_ids=subject.ids[rows, :width].to(device),
                    attention_mask=mask.long().to(device),
                    output_hidden_states=True,
                    output_attentions=True,
                )
                hidden[index].append([h[kept.to(device)].float().cpu().numpy() for h in out.hidden_states])
                outputs.append(out.attentions)
            first_maps, second_maps = outputs[0], outputs[-1]
            if costs is not None and first_maps and second_maps and all(a is not None for a in first_maps):
                pairs = list(zip(first_maps, second_maps, strict=False))
                found = [attention_cost(a.float(), b.float(), mask.to(device)) for a, b in pairs]
                costs = [c + f[0] for c, f in zip(costs, found, strict=True)] if costs else [f[0] for f in found]
                rows_read = rows_read + found[0][1]
            else:
                costs = None
            if callback is not None and callback(number, len(batches), {"stage": "reading the inputs"}):
                raise Interrupted("the similarity was stopped; nothing was kept.")
    for subject in subjects:
        subject.encoder.to("cpu")
    layers = [[np.concatenate([batch[layer] for batch in per]) for layer in range(len(per[0]))] for per in hidden]
    mean_costs = [(c / rows_read).numpy() for c in costs] if costs else None
    return layers[0], layers[-1], mean_costs


def layer_names(count: int) -> list[str]:
    """Hidden-state labels: the embeddings, then layers 1..count-1."""
    return ["embeddings", *(str(i) for i in range(1, count))]


def compare(
    choice: SimilaritySettings,
    comparison: str | None = None,
    base: TokenSettings | None = None,
    loaded: Any = None,
    callback: Callback | None = None,
) -> dict[str, Any]:
    """Layer x layer linear CKA and PWCCA, with their references, and the head matching of ``choice.a`` against
    ``choice.b`` on the test sequences of a stored ``comparison`` (its task, split, mapping and runs), or without
    one on ``base``'s task with its encoder (then only the encoders before fine-tuning and a domain model).

    Args:
        loaded: the comparison's pretrained text model, when already loaded (:func:`core.hub.load_text_model`).
        callback: ``callback(step, total, metrics)`` per batch read and per layer pair; True stops (nothing kept).

    Raises:
        ValueError: a bad setting, an unknown comparison, a run missing or stored without weights, a domain model
            that cannot read the symbols.
        ResourceUnavailable: a model that cannot be had here (a domain model offline).
    """
    choice.check()
    after = [s for s in (choice.a, choice.b) if s in AFTER]
    if comparison is None and after:
        raise ValueError(
            f"{after[0]} is a fine-tuned encoder: give a comparison (python -m core tokens-results lists them)."
        )
    started = time.perf_counter()
    context = _context(choice, comparison, base, loaded)
    first = _subject(choice.a, context, choice)
    second = first if choice.b == choice.a else _subject(choice.b, context, choice)
    if not torch.equal(first.mask, second.mask):
        raise ValueError("the two models do not read the inputs at the same positions; they cannot be compared.")
    real = torch.nonzero(first.mask.flatten()).flatten()
    chosen = real
    if len(real) > choice.max_tokens:
        picked = np.sort(np.random.default_rng(0).choice(len(real), choice.max_tokens, replace=False))
        chosen = real[torch.as_tensor(picked)]
    keep = torch.zeros(first.mask.numel(), dtype=torch.bool)
    keep[chosen] = True
    keep = keep.reshape(first.mask.shape)
    states_a, states_b, costs = _states(first, second, keep, choice, callback)
    matrices = similarity_matrices(states_a, states_b, choice.regularisation, callback)
    heads = None
    if costs is not None:
        heads = [{"layer": layer, **match_heads(cost)} for layer, cost in enumerate(costs, start=1)]
    dims = (states_a[0].shape[1], states_b[0].shape[1])
    tokens_kept = int(len(chosen))
    note = ""
    if tokens_kept < 2 * max(dims):
        note = (
            f"only {tokens_kept:,} token vectors for {max(dims)} dimensions: canonical correlations are high for "
            "unrelated representations too; read the matrix against its reference or give more examples."
        )
    return {
        "a": {"source": choice.a, "title": first.title, "model": first.model, "hidden": dims[0]},
        "b": {"source": choice.b, "title": second.title, "model": second.model, "hidden": dims[1]},
        "comparison": comparison,
        "task": context.task.name,
        "seed": context.seed,
        "inputs": {
            "split": "test",
            "examples": len(context.sequences),
            "positions": int(len(real)),
            "tokens": tokens_kept,
            "vectors": "each real token's ([CLS], the symbols, [SEP]); padding masked out",
        },
        "layers_a": layer_names(len(states_a)),
        "layers_b": layer_names(len(states_b)),
        **matrices,
        "regularisation": choice.regularisation,
        "heads": heads,
        "note": note,
        "seconds": round(time.perf_counter() - started, 2),
    }
