"""Streamlit pieces of the scrambled-text page: the text task and its scramble, the preview of one text as the model
reads it, the two arms' runs, and each encoder paired with itself on scrambled and unscrambled text."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.errors import Interrupted
from core.nontext import models, runs, scrambled, text
from core.nontext.runs import TokenSettings
from core.nontext.tasks import TokenTask
from ui import inputs
from ui.nontext import panels

PRESET_TITLES = {
    "laptop": "laptop (the lab's: Rotten Tomatoes, MiniLM, two CPU cores)",
    "full": "full (the paper's GLUE trainer's settings on SST-2, the lab's choice of task; bert-base-uncased; "
    "online, a GPU)",
}


@st.cache_resource(show_spinner="Tokenising the texts…", max_entries=4)
def text_task(settings: TokenSettings) -> TokenTask:
    """A text task tokenised by its encoder's tokenizer, once per process (read-only)."""
    return runs.load(settings, tokenizer=panels.text_model(settings.encoder).tokenizer)


def choose() -> tuple[TokenSettings, str] | None:
    """The preset, text task, scramble and budget; None while a CSV is awaited."""
    name = st.radio("Preset", list(scrambled.PRESETS), horizontal=True, key="st-preset", format_func=PRESET_TITLES.get)
    p = scrambled.PRESETS[name]
    left, middle, right = st.columns([2, 2, 1])
    names = list(text.TEXT_TASKS)
    task = left.selectbox("Text", names, names.index(p.task), format_func=text.TEXT_TASKS.get, key=f"st-task-{name}")
    scramble = middle.radio(
        "Scramble", scrambled.SCRAMBLES, horizontal=True, key="st-scramble", help=scrambled.SCRAMBLE_TITLES["permute"]
    )
    shift = p.shift
    if scramble == "shift":
        shift = inputs.number(right, "Shift c", 1, 10**5, p.shift, key="st-shift", help="(id + c) mod vocabulary")
    settings = replace(p, task=task, shift=int(shift))
    if task != "sst2":
        texts = inputs.number(right, "Texts", 40, 100_000, p.texts or 3000, key=f"st-texts-{name}")
        settings = replace(settings, texts=int(texts))
    if task == "text-csv":
        upload = st.file_uploader("CSV with columns text, label", type=["csv"], key="st-csv")
        if upload is None:
            st.info("Upload a CSV with a 'text' column and a 'label' one.")
            return None
        settings = replace(settings, path=panels.saved_upload(upload))
    cols = st.columns([3, 2, 1, 1])
    variants = cols[0].multiselect(
        "Encoders", models.VARIANTS, list(p.variants), format_func=models.VARIANT_TITLES.get, key=f"st-var-{name}"
    )
    seeds = cols[1].multiselect("Seeds", sorted({*range(10), *p.seeds}), list(p.seeds), key=f"st-seeds-{name}")
    steps = inputs.number(cols[2], "Steps", 1, 100_000, p.steps, key=f"st-steps-{name}")
    every = inputs.number(cols[3], "Evaluate every", 1, 10_000, p.eval_every, key=f"st-every-{name}")
    st.caption(
        f"{p.encoder}, at most {p.max_length} positions, batch {p.batch_size}, {p.optimizer} lr {p.lr:g}, "
        f"{p.schedule} schedule, head: {models.HEAD_TITLES[p.head]}; "
        + ("each run's own seed permutes" if p.mapping_seed is None else f"table seed {p.mapping_seed}")
        + ". Both arms get the same texts, split, seeds and steps."
    )
    chosen = replace(settings, variants=tuple(variants), seeds=tuple(sorted(seeds)), steps=int(steps))
    return replace(chosen, eval_every=int(every)), scramble


def show_preview(settings: TokenSettings, scramble: str) -> None:
    """The first text as the model reads it, unscrambled and scrambled."""
    basis = replace(TokenSettings(), **{k: getattr(settings, k) for k in ("task", "path", "texts", "encoder")})
    basis = replace(basis, max_length=settings.max_length, split_seed=settings.split_seed)
    found = text_task(basis)
    tokenizer = panels.text_model(settings.encoder).tokenizer
    mapping = runs.task_mapping(scrambled.arm(settings, scramble), found, tokenizer)
    st.caption(f"{found.source}; {found.note}. The first text as the model reads it ({scramble}, first 24 ids):")
    rows = pd.DataFrame(scrambled.preview(found, mapping, tokenizer)).astype(str)
    st.dataframe(rows.T, key="st-preview")


def run(settings: TokenSettings, scramble: str) -> None:
    """Both arms, drawn live (each run's validation curve); a Stop ends the running run, kept and resumable."""
    live = panels.LiveRuns()
    try:
        scrambled.run(settings, scramble, live)
    except Interrupted:
        live.finish()
        raise
    live.finish()
    st.session_state["st-chosen"] = scrambled.arm(settings, scramble).comparison_id


PAPER = (
    "Kao & Lee (Findings of EMNLP 2021) first fine-tuned BERT on text classification (GLUE) with the meanings of its "
    "tokens mismatched: every id, special tokens included, sent through a seeded permutation of the vocabulary or "
    "shifted by c, for the pretrained encoder, a randomly initialised one and one with random word embeddings, beside "
    "the unscrambled model. Across their experiments they report that encoders pretrained on text converge faster and "
    "score better than randomly initialised ones (their abstract; no table of their GLUE numbers is in a readable copy "
    "here)."
)


def results() -> None:
    """The scrambled comparisons whose reference is stored: each encoder against itself on unscrambled text."""
    found = scrambled.pairs()
    if not found:
        st.info("No scrambled comparison with its reference yet: run one above.")
        return
    keys = [f["scrambled"] for f in found]
    if st.session_state.get("st-chosen") not in keys:
        st.session_state["st-chosen"] = keys[0]
    labels = {f["scrambled"]: f["label"] for f in found}
    chosen = st.selectbox("Comparison", keys, format_func=labels.get, key="st-chosen")
    pair = next(f for f in found if f["scrambled"] == chosen)
    report = evidence(pair["reference"], pair["scrambled"], _stamp(pair))
    for sentence in report["sentences"]:
        st.markdown(f"**{sentence}**")
    st.dataframe(pd.DataFrame(scrambled.table(report)), hide_index=True, width="stretch", key="st-table")
    within = report["within"]["scrambled"]
    if within:
        st.markdown("On scrambled text, the encoders against each other: " + " ".join(within))
    st.caption(
        f"{PAPER} This table is the lab's, on the lab's data: held-out accuracy of each run's last step, mean over "
        "the seeds both arms ran; the difference pairs the same test examples and seeds (paired bootstrap interval "
        "and exact McNemar test, core.evidence). The randomly initialised encoder is the control: its word "
        "embeddings are random, so the scramble can move it only by chance. Curves and per-run tables: the "
        "'BERT on DNA, proteins and music' page, section 4."
    )


def _stamp(pair: dict) -> tuple:
    found = [r for key in ("reference", "scrambled") for r in runs.list_runs(pair[key])]
    return tuple((r.id, r.config.get("status")) for r in found)


@st.cache_data(show_spinner=False, max_entries=16)
def evidence(reference: str, scrambled_id: str, stamp: tuple) -> dict:
    """The paired evidence of one scrambled comparison against its reference, once per state of their runs."""
    return scrambled.evidence(runs.list_runs(reference), runs.list_runs(scrambled_id))
