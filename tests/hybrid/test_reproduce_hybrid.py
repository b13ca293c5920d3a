"""The hybrid reproduction (``python -m core reproduce hybrid``): the paper's one figure with where it is written,
the paper's setting listed as not run offline, and the lab's search with every variant tuned on its own grid,
each row the stored search's own figure and its evidence over the refit seeds."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from test_hybrid_evidence import tiny_search


@pytest.fixture
def tiny_lab(tmp_path, monkeypatch):
    from core.hybrid import reproduce

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    settings = tiny_search(tmp_path)
    monkeypatch.setattr(reproduce, "LAPTOP", settings)
    return settings


def test_the_reproduction_rows_are_the_stored_searchs_own_figures_and_evidence(tiny_lab, capsys):
    from core import reproduce
    from core.cli import main
    from core.hybrid import search

    assert reproduce.latest("hybrid") is None
    assert main(["reproduce", "hybrid", "--seeds", "3", "4"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = reproduce.latest("hybrid")
    assert printed["rows"] == reproduce.table_rows(record) and record["title"] == reproduce.PAPERS["hybrid"][1]
    rows = record["rows"]
    kinds = [r["kind"] for r in rows]
    assert kinds == [
        "paper",
        "paper preset",
        "lab preset",
        *["control"] * 3,
        "baseline",
        "baseline",
        *["lab preset"] * 4,
    ]
    paper, not_run = rows[:2]
    assert paper["value"] == 0.128 and "points or relative" in paper["shown"] and "METHODS.md §3" in paper["note"]
    assert not_run["value"] is None and not_run["shown"] == "not run offline"
    assert not_run["command"] == "python -m core hybrid-search --preset full" and "--online" in not_run["note"]

    # the lab's search: its settings are the preset's with the seeds asked for; every row is the stored search's
    searched = replace(tiny_lab, seed=3, refits=2)
    [found] = search.list_searches()
    assert found.id == searched.search_id()
    ablation = found.config["ablation"]
    for row, stored in zip(rows[2:6], ablation, strict=True):
        assert row["value"] == stored["test_accuracy"]
        interval = stored["test_interval"]
        assert row["shown"] == f"{stored['test_accuracy']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"
        assert "refit seeds 3, 4" in row["note"] and row["evidence"]["detectable"] == stored["detectable"]
    assert rows[3]["what"] == search.row_title("random-text", True)
    assert rows[2]["command"].startswith("python -m core hybrid-search --preset laptop") and rows[2]["seconds"] > 0
    probe, majority = rows[6:8]
    assert probe["value"] == found.config["linear_probe"]["test_accuracy"]
    assert majority["value"] == found.config["references"]["majority"]
    for row, entry in zip(rows[8:11], found.config["comparisons"], strict=True):
        test = entry["test"]
        assert row["value"] == test["difference"]["estimate"] and test["verdict"] in row["shown"]
        other = next(r for r in ablation if r["title"] == entry["b"])
        relative = 100 * test["difference"]["estimate"] / other["test_accuracy"]
        assert f"({relative:+.1f} % relative)" in row["shown"]
        assert f"{100 * test['detectable']:.1f} points" in row["note"] and "2 seed(s)" in row["note"]
    assert "own grid" in found.config["comparisons"][0]["against"]
    # the hybrid against the converged linear probe on the same frozen features, paired on the same images and seeds
    import numpy as np

    from core import evidence, store

    against_probe = rows[11]
    assert "the linear probe" in against_probe["what"]
    hybrid = ablation[0]
    runs = np.stack([np.array(store.load(search.TRIALS, e["id"]).config["test_correct"]) for e in hybrid["refits"]])
    stored_probe = found.config["linear_probe"]
    expected = evidence.compare_paired(runs, np.tile(np.array(stored_probe["test_correct"]), (2, 1)))
    assert against_probe["value"] == pytest.approx(expected.difference.estimate)
    assert stored_probe["hybrid_against_probe"]["verdict"] == expected.verdict
    said = [c["test"]["sentence"] for c in found.config["comparisons"]] + [
        stored_probe["hybrid_against_probe"]["sentence"]
    ]
    assert reproduce.verdicts(record) == said and len(said) == 4
    markdown = reproduce.markdown(record)
    assert markdown.count("\n| ") == len(rows) + 1 and all(f"- {s}" in markdown for s in said)


def test_the_reproduction_refuses_what_does_not_apply(tiny_lab, capsys):
    from core import reproduce
    from core.cli import main

    assert main(["reproduce", "hybrid", "--seeds", "0", "2"]) == 2
    assert "run on from the search's seed, one by one" in capsys.readouterr().err
    assert main(["reproduce", "hybrid", "--device", "cpu"]) == 2
    assert "--device does not apply to hybrid" in capsys.readouterr().err
    assert main(["reproduce", "hybrid", "--steps", "3"]) == 2
    assert "--steps applies to bert-nontext only" in capsys.readouterr().err
    assert reproduce.latest("hybrid") is None
