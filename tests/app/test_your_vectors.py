"""AppTest of the Your Vectors page: a Projector TSV pair and a Parquet file on the map, colour, search, neighbours
and clear messages for bad input. Files are written by the tests; the store is the test's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "views" / "your_vectors.py")


@pytest.fixture()
def files(tmp_path, monkeypatch) -> Path:
    """vectors.tsv + metadata.tsv (30 points, three kinds) and points.parquet (the same with x, y); a fresh store."""
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    kinds = np.repeat(["fruit", "animal", "colour"], 10)
    centres = {k: rng.normal(size=6) * 4 for k in ("fruit", "animal", "colour")}
    points = np.stack([centres[k] + rng.normal(size=6) for k in kinds])
    names = [f"{k}-{i}" for i, k in enumerate(kinds)]
    (tmp_path / "vectors.tsv").write_text("\n".join("\t".join(f"{v:.5f}" for v in p) for p in points) + "\n")
    (tmp_path / "metadata.tsv").write_text(
        "name\tkind\n" + "\n".join(f"{n}\t{k}" for n, k in zip(names, kinds, strict=True))
    )
    frame = pd.DataFrame({"name": names, "kind": kinds, "vector": list(points), "x": points[:, 0], "y": points[:, 1]})
    frame.to_parquet(tmp_path / "points.parquet", index=False)
    return tmp_path


def page(**inputs) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=120).run()
    for key, value in inputs.items():
        app.text_input(key=key).set_value(value)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def values(array) -> np.ndarray:
    """A trace's array as plotly sends it: a list, or typed-array bytes (``dtype``, ``bdata``)."""
    import base64

    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def traces(app: AppTest) -> list[dict]:
    import json

    [chart] = app.get("plotly_chart")
    return json.loads(chart.proto.spec)["data"]


def test_a_projector_pair_is_fitted_once_then_coloured_searched_and_its_neighbours_listed(files):
    app = page(**{"yv-path": str(files / "vectors.tsv"), "yv-meta": str(files / "metadata.tsv")})
    assert "30 points · 6 dimensions · metadata: name, kind." in [c.value for c in app.caption]
    app.selectbox(key="yv-method").set_value("pca").run()
    app.button(key="yv-fit").click().run()
    assert not app.exception and [t["name"] for t in traces(app)] == ["points", "point #0"]
    assert {t["type"] for t in traces(app)} == {"scattergl"} and len(values(traces(app)[0]["x"])) == 30
    again = page(**{"yv-path": str(files / "vectors.tsv"), "yv-meta": str(files / "metadata.tsv")})
    again.selectbox(key="yv-method").set_value("pca").run()
    assert not again.get("button") or not any(b.key == "yv-fit" for b in again.button)  # loaded from the store
    again.selectbox(key="yv-colour").set_value("kind").run()
    assert [t["name"] for t in traces(again)] == ["fruit (10)", "animal (10)", "colour (10)", "point #0"]
    again.text_input(key="yv-search").set_value("^animal-1[0-9]$").run()
    assert "10 points match «^animal-1[0-9]$» (ringed in red)." in [c.value for c in again.caption]
    assert traces(again)[-2]["name"] == "search matches (10)"
    neighbours = again.dataframe[0].value
    assert again.number_input(key="yv-point").value == 10  # a new search chooses its first match
    assert len(neighbours) == 10 and 10 not in neighbours["point"].tolist()
    assert set(neighbours["kind"][:9]) == {"animal"}  # its nine cluster mates come first
    again.text_input(key="yv-search").set_value("animal-(").run()
    assert not again.exception and "is not a valid regular expression" in again.error[0].value


def test_a_parquet_file_with_positions_needs_no_fit(files):
    app = page(**{"yv-path": str(files / "points.parquet")})
    assert app.selectbox(key="yv-x").value == "x" and app.selectbox(key="yv-vcol").value == "vector"
    assert values(traces(app)[0]["x"])[:3].tolist() == pytest.approx(
        pd.read_parquet(files / "points.parquet")["x"][:3].tolist()
    )
    assert "positions as given" in str(app.get("plotly_chart")[0].proto.spec)
    assert "metadata: name, kind." in " ".join(c.value for c in app.caption)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("ragged.tsv", "1\t2\n3\n", "line 2 has 1 values but line 1 has 2"),
        ("missing.tsv", None, "does not exist"),
        ("v.csv", "1,2\n", "give a .tsv, .txt, .json, .parquet file"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(files, name, text, message):
    if text is not None:
        (files / name).write_text(text)
    app = page(**{"yv-path": str(files / name)})
    assert message in app.error[0].value and not app.get("plotly_chart")


def test_a_box_or_lasso_selection_is_listed_and_offered_as_csv(files):
    app = page(**{"yv-path": str(files / "points.parquet")})
    app.selectbox(key="yv-colour").set_value("kind").run()
    # what the chart sends back for a lasso around the 3rd and 6th animals (trace 1) and the 1st fruit (trace 0)
    points = [{"curve_number": 1, "point_index": 2}, {"curve_number": 1, "point_index": 5}]
    points.append({"curve_number": 0, "point_index": 0})
    app.session_state["yv-map"] = {"selection": {"points": points, "point_indices": [2, 5, 0], "box": [], "lasso": []}}
    app.run()
    assert not app.exception and "**3 points selected.**" in [m.value for m in app.markdown]
    [button] = app.get("download_button")
    assert button.proto.label == "Download the selection (CSV)"
    shown = app.dataframe[-1].value
    assert shown["point"].tolist() == [0, 12, 15] and shown["name"].tolist() == ["fruit-0", "animal-12", "animal-15"]


def test_a_click_on_one_point_chooses_it_and_a_typed_point_then_stays(files):
    app = page(**{"yv-path": str(files / "points.parquet")})
    app.session_state["yv-map"] = {"selection": {"points": [{"curve_number": 0, "point_index": 7}], "box": []}}
    app.run()
    assert app.number_input(key="yv-point").value == 7 and traces(app)[-1]["name"] == "point #7"
    assert "The 10 points nearest to point #7" in " ".join(c.value for c in app.caption)
    app.number_input(key="yv-point").set_value(3).run()  # the click's selection is still there: it must not win
    assert app.number_input(key="yv-point").value == 3 and traces(app)[-1]["name"] == "point #3"


def test_the_points_become_an_image_dataset_for_the_train_page(files):
    from core.text_to_image import datasets

    app = page(**{"yv-path": str(files / "points.parquet")})
    app.selectbox(key="yv-ds-label").set_value("kind")
    app.number_input(key="yv-ds-px").set_value(4)
    app.button(key="yv-ds-build").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    [built] = datasets.list_datasets()
    assert f"Dataset {built.id} built" in app.success[0].value
    assert datasets.label_names(built) == ["animal", "colour", "fruit"]
    assert datasets.load_dataset(built)["images"].shape == (30, 4, 4)
