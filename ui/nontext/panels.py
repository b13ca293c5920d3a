"""Streamlit pieces of the BERT-on-non-text-tokens page: the task, the mapping preview, live runs, results and
the representation similarity of two encoders."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from core import jobs, store
from core.errors import Interrupted
from core.nontext import figures, models, runs, similarity, tasks, tokens
from core.nontext.runs import PRESETS, TokenSettings
from core.nontext.similarity import MEASURE_TITLES, SOURCE_TITLES, SimilaritySettings
from core.settings import from_record
from ui import charts, inputs, state

TASK_TITLES = {row["name"]: row["title"] for row in tasks.available_tasks()} | {"csv": "a CSV file (sequence, label)"}


@st.cache_resource(show_spinner="Loading the text model…", max_entries=2)
def text_model(name: str):
    from core.hub import load_text_model

    return load_text_model(name)


@st.cache_resource(show_spinner="Loading the task…", max_entries=8)
def task(settings: TokenSettings) -> tasks.TokenTask:
    """A task, loaded once per process (read-only)."""
    return runs.load(settings)


def choose_task() -> TokenSettings | None:
    """The task picker; returns the base settings with the task set, or None while a CSV is awaited."""
    rows = {row["name"]: row for row in tasks.available_tasks()}
    left, right = st.columns([2, 1])
    name = left.selectbox("Task", list(TASK_TITLES), format_func=TASK_TITLES.get, key="nt-task")
    if name in rows and not rows[name]["available"]:
        st.warning(rows[name]["note"], icon=":material/cloud_off:")
        return None
    base = replace(TokenSettings(), task=name)
    if name == "composers":
        pieces = inputs.number(right, "Pieces per composer", 2, 400, TokenSettings.pieces, key="nt-pieces")
        window = inputs.number(right, "Notes per window", 16, 510, TokenSettings.window, key="nt-window")
        base = replace(base, pieces=int(pieces), window=int(window))
    if name == "csv":
        upload = right.file_uploader("CSV with columns sequence, label", type=["csv"], key="nt-csv")
        values = right.toggle(
            "Labels are values (regression, Spearman)",
            key="nt-values",
            help="e.g. fluorescence or stability, as in the paper; off: the labels are classes.",
        )
        base = replace(base, values=values)
        if upload is None:
            st.info("Upload a CSV with a 'sequence' column (letters, or items separated by spaces) and a 'label' one.")
            return None
        base = replace(base, path=saved_upload(upload))
    return base


def saved_upload(upload) -> str:
    """An uploaded file kept in the store (named by its content's hash), so runs can name it by path."""
    data = upload.getvalue()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(upload.name).name)
    path = store.home() / "uploads" / f"{hashlib.sha256(data).hexdigest()[:12]}-{safe}"
    if not path.is_file():
        store.atomic_write_bytes(path, data)
    return str(path)


def describe(found: tasks.TokenTask) -> None:
    lengths = [len(s) for s in found.sequences]
    counts = ", ".join(f"{k} {v:,}" for k, v in found.counts().items())
    span = f"{min(lengths)} symbols each" if min(lengths) == max(lengths) else f"{min(lengths)}–{max(lengths)} symbols"
    note = found.note[:1].upper() + found.note[1:] + "." if found.note else ""
    st.caption(
        f"{found.source}. {len(found.sequences):,} sequences ({counts}); {span}; {len(found.symbols)} distinct "
        f"symbols. {note}"
    )


def mapping_panel(settings: TokenSettings, found: tasks.TokenTask) -> TokenSettings:
    """Mapping settings and the preview: the table symbol -> base id -> id read, and one sequence's ids."""
    left, middle, right = st.columns(3)
    kind = left.radio(
        "Mapping",
        tokens.KINDS,
        key="nt-mapping",
        horizontal=True,
        help="random: a seeded random table over the vocabulary, of the paper's kind (made with NumPy: not the "
        "paper's own tables, which cannot be regenerated); shift: the lab's shift, every symbol's id moved by "
        f"{settings.shift} within the ids from 1000 up; shift-all: the paper's shift, (id + {settings.shift}) mod the "
        "vocabulary on every id; wordpiece: the symbols' own wordpieces; permute: a seeded permutation of the whole "
        "vocabulary, made as the paper's GLUE code made its (Python's random.shuffle).",
    )
    seed = inputs.number(middle, "Table seed", 0, 10**6, settings.mapping_seed, key="nt-mapping-seed")
    keep = right.toggle(
        "Keep [CLS], [SEP], [PAD]",
        True,
        key="nt-keep",
        help="Kept (the lab's choice), they mean what the model learnt; the paper's code sent the special tokens "
        "through the mapping too (off).",
    )
    settings = replace(settings, mapping=kind, mapping_seed=int(seed), keep_specials=keep)
    with state.user_errors():
        loaded = text_model(settings.encoder)
        mapping = runs.task_mapping(settings, found, loaded.tokenizer)
        first = found.sequences[0]
        ids = mapping.encode(first, 10**6)
        table, example = st.columns([1, 2])
        table.dataframe(pd.DataFrame(mapping.preview()), hide_index=True, height=240, key="nt-preview")
        shown = first[:24]
        example.markdown("**The first sequence, as the model reads it** (first 24 symbols)")
        example.dataframe(
            pd.DataFrame({"symbol": ["[CLS]", *shown], "id read": ids[: len(shown) + 1]}).astype(str).T,
            key="nt-example",
        )
    return settings


def run_settings(settings: TokenSettings) -> TokenSettings:
    """The comparison's budget: a preset, the variants and seeds, and its training settings."""
    name = st.radio(
        "Preset",
        list(PRESETS),
        horizontal=True,
        key="nt-preset",
        format_func={
            "laptop": "laptop (the lab's; ~10 min on 2 CPU cores)",
            "full": "full (the paper's code as the lab reads it; a GPU)",
        }.get,
    )
    p = PRESETS[name]
    cols = st.columns([3, 2, 1, 1])  # the encoders' names are long: two chips must both show
    variants = cols[0].multiselect(
        "Encoders", models.VARIANTS, list(p.variants), format_func=models.VARIANT_TITLES.get, key=f"nt-var-{name}"
    )
    seeds = cols[1].multiselect("Seeds", list(range(10)), list(p.seeds), key=f"nt-seeds-{name}")
    steps = inputs.number(cols[2], "Steps", 1, 100_000, p.steps, key=f"nt-steps-{name}")
    every = inputs.number(cols[3], "Evaluate every", 1, 10_000, p.eval_every, key=f"nt-every-{name}")
    st.caption(
        f"{p.encoder}, batch {p.batch_size}, {p.optimizer} lr {p.lr:g}, {p.schedule} schedule; split "
        f"{'/'.join(f'{s:.0%}' for s in p.shares)} (seed {p.split_seed}), {SPLIT_TITLES[p.split_method]}; head: "
        f"{models.HEAD_TITLES[p.head]}{music_caption(p, settings.task)}. {specials_caption(p, settings)}Every encoder "
        "gets the same data, split, seeds and steps."
    )
    chosen = replace(
        p,
        task=settings.task,
        path=settings.path,
        values=settings.values,
        pieces=settings.pieces,
        window=settings.window,
    )
    chosen = replace(chosen, mapping=settings.mapping, mapping_seed=settings.mapping_seed)
    return replace(
        chosen,
        keep_specials=settings.keep_specials,
        variants=tuple(variants),
        seeds=tuple(sorted(seeds)),
        steps=int(steps),
        eval_every=int(every),
    )


SPLIT_TITLES = {
    "lab": "the lab's NumPy shuffle",
    "paper": "the paper's (Python's random.shuffle, cut at int(0.9 n) and int(0.95 n))",
}
VOTE_TITLES = {
    "soft": "the mean of the windows' probabilities (the lab's)",
    "majority": "a majority vote over the windows (the paper's description)",
    "first": "the first window (the paper's code as written)",
}


def music_caption(preset: TokenSettings, task: str) -> str:
    """The preset's music settings, for a music task."""
    if task not in runs.MUSIC_TASKS:
        return ""
    frame = "the notes alone (the paper's)" if preset.music_frame == "paper" else "[CLS] + notes + [SEP] (the lab's)"
    return f"; music: windows read as {frame}, a piece voted by {VOTE_TITLES[preset.vote]}"


def specials_caption(preset: TokenSettings, settings: TokenSettings) -> str:
    """Say when section 2's special tokens differ from the preset's (section 2's are used)."""
    if preset.keep_specials == settings.keep_specials:
        return ""
    if settings.keep_specials:
        return "The special tokens are kept as section 2 says; the paper's code remapped them (turn that off). "
    return "The special tokens are remapped as section 2 says (the paper's way); the lab's preset keeps them. "


class LiveRuns(state.LiveView):
    """A run ``callback`` drawing progress and the curves so far; a Stop or click ends the running run after
    its current evaluation (kept, resumable), see :class:`ui.state.LiveView`."""

    def __init__(self) -> None:
        super().__init__("Loading the task and the model…")
        self.runs: dict[str, list[dict]] = {}

    def draw(self, step: int, steps: int, metrics: dict) -> None:
        self.runs.setdefault(metrics["run"], []).append({"step": step, **metrics})
        metric = "val_spearman" if "val_spearman" in metrics else "val_accuracy"
        self.bar.progress(
            step / steps, text=f"{metrics['run']}: step {step}/{steps}, validation {metric[4:]} {metrics[metric]:.3f}"
        )
        grouped: dict[str, list[list[dict]]] = {}
        for run, history in self.runs.items():
            grouped.setdefault(run.split(",")[0], []).append(history)
        charts.show(figures.curves_figure(grouped, metric), key=f"nt-live-{metrics['run']}-{step}", where=self.chart)


def run(settings: TokenSettings) -> None:
    live = LiveRuns()
    try:
        runs.run_comparison(settings, live)
    except Interrupted:
        live.finish()
        raise
    live.finish()
    st.session_state["nt-chosen"] = settings.comparison_id  # the results below show the comparison just run


def nothing_finished_yet() -> str:
    """What the results section says before any comparison has a finished run."""
    if jobs.list_pending(runs.RUNS):
        return "No finished run yet: a comparison is half done. Resume it in section 3 above; what it trained is kept."
    return "No run yet: run a comparison above (the laptop preset takes about ten minutes on two CPU cores)."


def resume_panel() -> None:
    """Comparisons that started and did not finish, each with a Resume button."""
    for index, (_, record) in enumerate(jobs.list_pending(runs.RUNS)[:3]):
        settings = from_record(TokenSettings, record)
        st.info(
            f"A comparison on {settings.task} ({', '.join(settings.variants)}; seeds "
            f"{', '.join(map(str, settings.seeds))}; {settings.steps} steps) did not finish. Resume goes on from the "
            "last evaluation of its unfinished run; finished runs are kept.",
            icon=":material/pause_circle:",
        )
        if st.button("Resume it", key=f"nt-resume-{index}"):
            with state.user_errors():
                run(settings)
                st.rerun()


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs={store.Artifact: lambda a: (a.id, a.config["status"])})
def comparison_evidence(runs_found: tuple) -> dict:
    """A comparison's intervals and verdicts (bootstraps: computed once per set of runs)."""
    return runs.comparison_evidence(list(runs_found))


def results(runs_found: list) -> None:
    """A comparison's curves (seed bands), steps to reach a threshold, and the held-out table."""
    regression = "spearman" in runs_found[0].config["test"]
    headline = "val_spearman" if regression else "val_accuracy"
    threshold = st.slider(
        f"Steps to reach validation {'Spearman' if regression else 'accuracy'}", 0.0, 1.0, 0.8, 0.01, key="nt-threshold"
    )
    names = {"val_accuracy": "accuracy", "val_f1": "macro F1", "val_spearman": "Spearman", "val_mse": "MSE"}
    metric = st.radio(
        "Curve",
        ["val_spearman", "val_mse"] if regression else ["val_accuracy", "val_f1", "val_loss"],
        horizontal=True,
        key=f"nt-metric-{regression}",
        format_func=lambda m: names.get(m, "loss"),
    )
    grouped: dict[str, list[list[dict]]] = {}
    for found in runs_found:
        grouped.setdefault(found.config["variant"], []).append(found.config["history"])
    majority = runs_found[0].config["test"].get("majority_rate")
    charts.show(
        figures.curves_figure(
            grouped,
            metric,
            majority if metric == "val_accuracy" else None,
            threshold if metric == headline else None,
        ),
        key="nt-curves",
    )
    found = comparison_evidence(tuple(runs_found))
    for sentence in found["sentences"]:
        st.markdown(f"**{sentence}**")
    charts.show(figures.test_figure(found, None if regression else majority), key="nt-test")
    table = pd.DataFrame(runs.results_table(runs_found, threshold, found))
    st.dataframe(table, hide_index=True, width="stretch", key="nt-table")
    test = runs_found[0].config["test"]
    reference = (
        f"always answering the training mean gives a test MSE of {test['mean_predictor_mse']:.3f}"
        if regression
        else f"the majority class of the test split is {majority:.3f}"
    )
    st.caption(
        f"Held-out (test) figures of each run's last step, mean over seeds; {reference}. The 95% interval is a "
        "bootstrap over test examples for one seed, a t interval over seeds for several; the verdicts pair the same "
        "test examples and seeds (paired bootstrap and exact McNemar test, core.evidence); the detectable difference "
        "is the smallest gap this test split and these seeds find 80% of the time. The curves are the "
        f"validation split, evaluated every {runs_found[0].config['settings']['eval_every']} step(s)."
    )


@st.cache_data(show_spinner="Reading the test sequences with both encoders…", max_entries=16)
def similarity_result(comparison: str, stamp: tuple, choice: SimilaritySettings, encoder: str) -> dict:
    """Both measures and the head matching of one pair, computed once per comparison, state of its runs (``stamp``)
    and choice."""
    return similarity.compare(choice, comparison, loaded=text_model(encoder))


PAPER_SIMILARITY = (
    "Kao & Lee report that BERT pretrained on English and fine-tuned on a protein task shares representations with "
    "PLUS-TFM, a Transformer pretrained on proteins: they compared the PWCCA of BERT–PLUS-TFM with that of the "
    "randomly initialised model–PLUS-TFM and of BERT–randomly initialised on the last layer's token vectors, and "
    "matched attention heads by the L1 distance of their attention maps."
)


def similarity_panel(runs_found: list) -> None:
    """Pick two encoders of the shown comparison (before or after fine-tuning, or a domain model) and compare their
    token representations layer by layer, and their attention heads, on a button; results are cached."""
    defaults, sources = SimilaritySettings(), list(similarity.SOURCES)
    comparison = runs_found[0].config["comparison"]
    seeds = sorted({r.config["seed"] for r in runs_found if r.config.get("status") == "finished"}) or [0]
    cols = st.columns([3, 3, 1, 1])
    a = cols[0].selectbox(
        "Rows (a)", sources, sources.index(defaults.a), format_func=SOURCE_TITLES.get, key="nt-sim-a"
    )
    b = cols[1].selectbox(
        "Columns (b)", sources, sources.index(defaults.b), format_func=SOURCE_TITLES.get, key="nt-sim-b"
    )
    seed = cols[2].selectbox("Seed", seeds, key="nt-sim-seed", help="whose runs (and random start) are compared")
    examples = inputs.number(
        cols[3], "Test sequences", 2, 5000, defaults.examples, key="nt-sim-examples", help="the first of the test split"
    )
    domain = None
    if "domain" in (a, b):
        domain = st.text_input(
            "Domain model (Hugging Face id or folder)",
            key="nt-sim-domain",
            help="A model pretrained on this kind of sequence; it reads each symbol as its own vocabulary's token. "
            "Needs internet unless cached. The paper's PLUS-TFM is not on the Hugging Face hub.",
        )
    choice = SimilaritySettings(a=a, b=b, examples=int(examples or 2), seed=int(seed), domain=domain or None)
    stamp = tuple((r.id, r.config.get("status"), r.file(runs.WEIGHTS_FILE).is_file()) for r in runs_found)
    encoder = runs_found[0].config["encoder"]["name"]
    if inputs.button(st, "Compare the representations", key="nt-sim-run"):
        with state.user_errors():
            choice.check()
            similarity_result(comparison, stamp, choice, encoder)
            st.session_state["nt-sim-shown"] = (comparison, choice)
    shown = st.session_state.get("nt-sim-shown")
    if not shown or shown[0] != comparison:
        st.caption(f"{PAPER_SIMILARITY} Pick two encoders and compare them on this comparison's test sequences.")
        return
    if shown[1] != choice:
        st.caption("Shown: the last pair compared; press the button to compare this one.")
    found = similarity_result(comparison, stamp, shown[1], encoder)
    measure = st.radio(
        "Measure", similarity.MEASURES, format_func=MEASURE_TITLES.get, horizontal=True, key="nt-sim-measure"
    )
    charts.show(figures.similarity_figure(found, measure), key="nt-sim-matrix")
    if found["note"]:
        st.warning(found["note"], icon=":material/warning:")
    used = found["inputs"]
    sampled = f"; a seeded sample of {used['positions']:,}" if used["tokens"] < used["positions"] else ""
    st.caption(
        f"{PAPER_SIMILARITY} This figure is the lab's, on the lab's data: {found['task']}, the first "
        f"{used['examples']} test sequences, {used['tokens']:,} token vectors ({used['vectors']}{sampled}). "
        f"Linear CKA and PWCCA (weights from the rows' encoder; ridge {found['regularisation']:g}) compare every "
        "layer (0: the embeddings) of one encoder with every layer of the other; 1: the same representation up to a "
        "rotation and a scale (CKA), or any invertible linear map (PWCCA). The reference in the title is the same "
        "measure with the token pairing shuffled, what it gives when nothing corresponds; a control pair (randomly "
        "initialised, before fine-tuning) shows what it gives for a model that learnt nothing. With few symbols "
        "the embeddings hold little more than which symbol sits where, which every encoder's layers carry too."
    )
    if found["heads"]:
        charts.show(figures.head_matching_figure(found), key="nt-sim-heads")
        table = pd.DataFrame(
            [
                {
                    "layer": h["layer"],
                    "matched heads: mean L1": h["matched"],
                    "random matching: mean L1": h["random"],
                    "same-numbered head: mean L1": h.get("same_head"),
                    "matching (a head → b head)": ", ".join(f"{i}→{j}" for i, j in h["pairs"]),
                }
                for h in found["heads"]
            ]
        )
        st.dataframe(table, hide_index=True, width="stretch", key="nt-sim-head-table")
        st.caption(
            "Heads of one layer matched one to one (scipy's linear_sum_assignment) by the mean L1 distance between "
            "their attention rows over the real positions (0: the same attention, 2: disjoint), beside a uniformly "
            "random matching's mean (the mean over all head pairs)."
        )
