"""Every CUDA path of the lab in one command: a short real run of each method, its throughput, peak GPU
memory and share of the GPU's bf16 peak, a CPU-against-CUDA agreement check, and projections to the papers'
full sizes.

What runs (random weights built from each model's configuration and synthetic data only: nothing is downloaded,
so it runs on a machine without internet):

* ``text_to_image``: the sliced classifier of every backbone builder (torchvision: AlexNet, VGG16, ResNeXt50-32x4d,
  Wide-ResNet50-2, ShuffleNetV2 x1.0; timm: EfficientNet-Lite0), built by ``core.text_to_image.classifiers`` at
  its default cut, trained by ``core.train.train_classifier`` (Adam, batch 32, the lab's split normalisation) on
  random 50 x 50 images upsampled to 150 px, resident on the device; inference through ``core.train.predict``.
* ``embedding``: a bert-base-shaped ``BertModel`` (12 x 768, from ``BertConfig()``) in ``core.encoders.TextEncoder``
  embedding a synthetic corpus of 512-token texts ([CLS] of its default layers), tokenizer included.
* ``images_to_words``: one leave-one-out fold of full-width SimpNet on CIFAR-100-sized images (100 classes,
  3 x 32 x 32, 49,500 training images) through ``core.images_to_words.folds`` (the Trainer, the per-epoch
  held-out loss), towards random 50-d word vectors.
* ``nontext``: a bert-base-shaped ``TokenClassifier`` (``core.nontext.models``, embedding compacted) fine-tuned
  through the Trainer as ``core.nontext.runs`` does (length-grouped rounds, trimmed batches, Adam 1e-5 with
  linear decay, batch 16: the full preset) on 62-token splice-shaped sequences.
* ``hybrid``: a BEiT-base-shaped ``BeitModel`` (12 x 768, patch 16, 224 px) computing the frozen tokens as
  ``core.hybrid.vision.VisionModel.encode`` does, then one trial of ``core.hybrid.search.train_trial`` (all 12
  layers of a bert-base-shaped text model on those tokens, Adam, batch 32).

Each rate is timed with ``time.perf_counter`` after a warm-up (none in ``--tiny``), the device synchronised (the
Trainer reads every step's loss, which synchronises). FLOPs are counted by
``torch.utils.flop_counter.FlopCounterMode`` on one step (matrix products, convolutions and the attention kernels it
knows; elementwise work is not counted). The share of the peak divides the achieved FLOP/s by the datasheet's dense
bf16 peak of the GPU (:data:`BF16_PEAKS`, or ``--peak-tflops``) and, beside it, by the rate of large bf16 matrix
products measured in the same run.

Agreement: each method's model (after its run) is copied to the CPU in float32 and both copies answer the same
inputs through the lab's inference path (on CUDA: bf16 autocast and channels_last where the lab uses them).
Probabilities must agree within :data:`PROBABILITY_TOLERANCE`, the outputs within :data:`RELATIVE_TOLERANCE`
(relative Frobenius error), and the argmax must be the same on every row whose top two reference scores are further
apart than twice the tolerance (closer ones may swap within it).

Run from the repository root::

    python bench/gpu_check.py --out gpu.json        # on a CUDA machine: every method, the papers' model shapes
    .venv/bin/python bench/gpu_check.py --cpu --tiny --out /tmp/gpu_check.json   # tiny shapes, CPU (CI)

It writes the JSON after every section (a run stopped half way keeps what it measured), prints a table, and
exits 0 when every section ran and every agreement check passed, 1 otherwise, 2 when there is no CUDA device
and ``--cpu`` was not given.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import json
import math
import os
import platform
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PACKAGES = ("torch", "torchvision", "transformers", "timm", "numpy", "scipy", "scikit-learn", "safetensors")

BF16_PEAKS: tuple[tuple[str, float, str], ...] = (
    ("H200", 989.4, "NVIDIA H200 SXM datasheet: 1,979 TFLOP/s bf16 with sparsity, 989.4 dense"),
    ("H100 PCIe", 756.0, "NVIDIA H100 PCIe datasheet: 1,513 TFLOP/s bf16 with sparsity, 756 dense"),
    ("H100", 989.4, "NVIDIA H100 SXM datasheet: 1,979 TFLOP/s bf16 with sparsity, 989.4 dense"),
    ("A100", 312.0, "NVIDIA A100 datasheet: 312 TFLOP/s bf16 dense"),
)
"""Dense bf16 tensor-core peaks by a fragment of the device's name, first match wins (no sparsity)."""

PROBABILITY_TOLERANCE = 0.02
"""Largest absolute difference allowed between a CPU and a CUDA probability (or cosine score)."""
RELATIVE_TOLERANCE = 0.05
"""Largest relative Frobenius error ||cuda - cpu|| / ||cpu|| allowed between the outputs of the two devices."""

T2I_BACKBONES = (
    "alexnet",
    "vgg16",
    "resnext50_32x4d",
    "wide_resnet50_2",
    "shufflenet_v2_x1_0",
    "efficientnet_lite0",
)

BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
BERT_TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
BEIT_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "image_size": 224,
    "patch_size": 16,
    "use_relative_position_bias": True,  # as microsoft/beit-base-patch16-224's config
}
BEIT_TINY = {**BEIT_BASE, **BERT_TINY, "image_size": 32}


@dataclass(frozen=True)
class Sizes:
    """How much each section runs (the paper's shapes by default; :data:`TINY` for the CPU check)."""

    t2i_train: int = 8192
    t2i_infer: int = 8192
    t2i_batch: int = 32
    embed_texts: int = 4096
    embed_tokens: int = 512
    embed_batch: int = 32
    bert: dict = field(default_factory=lambda: dict(BERT_BASE))
    loo_classes: int = 100
    loo_train_per_class: int = 500
    loo_test_per_class: int = 100
    loo_epochs: int = 1
    loo_width: float = 1.0
    loo_batch: int = 128
    token_train: int = 2867  # 90 % of splice's 3,186 windows
    token_validation: int = 159  # 5 %, as TOKENS_VALIDATION
    token_length: int = 60
    token_rounds: int = 4  # measured rounds, after one warm-up round
    token_eval_every: int = 50
    token_batch: int = 16
    beit: dict = field(default_factory=lambda: dict(BEIT_BASE))
    hybrid_image_size: int = 224
    hybrid_train: int = 4096
    hybrid_held: int = 1024
    hybrid_batch: int = 32
    hybrid_text_layers: int | None = None  # all
    agree_rows: int = 8
    t2i_backbones: tuple[str, ...] = T2I_BACKBONES
    warm_up: bool = True  # untimed passes before each timed one (the first CUDA calls load and tune kernels)


FULL = Sizes()
TINY = Sizes(
    t2i_train=8,
    t2i_infer=8,
    t2i_batch=4,
    embed_texts=16,
    embed_tokens=32,
    embed_batch=8,
    bert=dict(BERT_TINY),
    loo_classes=10,
    loo_train_per_class=6,
    loo_test_per_class=3,
    loo_width=0.25,
    loo_batch=16,
    token_train=64,
    token_validation=16,
    token_rounds=1,
    token_eval_every=2,
    token_batch=8,
    beit=dict(BEIT_TINY),
    hybrid_image_size=32,
    hybrid_train=32,
    hybrid_held=16,
    hybrid_batch=8,
    agree_rows=4,
    warm_up=False,
)

# the papers' full sizes, for the projections
IMDB_TEXTS = 50_000
IMDB_TEST = 10_000  # the 20 % held-out split
IMDB_VALIDATION = 4_000  # the lab's tenth of the training split that chooses the epoch
IMDB_FIT = IMDB_TEXTS - IMDB_TEST - IMDB_VALIDATION
IMDB_EPOCHS = 15
PAPER_BACKBONES = ("alexnet", "wide_resnet50_2", "resnext50_32x4d", "shufflenet_v2_x1_0", "vgg16")
LOO_FOLDS, LOO_EPOCHS, LOO_FOLD_IMAGES = 100, 25, 49_500
TOKENS_RUNS, TOKENS_STEPS, TOKENS_EVAL_EVERY = 9, 3600, 100  # 3 variants x 3 seeds, the full preset
TOKENS_VALIDATION = 159  # 5 % of splice's 3,186 windows
HYBRID_IMAGES, HYBRID_FIT, HYBRID_HELD, HYBRID_EPOCHS = 60_000, 40_000, 10_000, 3  # CIFAR-10, 5 folds of 50,000


@dataclass
class Context:
    """What every section needs: the device, the sizes and the two references of the peak."""

    device: Any
    sizes: Sizes
    peak_tflops: float | None
    matmul_tflops: float | None


# --------------------------------------------------------------------------- measuring


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory(device) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def count_flops(run: Callable[[], Any]) -> int:
    """FLOPs of one call of ``run`` as ``torch.utils.flop_counter.FlopCounterMode`` counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        run()
    return int(counter.get_total_flops())


def _train_step(model, inputs, targets, loss, device, preprocess=None) -> None:
    """One forward and backward pass as ``core.train.Trainer`` takes it (no optimiser step; gradients cleared)."""
    from core.train import autocast, to_device

    model.train()
    batch = to_device(preprocess(inputs) if preprocess else inputs, device)
    with autocast(device):
        value = loss(model(batch), targets.to(device))
    value.backward()
    model.zero_grad(set_to_none=True)


def _trained_rows(n: int, batch: int) -> int:
    """Rows one epoch trains on: all of them, but a last batch of one row (the Trainer skips it)."""
    return n - (1 if n % batch == 1 else 0)


def _row(
    ctx: Context, what: str, unit: str, items: float, seconds: float, flops_per_item: float | None, **more
) -> dict:
    """One measured rate, with its FLOP/s and shares of the peak where a FLOP count is known."""
    throughput = items / seconds if seconds > 0 else float("nan")
    tflops = flops_per_item * throughput / 1e12 if flops_per_item else None
    return {
        "what": what,
        "unit": unit,
        "items": items,
        "seconds": seconds,
        "throughput": throughput,
        "flops_per_item": flops_per_item,
        "achieved_tflops": tflops,
        "share_of_peak": tflops / ctx.peak_tflops if tflops is not None and ctx.peak_tflops else None,
        "share_of_matmul": tflops / ctx.matmul_tflops if tflops is not None and ctx.matmul_tflops else None,
        **more,
    }


def matmul_tflops(device, tiny: bool) -> dict:
    """The rate of square matrix products on ``device`` (bf16 on CUDA, float32 on the CPU): ten timed products
    after three warm-ups."""
    import torch

    n = (1024 if tiny else 8192) if device.type == "cuda" else (256 if tiny else 2048)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    for _ in range(3):
        a @ b
    _sync(device)
    started = time.perf_counter()
    for _ in range(10):
        a @ b
    _sync(device)
    seconds = time.perf_counter() - started
    return {
        "tflops": 2 * n**3 * 10 / seconds / 1e12,
        "how": f"{n} x {n} x {n} {str(dtype).removeprefix('torch.')} products, mean of 10 after 3 warm-ups",
    }


def datasheet_peak(device, given: float | None) -> tuple[float | None, str]:
    """The bf16 peak in TFLOP/s and where it comes from: ``--peak-tflops``, else :data:`BF16_PEAKS` by name."""
    import torch

    if given is not None:
        return float(given), "--peak-tflops"
    if device.type != "cuda":
        return (
            None,
            "no datasheet peak for a CPU (give --peak-tflops); the measured matrix-product rate is the reference",
        )
    name = torch.cuda.get_device_name(device)
    for fragment, tflops, source in BF16_PEAKS:
        if fragment.lower() in name.lower():
            return tflops, source
    return None, f"no datasheet peak known for {name!r} (give --peak-tflops)"


# --------------------------------------------------------------------------- agreement


def agreement(reference, candidate, scores=None, candidate_scores=None, probabilities: bool = False) -> dict:
    """Whether ``candidate`` outputs (one row per input) agree with ``reference`` (the CPU's, float32).

    Outputs must be within :data:`RELATIVE_TOLERANCE` (relative Frobenius error). With ``probabilities`` the
    outputs are logits and their softmax is compared too; otherwise ``scores`` / ``candidate_scores`` (e.g. cosines
    to class vectors) are, when given. Compared scores must be within :data:`PROBABILITY_TOLERANCE` of each other,
    and the argmax must match on every row whose top two reference scores differ by more than twice that.
    """
    import torch

    reference, candidate = (torch.as_tensor(x).detach().double().cpu() for x in (reference, candidate))
    if reference.shape != candidate.shape:
        return {"passed": False, "reason": f"shapes differ: {tuple(reference.shape)} and {tuple(candidate.shape)}"}
    finite = bool(torch.isfinite(candidate).all())
    relative = float((candidate - reference).norm() / reference.norm().clamp_min(1e-12))
    record: dict[str, Any] = {
        "rows": int(reference.shape[0]),
        "relative_error": relative,
        "relative_tolerance": RELATIVE_TOLERANCE,
        "finite": finite,
    }
    passed = finite and relative <= RELATIVE_TOLERANCE
    if probabilities:
        scores, candidate_scores = torch.softmax(reference, 1), torch.softmax(candidate, 1)
    if scores is not None:
        scores, candidate_scores = (torch.as_tensor(x).detach().double().cpu() for x in (scores, candidate_scores))
        difference = float((candidate_scores - scores).abs().max())
        top = scores.topk(2, dim=1).values if scores.shape[1] > 1 else scores
        decided = (top[:, 0] - top[:, 1] > 2 * PROBABILITY_TOLERANCE) if scores.shape[1] > 1 else torch.ones_like(top)
        mismatched = (scores.argmax(1) != candidate_scores.argmax(1)) & decided.bool().view(-1)
        record.update(
            {
                "scores": "probabilities" if probabilities else "scores",
                "max_score_difference": difference,
                "score_tolerance": PROBABILITY_TOLERANCE,
                "argmax_rows_checked": int(decided.sum()),
                "argmax_mismatches": int(mismatched.sum()),
                "argmax_same_on_all_rows": bool((scores.argmax(1) == candidate_scores.argmax(1)).all()),
            }
        )
        passed = passed and difference <= PROBABILITY_TOLERANCE and not bool(mismatched.any())
    record["passed"] = bool(passed)
    return record


def _on_cpu(model):
    """A float32 copy of ``model`` on the CPU (the original stays where it is)."""
    import torch

    return copy.deepcopy(model).to("cpu", torch.float32)


def _warm(sizes: Sizes, text: str) -> str:
    """``text`` where the sizes warm up before timing, else the note that nothing was warmed up."""
    return text if sizes.warm_up else " (no warm-up: --tiny)"


def _case(name: str, record: dict) -> dict:
    return {"case": name, **record}


# --------------------------------------------------------------------------- text as images


def section_text_to_image(ctx: Context) -> dict:
    import torch

    from core.text_to_image.backbones import _info

    sizes = ctx.sizes
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(sizes.t2i_train, 50, 50, generator=generator)
    labels = torch.arange(sizes.t2i_train) % 2
    queries = torch.rand(sizes.t2i_infer, 50, 50, generator=generator)
    rows, skipped, cases = [], [], []
    timm_present = importlib.util.find_spec("timm") is not None
    for name in sizes.t2i_backbones:
        if _info(name).family == "timm" and not timm_present:
            skipped.append({"backbone": name, "reason": "timm is not installed here: its builder was not run"})
            continue
        found, case = _one_backbone(ctx, name, images, labels, queries)
        rows += found
        cases.append(case)
    return {
        "how": (
            f"classifier_config(backbone, pretrained=False) at the default cut, the lab's split normalisation; "
            f"train_classifier, batch {sizes.t2i_batch}, one epoch over {sizes.t2i_train} random 50 x 50 images "
            "(150 px after upsampling, resident on the device)"
            f"{_warm(sizes, ' after a warm-up epoch of two batches')}; images/s = images trained / the epoch's "
            "train_seconds (held-out pass excluded); inference: predict over "
            f"{sizes.t2i_infer} images in batches of 256; FLOPs of one training step and one inference batch"
        ),
        "rows": rows,
        "skipped": skipped,
        "agreement": cases,
    }


def _one_backbone(ctx: Context, name: str, images, labels, queries) -> tuple[list[dict], dict]:
    """One backbone's sliced classifier: its training and inference rows, and its agreement case."""
    import torch

    from core.text_to_image.backbones import _info
    from core.text_to_image.classifiers import build_classifier, classifier_config, preprocess_for
    from core.train import forward_batches, predict, train_classifier

    device, batch = ctx.device, ctx.sizes.t2i_batch
    _reset_peak(device)
    torch.manual_seed(0)
    config = classifier_config(name, pretrained=False, normalise_stats=(float(images.mean()), float(images.std())))
    model = build_classifier(config).to(device)
    preprocess = preprocess_for(config)
    x, y, q = images.to(device), labels.to(device), queries.to(device)  # resident, as the lab keeps them
    held = (x[:2], y[:2])
    if ctx.sizes.warm_up:
        warm = min(len(x), 2 * batch)
        train_classifier(model, (x[:warm], y[:warm]), held, preprocess, epochs=1, batch_size=batch, keep_last=True)
        predict(model, q[:256], preprocess)
    train_flops = count_flops(
        lambda: _train_step(model, x[:batch], y[:batch], torch.nn.functional.cross_entropy, device, preprocess)
    )
    infer_flops = count_flops(lambda: forward_batches(model, q[:batch], preprocess, batch_size=batch))
    record = train_classifier(model, (x, y), held, preprocess, epochs=1, batch_size=batch, keep_last=True).history[0]
    _sync(device)
    started = time.perf_counter()
    predict(model, q, preprocess)
    _sync(device)
    infer_seconds = time.perf_counter() - started
    common = {
        "backbone": name,
        "family": _info(name).family,
        "node": model.config["node"],
        "feature_map": model.config["feature_map"],
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "peak_memory_bytes": _peak_memory(device),
    }
    trained = _trained_rows(len(x), batch)
    rows = [
        _row(ctx, f"{name} training", "images/s", trained, record["train_seconds"], train_flops / batch,
             phase="train", batch=batch, **common),
        _row(ctx, f"{name} inference", "images/s", len(q), infer_seconds, infer_flops / batch,
             phase="infer", batch=256, **common),
    ]  # fmt: skip
    inputs = queries[: ctx.sizes.agree_rows]
    candidate = forward_batches(model, inputs, preprocess)
    reference = forward_batches(_on_cpu(model), inputs, preprocess)
    return rows, _case(f"{name} sliced classifier", agreement(reference, candidate, probabilities=True))


# --------------------------------------------------------------------------- embedding


def synthetic_tokenizer(vocab_size: int):
    """A BERT WordPiece tokenizer over the words ``w0``, ``w1``, ... (every word is one token)."""
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = [f"w{i}" for i in range(vocab_size - len(specials))]
    return BertTokenizer(vocab={token: i for i, token in enumerate(specials + words)})


def synthetic_texts(count: int, words: int, vocab_words: int, seed: int = 0) -> list[str]:
    """``count`` texts of ``words`` random words each from ``w0`` .. ``w{vocab_words - 1}``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab_words, size=(count, words))
    return [" ".join(f"w{i}" for i in row) for row in ids]


def section_embedding(ctx: Context) -> dict:
    import torch
    from transformers import BertConfig, BertModel

    from core.encoders import TextEncoder
    from core.train import autocast

    device, sizes = ctx.device, ctx.sizes
    _reset_peak(device)
    config = BertConfig(**sizes.bert)
    torch.manual_seed(0)
    model = BertModel(config)
    tokenizer = synthetic_tokenizer(config.vocab_size)
    texts = synthetic_texts(sizes.embed_texts, sizes.embed_tokens - 2, config.vocab_size - 5)
    label = f"bert-base-shaped ({config.num_hidden_layers} x {config.hidden_size}, random init)"
    encoder = TextEncoder(model, tokenizer, label, "BertConfig", "random", device)
    batch = sizes.embed_batch
    if sizes.warm_up:
        encoder.embed(texts[: 2 * batch], pooling="cls", batch_size=batch)
    _sync(device)
    started = time.perf_counter()
    encoder.embed(texts, pooling="cls", batch_size=batch)
    _sync(device)
    seconds = time.perf_counter() - started
    memory = _peak_memory(device)
    tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=encoder.max_length)["input_ids"])
    ids = torch.randint(5, config.vocab_size, (batch, sizes.embed_tokens), device=device)

    def forward() -> None:
        with torch.inference_mode(), autocast(device):
            encoder.model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)

    flops_per_token = count_flops(forward) / ids.numel()
    body = sum(p.numel() for n, p in encoder.model.named_parameters() if not n.startswith(("embeddings", "pooler")))
    formula = 2 * body + 4 * config.num_hidden_layers * sizes.embed_tokens * config.hidden_size
    rows = [
        _row(
            ctx,
            "bert-base-shaped embedding",
            "tokens/s",
            tokens,
            seconds,
            flops_per_token,
            texts=len(texts),
            texts_per_second=len(texts) / seconds,
            tokens_per_text=tokens / len(texts),
            batch=batch,
            peak_memory_bytes=memory,
            formula_flops_per_token=formula,
            formula="2 x encoder-layer parameters + 4 x layers x tokens per text x hidden (attention), forward",
        )
    ]
    sample = texts[: sizes.agree_rows]
    candidate = encoder.embed(sample, pooling="cls", batch_size=batch)
    reference = TextEncoder(_on_cpu(encoder.model), tokenizer, label, "BertConfig", "random", torch.device("cpu"))
    cases = [_case("bert-base-shaped TextEncoder.embed", agreement(reference.embed(sample, pooling="cls"), candidate))]
    return {
        "how": (
            f"TextEncoder.embed ([CLS] of layers {encoder.default_layers}, batch {batch}, tokenization included) over "
            f"{len(texts)} synthetic texts of {sizes.embed_tokens} tokens"
            f"{_warm(sizes, f' after a warm-up of {2 * batch}')}; "
            "FLOPs of one batch's forward"
        ),
        "rows": rows,
        "agreement": cases,
    }


# --------------------------------------------------------------------------- images to words


def section_images_to_words(ctx: Context) -> dict:
    import numpy as np
    import torch
    from torch.nn import functional as F

    from core.images_to_words.folds import _fold_data, _FoldData, _loss, _predict, _train_fold
    from core.imagesets import ImageSet

    device, sizes = ctx.device, ctx.sizes
    _reset_peak(device)
    rng = np.random.default_rng(0)
    classes = sizes.loo_classes
    imageset = ImageSet(
        "synthetic, CIFAR-100-sized",
        [f"class{c}" for c in range(classes)],
        rng.integers(0, 256, (classes * sizes.loo_train_per_class, 3, 32, 32), dtype=np.uint8),
        np.repeat(np.arange(classes), sizes.loo_train_per_class),
        rng.integers(0, 256, (classes * sizes.loo_test_per_class, 3, 32, 32), dtype=np.uint8),
        np.repeat(np.arange(classes), sizes.loo_test_per_class),
    )
    targets = torch.as_tensor(0.4 * rng.standard_normal((classes, 50)), dtype=torch.float32, device=device)
    training = {"loss": "mse", "lr": 1e-3, "epochs": sizes.loo_epochs, "batch_size": sizes.loo_batch}
    config = {"training": training, "model": {"width": sizes.loo_width}}
    held, seed = 0, 0
    data = _fold_data(held, imageset, device)
    warm_rows = min(len(data.x_train), 2 * sizes.loo_batch)
    warm = _FoldData(
        data.trained, data.x_train[:warm_rows], data.y_train[:warm_rows], data.x_held, data.x_test, data.y_test
    )
    if sizes.warm_up:
        once = {**config, "training": {**training, "epochs": 1}}
        _train_fold(once, warm, targets, targets[held], seed, 3, device, None)
    model, _, history, seconds = _train_fold(config, data, targets, targets[held], seed, 3, device, None)
    memory = _peak_memory(device)
    batch = sizes.loo_batch
    flops = count_flops(
        lambda: _train_step(
            model,
            data.x_train[:batch],
            data.y_train[:batch],
            lambda out, labels: _loss(out.float(), targets[labels], "mse"),
            device,
        )
    )
    images = len(data.x_train) * sizes.loo_epochs
    train_seconds = sum(r["train_seconds"] for r in history)
    steps = sum(r["steps"] for r in history)
    parameters = sum(p.numel() for p in model.parameters())
    common = {"width": sizes.loo_width, "parameters": parameters, "batch": batch, "peak_memory_bytes": memory}
    rows = [
        _row(
            ctx,
            "SimpNet fold (training + per-epoch held-out loss)",
            "images/s",
            images,
            seconds,
            flops / batch,
            phase="fold",
            fold_images=len(data.x_train),
            epochs=sizes.loo_epochs,
            **common,
        ),
        _row(
            ctx,
            "SimpNet training steps",
            "images/s",
            _trained_rows(len(data.x_train), batch) * sizes.loo_epochs,
            train_seconds,
            flops / batch,
            phase="train",
            steps=steps,
            **common,
        ),
    ]
    inputs = data.x_held[: sizes.agree_rows]
    unit = F.normalize(targets.float().cpu(), dim=1)
    candidate = _predict(model, inputs).float().cpu()
    reference = _predict(_on_cpu(model), inputs.cpu()).float().cpu()
    cosines = (F.normalize(reference, dim=1) @ unit.T, F.normalize(candidate, dim=1) @ unit.T)
    cases = [_case("SimpNet word vectors (cosine to each class)", agreement(reference, candidate, *cosines))]
    return {
        "how": (
            f"folds._train_fold of class 0 held out: {len(data.x_train)} training images ({classes - 1} classes), "
            f"{sizes.loo_epochs} epoch(s), batch {batch}, Adam 1e-3, MSE to random 50-d vectors"
            f"{_warm(sizes, ', after a warm-up epoch of two batches')}; the fold row's time includes the held-out "
            "loss after every epoch (as a study's images_per_second does)"
        ),
        "rows": rows,
        "agreement": cases,
    }


# --------------------------------------------------------------------------- non-text tokens


def section_nontext(ctx: Context) -> dict:
    import torch
    from transformers import BertConfig, BertModel

    from core.nontext import models, runs
    from core.train import Trainer, forward_batches

    device, sizes = ctx.device, ctx.sizes
    _reset_peak(device)
    config = BertConfig(**sizes.bert)
    pad, cls, sep, bases = 0, 101, 102, [1000, 1001, 1002, 1003]
    generator = torch.Generator().manual_seed(0)
    n = sizes.token_train + sizes.token_validation
    body = torch.as_tensor(bases)[torch.randint(0, 4, (n, sizes.token_length), generator=generator)]
    ids = torch.cat([torch.full((n, 1), cls), body, torch.full((n, 1), sep)], dim=1)
    labels = torch.randint(0, 3, (n,), generator=generator)
    train_ids, train_labels = ids[: sizes.token_train], labels[: sizes.token_train]
    validation = (ids[sizes.token_train :], labels[sizes.token_train :])
    model = models.build(BertModel(config), "random", 3, pad, seed=0)
    model.compact([pad, cls, sep, *bases])
    model = model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-5)
    rounds = int(sizes.warm_up) + sizes.token_rounds  # a first round warms up
    total = rounds * sizes.token_eval_every
    lengths = (train_ids != pad).sum(1)

    def evaluate(trained: torch.nn.Module) -> dict[str, float]:
        found, _ = runs._metrics(trained, *validation, pad)
        return {f"val_{k}": v for k, v in found.items()}

    trainer = Trainer(
        model,
        torch.nn.functional.cross_entropy,
        optimiser,
        rounds,
        sizes.token_batch,
        0,
        preprocess=runs._trim(pad),
        evaluate=evaluate,
        batch_order=runs._round_order(sizes.token_eval_every, lengths),
        schedule=lambda step: max(0.0, 1 - step / total),
    )
    result = trainer.fit(train_ids, train_labels)
    memory = _peak_memory(device)
    measured = result.history[int(sizes.warm_up) :]
    steps = sum(r["steps"] for r in measured)
    train_seconds = sum(r["train_seconds"] for r in measured)
    eval_seconds = sum(r["seconds"] - r["train_seconds"] for r in measured)
    batch = sizes.token_batch
    flops = count_flops(
        lambda: _train_step(
            model, train_ids[:batch], train_labels[:batch], torch.nn.functional.cross_entropy, device, runs._trim(pad)
        )
    )
    width = ids.shape[1]
    common = {"batch": batch, "sequence_tokens": width, "peak_memory_bytes": memory}
    rows = [
        _row(
            ctx,
            "bert-base-shaped fine-tune steps",
            "tokens/s",
            steps * batch * width,
            train_seconds,
            flops / (batch * width),
            phase="train",
            steps=steps,
            steps_per_second=steps / train_seconds,
            **common,
        ),
        _row(
            ctx,
            "validation passes",
            "sequences/s",
            len(measured) * len(validation[0]),
            eval_seconds,
            None,
            phase="eval",
            evaluations=len(measured),
            **common,
        ),
    ]
    inputs = validation[0][: sizes.agree_rows]
    candidate = forward_batches(model, inputs, runs._trim(pad), batch_size=128)
    reference = forward_batches(_on_cpu(model), inputs, runs._trim(pad), batch_size=128)
    cases = [_case("bert-base-shaped TokenClassifier", agreement(reference, candidate, probabilities=True))]
    return {
        "how": (
            f"Trainer as core.nontext.runs drives it: {rounds} rounds of {sizes.token_eval_every} steps"
            f"{_warm(sizes, ' (the first a warm-up, not counted)')}, batch {batch}, Adam 1e-5 with linear decay, "
            f"{width}-token sequences (4 bases + [CLS], [SEP]), the embedding compacted, {len(validation[0])} "
            "validation rows after every round"
        ),
        "rows": rows,
        "agreement": cases,
    }


# --------------------------------------------------------------------------- hybrid


def section_hybrid(ctx: Context) -> dict:
    from types import SimpleNamespace
    from unittest import mock

    import numpy as np
    import torch
    from transformers import BeitConfig, BeitModel, BertConfig, BertModel

    from core.hybrid import models, search
    from core.hybrid.vision import IMAGENET_MEAN, IMAGENET_STD, VisionModel
    from core.train import forward_batches

    device, sizes = ctx.device, ctx.sizes
    _reset_peak(device)
    beit = BeitConfig(**sizes.beit)
    torch.manual_seed(0)
    vision = VisionModel(
        BeitModel(beit).eval().to(device),
        "beit-base-shaped (random init)",
        beit.hidden_size,
        beit.patch_size,
        IMAGENET_MEAN,
        IMAGENET_STD,
        "random",
        f"BEiT {beit.num_hidden_layers} x {beit.hidden_size}, patch {beit.patch_size}, randomly initialised",
    )
    size = sizes.hybrid_image_size
    rng = np.random.default_rng(0)
    n = sizes.hybrid_train + sizes.hybrid_held
    images = torch.as_tensor(rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8))  # CIFAR-sized, resized inside
    labels = np.arange(n) % 10
    if sizes.warm_up:
        vision.encode(images[:64], size)
    _sync(device)
    started = time.perf_counter()
    tokens = vision.encode(images, size)
    _sync(device)
    encode_seconds = time.perf_counter() - started
    encode_memory = _peak_memory(device)
    pixels = vision.pixels(images[:64].to(device), size)

    def forward() -> None:
        with torch.inference_mode():
            vision.forward_tokens(pixels)

    encode_flops = count_flops(forward) / len(pixels)
    cases = [
        _case(
            "BEiT-base-shaped frozen tokens",
            agreement(
                replace(vision, module=_on_cpu(vision.module)).encode(images[: sizes.agree_rows], size),
                vision.encode(images[: sizes.agree_rows], size),
            ),
        )
    ]

    _reset_peak(device)
    text = BertModel(BertConfig(**sizes.bert))
    identity = {
        "variant": "pretrained-text",
        "text_layers": sizes.hybrid_text_layers,
        "wiring": "stack",
        "seed": 0,
        "config": {"optimizer": "adam", "batch_size": sizes.hybrid_batch, "learning_rate": 1e-4},
        "momentum": None,
        "epochs": 1 + int(sizes.warm_up),  # a first epoch warms up
        "fold": 0,
    }
    train = (tokens[: sizes.hybrid_train], labels[: sizes.hybrid_train])
    held = (tokens[sizes.hybrid_train :], labels[sizes.hybrid_train :])
    # train_trial reads its text model from the hub and its device from default_device: hand it the random one
    with (
        mock.patch.object(search, "_text_model", lambda name: SimpleNamespace(model=text)),
        mock.patch.object(search, "default_device", lambda: str(device)),
    ):
        record = search.train_trial(identity, train, held, 10, "bert-base-shaped", threads=_threads())
    trial_memory = _peak_memory(device)
    epoch = record["history"][-1]
    model = models.build("pretrained-text", beit.hidden_size, 10, text, sizes.hybrid_text_layers, "stack", 0)
    model = model.to(device)
    batch = sizes.hybrid_batch
    labels_t = torch.as_tensor(train[1][:batch])
    flops = count_flops(
        lambda: _train_step(model, train[0][:batch], labels_t, torch.nn.functional.cross_entropy, device)
    )
    layers = len(model.layers)
    common = {"image_size": size, "tokens_per_image": int(tokens.shape[1]), "text_layers": layers}
    rows = [
        _row(
            ctx,
            "BEiT-base-shaped frozen tokens (float32, as VisionModel.encode runs)",
            "images/s",
            n,
            encode_seconds,
            encode_flops,
            phase="tokens",
            batch=64,
            peak_memory_bytes=encode_memory,
            **common,
        ),
        _row(
            ctx,
            f"hybrid trial steps ({layers} text layers)",
            "rows/s",
            epoch["steps"] * batch,
            epoch["train_seconds"],
            flops / batch,
            phase="train",
            batch=batch,
            peak_memory_bytes=trial_memory,
            **common,
        ),
        _row(
            ctx,
            "hybrid trial held-out pass",
            "rows/s",
            len(held[0]),
            epoch["seconds"] - epoch["train_seconds"],
            None,
            phase="eval",
            batch=128,
            peak_memory_bytes=trial_memory,
            **common,
        ),
    ]
    inputs = held[0][: sizes.agree_rows]
    candidate = forward_batches(model, inputs)
    reference = forward_batches(_on_cpu(model), inputs)
    cases.append(_case("hybrid classifier on the tokens", agreement(reference, candidate, probabilities=True)))
    return {
        "how": (
            f"VisionModel.encode (batch 64, {size} px, no autocast: float32) over {n} random CIFAR-sized images"
            f"{_warm(sizes, ' after a warm-up of 64')}; search.train_trial, pretrained-text variant, stack wiring, "
            f"Adam 1e-4, batch {batch}, {identity['epochs']} epoch(s) over {sizes.hybrid_train} token rows (the last "
            f"timed), {sizes.hybrid_held} held-out rows"
        ),
        "rows": rows,
        "agreement": cases,
    }


SECTIONS: dict[str, Callable[[Context], dict]] = {
    "text_to_image": section_text_to_image,
    "embedding": section_embedding,
    "images_to_words": section_images_to_words,
    "nontext": section_nontext,
    "hybrid": section_hybrid,
}


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


# --------------------------------------------------------------------------- projections


def _rate(sections: dict, section: str, predicate: Callable[[dict], bool]) -> float | None:
    for row in sections.get(section, {}).get("rows", []):
        if predicate(row) and _finite(row.get("throughput")):
            return float(row["throughput"])
    return None


def projections(sections: dict) -> list[dict]:
    """The papers' full runs, projected from the measured rates (only multiplied out; none was run)."""
    out = []
    embed = _rate(sections, "embedding", lambda r: True)
    tokens_per_text = next((r["tokens_per_text"] for r in sections.get("embedding", {}).get("rows", [])), None)
    train = {
        b: _rate(sections, "text_to_image", lambda r, b=b: r["backbone"] == b and r["phase"] == "train")
        for b in PAPER_BACKBONES
    }
    infer = {
        b: _rate(sections, "text_to_image", lambda r, b=b: r["backbone"] == b and r["phase"] == "infer")
        for b in PAPER_BACKBONES
    }
    if embed and tokens_per_text and all(train.values()) and all(infer.values()):
        embed_seconds = IMDB_TEXTS * tokens_per_text / embed
        per_backbone = {
            b: IMDB_EPOCHS * (IMDB_FIT / train[b] + (IMDB_TEST + IMDB_VALIDATION) / infer[b]) for b in PAPER_BACKBONES
        }
        out.append(
            {
                "name": "IMDB 50k: embedding + 5 paper backbones x 15 epochs",
                "seconds": embed_seconds + sum(per_backbone.values()),
                "parts_seconds": {"embedding": embed_seconds, **per_backbone},
                "formula": (
                    f"{IMDB_TEXTS:,} texts x {tokens_per_text:.0f} tokens / embedding tokens/s (an upper bound: IMDB "
                    f"reviews are truncated at 512 tokens, many are shorter) + for each backbone {IMDB_EPOCHS} x "
                    f"({IMDB_FIT:,} training images / train images/s + {IMDB_TEST + IMDB_VALIDATION:,} held-out and "
                    "validation images / inference images/s); the layout fit and image building (CPU) are not counted"
                ),
            }
        )
    fold = _rate(sections, "images_to_words", lambda r: r["phase"] == "fold")
    if fold:
        out.append(
            {
                "name": "CIFAR-100 leave-one-out study: 100 folds x 25 epochs",
                "seconds": LOO_FOLDS * LOO_EPOCHS * LOO_FOLD_IMAGES / fold,
                "formula": f"{LOO_FOLDS} folds x {LOO_EPOCHS} epochs x {LOO_FOLD_IMAGES:,} images / fold images/s, "
                "one fold at a time on one GPU (the per-epoch held-out loss included)",
            }
        )
    row = next((r for r in sections.get("nontext", {}).get("rows", []) if r.get("phase") == "train"), None)
    val = _rate(sections, "nontext", lambda r: r["phase"] == "eval")
    if row and val and _finite(row.get("steps_per_second")):
        evaluations = TOKENS_STEPS // TOKENS_EVAL_EVERY
        out.append(
            {
                "name": "non-text tokens, full preset: 3 variants x 3 seeds x 3,600 steps",
                "seconds": TOKENS_RUNS
                * (TOKENS_STEPS / row["steps_per_second"] + evaluations * TOKENS_VALIDATION / val),
                "formula": f"{TOKENS_RUNS} runs x ({TOKENS_STEPS:,} steps / steps/s + {evaluations} evaluations x "
                f"{TOKENS_VALIDATION} validation rows / sequences/s), batch 16, bert-base shape",
            }
        )
    vision = _rate(sections, "hybrid", lambda r: r["phase"] == "tokens")
    steps = _rate(sections, "hybrid", lambda r: r["phase"] == "train")
    held = _rate(sections, "hybrid", lambda r: r["phase"] == "eval")
    if vision and steps and held:
        trial = HYBRID_EPOCHS * (HYBRID_FIT / steps + HYBRID_HELD / held)
        out.append(
            {
                "name": "hybrid, full preset: CIFAR-10's frozen tokens and one trial",
                "seconds": HYBRID_IMAGES / vision + trial,
                "parts_seconds": {"tokens": HYBRID_IMAGES / vision, "one_trial": trial},
                "formula": f"{HYBRID_IMAGES:,} images / token images/s + {HYBRID_EPOCHS} epochs x ({HYBRID_FIT:,} rows "
                f"/ trial rows/s + {HYBRID_HELD:,} held-out rows / held-out rows/s), at the measured batch; the "
                "full grid is 96 configurations x 5 folds of such trials per searched variant",
            }
        )
    for item in out:
        item["hours"] = item["seconds"] / 3600
    return out


# --------------------------------------------------------------------------- report


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become null, tuples lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(_clean(report), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    partial.replace(path)


def _machine(device) -> dict:
    import torch

    record = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        record.update(
            {
                "gpu": props.name,
                "gpu_memory_bytes": int(props.total_memory),
                "multiprocessors": int(props.multi_processor_count),
                "cuda": torch.version.cuda,
                "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
                "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            }
        )
    return record


def _packages() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _number(value: Any, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if _finite(value) else "-"


def _print_rows(name: str, section: dict) -> None:
    for row in section.get("rows", []):
        memory = row.get("peak_memory_bytes")
        share = row.get("share_of_peak")
        print(
            f"{name:16} {row['what'][:58]:58} {_number(row['throughput']):>13} {row['unit']:12}"
            f" {_number(row.get('achieved_tflops'), 2):>9} {_number(100 * share if share else None):>6}"
            f" {_number(memory / 2**30 if memory else None, 2):>8}",
            flush=True,
        )
    for skip in section.get("skipped", []):
        print(f"{name:16} {skip['backbone']}: skipped ({skip['reason']})", flush=True)
    for case in section.get("agreement", []):
        verdict = "agrees" if case["passed"] else "DISAGREES"
        detail = f"relative error {case.get('relative_error', float('nan')):.2e}"
        if "max_score_difference" in case:
            detail += (
                f", max {case['scores']} difference "
                f"{case['max_score_difference']:.2e}, argmax mismatches {case['argmax_mismatches']}"
                f" of {case['argmax_rows_checked']} decided rows"
            )
        print(f"{name:16}   agreement, {case['case']}: {verdict} ({detail})", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--out", default="gpu_check.json", help="the JSON file to write (default gpu_check.json)")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (with --tiny: the check CI runs)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes and few steps (seconds on a CPU)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's dense bf16 peak, TFLOP/s")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=None, help="run only these sections")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: every model is built from its config
    try:
        import torch
    except ImportError:
        print("gpu_check: PyTorch is not installed here; install torch (and torchvision, transformers).")
        return 2
    if not args.cpu and not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device is visible here (torch.cuda.is_available() is False); "
            "run it on a GPU machine, or use --cpu --tiny for the short CPU check."
        )
        return 2
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        print(f"gpu_check: --peak-tflops must be a positive number of TFLOP/s, got {args.peak_tflops}.")
        return 2
    device = torch.device("cpu" if args.cpu else "cuda")
    sizes = TINY if args.tiny else FULL
    out = Path(args.out)
    if args.cpu and not args.tiny:
        print("gpu_check: --cpu without --tiny runs the papers' model shapes on the CPU, which takes hours.")
    started = time.perf_counter()
    report: dict[str, Any] = {
        "script": "bench/gpu_check.py",
        "command": shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["gpu_check.py", *argv]),
        "mode": {"device": device.type, "tiny": bool(args.tiny)},
        "sizes": asdict(sizes),
        "sections": {},
    }
    try:
        _write(out, report)
    except OSError as error:
        print(f"gpu_check: cannot write {out} ({error}); give --out a writable path.")
        return 2
    try:
        peak, source = datasheet_peak(device, args.peak_tflops)
        matmul = matmul_tflops(device, args.tiny)
        report.update({"machine": _machine(device), "packages": _packages()})
    except Exception as error:  # e.g. a CUDA device that is visible but cannot run
        print(f"gpu_check: the {device} device failed its first computation: {type(error).__name__}: {error}")
        return 1
    report["peak"] = {"bf16_tflops": peak, "source": source, "measured_matmul": matmul}
    report["tolerances"] = {"probability": PROBABILITY_TOLERANCE, "relative": RELATIVE_TOLERANCE}
    print(
        f"# {report['machine'].get('gpu', report['machine']['processor'])}, {device}, "
        f"torch {report['packages']['torch']}, bf16 peak {_number(peak)} TFLOP/s ({source}); "
        f"matrix products {matmul['tflops']:.3g} TFLOP/s ({matmul['how']})",
        flush=True,
    )
    print(
        f"{'section':16} {'what':58} {'throughput':>13} {'unit':12} {'TFLOP/s':>9} {'%peak':>6} {'peak GiB':>8}",
        flush=True,
    )
    failed = []
    for name, run in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        begun = time.perf_counter()
        ctx = Context(device, sizes, peak, matmul["tflops"])
        try:
            section = run(ctx)
        except Exception as error:  # one method's failure must not lose the others' figures
            section = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(limit=8)}
            failed.append(name)
            print(f"{name:16} FAILED: {type(error).__name__}: {str(error)[:300]}", flush=True)
        section["section_seconds"] = time.perf_counter() - begun
        report["sections"][name] = section
        _print_rows(name, section)
        _reset_peak(device)
        _write(out, report)
    cases = [c for s in report["sections"].values() for c in s.get("agreement", [])]
    report["agreement"] = {
        "compared": (
            "cpu (float32) against cuda (the lab's path: bf16 autocast, channels_last)"
            if device.type == "cuda"
            else "cpu against cpu: the comparison runs, but no CUDA path is checked in a --cpu run"
        ),
        "cases": len(cases),
        "passed": bool(cases) and all(c["passed"] for c in cases),
    }
    report["projections"] = projections(report["sections"])
    if args.tiny:
        for item in report["projections"]:
            item["note"] = "from --tiny shapes, not the papers' models: these figures only exercise the arithmetic"
    report["elapsed_seconds"] = time.perf_counter() - started
    _write(out, report)
    for item in report["projections"]:
        caveat = " [--tiny shapes: not a projection of the papers' models]" if args.tiny else ""
        print(f"# projection{caveat}: {item['name']}: {item['hours']:,.2f} h ({item['formula']})", flush=True)
    agreed = report["agreement"]["passed"]
    print(
        f"# agreement: {'all ' + str(len(cases)) + ' cases agree' if agreed else 'FAILED'} "
        f"({report['agreement']['compared']}); sections failed: {', '.join(failed) or 'none'}; "
        f"{report['elapsed_seconds']:.1f} s; written to {out}",
        flush=True,
    )
    return 0 if agreed and not failed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("gpu_check: stopped; the JSON holds the sections that finished.")
        sys.exit(130)
