"""The Results page's "Where the image route loses the sentence": the decomposition of a model's route, step by
step on the same held-out texts, and computing it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import store
from core.text_to_image import decomposition, results
from core.text_to_image.figures import route_figure
from ui import charts, state


def _points(entry: dict) -> str:
    d = entry["difference"]
    return f"{100 * d['estimate']:+.1f} [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"


def route_panel(dataset: store.Artifact) -> None:
    """Pick an ImageNet-slice model of ``dataset``; show (or compute) its decomposition."""
    st.subheader("Where the image route loses the sentence")
    st.caption(
        "The same held-out texts classified at each step of the route: logistic regression on the raw vectors, on "
        "the image's pixels (what the layout keeps), on the frozen slice's pooled features (what the slice keeps: "
        "the linear probe a trained head should reach), then the trained CNN and the CNN with a randomly "
        "initialised slice. Each step's cost is its accuracy against the step before, paired on the same texts."
    )
    candidates = [
        m
        for m in results.list_models(dataset)
        if m.config.get("status", "finished") == "finished" and m.config["classifier"]["pretrained"]
    ]
    if not candidates:
        st.info("Train a model with an ImageNet slice on this dataset (Train page) to decompose its route.")
        return
    candidates.sort(key=lambda m: decomposition.stored(dataset, m) is None)  # a computed one is shown first
    labels = {m.id: results.model_label(m) for m in candidates}
    chosen = st.selectbox("Model", list(labels), format_func=labels.get, key=f"rs-route-{dataset.id}")
    model = next(m for m in candidates if m.id == chosen)
    found = decomposition.stored(dataset, model)
    if found is None:
        st.caption(
            "Not computed for this model yet (three logistic regressions and one pass of the frozen slice over the "
            "images: well under a minute for a few thousand texts on two cores)."
        )
        if st.button("Decompose the route", key="rs-route-run", type="primary"):
            with state.user_errors(), st.spinner("Fitting the probes and running the frozen slice…"):
                found = decomposition.decompose(dataset, model)
        if found is None:
            return
    config = found.config
    charts.show(route_figure(config), key="rs-route-fig")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "step": decomposition.STEPS[e["after"]],
                    "its cost: the step before − it (points, 95% interval)": _points(e),
                    "test": f"{e['test']}, p = {e['p_value']:.3g}",
                    "verdict": e["verdict"],
                    "detectable (points)": round(100 * e["detectable"], 1),
                }
                for e in config["comparisons"]
            ]
        ),
        hide_index=True,
        width="stretch",
        key="rs-route-table",
    )
    layout = config["layout"]
    cols = st.columns(3)
    cols[0].metric(
        "Features sharing a pixel",
        f"{100 * layout['shared_share']:.0f} %",
        help=f"{layout['features']} features on {layout['pixels']} pixels: a shared pixel shows their mean.",
    )
    cols[1].metric(
        f"Read back from the image (MAE; the training mean's {layout['mean_predictor_mae']:.4f})",
        f"{layout['reconstruction_mae']:.4f}",
        help="Each held-out text's features (in the layout's 0-1 scaled units) read back as the grey level of their "
        "pixel, against reading every feature as its training mean: a read-back no better than the mean has lost "
        "what the text's features said.",
    )
    cols[2].metric(
        "Trained CNN against the probe on its slice",
        f"{100 * -config['probe_gap']:+.1f} points",
        help="the trained CNN's held-out accuracy minus the linear probe's on the same frozen slice's features",
    )
    if config["under_trained"]:
        st.warning(
            f"Under-trained: the trained CNN is {100 * config['probe_gap']:.1f} points below a linear probe on its own "
            "frozen slice's features; its new layers lose what the slice keeps (more epochs, another learning rate, "
            "or fewer new layers).",
            icon=":material/warning:",
        )
    st.markdown("\n".join(f"- {line}" for line in decomposition.summary_text(config)[len(config["order"]) :]))
