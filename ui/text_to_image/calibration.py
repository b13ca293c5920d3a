"""Calibrated confidence on the pages: each model's temperature, its expected calibration error before and after
it, a warning in words when the raw model is over-confident, and its reliability diagram."""

from __future__ import annotations

import streamlit as st

from core import store
from core.calibration import BINS, Calibration
from core.figures import reliability_figure
from core.text_to_image import calibration, results
from ui import charts

COLUMNS = {
    "temperature": ("%.2f", "T fitted on the model's validation split: calibrated = softmax(logits / T)."),
    **{
        name: (
            "%.3f",
            f"Expected calibration error on the {'validation' if name.startswith('val') else 'held-out'} split "
            f"({BINS} equal-width bins of the top probability: the size-weighted mean |accuracy − confidence|), "
            f"{'before' if name.endswith('raw') else 'after'} temperature scaling. 0: the confidence is the hit rate.",
        )
        for name in calibration.COLUMNS[1:]
    },
}
"""How the results table shows the calibration columns: format and help (see :func:`ui.tables.number_columns`)."""

EXPLAINED = (
    f"Calibration: every trained model's logits are divided by one temperature T fitted on its validation split "
    f"(temperature scaling, Guo et al. 2017, the negative log-likelihood minimised with scipy), so its stated "
    f"confidence matches how often it is right; no prediction changes, so accuracy, F1 and the confusion matrix "
    f"are the same. ECE: expected calibration error, {BINS} equal-width bins of the top probability; the held-out "
    f"(test) split chose nothing."
)


def fitted(models: list[store.Artifact]) -> dict[str, Calibration | str]:
    """Each model's calibration (or why it has none) by id; an older model's is fitted once, with a spinner."""
    with st.spinner("Fitting temperatures on the validation splits of older models…"):
        return {m.id: calibration.model_calibration(m) for m in models}


def results_notes(models: list[store.Artifact]) -> None:
    """Under the results table: what the calibration columns are, and a warning per over-confident model."""
    st.caption(EXPLAINED)
    for model in models:
        found = calibration.model_calibration(model, fit=False)
        if isinstance(found, Calibration) and found.overconfident:
            st.warning(f"{results.model_name(model)} ({model.id}): {found.message()}", icon=":material/warning:")


def model_details(model: store.Artifact, where=st) -> None:
    """One model's calibration in words, and (on request) its held-out reliability diagram before and after."""
    found = calibration.model_calibration(model)
    if not isinstance(found, Calibration):
        where.caption(f"Calibration: none, {found}")
        return
    split, which = (found.test, "held-out") if found.test else (found.validation, "validation")
    where.markdown(
        f"- calibration: T = {found.temperature:.2f} (fitted on {found.validation.n} validation texts); {which} ECE "
        f"{split.ece_raw:.3f} raw → {split.ece:.3f} calibrated, negative log-likelihood {split.nll_raw:.3f} → "
        f"{split.nll:.3f} ({found.bins} bins)"
    )
    if where.toggle("Reliability diagram", key=f"rs-reliability-{model.id}"):
        tables = {"raw": split.reliability_raw, f"calibrated (T = {found.temperature:.2f})": split.reliability}
        figure = reliability_figure(tables, found.bins, f"{which} split, {split.n} texts")
        charts.show(figure, key="rs-reliability-fig", where=where)


def outcome_notes(model: store.Artifact) -> None:
    """Beside a just-trained model's accuracy: its calibration in words (and its reliability diagram on request),
    and a warning in words when its raw confidence is over-confident."""
    model_details(model)
    found = calibration.model_calibration(model, fit=False)
    if isinstance(found, Calibration) and found.overconfident:
        st.warning(found.message(), icon=":material/warning:")


def temperatures(models: dict[str, store.Artifact], raw: bool) -> dict[str, float | None] | None:
    """Each model's temperature by name for :func:`core.text_to_image.classify.classify` (None: the raw ones)."""
    if raw:
        return None
    fitted(list(models.values()))  # an older model's is fitted once, with a spinner
    return {name: calibration.temperature(model) for name, model in models.items()}


def classify_caption(models: list[store.Artifact], raw: bool) -> None:
    """What the probabilities shown are, each model's temperature and held-out ECE, and a warning in words for a
    model whose raw confidence is badly over-confident."""
    found = fitted(models)
    parts = []
    for model in models:
        f = found[model.id]
        if isinstance(f, Calibration):
            split = f.test or f.validation
            parts.append(
                f"{results.model_name(model)}: T = {f.temperature:.2f}, ECE {split.ece_raw:.3f} → {split.ece:.3f}"
            )
        else:
            parts.append(f"{results.model_name(model)}: no temperature ({f})")
    shown = (
        "Raw probabilities, softmax(logits): what the network says, often over-confident."
        if raw
        else "Calibrated probabilities, softmax(logits / T), T fitted on each model's validation split (switch on "
        "'Raw probabilities' for the network's own)."
    )
    charts.caption(f"{shown} Held-out expected calibration error ({BINS} bins), raw → calibrated: " + "; ".join(parts))
    for model in models:
        f = found[model.id]
        if isinstance(f, Calibration) and f.overconfident:
            charts.warning(f"{results.model_name(model)} ({model.id}): {f.message()}", icon=":material/warning:")
