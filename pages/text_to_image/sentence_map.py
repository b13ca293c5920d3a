"""Sentence Map: the corpus's sentences on a 2-D map per layer; typed sentences placed into it with their neighbours."""

import time

import streamlit as st

from core.text_to_image import sentence_map
from core.text_to_image.figures import sentence_map_figure
from ui import charts, inputs, links, state
from ui.text_to_image import sentence_map as panels
from ui.text_to_image.panels import shorten, unreadable_warning

st.title("Sentence Map")
links.sync({"layer": ("sm-layer", int), "texts": "sm-texts", "k": ("sm-k", int)})
st.caption(
    "Every sentence of the corpus is one point: the pooled hidden state of the chosen layer, laid out in 2-D with "
    "t-SNE (openTSNE, cosine distance) or UMAP. Hover a point to read it. Type sentences below: each is placed "
    "into the frozen map (the map does not move) and its nearest corpus sentences are listed by cosine similarity "
    "of the embeddings themselves, not of the 2-D positions. Move the layer slider to see where the classes separate."
)

settings = panels.settings_form()
encoder = None
with state.user_errors():
    settings.check()
    encoder = state.encoder(settings.encoder)
if encoder is None:
    st.stop()
layer = st.slider(
    "Layer", 0, encoder.num_layers, encoder.num_layers, key="sm-layer",
    help="0 is the embeddings layer (before any attention), the last is the encoder's output.",
)  # fmt: skip
found = sentence_map.find_map(settings, layer)
if found is None:
    st.info(
        f"The map of layer {layer} is not fitted yet: the first fit embeds the {settings.n:,} sentences at every layer "
        "(about a minute on two CPU cores, once) and then lays out this layer (about 20 s)."
    )
    one, every = st.columns(2)
    if inputs.button(one, f"Fit the map of layer {layer}", type="primary", key="sm-fit"):
        with state.user_errors():
            panels.fit(settings, [layer])
            st.rerun()
    if inputs.button(every, f"Fit every layer (0–{encoder.num_layers})", key="sm-fit-all"):
        with state.user_errors():
            panels.fit(settings, list(range(encoder.num_layers + 1)))
            st.rerun()
    st.stop()

loaded = panels.loaded_map(found.id)
groups, wrong, caption = panels.colours(loaded)
typed = st.text_area(
    "Your sentences (one per line)",
    "a tender, funny and beautifully acted film\na dull, lifeless mess",
    key="sm-texts",
    persist_state="session",
)
texts = [line.strip() for line in typed.splitlines() if line.strip()][:20]
placed = vectors = None
if texts:
    for text in texts:
        unreadable_warning(encoder, text, "so its place on the map and its neighbours say little", f"«{shorten(text)}»")
    with state.user_errors():
        started = time.perf_counter()
        vectors = sentence_map.sentence_vectors(encoder, texts, layer, settings.pooling)
        placed = loaded.place(vectors)
        took = time.perf_counter() - started
title = f"{settings.corpus}, {len(loaded.texts):,} sentences · {settings.encoder} layer {layer} · {settings.method}"
charts.show(sentence_map_figure(loaded.coords, loaded.texts, groups, wrong, placed, texts, title), key="sm-map")
st.caption(caption)
if placed is not None:
    st.caption(f"{len(texts)} sentence(s) embedded and placed in {took * 1000:.0f} ms.")
    k = st.slider("Neighbours per sentence", 1, 20, 5, key="sm-k")
    st.dataframe(panels.neighbour_table(loaded, texts, vectors, k), hide_index=True, width="stretch", key="sm-table")
