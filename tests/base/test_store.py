"""Artifacts on disk: home folder, atomic writes, provenance, listing."""

from __future__ import annotations

import json
import os

import pytest

from core import store


def test_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path / "lab"))
    assert store.home() == tmp_path / "lab"
    monkeypatch.delenv(store.HOME_ENV)
    assert store.home().name == "crossmodal-lab"


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a" / "data.bin"
    store.atomic_write_bytes(target, b"old")
    store.atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in target.parent.iterdir()] == ["data.bin"]


def test_atomic_write_json_roundtrip(tmp_path):
    store.atomic_write_json(tmp_path / "c.json", {"b": 1, "a": [1, 2]})
    assert store.read_json(tmp_path / "c.json") == {"a": [1, 2], "b": 1}


def test_read_json_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        store.read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        store.read_json(tmp_path / "bad.json")


def test_config_hash_is_stable_and_order_free():
    assert store.config_hash({"a": 1, "b": [1, 2]}) == store.config_hash({"b": [1, 2], "a": 1})
    assert store.config_hash({"a": 1}) != store.config_hash({"a": 2})
    assert len(store.config_hash({})) == 12


def test_provenance_records_versions_and_extras():
    record = store.provenance(seed=3)
    assert record["seed"] == 3
    assert {"python", "numpy", "scikit-learn"} <= set(record["packages"])
    assert record["created"]


def test_writing_publishes_only_on_success(tmp_path):
    with store.writing("things", "one", {"x": 1}, root=tmp_path) as folder:
        (folder / "payload.txt").write_text("hello")
    found = store.load("things", "one", root=tmp_path)
    assert found is not None and found.config == {"x": 1}
    assert found.file("payload.txt").read_text() == "hello"

    with pytest.raises(RuntimeError), store.writing("things", "two", {"x": 2}, root=tmp_path) as folder:
        (folder / "payload.txt").write_text("half")
        raise RuntimeError("crash in the middle")
    assert store.load("things", "two", root=tmp_path) is None
    assert [a.id for a in store.list_artifacts("things", root=tmp_path)] == ["one"]
    assert not [p for p in (tmp_path / "runs" / "things").iterdir() if p.name.startswith(".two")]


def test_writing_replaces_an_existing_artifact(tmp_path):
    for value in (1, 2):
        with store.writing("things", "same", {"x": value}, root=tmp_path) as folder:
            (folder / "v.txt").write_text(str(value))
    found = store.load("things", "same", root=tmp_path)
    assert found.config == {"x": 2} and found.file("v.txt").read_text() == "2"
    assert json.loads((found.path / "config.json").read_text()) == {"x": 2}


def test_list_skips_damaged_artifacts(tmp_path):
    with store.writing("things", "good", {"ok": True}, root=tmp_path):
        pass
    broken = tmp_path / "runs" / "things" / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{")
    assert [a.id for a in store.list_artifacts("things", root=tmp_path)] == ["good"]


@pytest.mark.parametrize("bad", ["", "../up", "a/b", ".hidden"])
def test_bad_artifact_names_raise(tmp_path, bad):
    with pytest.raises(ValueError, match="Invalid artifact"):
        store.artifact_dir("things", bad, root=tmp_path)


def test_file_sha256(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert store.file_sha256(tmp_path / "f") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_two_writers_of_the_same_artifact_both_succeed(tmp_path, monkeypatch):
    real_replace = store.os.replace

    def racing_replace(source, target):
        final = tmp_path / "runs" / "things" / "same"
        if str(target) == str(final) and not final.exists():  # the other writer wins the race
            final.mkdir()
            (final / "config.json").write_text('{"x": 1}')
            (final / "v.txt").write_text("theirs")
        return real_replace(source, target)

    monkeypatch.setattr(store.os, "replace", racing_replace)
    with store.writing("things", "same", {"x": 1}, root=tmp_path) as folder:
        (folder / "v.txt").write_text("mine")
    found = store.load("things", "same", root=tmp_path)
    assert found.config == {"x": 1} and found.file("v.txt").read_text() == "theirs"
    assert [p.name for p in (tmp_path / "runs" / "things").iterdir()] == ["same"]


def test_scratch_home_is_a_store_of_its_own_for_a_block(tmp_path, monkeypatch):
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path / "mine"))
    with store.scratch_home() as scratch:
        assert store.home() == scratch and scratch.is_dir() and scratch != tmp_path / "mine"
        (scratch / "made").write_text("x")
    assert not scratch.exists() and store.home() == tmp_path / "mine"  # removed, the previous home back
    with store.scratch_home(unless_set=True) as kept:
        assert kept == tmp_path / "mine"
    monkeypatch.delenv(store.HOME_ENV)
    with store.scratch_home(unless_set=True) as scratch:
        assert store.home() == scratch
    assert store.HOME_ENV not in os.environ
