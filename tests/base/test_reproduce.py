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
    from core.text_to_image import reproduce

    monkeypatch.setattr(reproduce, "SEEDS", 2)  # two seeds of the sweep: the default path at a test's cost


def test_text_to_image_reproduction_rows_say_what_they_are(fresh_home, small_presets, capsys):
    import numpy as np

    from core import evidence, reproduce, store
    from core.cli import main
    from core.text_to_image import results, seeds, training

    assert reproduce.latest("text-to-image") is None
    assert main(["reproduce", "text-to-image", "--n", "80", "--epochs", "1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    record = reproduce.latest("text-to-image")
    assert printed["rows"] == reproduce.table_rows(record) and record["variant"] == "offline"
    kinds = [row["kind"] for row in record["rows"]]
    assert kinds == [
        "paper",
        "paper preset",
        "baseline",
        "baseline",
        "lab preset",
        "control",
        "baseline",
        "baseline",
        "lab preset",
        "lab preset",
        "baseline",
        "baseline",
        "lab preset",
        "lab preset",
        "lab preset",
        "lab preset",
    ]
    paper_figure, paper_preset = record["rows"][0], record["rows"][1]
    assert paper_figure["value"] is None and paper_figure["shown"] == "not found"
    assert paper_preset["command"] == "python -m core t2i-preset paper-offline --n 80 --epochs 1"
    assert "offline stand-ins" in paper_preset["note"] and "n 80" in paper_preset["note"]
    for row in record["rows"][1:8]:
        assert 0 <= row["value"] <= 1 and row["command"].startswith("python -m core ")
    timed = [record["rows"][1], record["rows"][4]]  # the paper preset's model and the lab's sweep
    assert all(row["seconds"] > 0 and "CPU cores" in row["machine"] for row in timed)

    # the paper preset: one model, its interval a bootstrap over the held-out texts; its baseline and majority class
    model_row, lr_row, majority_row = record["rows"][1:4]
    dataset = store.load("datasets", majority_row["command"].split()[-1])
    assert lr_row["command"] == f"python -m core t2i-baseline --dataset {dataset.id}"
    held_out = results.held_out_labels(dataset)
    assert len(held_out) == 16
    assert majority_row["value"] == pytest.approx(np.bincount(held_out).max() / len(held_out))
    [pretrained] = [m for m in results.list_models(dataset) if m.config["classifier"]["pretrained"]]
    [baseline] = [b for b in store.list_artifacts(training.BASELINES) if b.config["dataset"] == dataset.id]
    for row, artifact in ((model_row, pretrained), (lr_row, baseline)):
        correct = seeds.correct(dataset, artifact)
        assert row["value"] == artifact.config["metrics"]["accuracy"] == pytest.approx(correct.mean())
        interval = evidence.interval_over_examples(correct)
        assert row["shown"] == f"{interval.estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}]"

    # the lab preset: a seed sweep; each row the mean over its seeds, the claims paired on the same texts and seeds
    imagenet, random_init, logistic, majority, claim, against_logistic = record["rows"][4:10]
    dataset = store.load("datasets", majority["command"].split()[-1])
    trained = {
        (m.config["classifier"]["pretrained"], m.config["training"]["seed"]): m for m in results.list_models(dataset)
    }
    first = training.DEFAULTS.seed  # the workshop model's: it is the sweep's first seed, trained once
    chosen = [first, first + 1]
    assert set(trained) == {(p, s) for p in (True, False) for s in chosen}
    for row, pretrained_slice in ((imagenet, True), (random_init, False)):
        accuracies = [trained[(pretrained_slice, s)].config["metrics"]["accuracy"] for s in chosen]
        assert row["value"] == pytest.approx(np.mean(accuracies))
        assert row["evidence"]["seeds"] == chosen and f"seeds {first}, {first + 1}" in row["note"]
        assert row["evidence"]["interval"]["method"].startswith("t over seeds")
    listed = " ".join(map(str, chosen))
    assert random_init["command"] == f"python -m core t2i-seeds --dataset {dataset.id} --seeds {listed} --epochs 1"
    correct = {k: seeds.correct(dataset, m) for k, m in trained.items()}
    expected = evidence.compare_paired(
        np.stack([correct[(True, s)] for s in chosen]), np.stack([correct[(False, s)] for s in chosen])
    )
    assert claim["what"] == "the claim: ImageNet slice − random-init slice, paired"
    assert claim["value"] == pytest.approx(expected.difference.estimate)
    assert claim["evidence"]["verdict"] == expected.verdict and expected.verdict in claim["shown"]
    assert f"{100 * expected.detectable:.1f} points" in claim["note"]
    assert "logistic regression" in against_logistic["what"] and against_logistic["evidence"]["seeds"] == chosen
    assert logistic["evidence"]["note"].startswith("one fit")
    # where the route loses the sentence: the stored decomposition of the sweep's models, step by step
    from core.text_to_image import decomposition

    pixels, sliced, layout, *costs = record["rows"][10:]
    [model] = [m for k, m in trained.items() if k == (True, first)]
    decomposed = decomposition.stored(dataset, model).config
    assert decomposed["cnn"] == [trained[(True, s)].id for s in chosen]
    assert pixels["value"] == decomposed["steps"]["pixels"]["accuracy"]
    assert sliced["value"] == decomposed["steps"]["slice"]["accuracy"] and "frozen ImageNet slice" in sliced["what"]
    assert layout["value"] == decomposed["layout"]["shared_share"]
    assert [c["evidence"]["after"] for c in costs] == ["pixels", "slice", "cnn"]
    assert [c["value"] for c in costs] == [c["difference"]["estimate"] for c in decomposed["comparisons"][:3]]
    assert costs[0]["command"].endswith(f"--decompose --model {model.id}")
    assert reproduce.verdicts(record) == [
        claim["evidence"]["sentence"],
        against_logistic["evidence"]["sentence"],
        *[c["sentence"] for c in decomposed["comparisons"][:3]],
    ]
    markdown = reproduce.markdown(record)
    assert markdown.count("\n| ") == len(record["rows"]) + 1 and "the paper's settings, run here" in markdown
    assert main(["reproductions", "text-to-image", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown


def test_images_to_words_reproduction_has_every_control_and_says_why_the_paper_setting_did_not_run(fresh_home):
    import numpy as np

    from core import evidence, reproduce
    from core.images_to_words import loo

    record = reproduce.run("images-to-words", n=12, epochs=1, seeds=(0, 1))
    rows = record["rows"]
    assert [r["shown"] for r in rows if r["kind"] == "paper"][0] == "-31.0 %"
    [not_run] = [r for r in rows if r["kind"] == "paper preset"]
    assert not_run["value"] is None and "--online" in not_run["note"] and "cifar100" in not_run["command"]
    controls = " / ".join(r["what"] for r in rows if r["kind"] == "control")
    assert "constant predictor" in controls and "shuffled words" in controls
    [oracle] = [r for r in rows if "nearest trained word" in r["what"]]
    assert oracle["kind"] == "baseline" and "an oracle reference" in oracle["what"]
    lab = [r for r in rows if r["kind"] == "lab preset"]
    command = "python -m core loo-run --laptop --per-class 12 --epochs 1 --shuffled-control"
    assert lab[0]["command"] == command + " --seed S (S = 0, 1)"
    assert lab[0]["seconds"] > 0 and record["settings"]["seeds"] == [0, 1]
    # two whole studies, one per seed; the figure is the mean of their medians, the claim the seed-averaged gains
    studies = [s for s in loo.list_studies() if s.config["training"]["epochs"] == 1]
    assert sorted(s.config["training"]["seed"] for s in studies) == [0, 1]
    medians = [float(np.median([f["relative_change"] for f in s.folds.values()])) for s in studies]
    assert lab[0]["value"] == pytest.approx(np.mean(medians))
    assert lab[0]["evidence"]["method"].startswith("t over seeds") and lab[0]["evidence"]["n"] == 2
    by_seed = [{f["class"]: f["gain_over_shuffled"] for f in s.folds.values()} for s in studies]
    gains = [np.mean([b[c] for b in by_seed]) for c in by_seed[0]]
    [claim] = [r for r in rows if "shuffled words, paired by class" in r["what"]]
    expected = evidence.compare_folds(gains)
    assert claim["value"] == pytest.approx(expected.difference.estimate)
    assert claim["evidence"]["verdict"] == expected.verdict and expected.verdict in claim["shown"]
    assert claim["evidence"]["test"] == expected.test and f"of {len(gains)} classes gain" in claim["shown"]


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
        ("hybrid", "pages/hybrid/hybrid.py"),
    ):
        app = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
        assert not app.exception and any(f"python -m core reproduce {paper}" in i.value for i in app.info)
        said = {"verdict": "supported", "sentence": "Supported at 95%: A − B +5.0 points."}
        rows = [
            reproduce.Row("paper", "the poster", "median change", -0.31, "-31.0 %"),
            reproduce.Row("lab preset", "the claim", "difference", 0.05, "+5.0 points", evidence=said),
        ]
        reproduce.save(paper, "offline", rows, {}, 0.0)
        app = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
        assert not app.exception
        assert any(said["sentence"] in m.value for m in app.markdown)
        shown = [d.value for d in app.dataframe if "figure" in d.value.columns]
        assert shown and shown[0]["value"].tolist() == ["-31.0 %", "+5.0 points"]
        [button] = [b for b in app.get("download_button") if b.proto.id.endswith("-html")]
        assert button.proto.label == "Table and verdicts (HTML)" and button.proto.deferred_file_id
    page = reproduce.html(reproduce.latest("hybrid"))  # what the button gives: verdicts, then the table
    assert page.index(said["sentence"]) < page.index("<table") and "<td>+5.0 points</td>" in page
    assert "plotly.js v" not in page and "<th>row</th>\n      <th>value</th>" in page
