"""The steps of the Sentence's Path page, each drawn with a caption a teacher can read out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.figures import image_figure
from core.text_to_image.figures import (
    attention_cell,
    attention_grid_figure,
    attention_head_figure,
    layer_strip_figure,
    pooled_vectors_figure,
    probabilities_figure,
    saliency_figure,
    slice_maps_figure,
)
from core.text_to_image.sentence_path import SentencePath
from ui import charts
from ui.text_to_image import panels
from ui.text_to_image.panels import PLAIN


def tokens(path: SentencePath) -> None:
    charts.markdown("**1. Tokens.** The tokenizer cuts the sentence into word pieces and looks up each one's id.")
    table = pd.DataFrame({"token": path.tokens, "id": path.ids}).T.astype(str)  # one type per column for Arrow
    charts.dataframe(table, width="stretch", key="sp-tokens")


def layers(path: SentencePath, name: str) -> None:
    charts.markdown(
        f"**2. Every layer.** {name} turns the ids into vectors, then each layer rewrites them. Pooled over the "
        "tokens, each layer's vector is one image below, every layer on the same grid: the same pixel is the same "
        "hidden dimension, so you can watch it change from the embeddings layer (0) to the last."
    )
    titles = ["emb. (0)", *[f"layer {i}" for i in range(1, len(path.layer_images))]]
    charts.show(layer_strip_figure(path.layer_images, titles), key="sp-layers", config=PLAIN)


def _clicked(tokens: int) -> None:
    """A click on the grid (its latest point selection, read before the boxes are drawn) chooses that map's
    layer and head; the same click read again on a later run changes nothing."""
    event = st.session_state.get("sp-attention") or {}
    points = list((event.get("selection") or {}).get("points") or [])
    where = (points[0].get("x"), points[0].get("y")) if len(points) == 1 else None
    if where is not None and None not in where and where != st.session_state.get("sp-att-clicked"):
        layer, head = attention_cell(where[0], where[1], tokens)
        st.session_state["sp-att-layer"], st.session_state["sp-att-head"] = layer + 1, head + 1
    st.session_state["sp-att-clicked"] = where


def attention(path: SentencePath, name: str) -> None:
    """Step 2b: every head of every layer, as BertViz's model view draws it, and one head enlarged."""
    if path.attention is None:
        return
    layers, heads = path.attention.shape[:2]
    charts.markdown(
        f"**2b. Attention.** Inside each of {name}'s {layers} layers, {heads} heads each decide how much every token "
        "reads from every other (a row: one token's weights over the sentence, summing to 1). The grid shows all "
        f"{layers * heads} maps, layers top to bottom and heads left to right (hover one to read its weights); "
        "click one, or choose it here, to see it large with its tokens."
    )
    _clicked(path.attention.shape[2])
    left, right = st.columns(2)
    layer = left.selectbox("Layer", range(1, layers + 1), key="sp-att-layer")
    head = right.selectbox("Head", range(1, heads + 1), key="sp-att-head")
    grid = attention_grid_figure(path.attention, path.tokens, chosen=(int(layer) - 1, int(head) - 1))
    charts.show(grid, key="sp-attention", config=PLAIN, width="content", on_select="rerun", selection_mode="points")
    charts.show(
        attention_head_figure(path.attention[int(layer) - 1, int(head) - 1], path.tokens, int(layer), int(head)),
        key="sp-attention-head",
        width="content",
    )
    charts.caption(
        "Attention says where a head looks, not why the prediction is what it is: many heads attend to [CLS], [SEP] "
        "or the next token whatever the sentence (the attributions on Classify measure what the prediction "
        "depends on)."
    )


def vectors(path: SentencePath, layer_names: list[int], hidden: int) -> None:
    charts.markdown(
        f"**3. The pooled vectors.** The dataset reads layers {', '.join(map(str, layer_names))}: "
        f"{len(layer_names)} x {hidden} = {len(path.features):,} numbers, one row per layer."
    )
    charts.show(pooled_vectors_figure(path.features, layer_names, hidden), key="sp-vectors")


def layout_and_image(path: SentencePath, hover: np.ndarray, titles: list[str] | None = None) -> None:
    """Steps 4 and 5; ``titles``: the channels' layers of an image of one layer per channel (None: grey)."""
    per_channel = (
        " Here each of the three layers fills its own colour channel (the lab's extension, not the paper's): the "
        "layout places one layer's dimensions, and every layer's vector is drawn through it."
        if titles
        else ""
    )
    charts.markdown(
        "**4. The layout, 5. the image.** The feature layout gives every number a pixel (features with similar "
        "behaviour over the corpus sit close); each pixel shows the mean of its features, scaled to 0–1. The table "
        f"lists where this sentence's strongest features sit.{per_channel}"
    )
    left, right = panels.image_places(2, titles is not None)
    charts.show(
        image_figure(path.image, hover, size=300 if titles is None else 180, titles=titles),
        key="sp-image",
        config=PLAIN,
        width="content",
        where=left,
    )
    charts.dataframe(
        pd.DataFrame(path.strongest),
        right,
        hide_index=True,
        width="stretch",
        key="sp-strongest",
        column_config={  # four decimals: a value of 1e-32 would otherwise print as a row of zeros
            "value": st.column_config.NumberColumn("embedding value", format="%.4f"),
            "scaled": st.column_config.NumberColumn(format="%.4f"),
        },
    )


def slice_maps(path: SentencePath, backbone: str) -> None:
    charts.markdown(
        f"**6. The vision model's slice.** The early layers of {backbone} read the image as if it were a photo. "
        f"These are its {len(path.slice_maps)} most active feature maps (of the slice's channels) for this sentence."
    )
    charts.show(slice_maps_figure(path.slice_maps), key="sp-maps", config=PLAIN)
    charts.caption("Each map is scaled to its own maximum (white); black is no activation.")


def prediction(
    path: SentencePath,
    names: list[str],
    hover: np.ndarray,
    temperature: float | None = None,
    titles: list[str] | None = None,
) -> None:
    """Step 7: the class probabilities, calibrated by the model's ``temperature`` where one is given (the same
    softmax(logits / T) as Classify; the raw ones otherwise), and the saliency map (one panel per channel's layer,
    ``titles``, for an image of one layer per channel)."""
    probabilities = path.probabilities if temperature is None else path.calibrated(temperature)
    which = f"calibrated, T = {temperature:.2f}" if temperature is not None else "raw"
    top = int(np.argmax(probabilities))
    charts.markdown(
        f"**7. The prediction: {names[top]}** ({probabilities[top]:.2f}, {which}). The new layers and the head turn "
        "the slice's maps into class scores. The saliency map shows which pixels the prediction depends on most; "
        "through the layout, each pixel names the features it holds."
    )
    left, right = panels.image_places(2, titles is not None)
    charts.show(probabilities_figure({f"model ({which})": probabilities}, names), key="sp-probs", where=left)
    charts.show(
        saliency_figure(path.saliency, hover, size=300 if titles is None else 180, titles=titles),
        key="sp-saliency",
        config=PLAIN,
        width="content",
        where=right,
    )
