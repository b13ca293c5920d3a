"""Training from a page: live learning curves, a stop that keeps the best epoch, and the run presets."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core import store
from core.figures import learning_curves_figure
from core.text_to_image import presets, results, training
from ui import charts, inputs, state


class LiveCurves(state.LiveView):
    """A training ``callback`` that draws the progress and the learning curves after every epoch; Stop (or a
    click) ends training after the epoch and keeps the best epoch so far (status "stopped"; training the
    same settings again resumes), see :class:`ui.state.LiveView`."""

    def __init__(self, references: dict[str, float] | None = None) -> None:
        super().__init__("Preparing the model…")
        self.references = references
        self.history: list[dict] = []

    def draw(self, epoch: int, epochs: int, metrics: dict) -> None:
        self.history.append(metrics)
        self.bar.progress(
            epoch / epochs,
            text=f"Epoch {epoch}/{epochs}: held-out accuracy {metrics['accuracy']:.3f}, "
            f"loss {metrics['test_loss']:.3f} ({metrics['seconds']:.1f} s)",
        )
        figure = learning_curves_figure({"this run": self.history}, self.references)
        charts.show(figure, key=f"live-curves-{epoch}", where=self.chart)


def train_live(dataset: store.Artifact, settings: training.TrainSettings) -> store.Artifact:
    """Train with ``settings`` (see :func:`core.text_to_image.training.train_model`), drawing the curves
    after every epoch; Stop keeps the best epoch so far."""
    live = LiveCurves(results.reference_lines(dataset))
    artifact = training.train_model(dataset, settings, live)
    live.finish()
    return artifact


STAGES = {"dataset": "the dataset (embedding, layout, images)", "baseline": "the baseline", "training": "training"}


def preset_panel() -> None:
    """One action that builds a dataset and trains a model: the workshop demo, the paper's exact settings (online),
    or the paper's settings with offline stand-ins."""
    name = st.radio(
        "Preset", list(presets.PRESETS), format_func=lambda n: presets.PRESETS[n].title, horizontal=True, key="pr-name"
    )
    chosen = presets.PRESETS[name]
    left, right = st.columns(2)
    n = inputs.number(
        left, "Texts (0 = all)", 0, 50_000, chosen.n or 0, step=500, key=f"pr-n-{name}", help="Fewer: a quicker demo."
    )
    epochs = inputs.number(right, "Epochs", 1, 100, chosen.train.epochs, key=f"pr-epochs-{name}")
    chosen = replace(chosen, n=int(n) or None, train=replace(chosen.train, epochs=int(epochs)))
    needs = {
        "paper": " Needs the internet (IMDB, bert-base-uncased, AlexNet's V1 weights).",
        "paper-offline": " Stand-ins for the paper's online inputs: "
        + "; ".join(
            f"{key} {presets.show_value(theirs, key)} → {presets.show_value(ours, key)}"
            for key, (theirs, ours, _) in presets.SUBSTITUTIONS.items()
        )
        + ".",
    }
    st.caption(presets.describe(chosen) + needs.get(name, ""))
    expected = presets.expected_seconds(chosen)
    st.caption(
        f"Expected: about {presets.duration(expected)} from nothing on two quiet CPU cores (this preset's stages as "
        "measured here, scaled to these texts and epochs); busy cores take longer, and steps done before are reused."
        if expected is not None
        else "No measured duration for this preset on this kind of machine yet."
    )
    if inputs.button(st, f"Run: {chosen.title}", type="primary", key="pr-run"):
        with state.user_errors():
            live = LiveCurves()

            def references(dataset: store.Artifact) -> None:  # the baseline and majority lines, once they exist
                live.references = results.reference_lines(dataset)

            outcome = presets.run(chosen, state.progress_callback, live, before_training=references)
            live.finish()
            st.session_state["tr-last"] = outcome.model.id
            st.session_state["tr-dataset"] = outcome.dataset.id
            st.session_state["pr-took"] = (outcome.model.id, outcome.seconds, outcome.stages)
            st.rerun()
    took = st.session_state.get("pr-took")
    if took and took[0] == st.session_state.get("tr-last"):
        _, seconds, stages = took
        st.caption(
            f"The last run took {presets.duration(seconds)}: "
            + ", ".join(f"{STAGES.get(k, k)} {presets.duration(v)}" for k, v in stages.items())
            + "."
        )


def resume_panel(dataset: store.Artifact) -> None:
    """Every stopped training run on ``dataset`` (stopped on request, or cut off by a reload or a crash),
    with a Resume button that trains on with exactly its settings."""
    for index, run in enumerate(training.stopped_runs(dataset)[:3]):
        s = run.settings
        st.info(
            f"A training run on this dataset stopped after epoch {run.epochs_done} of {s.epochs}: {s.backbone} "
            f"@ {s.node or 'its default cut'}, {'ImageNet' if s.pretrained else 'random init'} slice, batch "
            f"{s.batch_size}, seed {s.seed}. Resume goes on from its last finished epoch with the same settings.",
            icon=":material/pause_circle:",
        )
        if st.button("Resume it", key=f"tr-resume-{index}"):
            with state.user_errors():
                st.session_state["tr-last"] = train_live(dataset, s).id
                st.rerun()  # redraw without this offer, the run now finished
