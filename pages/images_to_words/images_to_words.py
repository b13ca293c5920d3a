"""Images → Words: SimpNet regresses the GloVe vector of each image's class name, one class held out at a time."""

import streamlit as st

from core.images_to_words import analysis, loo
from core.images_to_words.figures import (
    change_vs_similarity_figure,
    held_out_band_figure,
    loss_change_histogram,
)
from core.images_to_words.settings import LAPTOP
from ui import charts, inputs, links, state
from ui.images_to_words import studies
from ui.reproductions import latest_table

st.title("Images → Words")
links.sync({"study": "loo-study"})
st.caption(
    "Baughman et al. (SC'21): a SimpNet CNN learns to output the 50-d GloVe vector of each image's class name. Each "
    "class "
    "in turn is left out of training; does training on the others still move the held-out images toward their word? "
    "Paper (CIFAR-100, 25 epochs): median held-out loss −31.0 %, extremes −65.5 % and +67.9 %."
)

latest_table("images-to-words", "loo-reproduction")

found = loo.list_studies()
with st.expander("Run a study", expanded=not found):
    preset = LAPTOP
    st.caption(
        f"The defaults are the laptop study: Fashion-MNIST (offline), all 10 classes, width {preset.width}, "
        f"{preset.per_class:,} "
        f"images per class, {preset.epochs} epochs (about half an hour on two CPU cores). Finished folds are kept: "
        "Stop at any "
        "time and run again to resume."
    )
    settings = studies.settings_form()
    if inputs.button(st, "Run", type="primary", key="loo-run"):
        with state.user_errors():
            st.session_state["loo-study"] = studies.run(settings).id
            st.rerun()
if not found:
    st.stop()

found.sort(key=lambda s: not (s.complete and loo.is_laptop_study(s)))  # the finished laptop study first
labels = {s.id: s.label() for s in found}
if st.session_state.get("loo-study") not in labels:  # a study stopped before it wrote anything
    st.session_state.pop("loo-study", None)
study_id = st.selectbox("Study", list(labels), format_func=labels.get, key="loo-study")
with state.user_errors():
    study = loo.load_study(study_id, damaged_ok=True)
    done, planned = len(study.folds), len(study.planned)
    if study.damaged:
        st.error(study.damaged_message(), icon=":material/error:")
    if not study.complete:
        st.warning(f"This study is partial: {done} of {planned} folds are finished. Figures show the finished folds.")
        if st.button(
            "Resume it",
            key="loo-resume",
            help="Runs the unfinished folds with the study's recorded settings (same id); finished folds are kept.",
        ):
            studies.resume(study.id)
            st.rerun()
    if not study.folds:
        st.info("No fold has finished yet.")
        st.stop()
    folds = [study.folds[i] for i in sorted(study.folds)]
    studies.summary_metrics(study)
    studies.seeds_section(study, found)

    table = analysis.fold_table(study)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            k: st.column_config.NumberColumn(format="%.3f")
            for k in ("loss before", "loss after", "after / before", "word cosine")
        }
        | {"change %": st.column_config.NumberColumn(format="%+.1f")},
    )
    st.download_button("Table (CSV)", table.to_csv(index=False), f"loo-{study.id}.csv", "text/csv", key="loo-csv")

    left, right = st.columns(2)
    left.markdown("**Held-out loss change across classes**")
    changes, classes = [f["relative_change"] for f in folds], [f["class"] for f in folds]
    constant = [f["constant_loss"] / f["loss_before"] - 1 for f in folds if "constant_loss" in f]
    shuffled = [f["shuffled_loss"] / f["loss_before"] - 1 for f in folds if "shuffled_loss" in f]
    charts.show(loss_change_histogram(changes, classes, constant, shuffled), key="loo-hist", where=left)
    right.markdown("**Held-out loss during training** (median and quartiles across folds)")
    charts.show(
        held_out_band_figure({f["class"]: f["history"] for f in folds}, {f["class"]: f["loss_before"] for f in folds}),
        key="loo-band",
        where=right,
    )
    st.markdown("**What goes with the loss change?** (the poster: willow does well because other trees are trained)")
    explanation = st.radio(
        "Against",
        list(analysis.EXPLANATIONS),
        format_func=analysis.EXPLANATIONS.get,
        horizontal=True,
        key="loo-explain",
    )
    title = {"loss_before": "held-out loss before training (about the word vector's squared length / 50)"}
    charts.show(change_vs_similarity_figure(folds, explanation, title.get(explanation)), key="loo-scatter")
    correlation = analysis.correlation_evidence(folds, explanation)
    if correlation is not None:
        interval = correlation["interval"]
        st.caption(
            f"Spearman correlation between {analysis.EXPLANATIONS[explanation]} and the loss change over {len(folds)} "
            f"classes: ρ = {correlation['rho']:+.2f}, 95% interval [{interval['low']:+.2f}, {interval['high']:+.2f}] "
            f"(paired bootstrap over the classes; p = {correlation['p']:.2g}). An interval that reaches 0 does not "
            "show a link at this number of classes. A strong link with the loss before means the change mostly "
            "measures how far the untrained network started from the word."
        )

    st.subheader("One class")
    studies.one_class(study, folds)
