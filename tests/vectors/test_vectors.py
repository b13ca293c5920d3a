"""Your own vectors: the Projector's TSV pair and config, Parquet (list or numeric columns, x/y, neighbours), the
cached layout, neighbours, regex search, selections, and the ``map`` command. Every file is written by the test."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from core import cli, store, vectors
from core.vectors.figures import selected_rows, vector_map_figure

WORDS = ["apple", "banana", "cherry", "dog", "cat", "horse", "red", "green", "blue"]
KINDS = ["fruit"] * 3 + ["animal"] * 3 + ["colour"] * 3


def blobs(per_kind: int = 10, dims: int = 8, seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """Three well-separated clusters of ``per_kind`` points each: vectors, names, kinds."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dims)) * 4
    kinds = np.repeat(np.arange(3), per_kind)
    points = (centres[kinds] + rng.normal(size=(len(kinds), dims))).astype(np.float32)
    names = [f"{WORDS[3 * k + i % 3]}-{i}" for i, k in enumerate(kinds)]
    return points, names, [["fruit", "animal", "colour"][k] for k in kinds]


def write_projector(folder, points, names, kinds, single: bool = False):
    """The Projector's pair: vectors.tsv (no header) and metadata.tsv (header; none when single)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vectors.tsv").write_text("\n".join("\t".join(f"{v:.6f}" for v in row) for row in points) + "\n")
    if single:
        (folder / "metadata.tsv").write_text("\n".join(names) + "\n")
    else:
        rows = [f"{n}\t{k}\t{i}" for i, (n, k) in enumerate(zip(names, kinds, strict=True))]
        (folder / "metadata.tsv").write_text("name\tkind\tindex\n" + "\n".join(rows) + "\n")
    return folder / "vectors.tsv", folder / "metadata.tsv"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path / "home"))
    return tmp_path


def test_a_projector_tsv_pair_loads_with_its_header(tmp_path):
    points, names, kinds = blobs()
    table = vectors.load_vectors(*write_projector(tmp_path, points, names, kinds))
    np.testing.assert_allclose(table.vectors, points, atol=1e-5)
    assert list(table.metadata.columns) == ["name", "kind", "index"] and table.metadata["name"].tolist() == names
    assert pd.api.types.is_numeric_dtype(table.metadata["index"])  # numbers stay numbers (a colour scale)


def test_a_single_column_metadata_file_has_no_header(tmp_path):
    points, names, kinds = blobs()
    table = vectors.load_vectors(*write_projector(tmp_path, points, names, kinds, single=True))
    assert table.metadata[vectors.files.SINGLE_COLUMN].tolist() == names  # the first line is a point, not a header


def test_a_projector_config_names_its_files(tmp_path):
    points, names, kinds = blobs()
    write_projector(tmp_path / "data", points, names, kinds)
    config = {
        "embeddings": [{"tensorName": "words", "tensorPath": "data/vectors.tsv", "metadataPath": "data/metadata.tsv"}]
    }
    (tmp_path / "projector_config.json").write_text(json.dumps(config))
    table = vectors.load_vectors(tmp_path / "projector_config.json")
    assert len(table) == 30 and table.source["tensor"] == "words"
    with pytest.raises(ValueError, match="no embedding 'other'; it has words"):
        vectors.load_vectors(tmp_path / "projector_config.json", tensor="other")


def write_parquet(path, points, names, kinds, lists: bool = True, xy: bool = False, near: bool = False):
    frame = pd.DataFrame({"name": names, "kind": kinds})
    if lists:
        frame["vector"] = list(points)
    else:
        for j in range(points.shape[1]):
            frame[f"f{j}"] = points[:, j]
    if xy:
        frame["x"], frame["y"] = points[:, 0].astype(float), points[:, 1].astype(float)
    if near:
        frame["neighbors"] = [[(i + 1) % len(points), (i + 2) % len(points)] for i in range(len(points))]
    frame.to_parquet(path, index=False)
    return path


def test_parquet_with_a_list_column_or_numeric_columns(tmp_path):
    points, names, kinds = blobs()
    listed = vectors.load_vectors(write_parquet(tmp_path / "l.parquet", points, names, kinds))
    np.testing.assert_allclose(listed.vectors, points, atol=1e-6)
    assert list(listed.metadata.columns) == ["name", "kind"] and listed.coords is None
    wide = vectors.load_vectors(write_parquet(tmp_path / "w.parquet", points, names, kinds, lists=False))
    np.testing.assert_allclose(wide.vectors, points, atol=1e-6)
    chosen = vectors.load_vectors(tmp_path / "w.parquet", feature_columns=["f0", "f1", "f2"])
    assert chosen.vectors.shape == (30, 3)


def test_parquet_precomputed_positions_and_neighbours_are_used_as_given(tmp_path, home):
    points, names, kinds = blobs()
    path = write_parquet(tmp_path / "p.parquet", points, names, kinds, xy=True, near=True)
    table = vectors.load_vectors(path, x="x", y="y", neighbours="neighbors")
    np.testing.assert_allclose(vectors.coords_of(table), points[:, :2], atol=1e-6)
    assert not store.list_artifacts(vectors.MAPS)  # nothing was fitted
    assert table.neighbours[0].tolist() == [1, 2]
    only = vectors.read_parquet(path, vector_column=None, feature_columns=None, x="x", y="y", neighbours="neighbors")
    only.vectors = None
    assert vectors.neighbours(only, 0, 2)["point"].tolist() == [1, 2]


def test_the_layout_is_fitted_once_then_loaded(home):
    points, _, _ = blobs()
    settings = vectors.VectorMapSettings(method="pca")
    assert vectors.find_map(points, settings) is None
    first = vectors.fit_map(points, settings)
    second = vectors.fit_map(points.copy(), settings)
    assert second.id == first.id and second.config["provenance"] == first.config["provenance"]
    assert vectors.load_coords(second).shape == (30, 2)
    assert vectors.fit_map(points, vectors.VectorMapSettings(method="pca", random_state=1)).id != first.id


def test_a_tsne_map_keeps_the_clusters_apart(home):
    from sklearn.neighbors import KNeighborsClassifier

    points, _, kinds = blobs(per_kind=20)
    coords = vectors.fit_coords(points, vectors.VectorMapSettings(perplexity=10))
    accuracy = KNeighborsClassifier(5).fit(coords, kinds).score(coords, kinds)
    assert coords.shape == (60, 2) and accuracy > 0.95


def test_nearest_neighbours_are_by_cosine_on_the_vectors(tmp_path):
    points, names, kinds = blobs()
    table = vectors.load_vectors(*write_projector(tmp_path, points, names, kinds))
    found = vectors.neighbours(table, 0, 5)
    assert 0 not in found["point"].tolist() and set(found["kind"]) == {"fruit"}
    assert found["cosine similarity"].is_monotonic_decreasing and list(found.columns)[:3] == [
        "point",
        "cosine similarity",
        "name",
    ]
    with pytest.raises(ValueError, match="there is no point 99"):
        vectors.neighbours(table, 99)


def test_the_regex_search_finds_a_point_and_a_bad_regex_says_so():
    metadata = pd.DataFrame({"name": ["apple-0", "Banana-1", "cherry-2"], "n": [1, 22, 3]})
    assert vectors.search(metadata, r"^ban").tolist() == [1]  # case-insensitive
    assert vectors.search(metadata, r"2", column="n").tolist() == [1]
    assert vectors.search(metadata, r"2").tolist() == [1, 2]  # any column
    bad = re.escape("«(app» is not a valid regular expression: missing ), unterminated subpattern at position 0.")
    with pytest.raises(ValueError, match=bad):
        vectors.search(metadata, "(app")
    with pytest.raises(ValueError, match="no metadata column 'kind'"):
        vectors.search(metadata, "a", column="kind")


def test_colouring_by_a_metadata_column():
    points, names, kinds = blobs()
    metadata = pd.DataFrame({"name": names, "kind": kinds, "value": np.arange(30.0)})
    fig, rows = vector_map_figure(points[:, :2], metadata, "kind", "name", matches=[3], chosen=4)
    assert all(t.type == "scattergl" for t in fig.data)
    assert [t.name for t in fig.data] == ["fruit (10)", "animal (10)", "colour (10)", "search matches (1)", "point #4"]
    assert all(kinds[r] == "animal" for r in rows[1]) and sum(len(r) for r in rows[:3]) == 30  # every point drawn
    numeric, _ = vector_map_figure(points[:, :2], metadata, "value", None)
    assert numeric.data[0].marker.colorbar.title.text == "value" and list(numeric.data[0].marker.color) == list(
        range(30)
    )
    assert numeric.data[0].marker.colorscale[0][1] == "rgb(68, 1, 84)"  # sequential, dark at the low end


def test_a_selection_exports_the_right_rows(tmp_path):
    points, names, kinds = blobs()
    table = vectors.load_vectors(*write_projector(tmp_path, points, names, kinds))
    coords = points[:, :2].astype(float)
    fig, rows = vector_map_figure(coords, table.metadata, "kind", "name")
    picked = [
        {"curve_number": 1, "point_index": 0},
        {"curve_number": 1, "point_index": 2},
        {"curve_number": 0, "point_index": 9},
        {"curve_number": 1, "point_index": 0},
    ]
    selected = selected_rows(picked, rows)
    assert selected.tolist() == sorted({int(rows[1][0]), int(rows[1][2]), int(rows[0][9])})
    exported = pd.read_csv(__import__("io").BytesIO(vectors.selection_csv(table, coords, selected)))
    assert exported["point"].tolist() == selected.tolist()
    assert exported["name"].tolist() == [names[r] for r in selected]
    np.testing.assert_allclose(exported[["x", "y"]].to_numpy(), coords[selected])


@pytest.mark.parametrize(
    ("vectors_text", "metadata_text", "message"),
    [
        ("1\t2\t3\n4\t5\n", None, "line 2 has 2 values but line 1 has 3; every vector needs the same number"),
        ("1\t2\n3\tabc\n", None, "line 2, column 2: 'abc' is not a number"),
        ("1\t2\n\n3\t4\n", None, "line 2 is empty"),
        ("", None, "holds no vectors"),
        ("1\t2\n3\tnan\n", None, r"row 2, value 2 is nan \(not a finite number\)"),
        ("1\t2\n3\t4\n", "name\tkind\na\tx\n", "metadata.tsv has 1 rows but there are 2 vectors"),
        ("1\t2\n3\t4\n", "a\nb\nc\n", "metadata.tsv has 3 rows but there are 2 vectors"),
        ("1\t2\n3\t4\n", "name\tkind\na\tx\nb\n", "line 3 has 1 fields but the header has 2"),
    ],
)
def test_bad_tsv_inputs_say_what_is_wrong(tmp_path, vectors_text, metadata_text, message):
    (tmp_path / "vectors.tsv").write_text(vectors_text)
    meta = None
    if metadata_text is not None:
        meta = tmp_path / "metadata.tsv"
        meta.write_text(metadata_text)
    with pytest.raises(ValueError, match=message):
        vectors.load_vectors(tmp_path / "vectors.tsv", meta)


def test_bad_files_and_parquet_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="the vectors file .*missing.tsv does not exist"):
        vectors.load_vectors(tmp_path / "missing.tsv")
    (tmp_path / "v.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="give a .tsv, .txt, .json, .parquet file"):
        vectors.load_vectors(tmp_path / "v.csv")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="broken.parquet is not a Parquet file"):
        vectors.load_vectors(tmp_path / "broken.parquet")
    pd.DataFrame({"name": ["a", "b"], "vector": [[1.0, 2.0], [3.0]]}).to_parquet(tmp_path / "r.parquet")
    with pytest.raises(ValueError, match="column 'vector': row 2 has 1 values but row 1 has 2"):
        vectors.load_vectors(tmp_path / "r.parquet")
    pd.DataFrame({"name": ["a", "b"], "x": [1.0, 2.0]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="give both the x and the y column"):
        vectors.load_vectors(tmp_path / "x.parquet", x="x")
    with pytest.raises(ValueError, match="has no column 'z'"):
        vectors.load_vectors(tmp_path / "x.parquet", x="x", y="z")
    with pytest.raises(ValueError, match="column 'name' is not numeric"):
        vectors.load_vectors(tmp_path / "x.parquet", feature_columns=["name"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "mds"}, "layout method must be one of tsne, umap, pca"),
        ({"pca": 1}, "pca must be 0"),
        ({"perplexity": 1}, "perplexity must be between 2 and 100"),
        ({"n_neighbors": 1}, "UMAP needs at least 2 neighbours"),
    ],
)
def test_bad_layout_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        vectors.VectorMapSettings(**settings).check()


def test_the_map_command_writes_coordinates_and_reuses_its_fit(tmp_path, home, capsys):
    points, names, kinds = blobs()
    vectors_file, metadata_file = write_projector(tmp_path / "in", points, names, kinds)
    out = tmp_path / "coords.parquet"
    argv = ["map", "--vectors", str(vectors_file), "--metadata", str(metadata_file), "--method", "pca"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    first = json.loads(capsys.readouterr().out)
    written = pd.read_parquet(out)
    assert first["cached"] is False and first["points"] == 30
    assert list(written.columns) == ["point", "x", "y", "name", "kind", "index"]
    assert written["name"].tolist() == names
    assert cli.main([*argv, "--out", str(tmp_path / "coords.csv")]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["cached"] is True and second["map"] == first["map"]
    np.testing.assert_allclose(pd.read_csv(tmp_path / "coords.csv")[["x", "y"]], written[["x", "y"]])


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"vectors": "missing.tsv"}, "error: the vectors file .*missing.tsv does not exist."),
        ({"vectors": "ragged.tsv"}, "error: ragged.tsv: line 2 has 1 values but line 1 has 2"),
        ({"vectors": "words.tsv"}, "error: words.tsv: line 1, column 1: 'one' is not a number."),
        ({"vectors": "ok.tsv", "metadata": "long.tsv"}, "error: long.tsv has 3 rows but there are 2 vectors"),
    ],
)
def test_the_map_command_says_bad_input_in_one_line(tmp_path, home, capsys, files, message):
    (tmp_path / "ragged.tsv").write_text("1\t2\n3\n")
    (tmp_path / "words.tsv").write_text("one\ttwo\n")
    (tmp_path / "ok.tsv").write_text("1\t2\n3\t4\n")
    (tmp_path / "long.tsv").write_text("a\nb\nc\n")
    argv = ["map", *(f"--{k}={tmp_path / v}" for k, v in files.items())]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(message + r"[^\n]*\n", err), err


def test_an_upload_is_kept_in_the_store_once(home):
    first = vectors.keep_upload("../vectors.tsv", b"1\t2\n3\t4\n")
    assert first.name == "vectors.tsv" and first.read_bytes() == b"1\t2\n3\t4\n" and store.home() in first.parents
    assert vectors.keep_upload("vectors.tsv", b"1\t2\n3\t4\n") == first
    assert vectors.keep_upload("vectors.tsv", b"5\t6\n") != first
    assert vectors.load_vectors(first).vectors.tolist() == [[1, 2], [3, 4]]


def test_parquet_options_with_a_tsv_are_a_user_error(tmp_path, home, capsys):
    (tmp_path / "ok.tsv").write_text("1\t2\n3\t4\n")
    assert cli.main(["map", "--vectors", str(tmp_path / "ok.tsv"), "--x", "a", "--neighbors", "n"]) == 2
    assert capsys.readouterr().err == "error: --x, --neighbors apply to Parquet files only.\n"
