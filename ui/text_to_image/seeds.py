"""The Results page's "Over seeds" section: a seed sweep's verdict, accuracies with intervals, and running it."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import streamlit as st

from core import store
from core.settings import from_record, to_record
from core.text_to_image import results, seeds
from core.text_to_image.backbones import BACKBONES
from core.text_to_image.figures import seeds_figure
from core.text_to_image.training import BASELINES
from ui import charts, inputs, state


@st.cache_data(show_spinner="Reading the sweep's per-example results…", max_entries=16)
def evidence(record: str, stored: tuple) -> dict:
    """A sweep's evidence (bootstraps: computed once per set of stored models; ``stored`` is part of the key)."""
    return seeds.seed_evidence(from_record(seeds.SeedSettings, json.loads(record)))


def _stored(dataset: store.Artifact) -> tuple:
    """What is stored on ``dataset`` (models and their status, baselines): a new model changes the cache key."""
    models = [(a.id, a.config.get("status")) for a in results.list_models(dataset)]
    baselines = [a.id for a in store.list_artifacts(BASELINES) if a.config.get("dataset") == dataset.id]
    return tuple(sorted(models)), tuple(sorted(baselines))


def _settings_form(dataset: store.Artifact, base: seeds.SeedSettings) -> seeds.SeedSettings | None:
    """The sweep's seeds, backbone and epochs; the sweep it describes when Run is pressed, else None."""
    names = [info.name for info in BACKBONES]
    left, middle, right = st.columns(3)
    text = left.text_input("Seeds", " ".join(map(str, base.seeds)), key="seeds-list", help="Integers, e.g. 0 1 2.")
    backbone = middle.selectbox(
        "Backbone", names, index=names.index(base.backbone) if base.backbone in names else 0, key="seeds-backbone"
    )
    epochs = inputs.number(right, "Epochs", 1, 200, int(base.epochs), key="seeds-epochs")
    if not inputs.button(
        st,
        "Run or resume the seed sweep",
        key="seeds-run",
        help="Seeds already trained are reused; a stopped sweep goes on at the next unfinished seed.",
    ):
        return None
    changes = {"seeds": seeds.parse_seeds(text), "epochs": int(epochs), "logistic": "embeddings" in dataset.config}
    if backbone != base.backbone:  # another backbone: its own cut
        changes.update(backbone=backbone, node=None)
    return replace(base, **changes)


def over_seeds_panel(dataset: store.Artifact) -> None:
    """The newest seed sweep on ``dataset`` (or the one just run): its verdict on the ImageNet slice against a
    random-init slice, each variant's mean accuracy with its 95% interval, the smallest detectable difference;
    and a form to run or resume a sweep."""
    st.subheader("Over seeds")
    st.caption(
        "The ImageNet slice against a randomly initialised slice of the same backbone, trained once per seed, and "
        "logistic regression on the raw embeddings, on the same held-out split. Intervals: Student t over seeds "
        "(a bootstrap over test examples for a single fit); the verdict pairs the same test examples and seeds "
        "(paired bootstrap and exact McNemar test, core.evidence)."
    )
    started = seeds.sweeps_of(dataset)
    chosen = st.session_state.get("seeds-shown", {}).get(dataset.id)
    shown = from_record(seeds.SeedSettings, chosen) if chosen else (started[0] if started else None)
    with state.user_errors():  # bad seeds, a backbone that needs the internet, a stop: one message
        settings = _settings_form(dataset, shown or seeds.SeedSettings(dataset.id))
        if settings is not None:
            settings.check()
            st.session_state.setdefault("seeds-shown", {})[dataset.id] = to_record(settings)
            shown = settings
            seeds.run_sweep(settings, state.progress_callback("Seed sweep"))
    if shown is None:
        st.info("No seed sweep on this dataset yet: choose the seeds and run one.")
        return
    found = evidence(json.dumps(to_record(shown)), _stored(dataset))
    show = {"SUPPORTED": st.success, "CONTRADICTED": st.error}.get(found["verdict"] or "", st.warning)
    show(f"**{found['verdict'] or 'NOT YET MEASURED'}** · {found['sentence']}")
    if found["missing"]:
        st.info(f"Not finished yet: {', '.join(found['missing'])}. Run the sweep again to resume it.")
    if not found["variants"]:
        return
    charts.show(seeds_figure(found), key="seeds-fig")
    rows = [
        {
            "variant": record["title"],
            "seed": "one fit" if row["seed"] is None else str(row["seed"]),
            "held-out accuracy": f"{row['accuracy']:.3f}",
            "95% interval (test examples)": f"{row['interval']['low']:.3f} – {row['interval']['high']:.3f}",
            "id": row["id"],
        }
        for record in found["variants"].values()
        for row in record["per_seed"]
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="seeds-table")
    for comparison in found["comparisons"][1:]:
        st.markdown(comparison["sentence"])
    ref = found["reference"]
    st.caption(
        f"Smallest detectable difference: {100 * found['detectable_difference']:.1f} points ({found['n']} test "
        f"examples × {found['design']['seeds']} seed(s), 80% power at 95%). Majority class "
        f"('{ref['majority_class']}'): {ref['majority_rate']:.3f}; chance {ref['chance']:.3f}."
    )
