"""The refit form: corpus, encoder and layout settings, each widget defaulting to its dataclass."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from core import corpora
from core.encoders import POOLINGS, available_encoders, recommended_pooling
from core.layout import DISCRETIZATIONS, METHODS, SCALERS
from ui import inputs

METRICS = ("cosine", "euclidean", "correlation", "manhattan")

METHOD_NAMES = {
    "tsne": "t-SNE (openTSNE)",
    "umap": "UMAP",
    "pca": "PCA",
    "kpca": "Kernel PCA (RBF)",
    "sklearn_tsne": "t-SNE (scikit-learn, the paper's)",
}
LAYOUT_BASES = {
    "lab": "The lab's defaults (cosine openTSNE after PCA to 50, 250 iterations, floor binning)",
    "paper": "The paper's exact layout (Benarab 2021: scikit-learn t-SNE on the raw scaled features, 2021 binning)",
}


def corpus_picker() -> Callable[[], pd.DataFrame] | None:
    """Choose a corpus (packaged, hub or uploaded CSV); returns its loader, called only on Fit."""
    names = [row["name"] for row in corpora.available_corpora()]
    name = st.selectbox("Corpus", names, key="fit-corpus")
    n = inputs.number(st, "Texts to fit on", 50, 50_000, corpora.DEFAULTS.n, step=250, key="fit-n")
    seed = inputs.number(st, "Sampling seed", 0, 2**31 - 1, corpora.DEFAULTS.seed, key="fit-seed")
    if name != "csv":
        return partial(corpora.load_corpus, name, n=int(n), seed=int(seed))
    upload = st.file_uploader("CSV file (UTF-8)", type=["csv", "tsv", "txt"], key="fit-csv")
    if upload is None:
        return None
    columns = corpora.csv_columns(upload)
    text_column = st.selectbox("Text column", columns, key="fit-text-col")
    label_column = st.selectbox("Label column", columns, index=min(1, len(columns) - 1), key="fit-label-col")
    return partial(corpora.load_csv, upload, text_column, label_column, n=int(n), seed=int(seed))


def encoder_picker() -> tuple[str, str]:
    """Choose an encoder (packaged or any hub id) and a pooling."""
    known = [row["name"] for row in available_encoders()]
    name = st.selectbox("Encoder", [*known, "other Hugging Face id…"], key="fit-encoder")
    if name == "other Hugging Face id…":
        name = st.text_input(
            "Hugging Face model id (needs internet)", "bert-base-uncased", key="fit-encoder-id"
        ).strip()
    recommended = recommended_pooling(name)
    pooling = st.radio(
        "Pooling",
        POOLINGS,
        index=POOLINGS.index(recommended),
        horizontal=True,
        key=f"fit-pooling-{recommended}",
        format_func=lambda p: f"{p} (recommended for this encoder)" if p == recommended else p,
        help="mean: the mask-aware mean over the tokens (what sentence-transformers models such as all-MiniLM-L6-v2 "
        "were trained for); cls: the [CLS] vector (bert-base, as in the paper).",
    )
    return name, pooling


def layers_text() -> str:
    """The layers to embed, as typed (parse with :func:`core.encoders.parse_layers`)."""
    return st.text_input(
        "Layers (hidden_states indices; empty = the encoder's default)",
        "",
        key="fit-layers",
        placeholder="e.g. 1 2 3 4 5 6, -2 -1, paper-code or last-six",
        help="0 is the embedding output, -1 the last layer. 'paper-code' is 6 7 8 9 10 11, what the paper's code "
        "takes (hidden_states[6:12], bert-base's last layer left out); 'last-six' is -6 … -1, what its abstract says "
        "(7 to 12 on bert-base). Defaults: bert-base's 6 … 11, the last six layers of deeper models, every layer of "
        "shallower ones (all-MiniLM-L6-v2: 1 to 6).",
    )


def layout_settings() -> dict:
    """FeatureLayout parameters, starting from the lab's defaults or from the paper's exact settings."""
    from core.text_to_image.presets import layout_base

    base_name = st.radio(
        "Start from",
        list(LAYOUT_BASES),
        format_func=LAYOUT_BASES.get,
        key="fit-layout-base",
        help="Each widget below starts at the chosen settings; docs/presets.md lists every difference and why the "
        "lab's default differs.",
    )
    d = layout_base(base_name)
    tag = "fit" if base_name == "lab" else "fit-paper"  # keyed per base: switching bases resets the widgets
    left, right = st.columns(2)
    method = left.selectbox(
        "Method", METHODS, index=METHODS.index(d["method"]), format_func=METHOD_NAMES.get, key=f"{tag}-method"
    )
    pixels = inputs.number(left, "Pixels per side", 8, 256, d["pixels"], key=f"{tag}-pixels")
    discretization = left.selectbox(
        "Discretization",
        DISCRETIZATIONS,
        index=DISCRETIZATIONS.index(d["discretization"]),
        key=f"{tag}-disc",
        help="bin: floor of scaled positions (features may share a pixel); assignment: one feature, or one group of "
        "features, per pixel; digitize: pyDeepInsight 2021's np.digitize against linspace(min, max, pixels) (the "
        "paper's code; the last row and column hold only the maximum).",
    )
    scaler = left.selectbox(
        "Scaler",
        SCALERS,
        index=SCALERS.index(d["scaler"]),
        format_func=lambda s: s or "none",
        key=f"{tag}-scaler",
        help="log (the lab's): log(x − column min + 1) / global max, DeepInsight's norm-2 as its paper writes it; "
        "norm2 (the text-as-image paper's code): log(x + |column min| + 1) / global max, what pyDeepInsight's 2021 "
        "LogScaler computes; minmax: per feature.",
    )
    metric = left.selectbox(
        "Distance between features",
        METRICS,
        index=METRICS.index(d["metric"]),
        key=f"{tag}-metric",
        help="cosine (the lab's) or euclidean (scikit-learn's default, the paper's).",
    )
    perplexity = inputs.number(right, "Perplexity (t-SNE)", 2.0, 200.0, float(d["perplexity"]), key=f"{tag}-perplexity")
    neighbours = inputs.number(right, "Neighbours (UMAP)", 2, 200, d["n_neighbors"], key=f"{tag}-neighbours")
    reduce_dim = inputs.number(
        right, "PCA over samples before the 2-D method (0 = off)", 0, 500, d["reduce_dim"] or 0, key=f"{tag}-reduce"
    )
    seed = inputs.number(right, "Layout seed", 0, 2**31 - 1, d["random_state"] or 0, key=f"{tag}-layout-seed")
    return {
        **d,
        "method": method,
        "pixels": int(pixels),
        "discretization": discretization,
        "scaler": scaler,
        "metric": metric,
        "perplexity": float(perplexity),
        "n_neighbors": int(neighbours),
        "reduce_dim": int(reduce_dim) or None,
        "random_state": int(seed),
    }


def split_settings() -> dict[str, Any]:
    """A dataset's split as :class:`core.text_to_image.datasets.DatasetSettings` keywords: held-out share
    (``test_size``), ``seed``, the rows the layout is fitted on (``fit_on``), and the split method (``split``)."""
    from core.text_to_image import datasets

    left, middle, right, last = st.columns(4)
    test_size = left.slider("Held-out share", 0.05, 0.5, datasets.DATASET_DEFAULTS.test_size, 0.05, key="ds-test")
    seed = inputs.number(middle, "Split seed", 0, 2**31 - 1, datasets.DATASET_DEFAULTS.seed, key="ds-split-seed")
    fit_on = right.radio(
        "Fit the layout on",
        datasets.FIT_ON,
        key="ds-fit-on",
        horizontal=True,
        format_func={"train": "training rows (no leak)", "all": "all rows (the paper's code)"}.get,
        help="The paper's code fitted its layout on every review, test reviews included: a leak. Use 'all' only to "
        "reproduce it.",
    )
    method = last.radio(
        "Split",
        datasets.SPLITS,
        key="ds-split-method",
        format_func={
            "stratified": "stratified (the lab's)",
            "random_split": "torch random_split (the paper's code)",
        }.get,
        help="The paper's code split with torch.utils.data.random_split after torch.manual_seed(seed).",
    )
    return {"test_size": float(test_size), "seed": int(seed), "fit_on": fit_on, "split": method}
