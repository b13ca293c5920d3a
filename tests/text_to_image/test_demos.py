"""Portable demos: export -> import on another store gives the same predictions; damaged, unsafe or mismatched
archives are refused with nothing written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

TEXT = "A tender, funny and beautifully acted film."


def _predict(dataset_id: str, model_id: str) -> np.ndarray:
    from core import store
    from core.text_to_image import classify, datasets, training

    dataset = store.load(datasets.DATASETS, dataset_id)
    _, images = classify.dataset_imager(dataset).images([TEXT])
    model = classify.load_model(store.load(training.MODELS, model_id).path)
    return classify.classify({"m": model}, images[0])["per_model"]["m"]


@pytest.fixture(scope="module")
def baseline(small_dataset):
    from core.text_to_image import training

    return training.logistic_baseline(small_dataset)


@pytest.fixture(scope="module")
def archive(small_dataset, small_model, baseline, small_imager, tmp_path_factory) -> Path:
    from core.text_to_image import demos

    path = tmp_path_factory.mktemp("demo") / "demo.zip"
    demos.export_demo(path, small_dataset.id, [small_model.id], [small_imager.artifact_id])
    return path


def _runs(home: Path) -> list[str]:
    runs = home / "runs"
    return sorted(p.relative_to(runs).as_posix() for p in runs.glob("*/*")) if runs.is_dir() else []


def test_a_demo_imported_elsewhere_predicts_exactly_as_at_home(
    archive, small_dataset, small_model, baseline, small_imager, monkeypatch, tmp_path
):
    from core import store
    from core.text_to_image import demos, imaging, training

    expected = _predict(small_dataset.id, small_model.id)
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        manifest = json.loads(opened.read("manifest.json"))
    assert all(n.endswith((".json", ".safetensors")) for n in names)
    assert manifest["dataset"] == small_dataset.id and manifest["models"] == [small_model.id]
    assert "packages" in manifest["provenance"]
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "elsewhere"))
    assert manifest["baselines"] == [baseline.id] and manifest["imagers"] == [small_imager.artifact_id]
    contents = demos.contents_line(manifest)
    assert "logistic-regression baseline" in contents and "no " not in contents
    imported = demos.import_demo(archive)
    assert imported == [
        ("datasets", small_dataset.id, True),
        ("models", small_model.id, True),
        ("baselines", baseline.id, True),
        ("imagers", small_imager.artifact_id, True),
    ]
    np.testing.assert_array_equal(_predict(small_dataset.id, small_model.id), expected)
    # the baseline row of Results and the Sentence -> Image layout come along: nothing to fit again
    assert store.load(training.BASELINES, baseline.id).config["metrics"] == baseline.config["metrics"]
    moved = imaging.load_imager(store.load(imaging.IMAGERS, small_imager.artifact_id))
    there, here = moved.images([TEXT]), small_imager.images([TEXT])
    np.testing.assert_array_equal(there.combined, here.combined)
    np.testing.assert_array_equal(there.relative_combined, here.relative_combined)
    home = tmp_path / "elsewhere" / "runs"
    assert np.array_equal(
        np.load(home / "datasets" / small_dataset.id / "labels.npy"), np.load(small_dataset.path / "labels.npy")
    )
    again = demos.import_demo(archive.read_bytes())  # identical: nothing replaced, and said so
    assert again == [(kind, artifact_id, False) for kind, artifact_id, _ in imported]


def _rewrite(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as opened:
        files = {n: opened.read(n) for n in opened.namelist()}
    files = change(files)
    with zipfile.ZipFile(target, "w") as out:
        for name, data in files.items():
            out.writestr(name, data)
    return target


def _flip_weights(files):
    name = next(n for n in files if n.endswith("model.safetensors"))
    data = bytearray(files[name])
    data[-10] ^= 0xFF
    return {**files, name: bytes(data)}


def _wrong_size(files):  # a member bigger than its manifest says (how a zip bomb would look) is never unpacked
    manifest = json.loads(files["manifest.json"])
    manifest["artifacts"][0]["files"][0]["bytes"] -= 1
    return {**files, "manifest.json": json.dumps(manifest).encode()}


def _without_dataset(files):
    manifest = json.loads(files["manifest.json"])
    manifest["artifacts"] = [a for a in manifest["artifacts"] if a["kind"] != "datasets"]
    kept = {n: d for n, d in files.items() if not n.startswith("datasets/")}
    return {**kept, "manifest.json": json.dumps(manifest).encode()}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_flip_weights, "does not match its SHA-256"),
        (lambda f: {**f, "models/x/evil.pkl": b"\x80\x04."}, "neither JSON nor safetensors"),
        (lambda f: {**f, "../outside.json": b"{}"}, "outside its own folders"),
        (lambda f: {k: v for k, v in f.items() if k != "manifest.json"}, "no manifest.json"),
        (_without_dataset, "needs dataset"),
        (lambda f: {**f, "manifest.json": f["manifest.json"].replace(b'"version": 1', b'"version": 9')}, "format 9"),
        (_wrong_size, "is not the size its manifest says"),
    ],
)
def test_damaged_unsafe_or_mismatched_archives_are_refused_and_nothing_is_written(
    archive, change, message, monkeypatch, tmp_path
):
    from core.text_to_image import demos

    home = tmp_path / "home"
    monkeypatch.setenv("CROSSMODAL_HOME", str(home))
    broken = _rewrite(archive, tmp_path / "broken.zip", change)
    with pytest.raises(ValueError, match=message) as refused:
        demos.import_demo(broken)
    assert "Nothing was imported" in str(refused.value)
    assert _runs(home) == [] and not list((home / "runs").glob(".demo-*")) if (home / "runs").exists() else True
    with pytest.raises(ValueError, match="not a readable zip"):
        demos.import_demo(b"not a zip at all")


def test_a_different_artifact_under_the_same_id_is_not_replaced(archive, small_dataset, monkeypatch, tmp_path):
    from core import store
    from core.text_to_image import demos

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    with store.writing("datasets", small_dataset.id, {"something": "else"}) as folder:
        (folder / "labels.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="already here with other contents"):
        demos.import_demo(archive)
    assert _runs(tmp_path / "home") == [f"datasets/{small_dataset.id}"]


def test_the_cli_exports_and_imports(small_dataset, small_model, monkeypatch, tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "cli.zip"
    assert main(["demo-export", "--dataset", small_dataset.id, "--model", small_model.id, "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["models"] == [small_model.id]
    assert main(["demo-export", "--dataset", "nope", "--model", small_model.id, "--out", str(out)]) == 2
    assert "no dataset 'nope'" in capsys.readouterr().err
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "other"))
    assert main(["demo-import", str(out)]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["imported"][:2] == [f"datasets/{small_dataset.id}", f"models/{small_model.id}"]
    assert imported["already_here"] == []
    assert main(["demo-import", str(out)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == {"imported": [], "already_here": imported["imported"]}
    assert main(["demo-import", str(tmp_path / "missing.zip")]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_the_page_prepares_a_download_of_the_chosen_dataset_and_models(lab_home, small_dataset, small_model):
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[2]
    app = AppTest.from_file(str(root / "pages/text_to_image/demos.py"), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    app.selectbox(key="dm-dataset").set_value(small_dataset.id).run()
    app.multiselect(key="dm-models").set_value([small_model.id]).run()
    app.button(key="dm-export").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    [download] = app.get("download_button")
    assert f"crossmodal-demo-{small_dataset.id}.zip" in download.proto.label
    [contents] = [c.value for c in app.caption if c.value.startswith("In the archive:")]
    assert f"dataset {small_dataset.id}; 1 model;" in contents and "Sentence → Image layout" in contents
    taken = 2 + ("baseline (" in contents or "baselines (" in contents) + ("no Sentence" not in contents)
    assert f"{taken} artifacts" in download.proto.label
