"""The Classify page's word attributions: highlighted text, the deletion check beside it, and a table."""

from __future__ import annotations

import html
from dataclasses import asdict, replace

import pandas as pd
import streamlit as st

from core.text_to_image import attributions
from core.text_to_image.figures import deletion_figure
from ui import charts
from ui.text_to_image import cache

DEFAULTS = attributions.DEFAULTS
METHOD_TITLES = {"integrated_gradients": "integrated gradients", "gradient_x_input": "gradient × input"}
RULE_TITLES = {"adaptive": "adaptive trapezoid", "gausslegendre": "Gauss-Legendre", "midpoint": "midpoint"}
STEPS = [s for s in (8, 16, 32, 48, 64, 128, 256) if s <= DEFAULTS.max_steps]


def _colour(score: float, scale: float) -> str:
    """A diverging background in the lab's one convention (as its red-blue images): red pushes toward the explained
    class (raises its logit), blue away from it."""
    share = min(1.0, abs(score) / scale) if scale > 0 else 0.0
    rgb = (228, 87, 86) if score >= 0 else (76, 120, 168)
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{0.12 + 0.7 * share:.2f})"


def highlighted(words: list[tuple[str, float]]) -> str:
    scale = max((abs(s) for _, s in words), default=0.0)
    spans = [
        f'<span title="{s:+.4f}" style="background:{_colour(s, scale)};padding:2px 4px;margin:1px;'
        f'border-radius:4px;display:inline-block">{html.escape(w)}</span>'
        for w, s in words
    ]
    return f'<div style="line-height:2.2;font-size:1.1rem">{"".join(spans)}</div>'


def _settings(prefix: str = "cl-attr") -> attributions.AttributionSettings:
    first, second, third = st.columns(3)
    method = first.radio(
        "Method",
        attributions.METHODS,
        attributions.METHODS.index(DEFAULTS.method),
        key=f"{prefix}-method",
        format_func=METHOD_TITLES.get,
        horizontal=True,
    )
    baseline = second.selectbox(
        "Baseline",
        attributions.BASELINES,
        attributions.BASELINES.index(DEFAULTS.baseline),
        key=f"{prefix}-baseline",
        format_func=attributions.BASELINE_TITLES.get,
        help="Where integrated gradients' path starts: the same sentence with its words replaced ([CLS] and [SEP] "
        "kept). Gradient × input multiplies by the difference from it.",
    )
    is_ig = method == "integrated_gradients"
    rule = third.radio(
        "Quadrature", attributions.RULES, key=f"{prefix}-rule", format_func=RULE_TITLES.get, horizontal=True,
        index=attributions.RULES.index(DEFAULTS.rule), disabled=not is_ig,
        help="Through this chain's ReLUs and the layout's clipping the gradient jumps along the path, so fixed rules "
        "need many steps (Gauss-Legendre is exact only for smooth paths). The adaptive trapezoid rule checks each "
        "stretch of the path against the logit's own change there and spends its steps where they miss "
        "(docs/benchmarks.md).",
    )  # fmt: skip
    steps = st.select_slider(
        "Steps (gradients along the path; the adaptive rule's most)",
        STEPS,
        DEFAULTS.steps,
        key=f"{prefix}-steps",
        disabled=not is_ig,
    )
    return replace(DEFAULTS, method=method, steps=steps, rule=rule, baseline=baseline)


def _probability(found: attributions.Attribution, temperature: float | None) -> str:
    """The explained class's probability as the page shows it: calibrated by ``temperature``, else raw."""
    if temperature is None:
        return f"raw probability {found.probabilities[found.target]:.2f}"
    return f"calibrated probability {found.calibrated(temperature)[found.target]:.2f}"


def panel(
    imager,
    model,
    text: str,
    names: list[str],
    key: tuple[str, ...],
    prefix: str = "cl-attr",
    temperature: float | None = None,
) -> None:
    """Which words pushed one model's prediction, and whether deleting them moves it more than random words.

    ``key`` names the dataset and the model (with when they were written) for the cache; ``prefix`` the widgets'
    keys (two panels on one page need two); ``temperature`` calibrates the probability the caption names, as the
    page's own (None: the raw one, said so).
    """
    target = st.radio("Toward the class", ["predicted", *names], horizontal=True, key=f"{prefix}-target")
    settings = _settings(prefix)
    with st.spinner("Back through the classifier, the image, the layout and the encoder…"):
        done = cache.attribution(
            key,
            text,
            None if target == "predicted" else names.index(target),
            tuple(asdict(settings).values()),
            imager,
            model,
        )
    found, check = done["attribution"], done["deletion"]
    name = names[found.target]
    left, right = st.columns([3, 2])
    with left:
        st.html(highlighted(attributions.words(found)))
        how = (
            f"{found.steps} gradients ({RULE_TITLES[found.rule]} quadrature"
            + (f", at most {settings.steps})" if found.rule == "adaptive" else ")")
            if found.method == "integrated_gradients"
            else "one gradient"
        )
        charts.caption(
            f"{METHOD_TITLES[found.method]} toward **{name}** ({_probability(found, temperature)}): "
            "red words raised its logit, blue ones lowered it (hover a word for its value; word pieces summed into "
            f"words). Baseline: the sentence with {attributions.BASELINE_TITLES[found.baseline]}, [CLS] and [SEP] "
            f"kept. The logit moves by {found.change:+.3f} from the baseline to the sentence; the attributions add "
            f"up to it within {found.completeness_gap:.3f} ({100 * found.relative_gap:.1f} %; that checks their sum "
            f"only: errors of opposite sign cancel in it, so a word's own score can be further off). {how}, "
            f"{done['seconds']:.1f} s."
        )
        advice = attributions.completeness_advice(found, DEFAULTS.max_steps, DEFAULTS.tolerance)
        if advice:
            charts.warning(advice, icon=":material/warning:")
    with right:
        charts.show(deletion_figure(check, name), key=f"{prefix}-deletion")
        show = st.success if check.beaten >= 0.9 else st.info if check.beaten > 0.5 else st.warning
        show(check.verdict())
        charts.add(check.verdict())
        charts.caption(
            f"Deletion check: the words are taken out of the sentence most-attributed first, one more at a time, "
            f"and the logit of {name} re-predicted (the attributions split that logit); the same for "
            f"{len(check.random)} random orders (seed {DEFAULTS.seed}). Area over the curve: the mean drop of the "
            f"logit along it (AOPC, Samek et al. 2017). {done['check_seconds']:.1f} s."
        )
    rows = [
        {"word": word, "pieces": " ".join(found.tokens[p] for p in positions), "attribution": float(score)}
        for (word, positions), (_, score) in zip(
            attributions.word_spans(found.tokens), attributions.words(found), strict=True
        )
    ]
    charts.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key=f"{prefix}-table",
        column_config={"attribution": st.column_config.NumberColumn(format="%+.4f")},
    )
