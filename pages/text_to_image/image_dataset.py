"""Image Dataset: turn a labelled corpus into a split set of images, and look at it class by class."""

import numpy as np
import streamlit as st

from core import store
from core.encoders import parse_layers
from core.figures import display_values, image_figure, sample_images_figure
from core.text_to_image import datasets, jobs
from core.text_to_image.figures import layer_strip_figure
from ui import charts, inputs, state
from ui.text_to_image import cache, forms, panels

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
    hover = cache.dataset_hover(*ref)
    titles = datasets.channel_titles(config)
    if titles is not None:
        st.caption(
            f"One layer per channel (the lab's extension, not the paper's): {', '.join(titles)}, each laid out by "
            "the same layout of one layer's dimensions. The samples are drawn in colour; the means and their "
            "difference one panel per layer."
        )
    per_class = st.slider("Samples per class", 2, 10, 6, key="ds-samples")
    rng = np.random.default_rng(0)
    for index, name in enumerate(names):
        rows = np.flatnonzero(arrays["labels"] == index)
        picked = rng.choice(rows, size=min(per_class, len(rows)), replace=False)
        st.markdown(f"**{name}** — {len(picked)} random images of {len(rows):,}")
        if titles is None:
            figure = layer_strip_figure(
                arrays["images"][picked], panels.gallery_titles(arrays, picked), hover, contrast=contrast, height=190
            )
        else:
            shown, (low, high) = display_values(arrays["images"][picked], contrast)
            colour = np.clip((shown - low) / ((high - low) or 1.0), 0, 1)
            figure = sample_images_figure((255 * colour).astype(np.uint8), panels.gallery_titles(arrays, picked), 190)
        charts.show(figure, key=f"ds-samples-{index}", config=panels.PLAIN)
    st.subheader("Mean image per class, and their difference")
    means = datasets.class_means(arrays["images"], arrays["labels"], len(names))
    # one layer per channel: each image is three panels, one row each; grey ones side by side
    columns = st.columns(len(means) + 1) if titles is None else [st.container() for _ in range(len(means) + 1)]
    for column, name, mean in zip(columns, names, means, strict=False):
        column.caption(f"mean of {name}")
        charts.show(
            image_figure(mean, hover, contrast=contrast, size=260 if titles is None else 200, titles=titles),
            key=f"ds-mean-{name}",
            config=panels.PLAIN,
            width="content",
            where=column,
        )
    columns[-1].caption(f"{names[1]} − {names[0]} (red: brighter in {names[1]})")
    charts.show(
        image_figure(means[1] - means[0], hover, diverging=True, size=260 if titles is None else 200, titles=titles),
        key="ds-diff",
        config=panels.PLAIN,
        width="content",
        where=columns[-1],
    )
