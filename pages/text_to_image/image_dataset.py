"""Image Dataset: turn a labelled corpus into a split set of images, and look at it class by class."""

import numpy as np
import streamlit as st

from core import store
from core.encoders import parse_layers
from core.text_to_image import datasets, jobs
from ui import inputs, state
from ui.text_to_image import cache, forms, gallery, panels

st.title("Image Dataset")
st.caption(
    "Every text of a labelled corpus becomes one image: its layer vectors are embedded, and a feature layout fitted on "
    "the training split only places each (layer, dimension) on a pixel. The split is stratified and seeded."
)

with st.expander("Build a dataset", expanded=not datasets.list_datasets()):
    load_corpus = None
    with state.user_errors():
        load_corpus = forms.corpus_picker()
    encoder_name, pooling = forms.encoder_picker()
    layers = forms.layers_text()
    params = forms.layout_settings()
    split = forms.split_settings()
    channels = st.radio(
        "Image channels",
        datasets.CHANNELS,
        key="ds-channels",
        horizontal=True,
        format_func={
            "grey": "grey: every layer in one image (the paper's)",
            "layers": "one layer per RGB channel (exactly three layers; the lab's extension)",
        }.get,
        help="With one layer per channel the layout places one layer's dimensions and each of the three layers "
        "(e.g. -5 -3 -1) fills its own colour channel, instead of all layers sharing one grey image.",
    )
    st.caption("Embeddings are cached in shards, so a stopped build resumes; the same settings are never built twice.")
    if inputs.button(st, "Build", type="primary", key="ds-build"):
        with state.user_errors():
            if load_corpus is None:
                raise ValueError("Upload a CSV and choose its text and label columns first.")
            chosen_layers = parse_layers(layers)
            settings = datasets.DatasetSettings(
                layers=tuple(chosen_layers) if chosen_layers else None,
                pooling=pooling,
                layout=params,
                channels=channels,
                **split,
            )
            artifact = jobs.build_dataset(
                load_corpus(), lambda: state.encoder(encoder_name), settings, progress=state.progress_callback
            )
            st.session_state["ds-chosen"] = artifact.id
            st.rerun()

chosen = panels.choose_dataset(
    "ds-chosen",
    "No image dataset yet: build one above (the defaults use the offline Rotten Tomatoes snippets).",
)
with state.user_errors():
    artifact = store.load(datasets.DATASETS, chosen)
    ref = (chosen, state.artifact_stamp(datasets.DATASETS, chosen))
    arrays = cache.dataset_arrays(*ref)
    names = datasets.label_names(artifact)
    config = artifact.config
    cols = st.columns(4)
    cols[0].metric("Training images", f"{config['split']['train']:,}")
    cols[1].metric("Held-out images", f"{config['split']['test']:,}")
    cols[2].metric("Image size", "×".join(map(str, arrays["images"].shape[1:])))
    cols[3].metric("Layout fitted on", "training rows" if config["fit_on"] == "train" else "all rows (leak)")
    counts = np.bincount(arrays["labels"], minlength=len(names))
    st.caption(
        " · ".join(f"{name}: {count:,}" for name, count in zip(names, counts, strict=True))
        + f" · {config['encoder']['name']}, layers {config['layers']}, {config['pooling']} pooling"
    )
    contrast = st.radio(
        "Grey levels",
        ["equalize", "stretch", "model"],
        horizontal=True,
        key="ds-contrast",
        format_func={"equalize": "equalized", "stretch": "stretched", "model": "as the model sees them"}.get,
    )
    gallery.show(ref, arrays, names, config, contrast)
