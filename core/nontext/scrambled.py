"""Kao & Lee's first experiment: fine-tune on text whose token meanings are mismatched, against the same text as it
is.

Their GLUE trainer (``GLUE/transformers/trainer.py``) sends every input id, [CLS], [SEP] and [PAD] included,
through a table before the model reads it, in training and in evaluation alike: with ``--random_shift`` a
permutation of the whole vocabulary (``random.seed(seed)`` in ``run_glue.py`` and again in the trainer, then
``random.shuffle(list(range(vocab_size)))``; ``id -> table[id]``), else ``(id + shift) mod vocab_size`` (shift 0:
the text as it is). The attention mask is the tokenizer's, so padding stays masked; the tables are bijections, so
masking the mapped [PAD] id (as the lab's classifier does) masks the same positions. Encoders: pretrained,
``--scratch`` (randomly initialised) and ``--rand_embed`` (pretrained body, word embeddings re-initialised), each
fine-tuned with ``BertForSequenceClassification``.

Here a *scramble* (:data:`SCRAMBLES`) is a token mapping of :mod:`core.nontext.tokens` on a text task
(:mod:`core.nontext.text`): ``permute`` (the ``permute`` table, the paper's own for a seed), ``shift``
(``shift-all``, ``(id + c) mod V``) and ``none`` (``wordpiece``: the ids as the tokenizer gave them, the reference).
Each scramble is an ordinary comparison of :mod:`core.nontext.runs` (its runs, resume and evidence unchanged), and
:func:`evidence` pairs each encoder's runs on scrambled text with the same encoder's on the reference, on the same
test examples and seeds (:func:`core.evidence.compare_paired`). The randomly initialised encoder is the control:
its word embeddings are drawn at random, so a permutation of the ids can only move its score by chance.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from core.nontext import models, runs, text
from core.nontext.runs import TokenSettings
from core.store import Artifact, Callback

SCRAMBLES = ("permute", "shift")
"""The scrambles of the ids (the reference, ``none``, is the text as it is)."""
SCRAMBLE_TITLES = {
    "permute": "a seeded permutation of the whole vocabulary, special tokens included (the paper's random shift)",
    "shift": "(id + c) mod vocabulary on every id, special tokens included (the paper's shift c)",
    "none": "the ids as the tokenizer gives them (the unscrambled reference)",
}
_DEFAULTS = TokenSettings()
_ARMS: dict[str, dict[str, Any]] = {
    "permute": {"mapping": "permute", "keep_specials": False, "shift": _DEFAULTS.shift},
    "shift": {"mapping": "shift-all", "keep_specials": False, "mapping_seed": _DEFAULTS.mapping_seed},
    "none": {
        "mapping": "wordpiece",
        "keep_specials": True,
        "mapping_seed": _DEFAULTS.mapping_seed,
        "shift": _DEFAULTS.shift,
    },
}
"""The token mapping of each scramble; the settings a scramble does not read are at their defaults, so the same
scramble is the same comparison whatever they were."""

LAPTOP = TokenSettings(
    task="rotten_tomatoes",
    texts=3000,
    max_length=128,
    shares=(0.7, 0.1, 0.2),
    encoder="all-MiniLM-L6-v2",
    variants=("pretrained", "random"),
    seeds=(0,),
    steps=300,
    eval_every=50,
    batch_size=32,
    lr=1e-4,
    optimizer="adamw",
    schedule="constant",
    mapping="permute",
    mapping_seed=None,
    keep_specials=False,
)
"""The lab's choices for two CPU cores: 3,000 Rotten Tomatoes snippets (2,100 to train, 300 to validate, 600 to
test), all-MiniLM-L6-v2 pretrained against randomly initialised, one seed, 300 steps of batch 32 (about 4.6 passes
over the training texts), AdamW 1e-4 constant, the lab's head, at most 128 positions; the permutation of each run's
seed, as the paper's. Four runs in all (two encoders, scrambled and not); their time on two CPU cores is not
measured yet."""
FULL = TokenSettings(
    task="sst2",
    texts=None,
    max_length=128,
    encoder="bert-base-uncased",
    variants=models.VARIANTS,
    seeds=(100, 101, 102),
    steps=6315,
    eval_every=421,
    batch_size=32,
    lr=1e-5,
    optimizer="adam",
    schedule="linear",
    head="paper",
    mapping="permute",
    mapping_seed=None,
    keep_specials=False,
)
"""The paper's GLUE setting (``run_hf_glue.sh``) for a GPU: SST-2 from the hub (online), bert-base-uncased, the
three encoders, seeds 100, 101 and 102 with the table of each run's seed (the paper's own tables), at most 128
positions, batch 32, Adam 1e-5 with linear decay to 0 and no warm-up (the trainer's AdamW with its default weight
decay 0 is Adam), no gradient clipping to speak of (``max_grad_norm`` 1e6; the lab's trainer clips none),
6,315 steps: 3 epochs of 2,105 batches over SST-2's 67,349 training sentences, BertForSequenceClassification's head;
scored on GLUE's dev split.

What still differs: the batches of each evaluation round (421 steps) come from a fresh permutation of the training
rows grouped by length, not epoch by epoch; the tokenizer is today's, not transformers 3.1's; the paper's run script
ran one task at a time (STS-B in the version published) and took the shift c from its command line, and no table
of its results is in a readable copy here."""
PRESETS = {"laptop": LAPTOP, "full": FULL}


def arm(settings: TokenSettings, scramble: str) -> TokenSettings:
    """The settings of one arm: ``settings`` with the token mapping of ``scramble`` (:data:`SCRAMBLES`, or ``none``
    for the reference).

    Raises:
        ValueError: an unknown scramble, or a task that is not text.
    """
    if scramble not in _ARMS:
        raise ValueError(f"scramble must be one of {SCRAMBLES} (or none, the reference), got {scramble!r}.")
    if settings.task not in text.TEXT_TASKS:
        raise ValueError(
            f"scrambled token ids are a text experiment; choose a text task ({', '.join(text.TEXT_TASKS)}), "
            f"not {settings.task!r}."
        )
    return replace(settings, **_ARMS[scramble])


def scramble_of(settings: TokenSettings) -> str | None:
    """Which scramble a text comparison's settings are (None: another mapping, or not a text task)."""
    if settings.task not in text.TEXT_TASKS:
        return None
    return next((name for name in _ARMS if arm(settings, name) == settings), None)


def run(
    settings: TokenSettings,
    scramble: str = "permute",
    callback: Callback | None = None,
    progress: Callback | None = None,
) -> dict[str, list[Artifact]]:
    """Both arms: the reference (the text as it is), then the text scrambled by ``scramble``, each an ordinary
    comparison (finished runs are loaded, a stopped one resumes). ``callback(step, steps, metrics)`` follows the
    running run; ``metrics["run"]`` names its arm, encoder and seed."""
    if scramble not in SCRAMBLES:
        raise ValueError(f"scramble must be one of {SCRAMBLES}, got {scramble!r}.")
    found: dict[str, list[Artifact]] = {}
    for side, name in (("reference", "none"), ("scrambled", scramble)):
        chosen = arm(settings, name)
        chosen.check()

        def relay(step: int, steps: int, metrics: dict, name: str = name) -> bool | None:
            label = "unscrambled" if name == "none" else name
            return callback(step, steps, {**metrics, "run": f"{label}: {metrics['run']}"}) if callback else None

        found[side] = runs.run_comparison(chosen, relay, progress)
    return found


def pairs() -> list[dict[str, Any]]:
    """Every scrambled text comparison in the store whose reference is there too, newest first: ``scrambled`` and
    ``reference`` (comparison ids), ``scramble`` and ``label``."""
    grouped = runs.comparisons()
    found = []
    for key, chosen in grouped.items():
        settings = runs.settings_of(chosen[0])
        scramble = scramble_of(settings)
        if scramble in (None, "none"):
            continue
        reference = arm(settings, "none").comparison_id
        if reference in grouped:
            found.append(
                {
                    "scrambled": key,
                    "reference": reference,
                    "scramble": scramble,
                    "label": f"{scramble} · {runs.comparison_label(chosen)}",
                }
            )
    return found


def _finished(found: list[Artifact]) -> dict[tuple[str, int], Artifact]:
    return {(r.config["variant"], r.config["seed"]): r for r in found if r.config.get("status") == "finished"}


def _test_rows(run: Artifact) -> np.ndarray | None:
    path = run.file("test_rows.npy")
    return np.load(path, allow_pickle=False) if path.is_file() else None


def evidence(reference: list[Artifact], scrambled: list[Artifact]) -> dict[str, Any]:
    """Each encoder on scrambled text against the same encoder on the reference, paired on the same test examples
    and the seeds both ran (paired bootstrap interval and exact McNemar test of unscrambled − scrambled accuracy,
    :func:`core.evidence.compare_paired`), and within each arm the lab's comparison of the encoders
    (:func:`core.nontext.runs.comparison_evidence`: pretrained against the others)."""
    from core import evidence as stats

    ref, scr = _finished(reference), _finished(scrambled)
    scramble = scramble_of(runs.settings_of(scrambled[0])) if scrambled else None
    comparisons = []
    for variant in models.VARIANTS:
        seeds = sorted(s for v, s in ref if v == variant and (v, s) in scr)
        if not seeds:
            continue
        what = f"{models.VARIANT_TITLES[variant]}: unscrambled − {scramble or 'scrambled'}"
        entry: dict[str, Any] = {"variant": variant, "seeds": seeds, "claim": "greater"}
        entry["unscrambled"] = float(np.mean([ref[variant, s].config["test"]["accuracy"] for s in seeds]))
        entry["scrambled"] = float(np.mean([scr[variant, s].config["test"]["accuracy"] for s in seeds]))
        entry["majority_rate"] = ref[variant, seeds[0]].config["test"]["majority_rate"]
        stored = [(runs.per_example(ref[variant, s]), runs.per_example(scr[variant, s])) for s in seeds]
        same_rows = all(np.array_equal(_test_rows(ref[variant, s]), _test_rows(scr[variant, s])) for s in seeds)
        if any(a is None or b is None for a, b in stored):
            entry.update(note=runs.NO_PER_EXAMPLE, sentence=f"{what}: {runs.NO_PER_EXAMPLE}.")
        elif not same_rows:
            entry.update(note="different test rows", sentence=f"{what}: the arms were tested on different rows.")
        else:
            a = np.stack([x["correct"] for x, _ in stored])
            b = np.stack([y["correct"] for _, y in stored])
            entry.update(stats.compare_paired(a, b, claim="greater", what=what).to_record())
        comparisons.append(entry)
    return {
        "scramble": scramble,
        "comparisons": comparisons,
        "sentences": [c["sentence"] for c in comparisons],
        "within": {
            "unscrambled": runs.comparison_evidence(reference)["sentences"],
            "scrambled": runs.comparison_evidence(scrambled)["sentences"],
        },
    }


def table(found: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per encoder of :func:`evidence`: its test accuracy on the reference and on scrambled text (mean over
    the paired seeds), the paired difference with its interval, the McNemar p-value and the verdict, and the
    majority class to read them by."""
    rows = []
    for c in found["comparisons"]:
        difference = c.get("difference")
        rows.append(
            {
                "encoder": models.VARIANT_TITLES[c["variant"]],
                "seeds": len(c["seeds"]),
                "unscrambled test accuracy": c["unscrambled"],
                "scrambled test accuracy": c["scrambled"],
                "unscrambled − scrambled (points)": round(100 * difference["estimate"], 1) if difference else None,
                "95% interval (points)": (
                    f"[{100 * difference['low']:+.1f}, {100 * difference['high']:+.1f}]" if difference else c["note"]
                ),
                "McNemar p": c.get("p_value"),
                "verdict": c.get("verdict", c.get("note")),
                "majority class": c["majority_rate"],
            }
        )
    return rows


def preview(task: Any, mapping: Any, tokenizer: Any, row: int = 0, limit: int = 24) -> list[dict[str, Any]]:
    """One text as the model reads it: each wordpiece ([CLS] and [SEP] too), its id, the id read after the
    scramble, and the wordpiece whose pretrained embedding that id is (what a pretrained encoder now sees)."""
    from core.nontext import tokens

    ids = tokens.encode_all([task.sequences[row]], mapping, 10**6)[0].tolist()
    specials = mapping.vocabulary_specials
    original = [specials["[CLS]"], *map(int, task.sequences[row]), specials["[SEP]"]]
    shown = list(zip(original, ids, strict=True))
    shown = shown[: limit - 1] + shown[-1:] if len(shown) > limit else shown
    return [
        {
            "wordpiece": tokenizer.convert_ids_to_tokens(a),
            "id": a,
            "id read": b,
            "reads as": tokenizer.convert_ids_to_tokens(b),
        }
        for a, b in shown
    ]
