"""The non-text tokens reproduction (``python -m core reproduce bert-nontext``): the paper's figures said to be
not found (with where that is written), the paper's setting listed as not run offline, and the lab's comparison
on the packaged splice junctions, each row the stored comparison's own figure and its evidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_bert

STEPS = 10
LATER_KINDS = [
    *["lab preset", "control", "baseline", "lab preset"],  # scrambled text: both encoders, majority, the claim
    *["lab preset", "control"],  # each encoder: unscrambled − permuted
    *["lab preset", "lab preset", "paper preset"],  # the similarity summary, and the domain model not run
]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert-reproduce") / "model")


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_reproduction_rows_are_the_stored_comparisons_own_figures_and_evidence(
    fresh_home, tiny_encoder, tmp_path, monkeypatch, capsys
):
    from dataclasses import replace

    from core import evidence, reproduce
    from core.cli import main
    from core.nontext import reproduce as reproduce_nontext
    from core.nontext import runs
    from core.settings import from_record

    assert reproduce.latest("bert-nontext") is None
    record = reproduce.run("bert-nontext", steps=STEPS, encoder=str(tiny_encoder), seeds=(0, 1))
    assert record["variant"] == "offline" and record["title"] == reproduce.PAPERS["bert-nontext"][1]
    rows = record["rows"]
    kinds = [r["kind"] for r in rows]
    assert kinds == [
        "paper",
        "paper",
        "paper preset",
        "lab preset",
        "control",
        "baseline",
        "lab preset",
        *LATER_KINDS,
    ]

    # the paper's figures: none found, and the row says where that is written
    for row in rows[:2]:
        assert row["value"] is None and row["shown"] == "not found"
        assert "shared/METHODS.md §4" in row["note"] and "not found in a readable copy" in row["note"]
    not_run = rows[2]
    assert not_run["value"] is None and not_run["shown"] == "not run offline"
    assert (
        not_run["command"].startswith("python -m core tokens-compare --preset full") and "--online" in not_run["note"]
    )

    # the lab's comparison, recomputed from its stored runs
    lab = from_record(runs.TokenSettings, record["settings"]["lab"])
    assert lab.steps == STEPS and lab.encoder == str(tiny_encoder) and lab.task == "splice" and lab.seeds == (0, 1)
    stored = runs.list_runs(lab.comparison_id)
    assert sorted((r.config["variant"], r.config["seed"]) for r in stored) == [
        ("pretrained", 0),
        ("pretrained", 1),
        ("random", 0),
        ("random", 1),
    ]
    by = {(r.config["variant"], r.config["seed"]): r for r in stored}
    correct = {
        v: np.stack([np.load(by[(v, s)].file(runs.CORRECT_FILE), allow_pickle=False) for s in (0, 1)])
        for v in ("pretrained", "random")
    }
    pretrained, random_init, majority, claim = rows[3:7]
    expected_command = f"python -m core tokens-compare --preset laptop --encoder {tiny_encoder} --steps {STEPS}"
    assert pretrained["command"] == random_init["command"] == claim["command"]
    assert pretrained["command"].startswith(expected_command) and pretrained["command"].endswith(" --seeds 0 1")
    for row, variant in ((pretrained, "pretrained"), (random_init, "random")):
        accuracies = [by[(variant, s)].config["test"]["accuracy"] for s in (0, 1)]
        assert row["value"] == pytest.approx(np.mean(accuracies)) == pytest.approx(correct[variant].mean())
        interval = evidence.interval_over_seeds(accuracies, bounds=(0.0, 1.0))
        assert row["evidence"]["interval"]["low"] == pytest.approx(interval.low)
        assert row["evidence"]["interval"]["high"] == pytest.approx(interval.high)
        assert row["shown"] == f"{row['value']:.3f} [{interval.low:.3f}, {interval.high:.3f}]"
        seconds = sum(by[(variant, s)].config["seconds"] for s in (0, 1))
        assert row["seconds"] == round(seconds, 1) and "CPU cores" in row["machine"]
        detectable = evidence.detectable_difference(correct[variant].shape[1], 2, row["value"])
        assert f"{100 * detectable:.1f} points" in row["note"] and "seeds 0, 1" in row["note"]
    truth = np.load(by[("pretrained", 0)].file(runs.TRUTH_FILE), allow_pickle=False)
    assert majority["value"] == pytest.approx(np.bincount(truth).max() / len(truth))
    assert majority["command"] == f"python -m core tokens-results --comparison {lab.comparison_id}"

    # the claim: pretrained − random init, as core.evidence gives it for the stored per-example results
    paired = evidence.compare_paired(correct["pretrained"], correct["random"], claim="greater", what="x")
    assert claim["value"] == pytest.approx(paired.difference.estimate)
    assert claim["value"] == pytest.approx(pretrained["value"] - random_init["value"])
    found = claim["evidence"]
    assert found["verdict"] == paired.verdict and found["test"] == paired.test
    assert found["p_value"] == pytest.approx(paired.p_value)
    assert (found["difference"]["low"], found["difference"]["high"]) == pytest.approx(
        (paired.difference.low, paired.difference.high)
    )
    assert found["detectable"] == pytest.approx(paired.detectable)
    low, high = 100 * paired.difference.low, 100 * paired.difference.high
    assert claim["shown"].endswith(f"[{low:+.1f}, {high:+.1f}]; {paired.verdict}")
    assert f"p = {paired.p_value:.3g}" in claim["note"] and paired.test in claim["note"]
    assert "DNA.rda" in pretrained["note"]  # the packaged data is named as not the paper's file
    assert "(splice)" in claim["evidence"]["sentence"] and claim["what"].startswith("the claim on splice:")

    # scrambled text: the lab's text comparison, scrambled and not, each encoder paired with itself
    from core.nontext import scrambled, similarity

    text = from_record(runs.TokenSettings, record["settings"]["scrambled"])
    assert text.task == "rotten_tomatoes" and text.encoder == str(tiny_encoder) and text.steps == STEPS
    ids = record["settings"]["scrambled_comparisons"]
    assert ids["scrambled"] == scrambled.arm(text, "permute").comparison_id
    assert ids["reference"] == scrambled.arm(text, "none").comparison_id
    text_rows, cross, similar = rows[7:11], rows[11:13], rows[13:]
    found = scrambled.evidence(runs.list_runs(ids["reference"]), runs.list_runs(ids["scrambled"]))
    assert "Rotten Tomatoes" in text_rows[0]["note"] and "scrambled text" in text_rows[0]["what"]
    assert text_rows[0]["command"].startswith(
        f"python -m core tokens-scrambled --preset laptop --encoder {tiny_encoder}"
    )
    assert "(scrambled text)" in text_rows[3]["evidence"]["sentence"]  # two claims of one pair: each names its task
    assert text_rows[3]["what"].startswith("the claim on scrambled text:")
    for row, entry in zip(cross, found["comparisons"], strict=True):
        assert row["value"] == pytest.approx(entry["difference"]["estimate"])
        assert row["evidence"]["verdict"] == entry["verdict"] and entry["sentence"] in row["note"]
        assert row["value"] == pytest.approx(entry["unscrambled"] - entry["scrambled"])
    assert [e["variant"] for e in found["comparisons"]] == ["pretrained", "random"]

    # the similarity summary: the stored runs' weights read again give the rows' figures
    seed = lab.seeds[0]
    assert all(by[(v, seed)].file(runs.WEIGHTS_FILE).is_file() for v in ("pretrained", "random"))
    for row, (a, b) in zip(similar[:2], reproduce_nontext.SIMILAR, strict=True):
        again = similarity.compare(similarity.SimilaritySettings(a=a, b=b, seed=seed), lab.comparison_id)
        same_layer = np.mean(np.diag(np.asarray(again["pwcca"])))
        assert row["value"] == pytest.approx(same_layer, abs=1e-6)
        assert f"unrelated: {again['reference']['pwcca']:.3f}" in row["shown"]
        assert f"--a {a} --b {b} --seed {seed}" in row["command"] and "attention heads matched" in row["note"]
    assert similar[2]["shown"] == "not run offline" and "--b domain" in similar[2]["command"]

    # a run stored without its weights (made before runs kept them) trains again when they are needed
    run = by[("pretrained", seed)]
    run.file(runs.WEIGHTS_FILE).unlink()
    assert runs.train_run(lab, "pretrained", seed).id == run.id and not run.file(runs.WEIGHTS_FILE).is_file()
    again = runs.train_run(lab, "pretrained", seed, weights=True)
    assert again.id == run.id and again.file(runs.WEIGHTS_FILE).is_file()
    assert again.config["test"]["accuracy"] == run.config["test"]["accuracy"]

    # the latest record and its Markdown
    latest = reproduce.latest("bert-nontext")
    assert latest == json.loads(json.dumps(record))
    markdown = reproduce.markdown(latest)
    assert markdown.count("\n| ") == len(rows) + 1 and "not found" in markdown and paired.verdict in markdown
    assert main(["reproductions", "bert-nontext", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown

    # online: the paper's setting is named and, where it cannot run here, says why; the lab's runs are reused
    missing = str(tmp_path / "no-such-model")
    monkeypatch.setitem(runs.PRESETS, "full", replace(runs.PRESETS["full"], encoder=missing))
    online = reproduce.run("bert-nontext", online=True, steps=STEPS, encoder=str(tiny_encoder), seeds=(0, 1))
    assert online["variant"] == "online" and [r["kind"] for r in online["rows"]] == kinds
    paper_preset = online["rows"][2]
    assert paper_preset["value"] is None and paper_preset["shown"] == "could not run here"
    assert missing in paper_preset["note"] and missing in paper_preset["what"]
    assert paper_preset["command"].startswith(f"python -m core tokens-compare --preset full --steps {STEPS}")
    for again, before in zip(online["rows"][3:], rows[3:], strict=True):  # reused runs, the same figures
        assert again["value"] == (None if before["value"] is None else pytest.approx(before["value"], abs=1e-9))
    assert "reused: 4 of 4 runs" in online["rows"][3]["note"] and "reused" not in pretrained["note"]
    assert reproduce.latest("bert-nontext")["variant"] == "online"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reproduce", "bert-nontext", "--n", "80"], "--n and --epochs do not apply to bert-nontext"),
        (["reproduce", "bert-nontext", "--epochs", "1"], "--n and --epochs do not apply to bert-nontext"),
        (["reproduce", "bert-nontext", "--steps", "0"], "steps (0)"),
        (["reproduce", "bert-nontext", "--no-shuffled"], "images-to-words only"),
        (["reproduce", "text-to-image", "--steps", "5"], "--steps applies to bert-nontext only"),
    ],
)
def test_the_command_line_refuses_what_does_not_apply_in_one_line(fresh_home, capsys, argv, message):
    from core import reproduce
    from core.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert reproduce.latest("bert-nontext") is None and reproduce.latest("text-to-image") is None
