"""Classify's "Edit a word, see what changes": the sentence and an edited copy side by side."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core.figures import image_figure
from core.text_to_image import counterfactuals, datasets
from core.text_to_image.figures import probabilities_figure
from ui import charts
from ui.text_to_image import attribution, panels

TYPED = "type your own edit below"


def _apply(options: dict[str, str]) -> None:
    """A one-click edit picked: it becomes the edited sentence (which the user may then change further)."""
    picked = st.session_state.get("cl-cf-pick")
    if picked in options:
        st.session_state["cl-cf-text"] = options[picked]


def panel(
    imager: Any,
    loaded: dict[str, Any],
    text: str,
    names: list[str],
    temperatures: dict | None,
    hover: np.ndarray,
    explained: str,
    key: tuple[str, ...],
) -> None:
    """The original and an edited copy through the same chain: both predictions (calibrated as above), both
    images and their difference, and on request both sentences' word attributions."""
    charts.subheader("Edit a word, see what changes")
    offered = counterfactuals.edits(text)
    options = {e.label: e.text for e in offered}
    if st.session_state.get("cl-cf-for") != text:  # a new sentence: its first one-click edit, not the old one's
        st.session_state["cl-cf-for"] = text
        st.session_state["cl-cf-text"] = offered[0].text if offered else text
        st.session_state["cl-cf-pick"] = next(iter(options), TYPED)
    st.selectbox(
        "One-click edit",
        [*options, TYPED],
        key="cl-cf-pick",
        on_change=_apply,
        args=(options,),
        help="An antonym from the lab's small table of review words, a word deleted, or two neighbours swapped.",
    )
    edited = st.text_input("Edited sentence", key="cl-cf-text").strip()
    if not edited or edited == text:
        st.info("Change a word of the edited sentence (or pick an edit) to compare the two.")
        return
    panels.unreadable_warning(imager.encoder, edited, "so its prediction is not meaningful")
    pair = counterfactuals.compare(imager, loaded, text, edited, temperatures)
    kind = "raw" if not temperatures or all(t is None for t in temperatures.values()) else "calibrated"
    titles = datasets.channel_titles(imager.config)  # one layer per channel: three small panels per image
    columns = st.columns(2)
    for where, label, sentence, result, image, side in zip(
        columns,
        ("Original", "Edited"),
        pair["texts"],
        pair["results"],
        pair["images"],
        ("orig", "edit"),
        strict=True,
    ):
        vote = names[result["vote"]]
        charts.markdown(
            f"**{label}:** «{sentence}» → **{vote}** ({result['mean'][result['vote']]:.2f} mean {kind} probability)",
            where,
        )
        charts.show(probabilities_figure(result["per_model"], names, result["mean"]), key=f"cl-cf-probs-{side}",
                    where=where)  # fmt: skip
        charts.show(
            image_figure(image, hover, contrast="model", size=260 if titles is None else 110, titles=titles),
            key=f"cl-cf-image-{side}",
            config=panels.PLAIN,
            width="content",
            where=where,
        )
    moved = ", ".join(pair["changed"])
    charts.markdown(
        f"The edit changes the prediction of **{moved}**." if moved else "The edit changes no model's predicted class."
    )
    charts.show(
        image_figure(pair["difference"], hover, diverging=True, size=300 if titles is None else 200, titles=titles),
        key="cl-cf-difference",
        config=panels.PLAIN,
        width="content",
    )
    charts.caption(
        "Edited image − original image: red pixels are brighter in the edited sentence's image, blue ones darker "
        "(the lab's one diverging convention: red is higher in the second). Each pixel is the mean of its features, "
        "so one word's edit moves many pixels a little."
    )
    if st.toggle("Explain both by words", key="cl-cf-attr", help="Integrated gradients for each sentence (slower)."):
        for label, sentence in zip(("Original", "Edited"), pair["texts"], strict=True):
            charts.markdown(f"**{label}:** «{sentence}»")
            attribution.panel(
                imager,
                loaded[explained],
                sentence,
                names,
                key,
                prefix=f"cl-cf-{label.lower()}",
                temperature=(temperatures or {}).get(explained),
            )
