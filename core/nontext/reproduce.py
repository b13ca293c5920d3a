"""The non-text tokens reproduction (``python -m core reproduce bert-nontext``): Kao & Lee 2021's figures (not
found in a readable copy: said, not invented), the paper's setting as the lab reads its code (bert-base-uncased,
three encoders; three seeds and 3,600 steps are the lab's choice: the run scripts train one epoch; online and
GPU-sized, so offline it is listed as not run, with why) and the lab's laptop
comparison on the packaged splice junctions: the pretrained encoder's held-out accuracy with its interval,
the randomly initialised encoder's (the control), the majority class (the baseline), and the paper's claim,
pretrained − random init, paired on the same test examples (:func:`core.nontext.runs.comparison_evidence`).

The paper's two other findings follow, each on the lab's laptop settings: text with its token ids scrambled
(:mod:`core.nontext.scrambled`: both encoders on Rotten Tomatoes snippets with the vocabulary permuted, special
tokens included, against the same text as it is, each encoder paired with itself) and the similarity of
representations (:mod:`core.nontext.similarity`: the pretrained encoder after fine-tuning on splice junctions
against itself before, and against the randomly initialised encoder after, layer by layer, each beside the level of
unrelated representations; the paper's domain model, PLUS-TFM for proteins, is a download and is listed as not run
offline).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from core import jobs
from core.errors import USER_ERRORS
from core.nontext import models, runs, scrambled, similarity
from core.nontext.runs import TokenSettings
from core.reproduce import Row, machine, preset_command
from core.settings import to_record
from core.store import Artifact, Callback

PAPER = "Kao & Lee 2021 (Findings of EMNLP), splice junctions, bert-base-uncased"
SOURCE = (
    "shared/METHODS.md §4 (Kao & Lee), 'Finding': pretrained text models converge faster and score higher than "
    "random init; 'Tables: not found in a readable copy'"
)
DATA = (
    "data: Debian r-cran-mlbench DNA.rda's 3,186 UCI records, not the paper's Hilbert-CNN splice.txt (3,190; "
    "3,175 sequences identical, 11 differ: close, not the same; shared/METHODS.md §4)"
)
SEEDS = (0, 1, 2)
"""The lab comparison's seeds in the reproduction: three runs per encoder (about 35 minutes on two CPU cores),
so the claim is paired over seeds as well as test records."""


SIMILAR = (("pretrained-after", "pretrained-before"), ("pretrained-after", "random-after"))
"""The similarity pairs of the reproduction (rows, columns): what fine-tuning changed in the pretrained encoder, and
whether the pretrained and the randomly initialised encoder came to represent the tokens alike."""


def _command(settings: TokenSettings, preset: str, command: str = "tokens-compare") -> str:
    """The ``command`` of ``settings`` (tokens-compare or tokens-scrambled): the preset and what differs from it."""
    flags = {"encoder": "--encoder", "steps": "--steps", "eval_every": "--eval-every", "seeds": "--seeds"}
    base = (scrambled.PRESETS if command == "tokens-scrambled" else runs.PRESETS)[preset]
    return preset_command(command, preset, settings, base, flags)


def _describe(settings: TokenSettings) -> str:
    return (
        f"{settings.task}, {settings.encoder}, {len(settings.variants)} encoders x {len(settings.seeds)} "
        f"seed{'s' if len(settings.seeds) != 1 else ''}, {settings.optimizer} {settings.lr:g}, "
        f"{settings.steps:,} steps of batch {settings.batch_size}"
    )


def _reused(found: list[Artifact], before: dict[str, str]) -> str:
    """A note when runs were finished before this reproduction started (loaded, not trained again)."""
    old = [before[run.id] for run in found if run.id in before]
    return f"reused: {len(old)} of {len(found)} runs made before (the first {min(old)})" if old else ""


def _accuracy_text(record: dict[str, Any]) -> str:
    interval = record.get("interval")
    if interval is None:
        return f"{record['estimate']:.3f} ({record.get('note', runs.NO_PER_EXAMPLE)})"
    return f"{record['estimate']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"


def _variant_note(record: dict[str, Any]) -> str:
    interval = record.get("interval")
    notes = [f"seeds {', '.join(map(str, record['seeds']))}; {record['n']} test examples"]
    if interval is not None:
        notes.append(f"95% interval: {interval['method']}")
    if "detectable" in record:
        notes.append(f"smallest detectable difference {100 * record['detectable']:.1f} points")
    return "; ".join(notes)


def _claim_row(kind: str, entry: dict[str, Any], command: str, seconds: float, here: str, where: str = "") -> Row:
    """One paired claim of a comparison; ``where`` (its task) is named in the row and in its verdict's sentence."""
    pair = f"{models.VARIANT_TITLES[entry['a']]} − {models.VARIANT_TITLES[entry['b']]}"
    what = f"the claim{f' on {where}' if where else ''}: {pair}, paired"
    if where and "sentence" in entry:
        entry = {**entry, "sentence": entry["sentence"].replace(pair, f"{pair} ({where})", 1)}
    figure = "difference of held-out accuracy (points)"
    if "difference" not in entry or "verdict" not in entry:
        return Row(
            kind,
            what,
            figure,
            None,
            entry.get("note", "not paired"),
            command,
            round(seconds, 1),
            here,
            entry["sentence"],
            evidence=entry,
        )
    d = entry["difference"]
    shown = f"{100 * d['estimate']:+.1f} points [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]; {entry['verdict']}"
    note = (
        f"{entry['test']}, p = {entry['p_value']:.3g}; 95% {d['method']} (n = {d['n']}); smallest detectable "
        f"difference {100 * entry['detectable']:.1f} points; {entry['sentence']}"
    )
    return Row(kind, what, figure, d["estimate"], shown, command, round(seconds, 1), here, note, evidence=entry)


def _comparison_rows(
    kind: str,
    title: str,
    settings: TokenSettings,
    preset: str,
    found: list[Artifact],
    seconds: float,
    note: str,
    command: str | None = None,
    where: str = "",
) -> list[Row]:
    """The rows of one comparison: the pretrained encoder (``kind``), every other encoder (controls), the
    majority class of the test split (baseline) and each paired claim against the pretrained encoder."""
    here = machine()
    report = runs.comparison_evidence(found)
    command = command or _command(settings, preset)
    results = f"python -m core tokens-results --comparison {settings.comparison_id}"
    finished = [r for r in found if r.config.get("status") == "finished"]
    rows = []
    for variant, record in report["variants"].items():
        own = [r for r in finished if r.config["variant"] == variant]
        rows.append(
            Row(
                kind if variant == "pretrained" else "control",
                f"{title}: {models.VARIANT_TITLES[variant]}",
                "held-out accuracy [95% interval]",
                record["estimate"],
                _accuracy_text(record),
                command,
                round(sum(r.config["seconds"] for r in own), 1),
                here,
                "; ".join(x for x in (_variant_note(record), note if variant == "pretrained" else "") if x),
                evidence=record,
            )
        )
    majority = finished[0].config["test"]["majority_rate"]
    rows.append(
        Row(
            "baseline",
            f"majority class of the test split ({title})",
            "held-out accuracy",
            majority,
            f"{majority:.3f}",
            results,
            note=f"{finished[0].config['split']['test']} test examples",
        )
    )
    rows += [_claim_row(kind, entry, command, seconds, here, where) for entry in report["comparisons"]]
    return rows


def _scrambled_rows(
    settings: TokenSettings, callback: Callback | None, progress: jobs.Progress
) -> tuple[list[Row], dict[str, Any]]:
    """Kao & Lee's text experiment on the lab's laptop settings: each encoder on scrambled text (its own rows and
    the paired claim pretrained − random init there, as every comparison), the majority class, and each encoder's
    cost of the scramble, unscrambled − scrambled, paired on the same test texts and seeds."""
    started = time.time()
    found = scrambled.run(settings, "permute", callback, progress("scrambled text: loading the texts"))
    seconds = time.time() - started
    report = scrambled.evidence(found["reference"], found["scrambled"])
    command = _command(settings, "laptop", "tokens-scrambled")
    chosen = scrambled.arm(settings, "permute")
    title = (
        f"scrambled text ({settings.task}, {settings.encoder}, the vocabulary permuted by each run's seed, special "
        f"tokens included; {len(settings.seeds)} seed{'s' if len(settings.seeds) != 1 else ''}, {settings.steps:,} "
        f"steps of batch {settings.batch_size})"
    )
    note = (
        "the lab's text task: Rotten Tomatoes snippets offline, not the paper's GLUE tasks (SST-2 and the rest: "
        "online, python -m core tokens-scrambled --preset full)"
    )
    rows = _comparison_rows(
        "lab preset", title, chosen, "laptop", found["scrambled"], seconds, note, command, "scrambled text"
    )
    here = machine()
    for entry in report["comparisons"]:
        what = f"scrambled text: {models.VARIANT_TITLES[entry['variant']]}, unscrambled − permuted, paired"
        kind = "lab preset" if entry["variant"] == "pretrained" else "control"
        known = f"unscrambled {entry['unscrambled']:.3f}, permuted {entry['scrambled']:.3f}"
        if "difference" not in entry:
            rows.append(
                Row(
                    kind,
                    what,
                    "difference of held-out accuracy (points)",
                    None,
                    entry["note"],
                    command,
                    round(seconds, 1),
                    here,
                    f"{known}; {entry['sentence']}",
                    evidence=entry,
                )
            )
            continue
        d = entry["difference"]
        rows.append(
            Row(
                kind,
                what,
                "difference of held-out accuracy (points)",
                d["estimate"],
                f"{100 * d['estimate']:+.1f} points [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]; "
                f"{entry['verdict']}",
                command,
                round(seconds, 1),
                here,
                f"{known} (majority class {entry['majority_rate']:.3f}); {entry['test']}, p = "
                f"{entry['p_value']:.3g}; 95% {d['method']} (n = {d['n']}); smallest detectable difference "
                f"{100 * entry['detectable']:.1f} points; {entry['sentence']}",
                evidence=entry,
            )
        )
    return rows, {
        "reference": found["reference"][0].config["comparison"],
        "scrambled": found["scrambled"][0].config["comparison"],
        "sentences": report["sentences"],
    }


def _diagonal(matrix: list[list[float]]) -> float:
    """The mean of each layer against the other model's same-index layer (the layers both have)."""
    import numpy as np

    values = np.asarray(matrix, dtype=float)
    return float(np.nanmean(np.diag(values[: min(values.shape), : min(values.shape)])))


def _similarity_rows(lab: TokenSettings, callback: Callback | None, progress: jobs.Progress) -> list[Row]:
    """The similarity summary: each pair of :data:`SIMILAR` on the lab comparison's first seed (its runs trained
    again where they were stored before runs kept their weights), the mean same-layer PWCCA and linear CKA, each
    beside the highest value of unrelated representations (the pairing of tokens shuffled), and the attention
    heads matched one to one against a random matching; then the paper's domain model, not run offline."""
    from core.hub import load_text_model

    seed = lab.seeds[0]
    loaded = load_text_model(lab.encoder)
    task = runs.load(lab, progress("similarity: loading the task"), loaded.tokenizer)
    started = time.time()
    stored = {r.config["variant"]: r for r in runs.list_runs(lab.comparison_id) if r.config["seed"] == seed}
    again = [v for v in ("pretrained", "random") if v not in stored or not stored[v].file(runs.WEIGHTS_FILE).is_file()]
    for variant in ("pretrained", "random"):
        runs.train_run(lab, variant, seed, task, callback, loaded, weights=True)
    trained = time.time() - started
    retrained = (
        f"; its time includes training seed {seed}'s {' and '.join(again)} run again to keep the weights (stored "
        "before runs kept them; the same settings and seed)"
        if again
        else ""
    )
    here = machine()
    rows = []
    for a, b in SIMILAR:
        began = time.time()
        choice = similarity.SimilaritySettings(a=a, b=b, seed=seed, device=lab.device)
        found = similarity.compare(choice, lab.comparison_id, loaded=loaded, callback=callback)
        pwcca, cka = _diagonal(found["pwcca"]), _diagonal(found["cka"])
        reference = found["reference"]
        heads = found.get("heads") or []
        matched = [h["matched"] for h in heads]
        chance = [h["random"] for h in heads]
        head_text = (
            f"; attention heads matched one to one at a mean L1 distance of {sum(matched) / len(matched):.3f} per "
            f"query row against {sum(chance) / len(chance):.3f} for a random matching (0: the same, 2: disjoint)"
            if heads
            else ""
        )
        above = pwcca > reference["pwcca"] and cka > reference["cka"]
        rows.append(
            Row(
                "lab preset",
                f"similarity: {found['a']['title']} against {found['b']['title']}",
                "mean same-layer PWCCA (linear CKA)",
                pwcca,
                f"{pwcca:.3f} ({cka:.3f}); unrelated: {reference['pwcca']:.3f} ({reference['cka']:.3f})",
                f"python -m core tokens-similarity --comparison {lab.comparison_id} --a {a} --b {b} --seed {seed}",
                round(time.time() - began + (trained if not rows else 0.0), 1),
                here,
                f"seed {seed}; {found['inputs']['tokens']:,} token vectors of {found['inputs']['examples']} test "
                f"sequences; {'above' if above else 'not above'} the level of unrelated representations on both "
                f"measures{head_text}"
                + (f"; {found['note']}" if found["note"] else "")
                + (retrained if not rows else ""),
                evidence={k: found[k] for k in ("cka", "pwcca", "reference", "layers_a", "layers_b", "inputs")},
            )
        )
    rows.append(
        Row(
            "paper preset",
            "similarity: the fine-tuned encoder against a domain model (the paper: BERT fine-tuned on proteins "
            "against PLUS-TFM)",
            "mean same-layer PWCCA",
            None,
            "not run offline",
            f"python -m core tokens-similarity --comparison <a protein comparison> --a pretrained-after --b domain "
            f"--domain <hub id or folder> --seed {seed}",
            note="a domain model is a download (Hugging Face hub) or a folder; the lab ships none, for DNA or proteins",
        )
    )
    return rows


def run(
    online: bool = False,
    n: int | None = None,
    epochs: int | None = None,
    device: str | None = None,
    progress: jobs.Progress = jobs.no_progress,
    callback: Callback | None = None,
    steps: int | None = None,
    encoder: str | None = None,
    seeds: tuple[int, ...] | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Run the reproduction; returns its rows and settings (see :func:`core.reproduce.run`). ``steps``:
    optimiser steps per run of every comparison (evaluations every ``min(eval_every, steps)``); ``encoder``:
    the lab's comparison on another text model (a packaged name, a folder or a hub id); ``seeds``: the lab
    comparison's seeds (default :data:`SEEDS`; the paper's setting keeps its own three). Runs are counted in
    steps, so ``n`` and ``epochs`` are refused."""
    if n is not None or epochs is not None:
        raise ValueError("--n and --epochs do not apply to bert-nontext: its runs are counted in steps (--steps).")

    def sized(chosen: TokenSettings, **more: Any) -> TokenSettings:
        given = {"steps": steps, "eval_every": min(chosen.eval_every, steps)} if steps is not None else {}
        if steps is not None and steps < 1:
            given["eval_every"] = chosen.eval_every  # check() says what is wrong
        chosen = replace(chosen, device=device, **given, **more)
        chosen.check()
        return chosen

    paper = sized(runs.PRESETS["full"])
    lab = sized(runs.PRESETS["laptop"], seeds=tuple(seeds or SEEDS), **({"encoder": encoder} if encoder else {}))
    settings = {"paper": to_record(paper, omit=("device",)), "lab": to_record(lab, omit=("device",))}
    rows = [
        Row("paper", f"{PAPER}: pretrained", "held-out accuracy", None, "not found", note=SOURCE),
        Row("paper", f"{PAPER}: randomly initialised", "held-out accuracy", None, "not found", note=SOURCE),
    ]
    paper_title = f"the paper's setting, as the lab reads its code ({_describe(paper)})"
    comparisons = [("lab preset", f"the lab's laptop comparison ({_describe(lab)})", lab, "laptop", DATA)]
    if online:
        comparisons.insert(0, ("paper preset", paper_title, paper, "full", DATA))
    else:
        rows.append(
            Row(
                "paper preset",
                paper_title,
                "held-out accuracy",
                None,
                "not run offline",
                _command(paper, "full"),
                note=f"{paper.encoder} is a download (Hugging Face hub), and {len(paper.variants)} encoders x "
                f"{len(paper.seeds)} seeds x {paper.steps:,} steps of batch {paper.batch_size} are a GPU's work: run "
                "with --online on a GPU; " + DATA,
            )
        )
    for kind, title, chosen, preset, note in comparisons:
        started = time.time()
        before = {
            r.id: r.config.get("provenance", {}).get("created", "")
            for r in runs.list_runs(chosen.comparison_id)
            if r.config.get("status") == "finished"
        }
        try:
            found = runs.run_comparison(chosen, callback, progress("loading the task"))
        except USER_ERRORS as error:
            if kind != "paper preset":
                raise
            rows.append(
                Row(
                    kind,
                    title,
                    "held-out accuracy",
                    None,
                    "could not run here",
                    _command(chosen, preset),
                    round(time.time() - started, 1),
                    machine(),
                    f"{error}; {note}",
                )
            )
            continue
        seconds = time.time() - started
        notes = "; ".join(x for x in (_reused(found, before), note) if x)
        rows += _comparison_rows(kind, title, chosen, preset, found, seconds, notes, where=chosen.task)
    text = sized(scrambled.LAPTOP, **({"encoder": encoder} if encoder else {}))
    settings["scrambled"] = to_record(text, omit=("device",))
    scrambled_rows, settings["scrambled_comparisons"] = _scrambled_rows(text, callback, progress)
    rows += scrambled_rows
    rows += _similarity_rows(lab, callback, progress)
    return rows, settings
