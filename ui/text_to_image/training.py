"""Training from a page: live learning curves, and a stop that keeps the best epoch."""

from __future__ import annotations

import streamlit as st

from core import store
from core.figures import learning_curves_figure
from core.text_to_image import results, training


def train_live(dataset: store.Artifact, settings: training.TrainSettings) -> store.Artifact:
    """Train with ``settings`` (see :func:`core.text_to_image.training.train_model`), drawing
    the curves after every epoch.

    Streamlit ends a run when the visitor presses Stop or clicks anything: that arrives as an
    exception at the next page update, i.e. after an epoch. Training then stops cleanly, the best
    epoch so far is saved (status "stopped"; training the same settings again resumes), and the
    exception goes on so Streamlit does what was asked.
    """
    bar = st.progress(0.0, text="Preparing the model…")
    chart = st.empty()
    history: list[dict] = []
    ended: list[BaseException] = []
    references = results.reference_lines(dataset)

    def callback(epoch: int, epochs: int, metrics: dict) -> bool | None:
        history.append(metrics)
        try:
            bar.progress(
                epoch / epochs,
                text=f"Epoch {epoch}/{epochs}: held-out accuracy {metrics['accuracy']:.3f}, "
                f"loss {metrics['test_loss']:.3f} ({metrics['seconds']:.1f} s)",
            )
            chart.plotly_chart(learning_curves_figure({"this run": history}, references), key=f"live-curves-{epoch}")
        except BaseException as stop:  # Stop, a click, or a closed tab
            ended.append(stop)
            return True
        return None

    artifact = training.train_model(dataset, settings, callback)
    if ended:
        raise ended[0]
    bar.empty()
    chart.empty()  # the page draws the finished run's curves once
    return artifact
