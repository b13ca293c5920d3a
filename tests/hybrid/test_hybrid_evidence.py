"""The evidence behind the hybrid's ablation: refits keep their per-example test correctness, each test accuracy
has its interval, the hybrid meets the control and the vision model alone in paired comparisons with verdicts,
and a converged linear probe on the same frozen features is the reference a vision-alone head is read against."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_bert, write_image_folder
from test_hybrid import tiny_dinov2


def tiny_search(root: Path):
    """The tiny search of tests/hybrid/test_hybrid.py's ``tiny_settings``: a two-class image folder, 2 configurations x
    2 folds, two epochs, a tiny DINOv2 and a tiny BERT saved under ``root``."""
    from core.hybrid.search import SearchSettings

    tiny_dinov2().save_pretrained(root / "vision")
    folder = write_image_folder(root / "images", per_class=15, side=16)
    return SearchSettings(
        imageset="folder",
        folder=str(folder),
        per_class=None,
        test_per_class=None,
        vision=str(root / "vision"),
        text=str(tiny_bert(root / "text")),
        text_layers=None,
        image_size=8,
        batch_sizes=(8,),
        learning_rates=(1e-3, 1e-2),
        optimizers=("adam",),
        folds=2,
        epochs=2,
        refits=2,
        threads=1,
    )


def test_the_ablation_reports_intervals_paired_verdicts_and_the_linear_probe(tmp_path, monkeypatch, capsys):
    from core import evidence, store
    from core.cli import main
    from core.hybrid import cli, search

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    settings = tiny_search(tmp_path)
    found = search.run_search(settings)
    config = found.config
    rows = {(r["variant"], r["own"]): r for r in config["ablation"]}
    hybrid = rows[("pretrained-text", False)]
    control_row = rows[("random-text", True)]  # the control, tuned on its own grid
    correct = {}
    for key, row in rows.items():
        seeds = [entry["seed"] for entry in row["refits"]]
        assert seeds == settings.refit_seeds() == [0, 1]
        runs = [np.array(store.load(search.TRIALS, e["id"]).config["test_correct"]) for e in row["refits"]]
        correct[key] = np.stack(runs)
        assert correct[key].shape == (2, config["test"])
        assert correct[key].mean() == pytest.approx(row["test_accuracy"])
        assert row["test_interval"]["n"] == 2 and row["test_interval"]["method"].startswith("t over seeds")
        assert row["test_interval"]["low"] <= row["test_accuracy"] <= row["test_interval"]["high"]
        for entry, values in zip(row["refits"], runs, strict=True):
            assert entry["interval"]["n"] == config["test"] and entry["accuracy"] == pytest.approx(values.mean())
        assert row["detectable"] == pytest.approx(
            evidence.detectable_difference(config["test"], 2, row["test_accuracy"])
        )
    against = {c["b"]: c for c in config["comparisons"]}
    control = against[control_row["title"]]
    assert "own grid" in control["against"]
    expected = evidence.compare_paired(correct[("pretrained-text", False)], correct[("random-text", True)])
    assert control["test"]["verdict"] == expected.verdict and control["test"]["seeds"] == 2
    assert control["test"]["difference"]["estimate"] == pytest.approx(expected.difference.estimate)
    assert control["test"]["detectable"] == pytest.approx(expected.detectable)
    gains = np.array(hybrid["fold_accuracy"]) - np.array(control_row["fold_accuracy"])
    assert control["cv"]["difference"]["estimate"] == pytest.approx(float(np.median(gains)))
    assert any("vision model alone" in c["against"] for c in config["comparisons"])

    probe = config["linear_probe"]
    assert probe["converged"] and probe["iterations"] < search.PROBE_ITERATIONS
    assert probe["test_interval"]["low"] <= probe["test_accuracy"] <= probe["test_interval"]["high"]
    vision_rows = [r for r in config["ablation"] if r["variant"] == "vision"]
    assert [e["title"] for e in probe["vision_rows"]] == [r["title"] for r in vision_rows]
    for entry, row in zip(probe["vision_rows"], vision_rows, strict=True):
        assert entry["gap"] == pytest.approx(probe["test_accuracy"] - row["test_accuracy"])
        assert entry["under_trained"] == (entry["gap"] > search.UNDER_TRAINED)
        assert entry["comparison"]["verdict"] in (evidence.SUPPORTED, evidence.CONTRADICTED, evidence.INCONCLUSIVE)
    assert probe["under_trained"] == [e["title"] for e in probe["vision_rows"] if e["under_trained"]]

    shown = cli.summary(config)
    assert shown["verdicts"][0] == config["comparisons"][0]["test"]["sentence"]
    assert shown["ablation"][0]["test_interval"] == hybrid["test_interval"]

    # a refit stored before per-example results were kept: said, then trained again to the same numbers
    for entry in hybrid["refits"]:
        refit = store.load(search.TRIALS, entry["id"])
        record = dict(refit.config)
        del record["test_correct"]
        (refit.path / store.CONFIG_NAME).write_text(json.dumps(record))
    [said] = [c for c in search.ablation_evidence(config["ablation"]) if c["b"] == control["b"]]
    assert said["test"]["note"] == search.NO_PER_EXAMPLE and search.NO_PER_EXAMPLE in said["test"]["sentence"]
    again = search.run_search(settings)
    assert again.id == found.id
    assert [r["test_accuracy"] for r in again.config["ablation"]] == [r["test_accuracy"] for r in config["ablation"]]
    assert again.config["comparisons"] == config["comparisons"]
    assert main(["hybrid-results", found.id]) == 0
    assert json.loads(capsys.readouterr().out)["linear_probe"]["test_accuracy"] == probe["test_accuracy"]


def test_a_mean_pooling_vision_model_is_read_out_through_its_pooler_by_the_vision_alone_rows(tmp_path, monkeypatch):
    """BEiT classifies from its pooler (the LayerNorm of the patch tokens' mean), not from [CLS]: the vision model
    alone and the linear probe read that vector, the hybrid still reads every token."""
    import torch
    from transformers import BeitConfig, BeitModel

    from core import store
    from core.hybrid import search, vision

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    config = BeitConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=8,
        patch_size=4, use_mean_pooling=True,
    )  # fmt: skip
    BeitModel(config, add_pooling_layer=True).save_pretrained(tmp_path / "beit")
    loaded = vision.load_vision_model(str(tmp_path / "beit"))
    assert loaded.readout == "mean-pool" and "pooler" in loaded.note
    images = torch.randint(0, 255, (3, 3, 8, 8), dtype=torch.uint8)
    tokens = loaded.encode(images, 8)
    with torch.inference_mode():
        pooled = loaded.module(pixel_values=loaded.pixels(images, 8)).pooler_output
    torch.testing.assert_close(loaded.readout_vectors(tokens), pooled, atol=2e-2, rtol=0)  # tokens are float16

    settings = replace(tiny_search(tmp_path), vision=str(tmp_path / "beit"), refits=1)
    found = search.run_search(settings)
    data = search.prepare(settings)
    assert data.readout == "mean-pool"
    torch.testing.assert_close(data.vision_inputs("test")[:, 0], loaded.readout_vectors(data.test_tokens))
    probe = found.config["linear_probe"]
    assert "pooled vectors" in probe["title"]
    [vision_own] = [r for r in found.config["ablation"] if r["variant"] == "vision" and r["own"]]
    trial = store.load(search.TRIALS, vision_own["refits"][0]["id"])
    assert trial.config["readout"] == "mean-pool"  # a vision-alone trial of a pooled readout is its own trial
