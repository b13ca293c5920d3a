"""The adaptive rule's budgets replayed on one grid of gradients: the replay is the rule itself."""

from __future__ import annotations

import sys

import numpy as np
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))


def test_the_replay_on_a_grid_gives_what_the_rule_gives_on_the_path(lab_home, small_dataset, small_model):
    import bench_adaptive_budget as bench

    from core.text_to_image import attributions, classify

    imager, model = classify.dataset_imager(small_dataset), classify.load_model(small_model.path)
    text = "A tender, funny and beautifully acted film."
    points = attributions.ADAPTIVE_START * 2**2 + 1
    gradients, logits = bench.grid(imager, model, text, points, 16)
    replayed, used, _ = attributions.adaptive_integral(bench.GridPath(gradients, logits, 16), 28)
    found = attributions.attribute(imager, model, text, steps=28, rule="adaptive")
    assert used == found.steps
    np.testing.assert_allclose(replayed, found.scores, atol=1e-4 * max(1.0, np.abs(found.scores).max()))


def test_it_prints_a_row_per_budget_and_refuses_a_missing_model(lab_home, small_dataset, small_model, capsys):
    import bench_adaptive_budget as bench

    assert bench.main(["--model", small_model.id, "--sentences", "2", "--budgets", "16,20", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "| adaptive, at most 16 |" in out and "| adaptive, at most 20 |" in out and "(reference)" in out
    assert "tokens' error" in out
    assert bench.main(["--model", "no-such-model"]) == 2


def test_the_tokens_error_counts_what_the_gap_cancels():
    import bench_adaptive_budget as bench

    reference = np.array([1.0, -1.0, 2.0])
    assert bench.token_error(reference, reference) == 0.0
    # the same sum as the reference (no completeness gap) but two tokens off by 0.5 each: 1.0 of 4.0
    assert bench.token_error([1.5, -1.5, 2.0], reference) == 0.25
