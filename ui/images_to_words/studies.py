"""Leave-one-out studies from a page: the settings form, running with progress, and sample images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import evidence, imagesets
from core.errors import USER_ERRORS
from core.figures import sample_images_figure
from core.images_to_words import analysis, jobs, loo
from core.images_to_words.figures import fold_curve_figure
from core.images_to_words.settings import DEFAULTS, LAPTOP, LOSSES, StudySettings
from core.store import Callback
from ui import charts, inputs, state


def samples(source: dict, class_index: int, count: int = 8) -> np.ndarray | None:
    """A few training images of one class of a study's image set, or None when the set is not here."""
    name = source.get("imageset")
    try:
        images = state.imageset(name, source.get("path") or source.get("folder") or source.get("root"))
    except USER_ERRORS:  # the set may be online-only or moved; the page says so
        return None
    rows = np.flatnonzero(images.train_labels == class_index)[:count]
    return images.train_images[rows]


def class_names(name: str, path: str | None) -> list[str]:
    """The class names of an image set, to choose classes to leave out; [] (and a message saying why) when it is
    not here."""
    if name == "folder" and not path:
        st.caption("Enter the image folder's path to choose classes to leave out.")
        return []
    row = next(r for r in imagesets.available_imagesets() if r["name"] == name)
    if not row["available"]:
        st.info(
            f"{name} is not on this machine yet, so its classes cannot be listed ({row['note']}). Run loads it if it "
            "can, and says "
            "what to do if not; every class is then left out in turn."
        )
        return []
    with state.user_errors():
        return list(state.imageset(name, path).class_names)
    return []


def settings_form(key: str = "loo") -> StudySettings:
    """The study settings, defaulting to the offline laptop preset."""
    preset = LAPTOP
    names = [row["name"] for row in imagesets.available_imagesets()]
    left, middle, right = st.columns(3)
    name = left.selectbox("Image set", names, index=names.index(preset.imageset), key=f"{key}-set")
    path = (left.text_input("Image folder", key=f"{key}-path") if name == "folder" else "").strip() or None
    per_class = inputs.number(
        left, "Training images per class (0 = all)", 0, 10_000, preset.per_class, step=100, key=f"{key}-per-class"
    )
    epochs = inputs.number(middle, "Epochs (paper: 25)", 1, 200, preset.epochs, key=f"{key}-epochs")
    width = middle.select_slider(
        "SimpNet width (1 = SimpNet's ~5.4M CIFAR body; the poster does not say which)",
        [0.125, 0.25, 0.5, 0.75, 1.0],
        preset.width,
        key=f"{key}-width",
    )
    seed = inputs.number(middle, "Seed", 0, 2**31 - 1, DEFAULTS.seed, key=f"{key}-seed")
    loss = right.radio("Loss", LOSSES, horizontal=True, key=f"{key}-loss")
    words = right.radio(
        "Class word",
        ["best", "average"],
        horizontal=True,
        key=f"{key}-words",
        help="best: one word per class, as in the paper ('pickup truck' → 'truck'); average: the mean vector of the "
        "name's words. "
        "The tables are CSV files in assets/class_words/.",
    )
    table = right.text_input(
        "Class-name table (CSV path)",
        key=f"{key}-table",
        placeholder="packaged table, or derived from the class names",
        help="A CSV with columns class, best, words. Empty: the image set's packaged table, or, for an image folder, "
        "one derived from the class names ('pickup_truck' → best 'truck', words 'pickup truck').",
    )
    shuffled = st.toggle(
        "Shuffled-words control (trains every fold twice)",
        key=f"{key}-shuffled",
        help="Each fold is trained a second time with the trained classes' words permuted (the held-out class keeps "
        "its own). If the model's held-out loss comes from what images and words share, the shuffled model does "
        "worse; if it comes from the words' geometry alone, it does as well.",
    )
    classes = st.multiselect(
        "Classes to leave out (empty = all)",
        class_names(name, path),
        key=f"{key}-classes",
        help="Each chosen class is held out of training in its own fold; every class is still trained on in the other "
        "folds.",
    )
    return StudySettings(
        imageset=name,
        path=path,
        per_class=int(per_class) or None,
        epochs=int(epochs),
        width=float(width),
        seed=int(seed),
        loss=loss,
        words=words,
        table=table.strip() or None,
        classes=tuple(classes) or None,
        shuffled_control=bool(shuffled),
    )


def _progress() -> Callback:
    """A study ``callback`` that drives a progress bar: folds done, and the running fold's epoch."""
    bar = st.progress(0.0, text="Starting…")

    def callback(done: int, total: int, metrics: dict) -> None:
        detail = (
            f" · fold {metrics['fold']}, epoch {metrics['epoch']}"
            if "epoch" in metrics
            else f" · finished {metrics.get('fold', '')}"
        )
        bar.progress(done / total, text=f"{done}/{total} folds{detail}")

    return callback


def run(settings: StudySettings) -> loo.Study:
    """Run (or resume) the study of some settings (from :func:`settings_form`) with a progress bar; Stop keeps the
    finished folds."""
    from core import store

    images = state.imageset(settings.imageset, settings.path).subsample(settings.per_class)
    # chosen on the page before it runs: after a Stop the page redraws this study's finished folds and Resume
    st.session_state["loo-study"] = store.config_hash(loo.study_config(images, settings))
    return jobs.run_loo(settings, images, callback=_progress())


def resume(study_id: str, shuffled: bool = False) -> loo.Study:
    """Finish a partial study with exactly its recorded settings (same id, finished folds kept), with a progress bar;
    ``shuffled`` adds the shuffled-words control to the folds that lack it."""
    return jobs.resume_loo(study_id, callback=_progress(), shuffled=shuffled)


def _verdict(found: dict | None) -> None:
    """A comparison over folds in one sentence, with its test (see :func:`core.evidence.compare_folds`)."""
    if found:
        st.caption(f"{found['sentence']} Test: {found['test']}; interval: bootstrap of the median over folds.")


def summary_metrics(study: loo.Study) -> None:
    """The study's headline figures over its finished folds, each with how it was computed."""
    summary, verdicts = analysis.summary(study), analysis.fold_verdicts(study)
    if loo.missing_controls(study):
        st.warning(
            "Some folds of this study were recorded before folds carried their controls (the constant and the "
            "nearest-word predictors), so the figures below are not read against them yet.",
            icon=":material/rule:",
        )
        if st.button("Compute the controls (from the word vectors: no retraining)", key="loo-controls"):
            loo.add_controls(study)
            st.rerun()
    if summary.get("controlled_folds"):
        n = summary["controlled_folds"]
        st.markdown("**Against the controls** (does training on the other classes beat a predictor that never looks?)")
        top = st.columns(3)
        top[0].metric(
            "Beats the constant predictor",
            f"{summary['beats_constant']} of {n} folds",
            help="Folds whose held-out loss after training is below that of always answering the mean of the "
            "trained classes' word vectors.",
        )
        top[1].metric(
            "Median gain over it",
            f"{100 * summary['median_gain_over_constant']:+.1f} %",
            help="1 − loss after training / constant predictor's loss; positive: the model does better.",
        )
        top[2].metric(
            "Beats the nearest trained word (oracle)",
            f"{summary['beats_nearest_word']} of {n} folds",
            help="Against answering the vector of the trained class whose word is nearest (cosine) to the "
            "held-out word: an oracle reference, not a control a model could match, since it picks its answer by "
            "the held-out word, which the model never sees.",
        )
        _verdict(verdicts.get("constant"))
    if summary.get("shuffled_folds"):
        n = summary["shuffled_folds"]
        low = st.columns(3)
        low[0].metric(
            "Beats the shuffled-words model",
            f"{summary['beats_shuffled']} of {n} folds",
            help="The same fold trained with the trained classes' words permuted (the held-out class keeps its own).",
        )
        low[1].metric(
            "Median gain over it",
            f"{100 * summary['median_gain_over_shuffled']:+.1f} %",
            help="1 − the model's held-out loss / the shuffled-words model's; positive: pairing images with their "
            "own words helps the held-out class.",
        )
        low[2].metric(
            "Shuffled model's median change",
            f"{100 * summary['median_shuffled_change']:+.1f} %",
            help="Its loss after training / the loss before − 1: the poster's figure for a model that learnt no "
            "true pairing.",
        )
        _verdict(verdicts.get("shuffled"))
    if study.complete and loo.missing_shuffled(study):
        st.caption(
            "No shuffled-words control yet for "
            f"{sum(1 for f in study.folds.values() if 'shuffled_loss' not in f)} fold(s): it retrains each fold once "
            "more with the words permuted (as long as the study took)."
        )
        if st.button("Compute the shuffled-words control", key="loo-add-shuffled"):
            with state.user_errors():
                resume(study.id, shuffled=True)
                st.rerun()
    st.markdown("**The poster's figures** (uncontrolled: a change from an untrained network's loss)")
    cols = st.columns(5)
    cols[0].metric("Folds finished", f"{len(study.folds)}/{len(study.planned)}")
    constant = summary.get("median_constant_change")
    changes = [f["relative_change"] for f in study.folds.values()]
    median = evidence.interval_of_median(changes) if len(changes) > 1 else None
    cols[1].metric(
        "Median held-out loss change",
        f"{100 * summary['median_change']:+.1f} %",
        delta=None if constant is None else f"constant predictor: {100 * constant:+.1f} %",
        delta_color="off",
        help="after / before − 1 over finished folds; the paper: −31.0 %. The constant predictor's change is "
        "its loss / the loss before − 1: what the figure shows without any transfer."
        + ("" if median is None else f" 95% interval over the folds: {_percent_interval(median.to_record())}."),
    )
    cols[2].metric(
        "Extremes",
        f"{100 * summary['best_change']:+.0f} / {100 * summary['worst_change']:+.0f} %",
        help="The best and worst class (change of held-out loss); the table has them to 0.1 %; "
        "the paper: −65.5 / +67.9 %.",
    )
    cols[3].metric(
        "Accuracy, trained classes",
        f"{summary['test_accuracy_trained']:.3f}",
        help="Test images of the trained classes, nearest class vector by cosine among the trained classes; "
        "mean over folds.",
    )
    cols[4].metric(
        "Held-out top-5 (zero-shot)",
        f"{summary['top5_held_out']:.3f}",
        help="Share of held-out images whose true class is among the 5 nearest of all classes; "
        f"chance {summary['chance_top5']:.2f}.",
    )


def _percent_interval(record: dict) -> str:
    return f"{100 * record['estimate']:+.1f} % [{100 * record['low']:+.1f}, {100 * record['high']:+.1f}]"


def seeds_section(study: loo.Study, found: list[loo.Study]) -> None:
    """The same study over its study seeds: each figure as a mean over seeds with its interval and each control's
    claim on the seed-averaged per-class gains (:func:`core.images_to_words.analysis.seed_summary`); with one seed,
    what this study alone can tell apart, and how to add seeds."""
    siblings = analysis.seed_siblings(study, found) if study.complete else [study]
    st.markdown("**Across study seeds** (each seed moves every fold's initialisation and batch order)")
    if len(siblings) < 2:
        changes = [f["relative_change"] for f in study.folds.values()]
        median = evidence.interval_of_median(changes) if len(changes) > 1 else None
        spread = "" if median is None else f" (its median change {_percent_interval(median.to_record())}, over folds)"
        st.caption(
            f"One seed ({study.config['training']['seed']}){spread}: a difference between two studies smaller than "
            "this interval cannot be told from the seed's own noise. Run the same settings with another Seed (the "
            "form above; finished folds of this one are kept) and the seeds are pooled here, with an interval over "
            "seeds and the controls' claims on the seed-averaged gains."
        )
        return
    summary = analysis.seed_summary(siblings)
    seeds = ", ".join(map(str, summary["seeds"]))
    cols = st.columns(3)
    cols[0].metric(
        "Median held-out loss change",
        _percent_interval(summary["median_change"]),
        help=f"mean over seeds {seeds} of each study's median; 95% interval: {summary['median_change']['method']}.",
    )
    if "median_constant_change" in summary:
        cols[1].metric(
            "Constant predictor's change",
            _percent_interval(summary["median_constant_change"]),
            help="the same figure for always answering the mean of the trained words, over the same seeds.",
        )
    accuracy = summary["test_accuracy_trained"]
    cols[2].metric(
        "Accuracy, trained classes",
        f"{accuracy['estimate']:.3f} [{accuracy['low']:.3f}, {accuracy['high']:.3f}]",
        help=f"mean over seeds {seeds}; 95% interval: {accuracy['method']}.",
    )
    for name in ("constant", "shuffled"):
        if name in summary:
            record = summary[name]
            st.caption(f"{record['sentence']} Test: {record['test']}, over {record['difference']['n']} classes.")


def one_class(study: loo.Study, folds: list[dict]) -> None:
    """One held-out class: sample images, its learning curve, the nearest words to its mean prediction."""
    chosen = st.selectbox("Held-out class", [f["class"] for f in folds], key="loo-class")
    fold = next(f for f in folds if f["class"] == chosen)
    images = samples(study.config["imageset"], fold["index"])
    if images is None:
        st.caption("The image set is not available here, so no sample images.")
    else:
        charts.show(sample_images_figure(images), key="loo-samples")
    left, right = st.columns([3, 2])
    charts.show(fold_curve_figure(fold), key="loo-curve", where=left)
    right.markdown(
        f"**{chosen}** held out: loss {fold['loss_before']:.4f} → {fold['loss_after']:.4f} "
        f"(**{100 * fold['relative_change']:+.1f} %**) over "
        f"{fold['held_out_images']:,} held-out images; top-1 {fold['top1']:.2f}, top-5 {fold['top5']:.2f}."
    )
    right.dataframe(
        pd.DataFrame(fold["nearest_words"], columns=["nearest GloVe word to the mean prediction", "cosine"]),
        hide_index=True,
    )
    st.caption(
        f"Nearest trained class word: {fold['nearest_trained_class']} (cosine {fold['nearest_trained_cosine']:.3f}). "
        f"Fold trained at {fold['images_per_second']:.0f} images/s on {fold['device']}."
    )
