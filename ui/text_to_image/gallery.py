"""Image Dataset's gallery: random samples of every class and the class means with their difference, grey images
as one panel each, images of one layer per channel in colour (samples) and as one panel per layer (means)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.figures import display_values, image_figure, sample_images_figure
from core.text_to_image import datasets
from core.text_to_image.figures import layer_strip_figure
from ui import charts
from ui.text_to_image import cache, panels


def show(ref: tuple[str, str], arrays: dict, names: list[str], config: dict, contrast: str) -> None:
    """The gallery of the dataset ``ref`` (its id and stamp): ``arrays`` as :func:`cache.dataset_arrays` gives
    them, its class ``names`` and ``config``, drawn with ``contrast``."""
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
    columns = panels.image_places(len(means) + 1, titles is not None)
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
