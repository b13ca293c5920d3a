"""The Classify page's token attributions: highlighted text and a table."""

from __future__ import annotations

import html
import time

import pandas as pd
import streamlit as st

from core.text_to_image import attributions


def _colour(score: float, scale: float) -> str:
    """A diverging background: blue pushes toward the explained class, red away from it."""
    share = min(1.0, abs(score) / scale) if scale > 0 else 0.0
    rgb = (76, 120, 168) if score >= 0 else (228, 87, 86)
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{0.12 + 0.7 * share:.2f})"


def highlighted(words: list[tuple[str, float]]) -> str:
    scale = max((abs(s) for _, s in words), default=0.0)
    spans = [
        f'<span title="{s:+.4f}" style="background:{_colour(s, scale)};padding:2px 4px;margin:1px;'
        f'border-radius:4px;display:inline-block">{html.escape(w)}</span>'
        for w, s in words
    ]
    return f'<div style="line-height:2.2;font-size:1.1rem">{"".join(spans)}</div>'


def panel(imager, model, text: str, names: list[str]) -> None:
    """Which tokens pushed one model's prediction (integrated gradients through the whole chain)."""
    left, middle, right = st.columns(3)
    target = left.radio("Toward the class", ["predicted", *names], horizontal=True, key="cl-attr-target")
    titles = {"integrated_gradients": "integrated gradients", "gradient_x_input": "gradient × input"}
    method = middle.radio("Method", attributions.METHODS, key="cl-attr-method", format_func=titles.get)
    steps = right.slider("Steps", 16, 256, 128, 16, key="cl-attr-steps", disabled=method != "integrated_gradients")
    started = time.perf_counter()
    with st.spinner("Back through the classifier, the image, the layout and the encoder…"):
        found = attributions.attribute(
            imager, model, text, None if target == "predicted" else names.index(target), method, steps
        )
    took = time.perf_counter() - started
    words = attributions.words(found)
    st.html(highlighted(words))
    change = found.logit - found.baseline_logit
    probability = found.probabilities[found.target]
    st.caption(
        f"Toward **{names[found.target]}** (probability {probability:.2f}): blue words raised its logit, red ones "
        "lowered it (hover a word for its value). The baseline replaces every word by [PAD] and keeps [CLS] / [SEP]; "
        f"the logit moves by {change:+.3f} from the baseline to the sentence, and the attributions add up to it "
        f"within {found.completeness_gap:.3f}. {found.steps} step(s), {took:.1f} s."
    )
    if method == "integrated_gradients" and found.completeness_gap > 0.1 * abs(change) + 1e-3:
        st.warning(
            f"The attributions miss the logit's change by {found.completeness_gap:.3f} (more than 10 %): the path "
            "is rough for this model; raise the steps (128 or more) for a faithful split.",
            icon=":material/warning:",
        )
    st.dataframe(
        pd.DataFrame(found.table()),
        hide_index=True,
        width="stretch",
        key="cl-attr-table",
        column_config={"attribution": st.column_config.NumberColumn(format="%+.4f")},
    )
