"""The evidence behind a non-text comparison: each run keeps its per-example test results (npy, no pickle),
the table and the CLI give intervals and paired verdicts from core.evidence, and runs stored before that say
so instead of failing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_bert


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert-evidence") / "model")


def _letters_csv(path: Path, n: int, values: bool = False) -> Path:
    """Two classes of letters (GT against AC), or a value to regress (the share of A)."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        if values:
            count = int(rng.integers(0, 11))
            letters = list("A" * count + "G" * (10 - count))
            rng.shuffle(letters)
            rows.append({"sequence": "".join(letters), "label": count / 10 + rng.normal(0, 0.02)})
        else:
            letters = rng.choice(list("AC") if i % 2 else list("GT"), size=12)
            rows.append({"sequence": "".join(letters), "label": "yes" if i % 2 else "no"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_comparison_keeps_per_example_results_and_reports_intervals_and_a_paired_verdict(
    tiny_encoder, tmp_path, monkeypatch, capsys
):
    from core import evidence
    from core.cli import main
    from core.nontext import models, runs

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    settings = runs.TokenSettings(
        task="csv",
        path=str(_letters_csv(tmp_path / "letters.csv", 120)),
        encoder=str(tiny_encoder),
        variants=("pretrained", "random"),
        steps=20,
        eval_every=10,
        batch_size=16,
        lr=3e-3,
        shares=(0.6, 0.1, 0.3),
    )
    found = runs.run_comparison(settings)
    by = {r.config["variant"]: r for r in found}
    correct = {v: np.load(r.file(runs.CORRECT_FILE), allow_pickle=False) for v, r in by.items()}
    for variant, run in by.items():
        assert correct[variant].shape == (run.config["split"]["test"],)
        assert correct[variant].mean() == pytest.approx(run.config["test"]["accuracy"])

    report = runs.comparison_evidence(found)
    for variant, record in report["variants"].items():
        interval = record["interval"]
        assert interval["method"] == "bootstrap over examples" and interval["n"] == len(correct[variant])
        assert interval["low"] <= record["estimate"] <= interval["high"]
        assert record["detectable"] == pytest.approx(
            evidence.detectable_difference(len(correct[variant]), 1, record["estimate"])
        )
    [paired] = report["comparisons"]
    expected = evidence.compare_paired(correct["pretrained"], correct["random"], claim="greater", what="x")
    assert (paired["a"], paired["b"], paired["seeds"]) == ("pretrained", "random", [0])
    assert paired["verdict"] == expected.verdict and paired["p_value"] == pytest.approx(expected.p_value)
    assert paired["difference"]["estimate"] == pytest.approx(expected.difference.estimate)
    assert paired["detectable"] == pytest.approx(expected.detectable)
    assert paired["sentence"].startswith(expected.sentence.split(":")[0])
    table = runs.results_table(found, 0.8, report)
    assert all(row["95% interval"].startswith("[") for row in table)

    assert main(["tokens-results", "--comparison", settings.comparison_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["verdicts"] == [paired["sentence"]]
    assert shown["evidence"]["comparisons"][0]["verdict"] == paired["verdict"]
    detectable = report["variants"]["pretrained"]["detectable"]
    assert shown["table"][0]["detectable difference (points)"] == round(100 * detectable, 1)

    # a run stored before per-example results were kept: said, not a crash; running again restores them
    old = by["random"]
    old.file(runs.CORRECT_FILE).unlink()
    old.file(runs.TRUTH_FILE).unlink()
    report = runs.comparison_evidence(runs.list_runs(settings.comparison_id))
    assert report["variants"]["random"]["interval"] is None
    assert report["variants"]["random"]["note"] == runs.NO_PER_EXAMPLE
    assert runs.NO_PER_EXAMPLE in report["comparisons"][0]["sentence"]
    table = runs.results_table(runs.list_runs(settings.comparison_id), 0.8)
    [row] = [r for r in table if r["variant"] == models.VARIANT_TITLES["random"]]
    assert row["95% interval"] == runs.NO_PER_EXAMPLE
    again = runs.run_comparison(settings)
    assert {r.id for r in again} == {r.id for r in found}
    restored = np.load(old.file(runs.CORRECT_FILE), allow_pickle=False)
    np.testing.assert_array_equal(restored, correct["random"])  # the same run again: the same answers


def test_a_regression_comparison_gives_spearman_intervals_and_their_paired_difference(
    tiny_encoder, tmp_path, monkeypatch
):
    from core.nontext import runs

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    settings = runs.TokenSettings(
        task="csv",
        path=str(_letters_csv(tmp_path / "values.csv", 120, values=True)),
        values=True,
        encoder=str(tiny_encoder),
        variants=("pretrained", "random"),
        steps=20,
        eval_every=10,
        batch_size=16,
        lr=3e-3,
        shares=(0.6, 0.1, 0.3),
    )
    found = runs.run_comparison(settings)
    report = runs.comparison_evidence(found)
    for record in report["variants"].values():
        assert record["metric"] == "spearman" and record["interval"]["low"] <= record["estimate"]
        assert record["estimate"] <= record["interval"]["high"]
    [paired] = report["comparisons"]
    rho = {r.config["variant"]: r.config["test"]["spearman"] for r in found}
    assert paired["difference"]["estimate"] == pytest.approx(rho["pretrained"] - rho["random"], abs=1e-6)
    assert paired["difference"]["low"] <= paired["difference"]["estimate"] <= paired["difference"]["high"]
    assert "paired bootstrap" in paired["sentence"]
