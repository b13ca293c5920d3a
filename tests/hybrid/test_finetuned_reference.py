"""The hybrid's fine-tuned reference: the vision model fine-tuned end to end as one more ablation row, off by
default (stored searches keep their ids and rows), on: its backbone learns, and the hybrid meets it in a paired
comparison with an interval, a test and a verdict; the gains are said in points and relative; the CLI flag and
the page's checkbox."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_hybrid_evidence import tiny_search

ROOT = Path(__file__).resolve().parents[2]
LAPTOP_ID, FULL_ID = "b3debd5509a4", "472f09808f60"
"""The presets' search ids before the fine-tuned reference existed."""


@pytest.fixture(scope="module")
def searches(tmp_path_factory):
    """One tiny search (the vision model alone and the hybrid, one configuration, 2 folds, 2 refit seeds) run
    without the fine-tuned reference, then with it, in one store; every fine-tuned model built is kept."""
    from core.hybrid import models, search

    root = tmp_path_factory.mktemp("finetuned")
    built = []

    class Kept(models.FineTunedVision):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(root / "home"))
        patch.setattr(models, "FineTunedVision", Kept)
        settings = replace(tiny_search(root), variants=("vision", "pretrained-text"), learning_rates=(1e-2,))
        off = search.run_search(settings)
        on_settings = replace(settings, finetuned_reference=True)
        on = search.run_search(on_settings)
        yield {"settings": settings, "on_settings": on_settings, "off": off, "on": on, "built": built, "root": root}


def test_off_by_default_the_stored_ids_stay_and_bad_values_are_refused():
    from core import store
    from core.hybrid.search import FULL, LAPTOP, SearchSettings
    from core.settings import from_record, to_record

    assert not LAPTOP.finetuned_reference and not FULL.finetuned_reference
    assert (LAPTOP.search_id(), FULL.search_id()) == (LAPTOP_ID, FULL_ID)
    old = {k: v for k, v in to_record(LAPTOP).items() if k not in ("finetuned_reference", "backbone_lr_factor")}
    assert LAPTOP.record() == old and store.config_hash(old) == LAPTOP_ID
    assert replace(LAPTOP, backbone_lr_factor=0.5).search_id() == LAPTOP_ID  # off: the factor is no part of it
    on = replace(LAPTOP, finetuned_reference=True)
    assert on.record()["finetuned_reference"] is True and on.record()["backbone_lr_factor"] == 0.1
    assert on.search_id() not in (LAPTOP_ID, replace(on, backbone_lr_factor=0.5).search_id())
    assert from_record(SearchSettings, on.record()) == on and from_record(SearchSettings, old) == LAPTOP
    for wrong, message in (
        ({"finetuned_reference": "yes"}, "finetuned_reference is True or False"),
        ({"backbone_lr_factor": 0}, r"learning-rate factor .* must be in \(0, 1\]"),
        ({"backbone_lr_factor": 2.0}, r"must be in \(0, 1\]"),
    ):
        with pytest.raises(ValueError, match=message):
            replace(LAPTOP, **wrong).check()


def test_off_the_rows_are_unchanged_and_on_the_fine_tuned_row_is_one_more_with_its_evidence(searches):
    from core import evidence, store
    from core.hybrid import models, search, vision

    off, on, settings = searches["off"].config, searches["on"].config, searches["on_settings"]
    assert searches["off"].id == searches["settings"].search_id() and searches["on"].id == settings.search_id()
    assert "finetuned_reference" not in off["settings"] and on["settings"]["finetuned_reference"] is True
    # off: the rows and comparisons a search had; on: the same ones (the same trials), and one more of each
    assert all(r["variant"] != models.FINETUNED for r in off["ablation"])
    assert on["ablation"][:-1] == off["ablation"] and on["comparisons"][:-1] == off["comparisons"]
    row = on["ablation"][-1]
    [vision_own] = [r for r in off["ablation"] if r["variant"] == "vision" and r["own"]]
    assert row["variant"] == models.FINETUNED and row["title"] == models.VARIANT_TITLES[models.FINETUNED]
    assert row["config"] == vision_own["config"] == on["bests"]["vision"]
    assert row["backbone_learning_rate"] == pytest.approx(0.1 * row["config"]["learning_rate"])
    assert [e["seed"] for e in row["refits"]] == settings.refit_seeds() == [0, 1] and len(row["fold_accuracy"]) == 2
    interval = row["test_interval"]
    assert interval["method"].startswith("t over seeds") and interval["low"] <= row["test_accuracy"] <= interval["high"]
    assert row["detectable"] == pytest.approx(evidence.detectable_difference(on["test"], 2, row["test_accuracy"]))
    assert all(e["backbone_change"] > 0 for e in row["refits"])
    trial = store.load(search.TRIALS, row["refits"][0]["id"])
    assert trial.config["variant"] == models.FINETUNED and trial.config["backbone_lr_factor"] == 0.1

    # the backbone learnt: every fine-tuned model's weights left the vision model's, which stayed as loaded
    built = searches["built"]
    assert len(built) == settings.folds + settings.refits
    fresh = vision.load_vision_model(settings.vision).module
    start = dict(fresh.named_parameters())
    shared = search._vision_model(settings.vision).module
    for name, weight in shared.named_parameters():
        torch.testing.assert_close(weight, start[name], rtol=0, atol=0)
    name = next(n for n, w in start.items() if "attention" in n and "0" in n.split(".") and w.dim() == 2)
    for model in built:
        learnt = dict(model.backbone.named_parameters())[name].detach().cpu()
        assert not torch.equal(learnt, start[name].detach()) and model.backbone is not shared

    # the hybrid against it: paired on the same test images and seeds, an interval, a test and a verdict
    entry = on["comparisons"][-1]
    assert entry["b"] == row["title"] and "fine-tuned end to end" in entry["against"]
    hybrid = on["ablation"][0]
    runs = {
        r["title"]: np.stack([np.array(store.load(search.TRIALS, e["id"]).config["test_correct"]) for e in r["refits"]])
        for r in (hybrid, row)
    }
    expected = evidence.compare_paired(runs[hybrid["title"]], runs[row["title"]])
    test = entry["test"]
    assert test["verdict"] == expected.verdict and test["seeds"] == 2 and test["p_value"] == expected.p_value
    difference = test["difference"]
    assert difference["low"] <= difference["estimate"] <= difference["high"]
    assert difference["estimate"] == pytest.approx(hybrid["test_accuracy"] - row["test_accuracy"])
    verdicts = (evidence.SUPPORTED, evidence.CONTRADICTED, evidence.INCONCLUSIVE)
    assert test["verdict"] in verdicts and entry["cv"]["verdict"] in verdicts  # and over the folds, paired by fold
    # the gain both ways: points, and relative to the fine-tuned model's accuracy
    assert entry["gain"]["points"] == pytest.approx(100 * difference["estimate"])
    assert entry["gain"]["relative"] == pytest.approx(difference["estimate"] / row["test_accuracy"])
    said = dict(search.comparison_gains(on))
    assert said[row["title"]] == search.gain_text(entry["gain"]) and "% relative to its" in said[row["title"]]
    # the linear probe stays the frozen rows' reference
    assert row["title"] not in [e["title"] for e in on["linear_probe"]["vision_rows"]]


def test_the_cli_flag_adds_the_row_and_bad_values_get_one_line(searches, capsys, monkeypatch):
    from core.cli import main

    monkeypatch.setenv("CROSSMODAL_HOME", str(searches["root"] / "home"))
    s = searches["settings"]
    args = ["hybrid-search", "--imageset", "folder", "--folder", s.folder, "--per-class", "0", "--test-per-class", "0"]
    args += ["--vision", s.vision, "--text", s.text, "--image-size", "8", "--batch-sizes", "8", "--refits", "2"]
    args += ["--learning-rates", "0.01", "--optimizers", "adam", "--folds", "2", "--epochs", "2", "--threads", "1"]
    for bad, message in (
        (["--finetuned-reference", "--backbone-lr-factor", "0"], "learning-rate factor (a share of the head's)"),
        (["--backbone-lr-factor", "0.5"], "--backbone-lr-factor applies only with --finetuned-reference"),
    ):
        assert main([*args, *bad]) == 2
        error = capsys.readouterr().err.strip()
        assert message in error and "\n" not in error
    assert main([*args, "--finetuned-reference", "--backbone-lr-factor", "0.2"]) == 0
    result = json.loads(capsys.readouterr().out)
    row = result["ablation"][-1]
    assert row["title"].startswith("vision model fine-tuned end to end") and row["refit_seeds"] == [0, 1]
    assert row["backbone_learning_rate"] == pytest.approx(0.002) and row["test_interval"]["n"] == 2
    assert result["comparisons"][-1]["b"] == row["title"] and result["comparisons"][-1]["test"]["verdict"]
    assert "% relative to its" in result["gains"][f"hybrid − {row['title']}"]
    assert len(result["gains"]) == len(result["comparisons"]) + 1  # and the linear probe's


def test_the_page_offers_the_reference_with_its_cost_and_shows_its_row_and_gains(searches):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "pages/hybrid/hybrid.py"), default_timeout=120)
    app.session_state["hy-chosen"] = searches["on"].id
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    box = app.checkbox(key="hy-finetuned-laptop")
    assert box.value is False and "Costly on a CPU" in box.help
    box.check().run()
    assert any("Plus the vision model fine-tuned end to end" in c.value for c in app.caption)
    [table] = [d.value for d in app.dataframe]
    titles = list(table["model"])
    finetuned = titles.index("vision model fine-tuned end to end (the original model)")
    assert "backbone lr 0.001" in table["configuration"][finetuned]
    said = next(m.value for m in app.markdown if m.value.startswith("The hybrid with pretrained text layers"))
    assert "fine-tuned end to end" in said and said.count("% relative to its") == said.count("- against")


def test_a_fine_tuned_beit_classifies_from_its_pooler_and_its_copy_alone_learns(tmp_path):
    """The fine-tuned model reads the vision model the way it classifies (BEiT: its pooler), its head starts as the
    vision model alone's of the same seed, and one step moves its backbone, never the vision model it copied."""
    from transformers import BeitConfig, BeitModel

    from core.hybrid import models

    torch.manual_seed(0)
    config = BeitConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=8,
        patch_size=4, use_mean_pooling=True,
    )  # fmt: skip
    beit = BeitModel(config, add_pooling_layer=True).eval()
    start = {n: p.detach().clone() for n, p in beit.named_parameters()}
    model = models.FineTunedVision(beit, 3, "mean-pool", lambda images: images.float() / 255, seed=4)
    alone = models.build("vision", 32, 3, None, None, "stack", seed=4)
    torch.testing.assert_close(model.head.weight, alone.head.weight, rtol=0, atol=0)
    images = torch.randint(0, 255, (4, 3, 8, 8), dtype=torch.uint8)
    model.eval()
    with torch.no_grad():
        expected = model.head(beit(pixel_values=images.float() / 255).pooler_output)
        torch.testing.assert_close(model(images), expected)
    groups = model.parameter_groups(1e-2, 0.1)
    assert [g["lr"] for g in groups] == [1e-2, pytest.approx(1e-3)]
    model.train()
    torch.nn.functional.cross_entropy(model(images), torch.tensor([0, 1, 2, 0])).backward()
    torch.optim.Adam(groups).step()
    moved = [n for n, p in model.backbone.named_parameters() if not torch.equal(p.detach(), start[n])]
    assert "pooler.layernorm.weight" in moved and any("attention" in n and "0" in n.split(".") for n in moved)
    for name, weight in beit.named_parameters():
        torch.testing.assert_close(weight, start[name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="readout must be one of"):
        models.FineTunedVision(beit, 3, "mean", lambda images: images, seed=0)
