"""BERT on non-text tokens: loaders, token mappings, the three encoders, runs that learn, resume and refuse bad
input, and the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_bert

ROOT = Path(__file__).resolve().parents[2]
KNOWN = ["ACGTACGTAC", "TTTTGGGGCC", "GATTACAGAT"]  # three records written into a DNA.rda-shaped file


def dna_indicators(sequence: str) -> list[int]:
    code = {"A": (1, 0, 0), "C": (0, 1, 0), "G": (0, 0, 1), "T": (0, 0, 0)}
    return [bit for base in sequence for bit in code[base]]


def test_the_splice_loader_decodes_a_file_written_like_mlbench(tmp_path):
    import rdata

    from core.nontext.tasks import decode_dna, load_splice

    columns = {f"V{i + 1}": pd.Categorical([str(r[i]) for r in map(dna_indicators, KNOWN)]) for i in range(30)}
    frame = pd.DataFrame({**columns, "Class": pd.Categorical(["ei", "n", "ie"])})
    path = tmp_path / "DNA.rda"
    rdata.write_rda(str(path), {"DNA": frame})
    task = load_splice(path)
    assert ["".join(s) for s in task.sequences] == KNOWN
    assert [task.label_names[i] for i in task.labels] == ["ei", "n", "ie"]
    with pytest.raises(ValueError, match="record 1 holds"):
        decode_dna(np.array([[1, 1, 0]]))


def test_the_real_splice_records_hold_the_junction_dinucleotides():
    """Decoded right, donor (EI) windows carry the intron's GT right after the junction and acceptor (IE)
    windows the intron's AG right before it; a wrong letter code breaks both."""
    from core.errors import ResourceUnavailable
    from core.nontext.tasks import load_splice

    try:
        task = load_splice()
    except ResourceUnavailable as missing:
        pytest.skip(str(missing))
    sequences = np.array(["".join(s) for s in task.sequences])
    names = np.array(task.label_names)[task.labels]
    assert len(sequences) == 3186 and {n: (names == n).sum() for n in ("ei", "ie", "n")} == {
        "ei": 767,
        "ie": 765,
        "n": 1654,
    }
    assert np.mean([s[30:32] == "GT" for s in sequences[names == "ei"]]) > 0.95
    assert np.mean([s[28:30] == "AG" for s in sequences[names == "ie"]]) > 0.95
    assert np.mean([s[30:32] == "GT" for s in sequences[names == "n"]]) < 0.2


def test_peptides_and_scores_load(tmp_path):
    from music21 import note, stream

    from core.nontext.tasks import load_amp, pitch_sequence, windows

    csv = tmp_path / "amp.csv"
    csv.write_text("3,1,UniProt,AMP\nGLWSK, 1\nMKTAY, 0\nKKLLK, 1\n")
    task = load_amp(csv)
    assert ["".join(s) for s in task.sequences] == ["GLWSK", "MKTAY", "KKLLK"] and task.labels.tolist() == [1, 0, 1]
    score = stream.Stream([note.Note(p, quarterLength=1) for p in ("C4", "E4", "G4", "C5", "B3")])
    path = score.write("musicxml", fp=str(tmp_path / "short.musicxml"))
    assert pitch_sequence(path) == [60, 64, 67, 72, 59]
    assert windows([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4]] and windows([1], 4) == []


def test_bad_csvs_get_a_message_naming_the_row(tmp_path):
    from core.nontext.tasks import TokenTask, check_task, load_csv
    from core.nontext.tokens import Vocabulary, build_mapping, encode_all

    empty = tmp_path / "empty.csv"
    empty.write_text("sequence,label\nACGT,a\n,b\n")
    with pytest.raises(ValueError, match="row 3 has an empty"):
        load_csv(empty)
    one = tmp_path / "one.csv"
    one.write_text("sequence,label\nACGT,a\nCCGT,a\n")
    with pytest.raises(ValueError, match="two classes"):
        load_csv(one)
    with pytest.raises(ValueError, match="no column sequence"):
        load_csv(one, sequence_column="sequence ")
    binary = tmp_path / "model.csv"
    binary.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xb7\xac\xce\x34")  # a zip under a .csv name
    with pytest.raises(ValueError, match=r"model.csv: the CSV is not valid UTF-8.*re-save the file as 'CSV UTF-8'"):
        load_csv(binary)
    long = TokenTask("long", [list("AC"), list("A" * 600)], np.array([0, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="row 2 has 600 symbols"):
        check_task(long, 510)
    vocabulary = Vocabulary(2000, 101, 102, 0, 100, {"A": 1037, "C": 1039})
    mapping = build_mapping(["A", "C"], vocabulary, "wordpiece")
    with pytest.raises(ValueError, match="row 2: unknown symbols 'X'"):
        encode_all([list("AC"), list("AXC")], mapping, 512)


def test_the_random_table_is_the_papers_kind_and_mappings_are_one_to_one_and_keep_specials():
    from core.nontext.tokens import RESERVED, Vocabulary, build_mapping, random_table

    table = random_table(3000, 100)
    assert sorted(table[: 3000 - RESERVED]) == list(range(RESERVED, 3000))
    assert table[3000 - RESERVED :].tolist() == list(range(RESERVED))
    assert table.tolist() == random_table(3000, 100).tolist() and table.tolist() != random_table(3000, 101).tolist()
    symbols = [str(p) for p in range(21, 109)]  # piano pitches
    vocabulary = Vocabulary(30522, 101, 102, 0, 100)
    for kind in ("random", "shift", "wordpiece"):
        mapping = build_mapping(symbols, vocabulary, kind, pitches=True)
        assert len(set(mapping.ids.values())) == len(symbols)  # one-to-one
        assert mapping.specials == {"[CLS]": 101, "[SEP]": 102, "[PAD]": 0}
        assert not set(mapping.ids.values()) & {0, 100, 101, 102, 103}
    random = build_mapping(symbols, vocabulary, "random", pitches=True)
    assert all(random.ids[s] == random_table(30522, 100)[int(s) + 128] for s in symbols)
    paper = build_mapping(symbols, vocabulary, "random", keep_specials=False, pitches=True)
    assert paper.specials["[CLS]"] == random_table(30522, 100)[101] != 101
    assert {r["symbol"]: (r["base id"], r["id read"]) for r in paper.preview()}["[CLS]"] == (
        101,
        paper.specials["[CLS]"],
    )
    shifted = build_mapping(["A"], Vocabulary(2000, 101, 102, 0, 100, {"A": 1990}), "shift", shift=20)
    assert shifted.ids["A"] == 1000 + (1990 - 1000 + 20) % 1000
    with pytest.raises(ValueError, match="special token"):
        build_mapping(["A"], Vocabulary(2000, 101, 102, 0, 100, {"A": 101}), "wordpiece")


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


def test_random_init_shares_no_weights_and_random_embeddings_only_replace_the_embeddings(tiny_encoder):
    from core.hub import load_text_model
    from core.nontext.models import build

    loaded = load_text_model(str(tiny_encoder))
    pretrained = dict(loaded.model.named_parameters())
    random = build(loaded.model, "random", 2, 0, seed=1)
    for name, weight in random.encoder.named_parameters():
        assert weight.data_ptr() != pretrained[name].data_ptr()
        assert not torch.equal(weight, pretrained[name]), name
    reembedded = build(loaded.model, "random-embeddings", 2, 0, seed=1)
    changed = [n for n, w in reembedded.encoder.named_parameters() if not torch.equal(w, pretrained[n])]
    assert changed == ["embeddings.word_embeddings.weight"]
    kept = build(loaded.model, "pretrained", 2, 0, seed=1)
    assert torch.equal(kept.head.weight, random.head.weight)  # one head per seed, whatever the variant
    assert all(torch.equal(w, pretrained[n]) for n, w in kept.encoder.named_parameters())


def test_the_compacted_embedding_gives_the_same_outputs_and_the_same_training(tiny_encoder):
    from core.hub import load_text_model
    from core.nontext.models import build

    loaded = load_text_model(str(tiny_encoder))
    used = [0, 101, 102, 1003, 1010, 1020]
    ids = torch.tensor([[101, 1003, 1010, 102, 0], [101, 1020, 1020, 1003, 102]])
    labels = torch.tensor([0, 1])
    full, small = (build(loaded.model, "pretrained", 2, 0, seed=3) for _ in range(2))
    small.compact(used)
    assert small.encoder.get_input_embeddings().num_embeddings == len(used)
    for model in (full, small):
        model.train()
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
        for step in range(3):
            torch.manual_seed(step)
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(ids), labels).backward()
            optimiser.step()
    full.eval(), small.eval()
    torch.testing.assert_close(full(ids), small(ids), rtol=1e-4, atol=1e-5)


def separable_csv(path: Path, n: int = 160) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        label = i % 2
        letters = rng.choice(list("AC") if label else list("GT"), size=12)
        rows.append({"sequence": "".join(letters), "label": "yes" if label else "no"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_tiny_model_learns_a_separable_token_task_and_a_stopped_run_resumes_to_the_same_result(
    tiny_encoder, tmp_path, monkeypatch
):
    from core.nontext import runs

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    settings = runs.TokenSettings(
        task="csv",
        path=str(separable_csv(tmp_path / "separable.csv")),
        encoder=str(tiny_encoder),
        variants=("random",),
        steps=60,
        eval_every=20,
        batch_size=16,
        lr=3e-3,
        shares=(0.7, 0.15, 0.15),
    )
    [whole] = runs.run_comparison(settings)
    assert whole.config["status"] == "finished" and [r["step"] for r in whole.config["history"]] == [20, 40, 60]
    assert whole.config["test"]["accuracy"] >= 0.9 and whole.config["history"][-1]["val_accuracy"] >= 0.9
    assert whole.config["test"]["majority_rate"] < 0.7 and whole.config["tokens_per_second"] > 0

    other = runs.TokenSettings(**{**settings.__dict__, "seeds": (5,)})
    from core.errors import Interrupted

    with pytest.raises(Interrupted, match="stopped during random, seed 5"):
        runs.run_comparison(other, callback=lambda step, steps, metrics: step >= 20)
    assert other.comparison_id == settings.comparison_id  # seeds and variants are runs of one comparison
    [stopped] = [r for r in runs.list_runs(other.comparison_id) if r.config["seed"] == 5]
    assert stopped.config["status"] == "stopped" and len(stopped.config["history"]) == 1
    from core import jobs

    assert any(record["seeds"] == [5] for _, record in jobs.list_pending(runs.RUNS))
    [resumed] = runs.run_comparison(other)
    assert resumed.id == stopped.id and resumed.config["status"] == "finished"
    assert not any(record["seeds"] == [5] for _, record in jobs.list_pending(runs.RUNS))
    fresh_home = tmp_path / "fresh"
    monkeypatch.setenv("CROSSMODAL_HOME", str(fresh_home))
    [uninterrupted] = runs.run_comparison(other)
    for a, b in zip(resumed.config["history"], uninterrupted.config["history"], strict=True):
        assert a["val_accuracy"] == pytest.approx(b["val_accuracy"]) and a["train_loss"] == pytest.approx(
            b["train_loss"], rel=1e-4
        )
    table = runs.results_table([uninterrupted], 0.8)
    assert table[0]["variant"] == "randomly initialised" and table[0]["reached in"] == "1 of 1 seeds"


def test_splits_keep_groups_together_and_refuse_empty_parts():
    from core.nontext.runs import split
    from core.nontext.tasks import TokenTask

    groups = np.repeat(np.arange(20), 5)
    task = TokenTask("t", [["A"]] * 100, np.repeat([0, 1], 50), ["a", "b"], groups)
    rows = split(task, (0.6, 0.2, 0.2), 0)
    sides = [set(groups[rows[name]]) for name in ("train", "validation", "test")]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert sum(len(r) for r in rows.values()) == 100
    with pytest.raises(ValueError, match="split is empty"):
        split(TokenTask("t", [["A"]] * 3, np.array([0, 1, 0]), ["a", "b"]), (0.9, 0.05, 0.05), 0)


def test_the_cli_lists_tasks_and_maps_tokens(capsys):
    import json

    from core.cli import main

    assert main(["tokens-tasks"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)]
    assert names == ["splice", "promoters", "amp", "composers"]
    assert (
        main(["tokens-compare", "--variants", "pretrained", "--seeds", "0", "--steps", "5", "--eval-every", "9"]) == 2
    )
    assert "eval_every <= steps" in capsys.readouterr().err


def test_the_page_shows_a_task_its_tokens_and_a_comparison(tiny_encoder, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.nontext import runs

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    settings = runs.TokenSettings(
        task="csv",
        path=str(separable_csv(tmp_path / "separable.csv", 60)),
        encoder=str(tiny_encoder),
        variants=("pretrained", "random"),
        seeds=(0, 1),
        steps=6,
        eval_every=3,
        batch_size=8,
        shares=(0.6, 0.2, 0.2),
    )
    runs.run_comparison(settings)
    app = AppTest.from_file(str(ROOT / "pages/nontext/bert_nontext.py"), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    task_view = app.dataframe[0].value
    assert {"symbol", "base id", "id read"} <= set(task_view.columns)
    assert app.selectbox(key="nt-chosen").value == settings.comparison_id
    [table] = [d.value for d in app.dataframe if "variant" in d.value.columns]
    assert table["variant"].tolist() == ["pretrained on English", "randomly initialised"]
    assert (table["seeds"] == 2).all()
    app.selectbox(key="nt-task").set_value("csv").run()
    assert not app.exception and any("Upload a CSV" in i.value for i in app.info)


def test_a_maestro_folder_loads_with_its_own_split(tmp_path):
    import json

    from music21 import note, stream

    from core.nontext.runs import split
    from core.nontext.tasks import load_maestro

    index = []
    for number, (composer, part) in enumerate(
        [("Chopin", "train"), ("Liszt", "train"), ("Chopin", "validation"), ("Liszt", "test")]
    ):
        pitches = [60 + number + i for i in range(9)]
        score = stream.Score([stream.Part([note.Note(p, quarterLength=1) for p in pitches])])
        name = f"piece{number}.mid"
        score.write("midi", fp=str(tmp_path / name))
        index.append({"canonical_composer": composer, "split": part, "midi_filename": name})
    (tmp_path / "maestro-v1.0.0.json").write_text(json.dumps(index))
    task = load_maestro(tmp_path, window=4)
    assert task.label_names == ["Chopin", "Liszt"] and len(task.sequences) == 8  # two windows of 4 per piece
    assert task.sequences[0] == ["60", "61", "62", "63"]
    rows = split(task, (0.9, 0.05, 0.05), 100)
    assert {name: set(task.groups[r]) for name, r in rows.items()} == {
        "train": {"piece0.mid", "piece1.mid"},
        "validation": {"piece2.mid"},
        "test": {"piece3.mid"},
    }
    with pytest.raises(ValueError, match="no maestro"):
        load_maestro(tmp_path / "images")


def test_a_tiny_model_regresses_values_and_is_read_against_the_training_mean(tiny_encoder, tmp_path, monkeypatch):
    from core.nontext import runs
    from core.nontext.tasks import load_csv

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(200):
        count = int(rng.integers(0, 11))
        letters = list("A" * count + "G" * (10 - count))
        rng.shuffle(letters)
        rows.append({"sequence": "".join(letters), "label": count / 10 + rng.normal(0, 0.02)})
    path = tmp_path / "values.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    settings = runs.TokenSettings(
        task="csv",
        path=str(path),
        values=True,
        encoder=str(tiny_encoder),
        variants=("random",),
        steps=80,
        eval_every=40,
        batch_size=16,
        lr=3e-3,
        shares=(0.7, 0.15, 0.15),
    )
    [run] = runs.run_comparison(settings)
    test = run.config["test"]
    assert test["spearman"] > 0.8 and test["mse"] < test["mean_predictor_mse"]
    assert "val_spearman" in run.config["history"][-1]
    [row] = runs.results_table([run], 0.5)
    assert row["test Spearman"] == pytest.approx(test["spearman"]) and "MSE of the training mean" in row
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,label\nACGT,0.5\nCCGT,high\n")
    with pytest.raises(ValueError, match="row 3 has 'high', not a number"):
        load_csv(bad, values=True)


def test_the_page_runs_a_comparison_with_live_progress(tmp_path, monkeypatch):
    """One step of the packaged MiniLM on splice, run from the page's button."""
    from streamlit.testing.v1 import AppTest

    from core import jobs
    from core.errors import ResourceUnavailable
    from core.nontext import runs, tasks
    from core.settings import to_record

    try:
        tasks.data_file("DNA.rda")
    except ResourceUnavailable as missing:
        pytest.skip(str(missing))
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    app = AppTest.from_file(str(ROOT / "pages/nontext/bert_nontext.py"), default_timeout=300).run()
    assert any("No run yet" in i.value for i in app.info)
    pending = jobs.record_pending(runs.RUNS, to_record(runs.TokenSettings()))  # as a reload mid-run leaves it
    app.run()
    assert any(i.value.startswith("No finished run yet: a comparison is half done") for i in app.info)
    jobs.clear_pending(runs.RUNS, pending)
    app.multiselect(key="nt-var-laptop").set_value(["pretrained"])
    app.number_input(key="nt-steps-laptop").set_value(1)
    app.number_input(key="nt-every-laptop").set_value(1)
    app.button(key="nt-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    [comparison] = runs.comparisons().values()
    [run] = comparison
    assert run.config["status"] == "finished" and run.config["settings"]["steps"] == 1
    [table] = [d.value for d in app.dataframe if "variant" in d.value.columns]
    assert table["variant"].tolist() == ["pretrained on English"]
