"""Kao & Lee's text experiment: text read as its tokenizer's ids, scrambled by the paper's permutation of the whole
vocabulary or its shift (special tokens included), and each encoder paired with itself on the unscrambled text."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, tiny_bert


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert-text") / "model")


def _texts_csv(path: Path, n: int = 40) -> Path:
    """Texts of the tiny vocabulary's words: 'good' ones use w0-w49, 'bad' ones w100-w149."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        start = 0 if i % 2 else 100
        words = [f"w{start + int(k)}" for k in rng.integers(0, 50, size=6)]
        rows.append({"text": " ".join(words), "label": "good" if i % 2 else "bad"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _settings(tiny_encoder: Path, path: Path):
    from core.nontext import scrambled

    return replace(
        scrambled.LAPTOP, task="text-csv", path=str(path), texts=40, encoder=str(tiny_encoder), steps=4, eval_every=2
    )


def test_the_permutation_is_the_papers_seeded_bijection_over_the_whole_vocabulary(tiny_encoder):
    from core.hub import load_text_model
    from core.nontext import tokens

    tokenizer = load_text_model(str(tiny_encoder)).tokenizer
    vocabulary = tokens.Vocabulary.of(tokenizer, [])
    size = vocabulary.size
    table = tokens.permutation(size, 100)
    assert sorted(table.tolist()) == list(range(size))
    np.testing.assert_array_equal(table, tokens.permutation(size, 100))
    assert not np.array_equal(table, tokens.permutation(size, 101))
    state = random.getstate()
    try:  # the paper's GLUE code: random.seed(seed), then random.shuffle of every id
        random.seed(100)
        paper = list(range(size))
        random.shuffle(paper)
    finally:
        random.setstate(state)
    assert table.tolist() == paper

    specials = set(vocabulary.specials.values())
    symbols = [str(i) for i in range(size) if i not in specials]
    mapping = tokens.build_mapping(symbols, vocabulary, "permute", 100, keep_specials=False, token_ids=True)
    assert sorted([*mapping.ids.values(), *mapping.specials.values()]) == list(range(size))  # every id, once
    assert all(mapping.specials[name] == table[i] for name, i in vocabulary.specials.items())
    assert all(mapping.ids[s] == table[int(s)] for s in symbols)
    assert mapping.specials != vocabulary.specials  # [CLS], [SEP] and [PAD] are scrambled too


def test_the_shift_is_id_plus_c_modulo_the_vocabulary_and_the_reference_is_the_identity(tiny_encoder, tmp_path):
    from core.hub import load_text_model
    from core.nontext import runs, scrambled

    tokenizer = load_text_model(str(tiny_encoder)).tokenizer
    settings = _settings(tiny_encoder, _texts_csv(tmp_path / "texts.csv"))
    task = runs.load(settings, tokenizer=tokenizer)
    first = tokenizer(task_text(settings, 0), add_special_tokens=False)["input_ids"]
    assert task.sequences[0] == [str(i) for i in first] and len(first) == 6  # one wordpiece a word
    size = len(tokenizer.get_vocab())
    shifted = runs.task_mapping(replace(scrambled.arm(settings, "shift"), shift=300), task, tokenizer)
    for symbol in task.symbols:  # ids 1126-1225 wrap round past the end
        assert shifted.ids[symbol] == (int(symbol) + 300) % size
    wrapped = [s for s in task.symbols if int(s) + 300 >= size]
    assert wrapped and all(shifted.ids[s] == int(s) + 300 - size for s in wrapped)
    assert shifted.specials == {"[CLS]": 101 + 300, "[SEP]": 102 + 300, "[PAD]": 300}
    reference = runs.task_mapping(scrambled.arm(settings, "none"), task, tokenizer)
    assert all(reference.ids[s] == int(s) for s in task.symbols)
    assert reference.specials == reference.vocabulary_specials
    assert reference.encode(task.sequences[0], 128) == tokenizer(task_text(settings, 0))["input_ids"]
    for scramble in ("permute", "shift", "none"):
        assert scrambled.scramble_of(scrambled.arm(settings, scramble)) == scramble


def task_text(settings, row: int) -> str:
    from core import corpora

    return corpora.load_csv(settings.path, "text", "label", n=settings.texts, seed=settings.split_seed)["text"][row]


def test_a_tiny_scrambled_comparison_pairs_each_encoder_with_itself(tiny_encoder, tmp_path, monkeypatch, capsys):
    from streamlit.testing.v1 import AppTest

    from core import evidence
    from core.cli import main
    from core.nontext import runs, scrambled

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    path = _texts_csv(tmp_path / "texts.csv")
    settings = _settings(tiny_encoder, path)
    found = scrambled.run(settings, "permute")
    assert [len(found[side]) for side in ("reference", "scrambled")] == [2, 2]
    by = {(side, r.config["variant"]): r for side, arm in found.items() for r in arm}
    assert by["scrambled", "pretrained"].config["mapping"] == {
        "kind": "permute",
        "seed": 0,  # the run's own seed, as the paper's GLUE code
        "shift": 1000,
        "keep_specials": False,
    }
    assert by["reference", "random"].config["mapping"]["kind"] == "wordpiece"
    correct = {key: np.load(r.file(runs.CORRECT_FILE), allow_pickle=False) for key, r in by.items()}
    assert all(c.shape == (8,) for c in correct.values())  # 20% of 40 texts, per example
    rows = {key: np.load(r.file("test_rows.npy"), allow_pickle=False) for key, r in by.items()}
    assert all(np.array_equal(rows["reference", "pretrained"], r) for r in rows.values())

    report = scrambled.evidence(found["reference"], found["scrambled"])
    assert [c["variant"] for c in report["comparisons"]] == ["pretrained", "random"]
    for entry in report["comparisons"]:
        v = entry["variant"]
        expected = evidence.compare_paired(correct["reference", v], correct["scrambled", v], claim="greater")
        assert entry["difference"]["estimate"] == pytest.approx(
            correct["reference", v].mean() - correct["scrambled", v].mean()
        )
        assert entry["p_value"] == pytest.approx(expected.p_value) and entry["verdict"] == expected.verdict
        assert "unscrambled − permute" in entry["sentence"]
    assert report["within"]["scrambled"] and report["within"]["unscrambled"]  # pretrained against random, per arm
    table = scrambled.table(report)
    assert [row["encoder"] for row in table] == ["pretrained on English", "randomly initialised"]
    [pair] = scrambled.pairs()
    assert pair["scrambled"] == scrambled.arm(settings, "permute").comparison_id
    assert pair["reference"] == scrambled.arm(settings, "none").comparison_id

    command = ["tokens-scrambled", "--task", "text-csv", "--path", str(path), "--texts", "40"]
    command += ["--encoder", str(tiny_encoder), "--steps", "4", "--eval-every", "2"]
    assert main(command) == 0  # the same runs, loaded, not trained again
    shown = json.loads(capsys.readouterr().out)
    assert shown["scrambled"] == pair["scrambled"] and shown["verdicts"] == report["sentences"]

    app = AppTest.from_file(str(ROOT / "pages/nontext/scrambled_text.py"), default_timeout=120)
    app.session_state["st-texts-laptop"] = 40
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.dataframe[0].value.index.tolist() == ["wordpiece", "id", "id read", "reads as"]
    [shown_table] = [d.value for d in app.dataframe if "encoder" in d.value.columns]
    assert shown_table["encoder"].tolist() == ["pretrained on English", "randomly initialised"]
    assert any("the lab's, on the lab's data" in c.value for c in app.caption)
    app.selectbox(key="st-task-laptop").set_value("text-csv").run()
    assert not app.exception and any("Upload a CSV" in i.value for i in app.info)


def test_bad_input_is_refused_in_one_line(tiny_encoder, tmp_path, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny = ["--encoder", str(tiny_encoder)]
    for command, message in (
        (["tokens-scrambled", "--task", "splice", *tiny], "scrambled token ids are a text experiment"),
        (["tokens-scrambled", "--task", "text-csv", *tiny], "a text-csv task needs a file"),
        (["tokens-scrambled", "--texts", "2", *tiny], "texts must be at least 4"),
        (["tokens-scrambled", "--max-length", "2", *tiny], "max_length must be 3 to 512"),
        (
            ["tokens-compare", "--task", "sst2", *tiny],
            "SST-2 (GLUE) comes from the Hugging Face hub and needs internet",
        ),
    ):
        assert main(command) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], errors  # one line (beside any progress bar)
