"""`python -m core`: the same artifacts as the app, and clear errors instead of tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core import cli
from core.text_to_image import datasets, imaging

ROOT = Path(__file__).resolve().parents[2]


def test_fit_layout_builds_an_imager_from_a_csv(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    rows = [f"review {i}: {'great fun' if i % 2 else 'a slog'} from start to end" for i in range(30)]
    csv = tmp_path / "reviews.csv"
    csv.write_text("body,stars\n" + "\n".join(f"{t},{i % 2}" for i, t in enumerate(rows)), encoding="utf-8")
    code = cli.main(
        [
            "fit-layout",
            "--corpus",
            "csv",
            "--csv",
            str(csv),
            "--text-column",
            "body",
            "--label-column",
            "stars",
            "--n",
            "none",
            "--method",
            "pca",
            "--pixels",
            "12",
            "--layers",
            "5",
            "6",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    found = imaging.list_imagers()
    assert [a.id for a in found] == [result["id"]]
    config = found[0].config
    assert config["layers"] == [5, 6] and config["layout"]["method"] == "pca" and config["corpus"]["rows"] == 30
    assert set(result["quality"]) == {"combined", "per_layer"}
    assert cli.main(["layouts"]) == 0
    assert result["id"] in capsys.readouterr().out


def test_user_errors_print_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    assert cli.main(["fit-layout", "--corpus", "csv"]) == 2
    assert capsys.readouterr().err.startswith("error: --corpus csv needs --csv")
    assert cli.main(["fit-layout", "--corpus", "csv", "--csv", str(tmp_path / "nope.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["fit-layout", "--corpus", "nosuch"]) == 2
    assert "unknown corpus" in capsys.readouterr().err


def test_bad_layout_parameter_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    csv = tmp_path / "t.csv"
    csv.write_text("text,label\n" + "\n".join(f"text number {i},{i % 2}" for i in range(10)))
    assert cli.main(["fit-layout", "--corpus", "csv", "--csv", str(csv), "--pixels", "1", "--method", "pca"]) == 2
    assert "pixels must be at least 2" in capsys.readouterr().err


def test_info_runs_as_a_module(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "core", "info"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"CROSSMODAL_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["device"]["kind"] in ("cpu", "cuda")
    assert any(row["name"] == "all-MiniLM-L6-v2" and row["available"] for row in info["encoders"])
    assert any(row["name"] == "rotten_tomatoes" and row["available"] for row in info["corpora"])
    assert {"backbones", "imagesets", "word_vectors", "token_tasks", "vision_models"} <= set(info)


def test_unknown_command_is_refused():
    with pytest.raises(SystemExit) as stop:
        cli.main(["paint"])
    assert stop.value.code == 2


@pytest.mark.parametrize("verb", ["tasks", "map", "compare", "results"])
def test_the_former_token_command_names_still_parse(verb):
    parser = cli.build_parser()
    old, new = parser.parse_args([f"token-{verb}"]), parser.parse_args([f"tokens-{verb}"])
    assert old.run is new.run
    assert {k: v for k, v in vars(old).items() if k != "command"} == {
        k: v for k, v in vars(new).items() if k != "command"
    }


def test_build_dataset_from_a_csv(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    csv = tmp_path / "reviews.csv"
    csv.write_text(
        "text,label\n" + "\n".join(f"review {i} was {'good' if i % 2 else 'bad'},{i % 2}" for i in range(30))
    )
    code = cli.main(
        ["build-dataset", "--corpus", "csv", "--csv", str(csv), "--n", "none", "--method", "pca", "--pixels", "10"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == {"test_size": 0.2, "seed": 42, "train": 24, "test": 6}
    artifact = imaging.store.load(datasets.DATASETS, result["id"])
    assert artifact.config["fit_on"] == "train" and datasets.load_dataset(artifact)["images"].shape == (30, 10, 10)


def test_build_dataset_with_one_layer_per_channel_and_its_clear_refusal(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    csv = tmp_path / "reviews.csv"
    csv.write_text(
        "text,label\n" + "\n".join(f"review {i} was {'good' if i % 2 else 'bad'},{i % 2}" for i in range(30))
    )
    common = ["build-dataset", "--corpus", "csv", "--csv", str(csv), "--n", "none", "--method", "pca"]
    assert cli.main([*common, "--pixels", "20", "--channels", "layers"]) == 2
    assert "exactly three layers" in capsys.readouterr().err
    assert cli.main([*common, "--pixels", "20", "--channels", "layers", "--layers", "-3", "-2", "-1"]) == 0
    artifact = imaging.store.load(datasets.DATASETS, json.loads(capsys.readouterr().out)["id"])
    assert artifact.config["channels"] == "layers"
    assert datasets.load_dataset(artifact)["images"].shape == (30, 3, 20, 20)
    assert cli.main(["t2i-datasets"]) == 0
    assert {d["id"]: d["channels"] for d in json.loads(capsys.readouterr().out)} == {artifact.id: "layers"}


def test_build_dataset_refuses_one_class(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))
    csv = tmp_path / "one.csv"
    csv.write_text("text,label\n" + "\n".join(f"review {i},pos" for i in range(10)))
    assert cli.main(["build-dataset", "--corpus", "csv", "--csv", str(csv), "--n", "none"]) == 2
    assert "only one class" in capsys.readouterr().err


T2I_VERBS = ("fit-layout", "layouts", "build-dataset", "datasets", "train", "baseline", "results", "preset")


@pytest.mark.parametrize("verb", T2I_VERBS)
def test_text_to_image_commands_answer_to_t2i_names_and_their_former_ones(verb):
    parser = cli.build_parser()
    extra = ["--dataset", "d0"] if verb in ("train", "baseline", "results") else []
    extra += ["workshop"] if verb == "preset" else []
    new, old = parser.parse_args([f"t2i-{verb}", *extra]), parser.parse_args([verb, *extra])
    assert new.run is old.run and callable(new.run)


def test_t2i_train_starts_from_the_preset_and_the_options_given_replace_its_settings():
    from dataclasses import replace

    from core.text_to_image import presets
    from core.text_to_image.cli import _train_settings
    from core.text_to_image.training import DEFAULTS

    parser = cli.build_parser()
    paper = presets.PRESETS["paper-offline"].train
    assert _train_settings(parser.parse_args(["t2i-train", "--dataset", "d0", "--preset", "paper-offline"])) == paper
    given = parser.parse_args(["t2i-train", "--dataset", "d0", "--preset", "paper-offline", "--epochs", "2"])
    assert _train_settings(given) == replace(paper, epochs=2)
    lab = parser.parse_args(["train", "--dataset", "d0", "--backbone", "squeezenet1_1", "--random-init"])
    assert _train_settings(lab) == replace(DEFAULTS, backbone="squeezenet1_1", pretrained=False)
    left_out = parser.parse_args(["t2i-train", "--dataset", "d0", "--preset", "workshop"])
    assert "finetune" not in vars(left_out) and "random_init" not in vars(left_out)  # flags not given keep the preset's
    with pytest.raises(ValueError, match="--backbone.*--preset"):
        _train_settings(parser.parse_args(["t2i-train", "--dataset", "d0"]))


def test_t2i_build_dataset_takes_the_presets_corpus_split_and_layout_unless_an_option_replaces_them():
    from core.text_to_image import presets
    from core.text_to_image.cli import _layout_params, _with_preset

    parser = cli.build_parser()
    paper = presets.PRESETS["paper-offline"]
    args = _with_preset(parser.parse_args(["t2i-build-dataset", "--preset", "paper-offline", "--pixels", "30"]))
    assert (args.corpus, args.encoder, args.fit_on, args.split) == (paper.corpus, paper.encoder, "all", paper.split)
    assert _layout_params(args) == {**paper.layout, "pixels": 30}
    lab = _with_preset(parser.parse_args(["build-dataset"]))
    assert (lab.fit_on, lab.split, lab.test_size) == ("train", "stratified", datasets.DATASET_DEFAULTS.test_size)
    assert _layout_params(lab) == presets.layout_base("lab")
