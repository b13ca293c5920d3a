"""Kao & Lee's details against the lab's: the split, the shift, the music windows, framing and vote, the splice
and PLUS files, the head; each the paper's way where the full preset asks for it, the lab's otherwise, and the
laptop preset's stored comparison ids unchanged."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_bert


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


# --------------------------------------------------------------------------- the split


@pytest.mark.parametrize("n", [3190, 3186, 101])
def test_the_paper_split_is_pythons_seeded_shuffle_cut_at_int_0_9_n_and_int_0_95_n(n):
    from core.nontext.runs import paper_split, split
    from core.nontext.tasks import TokenTask

    random.seed(100)  # by hand, as the paper's preprocess_splice.py and evaluate.py do
    records = list(range(n))
    random.shuffle(records)
    expected = {
        "train": sorted(records[: int(n * 0.9)]),
        "validation": sorted(records[int(n * 0.9) : int(n * 0.95)]),
        "test": sorted(records[int(n * 0.95) :]),
    }
    found = paper_split(n, (0.9, 0.05, 0.05), 100)
    assert {k: v.tolist() for k, v in found.items()} == expected
    task = TokenTask("t", [["A"]] * n, np.arange(n) % 2, ["a", "b"])
    assert {k: v.tolist() for k, v in split(task, (0.9, 0.05, 0.05), 100, "paper").items()} == expected
    lab = split(task, (0.9, 0.05, 0.05), 100)  # the lab's NumPy shuffle stays the default
    assert lab["test"].tolist() != expected["test"]
    if n == 3190:  # the paper's splice.txt: 2,871 / 159 / 160
        assert [len(v) for v in found.values()] == [2871, 159, 160]
    with pytest.raises(ValueError, match="split method must be one of"):
        split(task, (0.9, 0.05, 0.05), 100, "numpy")


def test_the_paper_split_reaches_every_reader_of_the_loaded_task(tmp_path):
    """Loaded under the paper's split, a task carries it, so readers that split it their own way (the
    similarity of a comparison's encoders) read the same rows."""
    from core.nontext import runs

    rows = [{"sequence": "ACGT"[i % 4] * 5, "label": "ab"[i % 2]} for i in range(60)]
    path = tmp_path / "t.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    settings = runs.TokenSettings(task="csv", path=str(path), split_method="paper", shares=(0.6, 0.2, 0.2))
    task = runs.load(settings)
    expected = runs.paper_split(60, (0.6, 0.2, 0.2), 100)
    for method in runs.SPLIT_METHODS:
        found = runs.split(task, settings.shares, settings.split_seed, method)
        assert all(found[k].tolist() == expected[k].tolist() for k in expected)
    groups = np.repeat(np.arange(10), 3)
    from core.nontext.tasks import TokenTask

    grouped = TokenTask("g", [["A"]] * 30, np.repeat([0, 1], 15), ["a", "b"], groups)
    sides = runs.split(grouped, (0.6, 0.2, 0.2), 100, "paper")
    order = list(range(10))
    random.Random(100).shuffle(order)
    assert sorted(set(groups[sides["test"]].tolist())) == sorted(order[8:])  # whole groups, shuffled as records


def test_the_laptop_comparisons_keep_their_ids_and_the_full_preset_is_the_papers():
    from core.nontext import runs, tokens

    laptop = runs.PRESETS["laptop"]
    ids = {
        None: "2a321b00a3be",
        "composers": "9b8a86fc904e",
        "maestro": "fbb0b335e81b",
        "csv": "aa32384a194b",
        "hilbert": "083f5ef5592f",
    }
    for task, expected in ids.items():
        chosen = laptop if task is None else replace(laptop, task=task, path=None if task == "composers" else "x")
        assert chosen.comparison_id == expected, task
    assert not {"split_method", "head", "music_notes", "music_frame", "vote"} & set(laptop.identity())
    full = runs.PRESETS["full"]
    assert (full.split_method, full.head, full.keep_specials) == ("paper", "paper", False)
    assert (full.music_notes, full.music_frame, full.vote, full.window) == ("paper", "paper", "majority", 128)
    assert {"split_method": "paper", "head": "paper"}.items() <= full.identity().items()
    assert "vote" not in full.identity()  # music settings only for music tasks
    music = replace(full, task="maestro", path="x").identity()
    assert music["music_notes"] == music["music_frame"] == "paper" and "split_method" not in music  # its own split
    mapping = tokens.build_mapping(["A"], tokens.Vocabulary(2000, 101, 102, 0, 100, {"A": 1037}))
    assert mapping.record() == {"kind": "random", "seed": 100, "shift": 1000, "keep_specials": True}
    for bad, message in (({"split_method": "x"}, "split_method"), ({"head": "x"}, "head"), ({"vote": "x"}, "vote")):
        with pytest.raises(ValueError, match=message):
            replace(laptop, **bad).check()


# --------------------------------------------------------------------------- the shift


def test_the_papers_shift_moves_every_id_modulo_the_vocabulary_and_the_labs_stays_above_1000():
    from core.nontext.tokens import Vocabulary, build_mapping

    vocabulary = Vocabulary(2000, 101, 102, 0, 100, {"A": 1990, "C": 1037})
    paper = build_mapping(["A", "C"], vocabulary, "shift-all", shift=20, keep_specials=False)
    assert paper.ids == {"A": 10, "C": 1057}  # (1990 + 20) mod 2000, (1037 + 20) mod 2000
    assert paper.specials == {"[CLS]": 121, "[SEP]": 122, "[PAD]": 20}
    assert paper.encode(["A", "C"], 10) == [121, 10, 1057, 122]
    kept = build_mapping(["A", "C"], vocabulary, "shift-all", shift=20)
    assert kept.ids == paper.ids and kept.specials == {"[CLS]": 101, "[SEP]": 102, "[PAD]": 0}
    lab = build_mapping(["A", "C"], vocabulary, "shift", shift=20)
    assert lab.ids == {"A": 1010, "C": 1057}  # 1000 + (990 + 20) mod 1000
    assert lab.specials == {"[CLS]": 101, "[SEP]": 102, "[PAD]": 0}
    with pytest.raises(ValueError, match="special token"):
        build_mapping(["A"], Vocabulary(2000, 101, 102, 0, 100, {"A": 1990}), "shift-all", shift=111)


# --------------------------------------------------------------------------- music


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.insert(0, (value & 0x7F) | 0x80)
    return bytes(out)


def _track(events: list[tuple[int, bytes]]) -> bytes:
    """A track chunk from (tick, message) events, with running status where the status repeats."""
    body, last, running = b"", 0, None
    for tick, message in events:
        data = message[1:] if message[0] == running else message
        running = message[0] if message[0] < 0xF0 else running
        body += _vlq(tick - last) + data
        last = tick
    body += _vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + len(body).to_bytes(4, "big") + body


# (start, end, pitch): the notes end in another order than they start
NOTES = [(0, 30, 60), (0, 10, 64), (10, 20, 67), (30, 40, 62), (40, 55, 65), (45, 50, 69), (60, 70, 71)]
NOTES += [(60, 65, 72), (70, 80, 74)]


def write_midi(path: Path, shift: int = 0) -> Path:
    events = []
    for start, end, pitch in NOTES:
        events.append((start, 1, bytes([0x90, pitch + shift, 80])))
        off = bytes([0x90, pitch + shift, 0]) if pitch == 67 else bytes([0x80, pitch + shift, 0])  # on, velocity 0
        events.append((end, 0, off))
    events.sort(key=lambda e: (e[0], e[1]))  # at one tick: note-offs first
    piano = _track([(0, b"\xc0\x00"), *((t, m) for t, _, m in events)])
    tempo = _track([(0, b"\xff\x51\x03\x07\xa1\x20")])
    bass = _track([(5, b"\x91\x28\x50"), (6, b"\x81\x28\x00")])  # a second instrument, later track
    header = (
        b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + (3).to_bytes(2, "big") + (96).to_bytes(2, "big")
    )
    path.write_bytes(header + tempo + piano + bass)
    return path


def test_the_papers_music_windows_are_the_first_instruments_notes_in_end_order_chunks_sorted_by_start(tmp_path):
    from core.nontext.midi import paper_windows, read_instruments

    path = write_midi(tmp_path / "piece.mid")
    first, second = read_instruments(path)
    assert (first.track, second.track, second.notes[0].pitch) == (1, 2, 40)
    assert [n.pitch for n in first.notes] == [64, 67, 60, 62, 69, 65, 72, 71, 74]  # as they end
    # chunks of 4 while (i + 1) * 4 < 9: two; each sorted by start (stable); the ninth note dropped
    assert paper_windows(path, 4) == [[64, 60, 67, 62], [65, 69, 72, 71]]
    assert paper_windows(path, 3) == [[64, 60, 67], [62, 65, 69]]  # 9 notes: the last full chunk dropped too
    assert paper_windows(path, 9) == []
    (tmp_path / "text.mid").write_text("not midi")
    with pytest.raises(ValueError, match="text.mid is not a Standard MIDI File"):
        paper_windows(tmp_path / "text.mid")


def maestro_folder(folder: Path) -> Path:
    index = []
    for number, (composer, part) in enumerate(
        [("Chopin", "train"), ("Liszt", "train"), ("Chopin", "train"), ("Liszt", "train")]
        + [("Chopin", "validation"), ("Liszt", "validation"), ("Chopin", "test"), ("Liszt", "test")]
    ):
        name = f"piece{number}.mid"
        write_midi(folder / name, shift=0 if composer == "Chopin" else 12)
        index.append({"canonical_composer": composer, "split": part, "midi_filename": name})
    (folder / "maestro-v1.0.0.json").write_text(json.dumps(index))
    return folder


def test_the_votes_of_a_piece_soft_majority_and_first_window():
    from core.nontext.runs import piece_vote

    windows = np.array([[0.4, 0.6], [0.4, 0.6], [0.99, 0.01]])  # two windows say 1 weakly, one says 0 firmly
    assert (piece_vote(windows, "soft"), piece_vote(windows, "majority"), piece_vote(windows, "first")) == (0, 1, 1)
    tie = np.array([[0.2, 0.8], [0.9, 0.1]])
    assert piece_vote(tie, "majority") == 0 and piece_vote(tie, "first") == 1
    with pytest.raises(ValueError, match="vote must be one of"):
        piece_vote(windows, "best")


def test_a_maestro_comparison_the_papers_way_reads_bare_windows_and_votes_by_majority(
    tiny_encoder, tmp_path, monkeypatch
):
    from core.hub import load_text_model
    from core.nontext import runs

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    folder = maestro_folder(tmp_path)
    paper = replace(
        runs.PRESETS["full"],
        task="maestro",
        path=str(folder),
        window=4,
        encoder=str(tiny_encoder),
        variants=("pretrained",),
        seeds=(0,),
        steps=4,
        eval_every=2,
        batch_size=4,
        lr=1e-3,
    )
    task = runs.load(paper)
    assert task.sequences[0] == ["64", "60", "67", "62"] and len(task.sequences) == 16
    mapping = runs.task_mapping(paper, task, load_text_model(str(tiny_encoder)).tokenizer)
    assert not mapping.framed and mapping.encode(["60", "64"], 2) == [mapping.ids["60"], mapping.ids["64"]]
    lab = runs.task_mapping(replace(paper, music_frame="lab"), task, load_text_model(str(tiny_encoder)).tokenizer)
    assert lab.framed and "framed" not in lab.record() and mapping.record()["framed"] is False
    [run] = runs.run_comparison(paper)
    test = run.config["test"]
    assert run.config["status"] == "finished" and test["vote"] == "majority" and test["groups"] == 2
    assert set(test["vote_accuracy_by"]) == {"soft", "majority", "first"}
    assert test["vote_accuracy"] == test["vote_accuracy_by"]["majority"]
    assert run.config["mapping"]["framed"] is False and run.config["settings"]["head"] == "paper"
    [row] = runs.results_table([run], 0.5)
    assert row["piece vote"] == "majority"
    assert "music frame paper" in runs.comparison_label([run])
    lab_notes = runs.load(replace(paper, music_notes="lab"))  # music21's time order
    assert lab_notes.sequences[0] == ["60", "64", "67", "62"]


# --------------------------------------------------------------------------- the splice and PLUS files


def test_the_papers_splice_file_loads_with_its_ambiguity_codes(tmp_path, tiny_encoder):
    from core.hub import load_text_model
    from core.nontext import runs
    from core.nontext.tasks import load_hilbert_text

    lines = [
        "EI,       ATRINS-DONOR-521,  CCAGCTGCATCACAGGAGGCCAGCGAGCAGG",
        "IE,       ATRINS-ACCEPTOR-701,  AACCAGNCTTCAGGTTACCCRCCAG",
        "N,        HUMGLUT4B-N-1,  TTTCDAAGSAACCAG",
        "",
        "N,        HUMGLUT4B-N-2,  ggtcagtcag",
    ]
    path = tmp_path / "splice.txt"
    path.write_text("\n".join(lines) + "\n")
    task = load_hilbert_text(path)
    assert task.name == "splice" and task.label_names == ["ei", "ie", "n"]
    assert task.labels.tolist() == [0, 1, 2, 2] and "".join(task.sequences[3]) == "GGTCAGTCAG"
    assert {"N", "D", "R", "S"} <= set(task.symbols) and task.note.startswith("2 records with the ambiguity codes")
    settings = runs.TokenSettings(task="hilbert", path=str(path), encoder=str(tiny_encoder))
    mapping = runs.task_mapping(settings, runs.load(settings), load_text_model(str(tiny_encoder)).tokenizer)
    vocab = load_text_model(str(tiny_encoder)).tokenizer.get_vocab()
    assert all(mapping.base[s] == vocab[s.lower()] for s in "ACGTNDRS")  # each its own wordpiece
    (tmp_path / "bad.txt").write_text("EI, name, ACGT\nXX, name, ACGT\n")
    with pytest.raises(ValueError, match="line 2 is not a splice record"):
        load_hilbert_text(tmp_path / "bad.txt")
    h3 = tmp_path / "H3.txt"
    h3.write_text("r1\nACGT\n0\nr2\nTTGA\n1\n")
    assert load_hilbert_text(h3).labels.tolist() == [0, 1]


def test_the_splice_task_is_not_called_the_papers_data():
    from core.nontext import tasks

    title = tasks.TASKS["splice"][0]
    assert "3,186" in title and "3,190" in title and "the paper's)" not in title


def _fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{header}\n{sequence[:60]}\n{sequence[60:]}\n" for header, sequence in records))
    return path


def test_the_plus_files_load_with_the_papers_truncation_and_split(tmp_path):
    from core.nontext import runs
    from core.nontext.tasks import LOCATIONS, load_plus

    long = "M" + "A" * 599 + "C" * 599 + "W"  # 1,200 residues: first 500 + last 500, then the first 510
    folder = tmp_path / "Localization"
    folder.mkdir()
    _fasta(folder / "localization_train.fa", [("P1 Nucleus-S", long), ("P2 Cytoplasm-U", "MKOUBZ*")])
    _fasta(folder / "localization_dev.fa", [("P3 Nucleus-S", "MKV")])
    _fasta(folder / "localization_test.fa", [("P4 Plastid-M", "MKL")])
    task = load_plus(folder)
    assert task.name == "localization" and task.label_names == list(LOCATIONS) and not task.regression
    assert [task.label_names[i] for i in task.labels] == ["Nucleus", "Cytoplasm", "Nucleus", "Plastid"]
    assert task.fixed_split.tolist() == ["train", "train", "validation", "test"]
    expected = (["M"] + ["A"] * 499 + ["C"] * 499 + ["W"])[:510]
    assert task.sequences[0] == expected and "".join(task.sequences[1]) == "MKKCXXX"
    same = runs.load(runs.TokenSettings(task="plus", path=str(tmp_path), split_method="paper"))
    assert same.fixed_split.tolist() == task.fixed_split.tolist()  # its own split wins
    stability = _fasta(tmp_path / "stability_train.fa", [(f"s{i} {i / 10}", "MKV" * 30) for i in range(6)])
    values = load_plus(stability)
    assert values.regression and values.labels.tolist() == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert all(len(s) == 48 for s in values.sequences) and values.fixed_split is None  # stability: 50 positions
    with pytest.raises(ValueError, match="holds the PLUS files of localization, stability"):
        load_plus(tmp_path)
    _fasta(folder / "localization_test.fa", [("P4 Golgi-M", "MKL")])
    with pytest.raises(ValueError, match="record 1 has the location 'Golgi'"):
        load_plus(folder)
    with pytest.raises(ValueError, match="which PLUS task is it"):
        load_plus(_fasta(tmp_path / "proteins.fa", [("a 1", "MK")]))
    with pytest.raises(ValueError, match="a plus task needs a file or folder"):
        runs.TokenSettings(task="plus").check()


# --------------------------------------------------------------------------- the head


def test_the_papers_head_reads_the_pretrained_pooler_and_the_labs_the_cls_vector(tiny_encoder):
    from core.hub import load_text_model
    from core.nontext.models import build

    loaded = load_text_model(str(tiny_encoder))
    ids = torch.tensor([[101, 1003, 1010, 102, 0], [101, 1020, 1003, 1005, 102]])
    paper = build(loaded.model, "pretrained", 3, 0, seed=1, head="paper").eval()
    for name, weight in loaded.model.pooler.state_dict().items():
        assert torch.equal(paper.encoder.pooler.state_dict()[name], weight), name
    assert torch.equal(paper.head.bias, torch.zeros(3))  # BERT's initialisation: bias 0, weights std 0.02
    assert float(paper.head.weight.detach().std()) < 0.05
    with torch.no_grad():
        hidden = loaded.model(input_ids=ids, attention_mask=(ids != 0).long()).last_hidden_state[:, 0]
        pooled = torch.tanh(loaded.model.pooler.dense(hidden))
        torch.testing.assert_close(paper(ids), paper.head(pooled))
        lab = build(loaded.model, "pretrained", 3, 0, seed=1).eval()
        torch.testing.assert_close(lab(ids), lab.head(hidden))
    assert set(lab.state_dict()) == set(paper.state_dict())  # the same weights: stored runs load either way
    random_init = build(loaded.model, "random", 3, 0, seed=1, head="paper")
    assert not torch.equal(random_init.encoder.pooler.dense.weight, loaded.model.pooler.dense.weight)
    reembedded = build(loaded.model, "random-embeddings", 3, 0, seed=1, head="paper")
    assert torch.equal(reembedded.encoder.pooler.dense.weight, loaded.model.pooler.dense.weight)
    from transformers import BertModel

    without = BertModel(loaded.model.config, add_pooling_layer=False)
    with pytest.raises(ValueError, match="has none; use the lab's head"):
        build(without, "pretrained", 3, 0, seed=1, head="paper")


def test_the_cli_offers_the_papers_ways_and_keeps_the_presets_otherwise(capsys):
    from core.cli import build_parser, main
    from core.nontext import cli, runs

    parser = build_parser()
    full = cli._settings(parser.parse_args(["tokens-compare", "--preset", "full"]), runs.PRESETS["full"])
    assert full == runs.PRESETS["full"]
    kept = cli._settings(parser.parse_args(["tokens-compare", "--keep-specials"]), runs.PRESETS["full"])
    assert kept.keep_specials and kept.split_method == "paper"
    chosen = [
        "tokens-compare",
        "--split-method",
        "paper",
        "--head",
        "paper",
        "--vote",
        "first",
        "--mapping",
        "shift-all",
    ]
    laptop = cli._settings(parser.parse_args(chosen), runs.PRESETS["laptop"])
    assert (laptop.split_method, laptop.head, laptop.vote, laptop.mapping) == ("paper", "paper", "first", "shift-all")
    assert laptop.keep_specials and laptop.steps == runs.PRESETS["laptop"].steps
    with pytest.raises(SystemExit, match="2"):  # argparse: the usage and a one-line message
        main(["tokens-compare", "--split-method", "numpy"])
    assert "invalid choice: 'numpy'" in capsys.readouterr().err
    assert main(["tokens-compare", "--task", "plus"]) == 2
    assert capsys.readouterr().err == "error: a plus task needs a file or folder (path).\n"


def test_the_page_names_the_presets_choices(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.errors import ResourceUnavailable
    from core.nontext import tasks

    try:
        tasks.data_file("DNA.rda")
    except ResourceUnavailable as missing:
        pytest.skip(str(missing))
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    page = Path(__file__).resolve().parents[2] / "pages/nontext/bert_nontext.py"
    app = AppTest.from_file(str(page), default_timeout=120).run()
    captions = " ".join(c.value for c in app.caption)
    assert "the lab's NumPy shuffle; head: dropout + linear on the [CLS] vector (the lab's)" in captions
    assert "Not the paper's file: Kao & Lee read Hilbert-CNN's splice.txt" in captions
    app.radio(key="nt-preset").set_value("full").run()
    assert not app.exception, [e.value for e in app.exception]
    captions = " ".join(c.value for c in app.caption)
    assert "the paper's (Python's random.shuffle, cut at int(0.9 n) and int(0.95 n)); head: pooler" in captions
    assert "The special tokens are kept as section 2 says; the paper's code remapped them" in captions
    app.toggle(key="nt-keep").set_value(False).run()
    assert "section 2 says" not in " ".join(c.value for c in app.caption)
