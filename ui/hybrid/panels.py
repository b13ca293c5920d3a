"""Widgets and views of the BERT + vision-transformer hybrid page: settings, the live search, results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import hub, store
from core.errors import Interrupted
from core.hybrid import figures, models, search, vision
from core.hybrid.search import PRESETS, SearchSettings
from core.settings import from_record
from ui import charts, inputs, state

OTHER = "another (hub id or folder)…"


def _model_choice(label: str, known: list[str], default: str, key: str) -> str:
    choice = st.selectbox(
        label, [*known, OTHER], index=known.index(default) if default in known else len(known), key=key
    )
    if choice == OTHER:
        return st.text_input(f"{label}: Hugging Face id or folder", value=default, key=f"{key}-other").strip()
    return choice


def settings_form() -> SearchSettings | None:
    """The search's settings, from a preset the visitor can change; None when a value is not valid (the
    message is shown)."""
    preset_name = st.radio(
        "Preset",
        list(PRESETS),
        horizontal=True,
        key="hy-preset",
        format_func=lambda p: {"laptop": "laptop (about 10 min on 2 CPU cores)", "full": "full (a GPU or Ray cluster)"}[
            p
        ],
    )
    base = PRESETS[preset_name]
    data, model, grid = st.columns(3)
    with data:
        st.markdown("**Images**")
        sets = ["fashion_mnist", "cifar10", "cifar100", "folder"]
        imageset = st.selectbox("Image set", sets, index=sets.index(base.imageset), key=f"hy-set-{preset_name}")
        folder = (
            st.text_input("Image folder (one sub-folder per class)", key="hy-folder") if imageset == "folder" else None
        )
        per_class = inputs.number(
            st, "Training-pool images per class (0: all)", 0, 100_000, base.per_class or 0, key=f"hy-pool-{preset_name}"
        )
        test_per_class = inputs.number(
            st, "Test images per class (0: all)", 0, 100_000, base.test_per_class or 0, key=f"hy-test-{preset_name}"
        )
    with model:
        st.markdown("**Models**")
        vision_name = _model_choice("Vision model", list(vision.VISION_MODELS), base.vision, f"hy-vision-{preset_name}")
        if vision_name in vision.VISION_MODELS:
            st.caption(vision.VISION_MODELS[vision_name])
        text_name = _model_choice(
            "Text model", [hub.DEFAULT_TEXT_MODEL, "bert-base-uncased"], base.text, f"hy-text-{preset_name}"
        )
        layers = inputs.number(
            st, "Text layers (from the bottom; 0: all)", 0, 48, base.text_layers or 0, key=f"hy-layers-{preset_name}"
        )
        wiring = st.radio("Wiring", models.WIRINGS, horizontal=True, key="hy-wiring", help=WIRING_HELP)
        size = inputs.number(
            st, "Image size (pixels, a multiple of the patch)", 1, 1024, base.image_size, key=f"hy-size-{preset_name}"
        )
    with grid:
        st.markdown("**Grid and cross-validation**")
        batches = st.text_input("Batch sizes", ", ".join(map(str, base.batch_sizes)), key=f"hy-batches-{preset_name}")
        rates = st.text_input(
            "Learning rates", ", ".join(f"{r:g}" for r in base.learning_rates), key=f"hy-rates-{preset_name}"
        )
        optimizers = st.multiselect("Optimizers", search.OPTIMIZERS, list(base.optimizers), key="hy-optimizers")
        folds = inputs.number(st, "Folds", 2, 20, base.folds, key=f"hy-folds-{preset_name}")
        epochs = inputs.number(st, "Epochs per trial", 1, 100, base.epochs, key=f"hy-epochs-{preset_name}")
        refits = inputs.number(
            st,
            "Refit seeds",
            1,
            20,
            base.refits,
            key=f"hy-refits-{preset_name}",
            help="the ablation's refits on the whole pool, one per seed: the test accuracies get an interval over "
            "seeds and the comparisons pair every seed",
        )
        own_grids = st.checkbox(
            "Tune every variant on its own grid",
            base.own_grids,
            key=f"hy-own-{preset_name}",
            help="off: the control (random text layers) is trained at the hybrid's best configuration",
        )
        finetuned = st.checkbox(
            "Also fine-tune the vision model end to end",
            base.finetuned_reference,
            key=f"hy-finetuned-{preset_name}",
            help=FINETUNED_HELP,
        )
    try:
        settings = SearchSettings(
            imageset=imageset, folder=folder or None, per_class=int(per_class) or None,
            test_per_class=int(test_per_class) or None, vision=vision_name, text=text_name,
            text_layers=int(layers) or None, wiring=wiring, image_size=int(size),
            batch_sizes=search.parse_values(batches, int, "Batch sizes"),
            learning_rates=search.parse_values(rates, float, "Learning rates"),
            optimizers=tuple(optimizers), folds=int(folds), epochs=int(epochs), seed=base.seed, threads=base.threads,
            refits=int(refits), own_grids=bool(own_grids), finetuned_reference=bool(finetuned),
            backbone_lr_factor=base.backbone_lr_factor,
        )  # fmt: skip
        settings.check()
    except ValueError as error:
        st.error(str(error), icon=":material/error:")
        return None
    grid_size = len(settings.grid())
    others = settings.tuned()
    tuned = " and ".join(models.VARIANT_TITLES[v] for v in others) or "no other variant"
    st.caption(
        f"{grid_size} configuration(s) x {settings.folds} folds = {grid_size * settings.folds} hybrid trials, the same "
        f"grid for {tuned} (the vision model alone is a linear head on cached tokens: seconds), then the ablation: "
        f"each variant at its best configuration, refitted on the whole pool with {settings.refits} seed(s). The "
        "grid's values are the lab's: the paper names only its size (48 pairs x 2 optimizers)."
        + (
            f" Plus the vision model fine-tuned end to end: {settings.folds + settings.refits} trials that train the "
            f"whole backbone (at {settings.backbone_lr_factor:g} x the head's learning rate)."
            if settings.finetuned_reference
            else ""
        )
    )
    return settings


FINETUNED_HELP = (
    "One more ablation row: the vision model itself fine-tuned as a classifier (backbone and head learning "
    "together, the backbone at a tenth of the head's learning rate), the 'original model' the paper most likely "
    "compared against, at the vision model alone's best configuration, on the same folds and refit seeds, compared "
    "with the hybrid like the other rows. Costly on a CPU: each of its trials runs the whole vision model forward "
    "and backward on every image in every epoch, where the frozen rows train a head on cached vectors in seconds. "
    "Measured for the packaged DINOv2 ViT-S at 56 px on two busy CPU cores: about 6 s per batch of 16, so roughly "
    "1.5 hours for the laptop preset's 3 folds + 3 refits, against about 10 minutes for the rest of its search "
    "(a GPU: minutes). Off by default."
)


WIRING_HELP = (
    "stack: the vision tokens, through a linear adapter, pass through the text model's layers; the head reads the "
    "[CLS] position. parallel: the head reads the vision [CLS] vector and the text layers' [CLS] vector side by "
    "side. Both are the lab's wiring: the paper does not publish its own."
)


class LiveSearch(state.LiveView):
    """Progress of a running search (trials done, the running trial's epoch); Stop keeps finished trials."""

    def __init__(self) -> None:
        super().__init__("Encoding the images with the frozen vision model…")

    def draw(self, step: int, steps: int, metrics: dict) -> None:
        detail = " · ".join(f"{k} {v}" for k, v in metrics.items() if k != "stage")
        self.bar.progress(min(1.0, step / max(steps, 1)), text=f"trial {step}/{steps} · {detail}")


def run(settings: SearchSettings, use_ray: bool) -> None:
    live = LiveSearch()
    try:
        found = search.run_search(settings, state.progress_callback, live, use_ray=use_ray)
    except Interrupted:
        live.finish()
        raise
    live.finish()
    st.session_state["hy-chosen"] = found.id


def resume_panel() -> None:
    """Searches that started and did not finish, each with a Resume button."""
    for index, (key, settings) in enumerate(search.pending_searches()[:3]):
        st.info(
            f"The search {key} ({settings.imageset}, {len(settings.grid())} configurations x {settings.folds} folds) "
            "did not finish. Resume goes on at the next unfinished trial; finished trials are kept.",
            icon=":material/pause_circle:",
        )
        if st.button("Resume it", key=f"hy-resume-{index}"):
            with state.user_errors():
                run(settings, False)
                st.rerun()


def _config_text(config: dict) -> str:
    return f"{config['optimizer']}, batch {config['batch_size']}, lr {config['learning_rate']:g}"


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def results(found: store.Artifact) -> None:
    """The heatmaps, the best configuration, the ablation and any trial's curves."""
    config = found.config
    refs, best = config["references"], config["best"]
    settings = from_record(SearchSettings, config["settings"])
    st.caption(config["vision_note"])
    st.markdown(
        f"**Best configuration** (highest mean accuracy over {settings.folds} folds): "
        f"{figures.OPTIMIZER_TITLES[best['optimizer']]}, batch {best['batch_size']}, learning rate "
        f"{best['learning_rate']:g}. Chance {refs['chance']:.3f}; "
        f"majority class of the test split {refs['majority']:.3f}."
    )
    charts.show(figures.grid_heatmaps(config["grid"], best), key="hy-heat")
    probe = config.get("linear_probe")
    comparisons(config)
    charts.show(figures.ablation_figure(config["ablation"], refs, probe), key="hy-ablation")
    under = set(probe["under_trained"]) if probe else set()
    table = pd.DataFrame(
        [
            {
                "model": r["title"],
                "configuration": _config_text(r["config"])
                + (f", backbone lr {r['backbone_learning_rate']:g}" if r.get("backbone_learning_rate") else ""),
                "CV accuracy": f"{_fmt(r['cv_accuracy'])} ± {_fmt(r['cv_std'])}",
                **{f"test {m}": _fmt(r[f"test_{m}"]) for m in search.METRICS},
                "test accuracy 95% interval": _interval(r.get("test_interval"), r.get("test_note")),
                "detectable difference": f"{100 * r['detectable']:.1f} points" if r.get("detectable") else "–",
                "flag": ", ".join(
                    f for f, on in (("degenerate", r.get("degenerate")), ("under-trained", r["title"] in under)) if on
                ),
            }
            for r in config["ablation"]
        ]
        + ([_probe_row(probe)] if probe else [])
    )
    st.dataframe(table, hide_index=True, width="stretch", key="hy-table")
    st.caption(
        "Test accuracy: the refits on the whole pool at the row's configuration, one per refit seed (model "
        "initialisation and batch order), each measured on the test split; the mean over the seeds, its 95% interval "
        "a Student-t interval over the seeds (with one seed, a bootstrap over the test images). The detectable "
        "difference is the smallest gap this test split and number of seeds would find at 80% power. Every row but "
        "the vision model at the hybrid's configuration is tuned on its own grid (unless the search turned that "
        "off). The linear probe (scikit-learn logistic regression on the same frozen [CLS] vectors, "
        "run to convergence) is what a well-trained vision-alone head should reach: a vision row "
        f"more than {100 * search.UNDER_TRAINED:.0f} points below it is flagged under-trained."
        + ("" if probe else " This search was stored before the probe existed: run it again to add it.")
        + (
            " The fine-tuned row trains the whole vision model (its backbone at the row's backbone learning rate) "
            "at the vision model alone's configuration, on the same folds and refit seeds; the paper does not say "
            "how its original BEiT was trained."
            if any(r["variant"] == models.FINETUNED for r in config["ablation"])
            else ""
        )
    )
    st.caption(
        "The paper reports that its hybrid beats BEiT alone by 12.8% accuracy, on a data set it does not name (only "
        "its abstract is public, and whether the 12.8% is points or relative is not said). The rows above are this "
        "lab's measurement on the data chosen here; the random-text row is the control that separates text knowledge "
        "from extra depth."
    )
    trial_view(config)


def _interval(interval: dict | None, note: str | None = None) -> str:
    if interval is None:
        return note or "–"
    over = f"{interval['n']} seeds" if interval["method"].startswith("t over seeds") else f"n = {interval['n']}"
    return f"[{interval['low']:.3f}, {interval['high']:.3f}] ({over})"


def _probe_row(probe: dict) -> dict:
    return {
        "model": probe["title"],
        "configuration": f"L-BFGS, {probe['iterations']} iterations"
        + ("" if probe["converged"] else " (not converged)"),
        "CV accuracy": "–",
        **{f"test {m}": _fmt(probe["test_accuracy"]) if m == "accuracy" else "–" for m in search.METRICS},
        "test accuracy 95% interval": _interval(probe["test_interval"]),
        "flag": "reference" if probe["converged"] else "reference, not converged",
    }


def comparisons(config: dict) -> None:
    """What the ablation says: the hybrid against the control and the vision model alone, paired on the same test
    images and on the same folds (core.evidence), each with its verdict; degenerate and under-trained rows flagged."""
    rows = config["ablation"]
    found = config.get("comparisons") or search.ablation_evidence(rows)
    if not found:
        return
    lines = []
    said = dict(search.comparison_gains({**config, "comparisons": found}))
    for entry in found:
        lines.append(f"- against {entry['against']}: gain {said[entry['b']]}. {entry['test']['sentence']}")
        if "cv" in entry:
            lines.append(f"  - over the folds: {entry['cv']['sentence']}")
    probe = config.get("linear_probe") or {}
    if "hybrid_against_probe" in probe:
        lines.append(
            f"- against the converged linear probe on the same frozen features: gain {said[probe['title']]}. "
            + probe["hybrid_against_probe"]["sentence"]
        )
    st.markdown("The hybrid with pretrained text layers:\n" + "\n".join(lines))
    st.caption(
        "Test: paired bootstrap interval of the accuracy difference over the same test images and an exact McNemar "
        "test; folds: the median per-fold gain (same folds) with a bootstrap interval and a sign / Wilcoxon test. "
        "Inconclusive means this test split cannot tell the difference from zero, with the size that would. Each "
        "gain is said in points of accuracy and relative to the other side's test accuracy: the paper's +12.8% "
        "does not say which it is."
    )
    flagged = [r["title"] for r in rows if r.get("degenerate")]
    if flagged:
        st.warning(
            f"Degenerate (one class for 90% or more of the answers in a fold or the refit): {', '.join(flagged)}.",
            icon=":material/warning:",
        )
    probe = config.get("linear_probe")
    for entry in probe["vision_rows"] if probe else []:
        if entry["under_trained"]:
            st.warning(
                f"Under-trained: {entry['title']} is {100 * entry['gap']:.1f} points below the converged linear probe "
                f"on the same features ({probe['test_accuracy']:.3f} test accuracy); its head needs more epochs or "
                "another learning rate before the ablation reads as a comparison of models.",
                icon=":material/warning:",
            )


def trial_view(config: dict) -> None:
    """Per-epoch curves of any trial of the search (the ablation's first: the best configuration's)."""
    options = {}
    for row in config["ablation"]:
        for trial, label in zip(row["trials"], row["trial_labels"], strict=True):
            options.setdefault(trial, f"ablation · {row['title']} · {_config_text(row['config'])} · {label}")
    for row in config["grid"]:
        for fold, trial in enumerate(row["trials"]):
            options.setdefault(trial, f"grid · {_config_text(row)} · fold {fold + 1}")
    chosen = st.selectbox("Curves of one trial", list(options), format_func=options.get, key="hy-trial")
    history = search.trial_history(chosen) if chosen else None
    if history:
        charts.show(figures.trial_curves(history, config["references"]), key="hy-curves")
