"""One command per reproduction: a table of the paper's figure, its settings and the lab's, the baselines and the
controls, each row saying what it is, with its command, time and machine; the pages show the latest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """A store of this test's own (no reproduction in it yet)."""
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def small_presets(monkeypatch):
    """The text-as-image presets on a 16 px layout and SqueezeNet (a test's budget); everything else theirs."""
    from dataclasses import replace

    from core.text_to_image import presets

    for name in ("WORKSHOP", "PAPER_OFFLINE"):
        chosen = getattr(presets, name)
        small = replace(
            chosen, layout={**chosen.layout, "pixels": 16}, train=replace(chosen.train, backbone="squeezenet1_1")
        )
        monkeypatch.setattr(presets, name, small)


def test_text_to_image_reproduction_rows_say_what_they_are(fresh_home, small_presets, capsys):
    from core import reproduce
    from core.cli import main

    assert reproduce.latest("text-to-image") is None
    assert main(["reproduce", "text-to-image", "--n", "80", "--epochs", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = reproduce.latest("text-to-image")
    assert printed["rows"] == reproduce.table_rows(record) and record["variant"] == "offline"
    kinds = [row["kind"] for row in record["rows"]]
    assert kinds == ["paper", "paper preset", "baseline", "baseline", "lab preset", "baseline", "baseline", "control"]
    paper_figure, paper_preset = record["rows"][0], record["rows"][1]
    assert paper_figure["value"] is None and paper_figure["shown"] == "not found"
    assert paper_preset["command"] == "python -m core t2i-preset paper-offline --n 80 --epochs 1"
    assert "offline stand-ins" in paper_preset["note"] and "n 80" in paper_preset["note"]
    for row in record["rows"][1:]:
        assert 0 <= row["value"] <= 1 and row["command"].startswith("python -m core ")
    timed = [row for row in record["rows"] if row["kind"] in ("paper preset", "lab preset", "control")]
    assert all(row["seconds"] > 0 and "CPU cores" in row["machine"] for row in timed)
    # the rows are the artifacts' own figures: the lab's dataset holds the lab's model and the random-init control
    from core import store
    from core.text_to_image import results

    dataset = store.load("datasets", record["rows"][5]["command"].split()[-1])
    models = {
        m.config["classifier"]["pretrained"]: m.config["metrics"]["accuracy"] for m in results.list_models(dataset)
    }
    assert models == {True: record["rows"][4]["value"], False: record["rows"][7]["value"]}
    import numpy as np

    from core.text_to_image import training

    assert all(row["shown"] == f"{row['value']:.3f}" for row in record["rows"][1:])
    for first in (1, 4):  # each preset's model, its baseline and its majority class, from its own split
        model_row, lr_row, majority_row = record["rows"][first : first + 3]
        dataset = store.load("datasets", majority_row["command"].split()[-1])
        assert lr_row["command"] == f"python -m core t2i-baseline --dataset {dataset.id}"
        held_out = results.held_out_labels(dataset)
        assert len(held_out) == 16
        assert majority_row["value"] == pytest.approx(np.bincount(held_out).max() / len(held_out))
        [pretrained] = [m for m in results.list_models(dataset) if m.config["classifier"]["pretrained"]]
        [baseline] = [b for b in store.list_artifacts(training.BASELINES) if b.config["dataset"] == dataset.id]
        for row, artifact in ((model_row, pretrained), (lr_row, baseline)):
            predicted = np.load(artifact.file("test_probabilities.npy")).argmax(1)
            assert row["value"] == artifact.config["metrics"]["accuracy"]
            assert row["value"] == pytest.approx(float((predicted == held_out).mean()))
    markdown = reproduce.markdown(record)
    assert markdown.count("\n| ") == len(record["rows"]) + 1 and "the paper's settings, run here" in markdown
    assert main(["reproductions", "text-to-image", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown


def test_images_to_words_reproduction_has_every_control_and_says_why_the_paper_setting_did_not_run(fresh_home):
    from core import reproduce

    record = reproduce.run("images-to-words", n=12, epochs=1)
    rows = record["rows"]
    assert [r["shown"] for r in rows if r["kind"] == "paper"][0] == "-31.0 %"
    [not_run] = [r for r in rows if r["kind"] == "paper preset"]
    assert not_run["value"] is None and "--online" in not_run["note"] and "cifar100" in not_run["command"]
    controls = " / ".join(r["what"] for r in rows if r["kind"] == "control")
    assert "constant predictor" in controls and "nearest trained word" in controls and "shuffled words" in controls
    lab = [r for r in rows if r["kind"] == "lab preset"]
    assert lab[0]["command"] == "python -m core loo-run --laptop --per-class 12 --epochs 1 --shuffled-control"
    assert lab[0]["seconds"] > 0


def test_reproduce_refuses_bad_input_with_a_message(fresh_home, capsys):
    from core import reproduce
    from core.cli import main

    with pytest.raises(ValueError, match="unknown paper"):
        reproduce.run("nonsense")
    assert main(["reproduce", "text-to-image", "--no-shuffled"]) == 2
    assert "images-to-words only" in capsys.readouterr().err
    folder = reproduce.folder("text-to-image")
    folder.mkdir(parents=True)
    (folder / "20990101T000000-offline.json").write_text("{ not json")
    assert reproduce.latest("text-to-image") is None  # a damaged table is skipped, not a traceback


def test_the_pages_show_the_latest_reproduction(fresh_home):
    from streamlit.testing.v1 import AppTest

    from core import reproduce

    for paper, page in (
        ("text-to-image", "pages/text_to_image/results.py"),
        ("images-to-words", "pages/images_to_words/images_to_words.py"),
        ("bert-nontext", "pages/nontext/bert_nontext.py"),
    ):
        app = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
        assert not app.exception and any(f"python -m core reproduce {paper}" in i.value for i in app.info)
        rows = [reproduce.Row("paper", "the poster", "median change", -0.31, "-31.0 %")]
        reproduce.save(paper, "offline", rows, {}, 0.0)
        app = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
        assert not app.exception
        shown = [d.value for d in app.dataframe if "figure" in d.value.columns]
        assert shown and shown[0]["value"].tolist() == ["-31.0 %"]
