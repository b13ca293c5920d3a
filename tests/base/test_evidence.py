"""The evidence module on simulated data: intervals cover at their nominal rate, paired tests find what was
planted and nothing where nothing was, the detectable difference is the textbook figure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import evidence


def test_bootstrap_interval_covers_the_true_accuracy_at_about_its_nominal_rate():
    rng = np.random.default_rng(0)
    true, n, runs = 0.7, 300, 200
    covered = sum(
        evidence.interval_over_examples(rng.random(n) < true, n_resamples=1000, random_state=i).contains(true)
        for i in range(runs)
    )
    assert 0.90 <= covered / runs <= 0.99  # nominal 0.95; 200 runs: about ±3 points of sampling error


def test_seed_interval_covers_the_true_mean_at_about_its_nominal_rate():
    rng = np.random.default_rng(1)
    covered = sum(evidence.interval_over_seeds(rng.normal(0.7, 0.02, 5)).contains(0.7) for _ in range(400))
    assert 0.92 <= covered / 400 <= 0.98


def test_a_seed_interval_is_cut_to_the_metrics_range_and_says_so():
    wide = evidence.interval_over_seeds([0.55, 0.98])  # two seeds: t with one degree of freedom
    assert wide.low < 0 and wide.high > 1
    cut = evidence.interval_over_seeds([0.55, 0.98], bounds=(0.0, 1.0))
    assert (cut.estimate, cut.low, cut.high) == (wide.estimate, 0.0, 1.0) and "cut to [0, 1]" in cut.method
    inside = evidence.interval_over_seeds([0.70, 0.71, 0.72], bounds=(0.0, 1.0))
    assert inside == evidence.interval_over_seeds([0.70, 0.71, 0.72])  # nothing to cut: the same interval


def test_one_seed_has_no_spread_and_says_so():
    found = evidence.interval_over_seeds([0.71])
    assert (found.low, found.high, found.n) == (0.71, 0.71, 1) and "one seed" in found.method


def test_identical_models_differ_by_zero_with_an_interval_holding_zero():
    rng = np.random.default_rng(2)
    correct = (rng.random(160) < 0.9).astype(int)
    found = evidence.compare_paired(correct, correct)
    assert found.difference.estimate == 0 and found.difference.contains(0)
    assert found.discordant == (0, 0) and found.p_value == 1.0
    assert found.verdict == evidence.INCONCLUSIVE


def test_a_planted_effect_is_found_and_the_reverse_claim_contradicted():
    rng = np.random.default_rng(3)
    b = (rng.random(600) < 0.70).astype(int)
    a = b.copy()
    a[np.flatnonzero(b == 0)[:60]] = 1  # A fixes 60 of B's mistakes: +10 points
    found = evidence.compare_paired(a, b, claim="greater")
    assert found.difference.estimate == pytest.approx(0.1)
    assert found.difference.low > 0 and found.p_value < 1e-10 and found.verdict == evidence.SUPPORTED
    assert found.discordant == (60, 0)
    assert evidence.compare_paired(a, b, claim="less").verdict == evidence.CONTRADICTED


def test_a_small_gap_on_a_small_split_is_inconclusive_with_the_size_that_would_settle_it():
    rng = np.random.default_rng(4)
    b = (rng.random(160) < 0.93).astype(int)
    a = b.copy()
    a[np.flatnonzero(b == 0)[:3]] = 1  # 3 records: the BERT-on-splice gap
    found = evidence.compare_paired(a, b)
    assert found.verdict == evidence.INCONCLUSIVE
    assert found.needed is not None and found.needed > 160
    assert "cannot be told apart" in found.sentence and f"{found.needed:,}" in found.sentence


def test_seeds_stay_paired_with_their_examples():
    rng = np.random.default_rng(5)
    b = (rng.random((3, 200)) < 0.6).astype(int)
    a = b.copy()
    a[:, :30] = 1
    found = evidence.compare_paired(a, b)
    assert found.difference.estimate == pytest.approx(float(a.mean() - b.mean()))
    assert found.difference.n == 200 and found.verdict == evidence.SUPPORTED


def test_detectable_difference_matches_the_hand_calculation():
    # (1.959964 + 0.841621) * sqrt(2 * 0.7 * 0.3 / 600) = 2.801585 * 0.026458 = 0.074124
    assert evidence.detectable_difference(600, seeds=1, accuracy=0.7) == pytest.approx(0.074124, abs=1e-5)
    assert evidence.detectable_difference(600, seeds=4, accuracy=0.7) == pytest.approx(0.074124 / 2, abs=1e-5)
    need = evidence.examples_needed(0.074124, accuracy=0.7)
    assert abs(need - 600) <= 1
    half = evidence.detectable_difference(160, accuracy=0.5)
    assert math.isclose(half, 2.801585 * math.sqrt(0.5 / 160), rel_tol=1e-5)


def test_fold_gains_use_wilcoxon_and_a_sign_test_when_few():
    many = evidence.compare_folds([0.1, 0.2, 0.15, 0.3, 0.05, 0.12, 0.22, 0.18, 0.09, 0.25])
    assert many.test == "Wilcoxon signed-rank" and many.verdict == evidence.SUPPORTED and many.p_value < 0.01
    mixed = evidence.compare_folds([0.02, -0.03, 0.01, -0.01, 0.0, -0.02, 0.03, -0.04, 0.01, -0.005])
    assert mixed.verdict == evidence.INCONCLUSIVE and "4 of 10 folds gain, 5 lose" in mixed.sentence
    few = evidence.compare_folds([0.1, 0.2, 0.3])
    assert few.test.startswith("sign test") and few.p_value == pytest.approx(0.25)


def test_a_correlation_interval_covers_the_true_rank_correlation_and_a_planted_one_is_found():
    from scipy import stats

    rng = np.random.default_rng(3)
    # bivariate normal with correlation r: Spearman's rho is (6 / pi) asin(r / 2)
    r = 0.6
    true = 6 / math.pi * math.asin(r / 2)
    covered = 0
    for i in range(60):
        x = rng.normal(size=60)
        y = r * x + math.sqrt(1 - r**2) * rng.normal(size=60)
        found = evidence.interval_of_correlation(x, y, n_resamples=500, random_state=i)
        assert found.estimate == pytest.approx(stats.spearmanr(x, y).statistic)
        covered += found.contains(true)
    assert 0.85 <= covered / 60 <= 1.0  # nominal 0.95; 60 runs: a coarse check of the coverage
    independent = evidence.interval_of_correlation(rng.normal(size=200), rng.normal(size=200))
    assert independent.contains(0.0)
    planted = evidence.interval_of_correlation(np.arange(10.0), np.arange(10.0) + rng.normal(0, 0.5, 10))
    assert planted.low > 0.5


def test_the_median_interval_holds_the_median():
    values = np.array([-0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1])
    found = evidence.interval_of_median(values)
    assert found.estimate == pytest.approx(-0.2) and found.low <= -0.2 <= found.high and found.n == 7


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: evidence.interval_over_examples([]), "no values"),
        (lambda: evidence.interval_over_examples([1, float("nan")]), "NaN"),
        (lambda: evidence.interval_over_seeds([0.5, 0.6], confidence=95), "between 0 and 1"),
        (lambda: evidence.compare_paired([1, 0], [1, 0, 1]), "same examples"),
        (lambda: evidence.compare_paired([1, 2], [1, 0]), "1 \\(right\\) or 0"),
        (lambda: evidence.compare_paired([1, 0], [1, 0], claim="better"), "claim must be"),
        (lambda: evidence.detectable_difference(0), "at least one test example"),
        (lambda: evidence.detectable_difference(10, power=1.5), "power must be"),
        (lambda: evidence.interval_of_correlation([1, 2], [1, 2]), "at least three pairs"),
        (lambda: evidence.interval_of_correlation([1, 1, 1], [1, 2, 3]), "vary on both sides"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_an_interval_that_excludes_zero_without_a_test_that_agrees_is_inconclusive():
    # three folds that all gain: the bootstrap interval of the median excludes 0, the sign test cannot (p = 0.25)
    found = evidence.compare_folds([0.39, 0.40, 0.44])
    assert found.difference.low > 0 and found.p_value == pytest.approx(0.25)
    assert found.verdict == evidence.INCONCLUSIVE and "too few pairs to tell" in found.sentence
    # the same gains over ten folds: both agree, supported
    many = evidence.compare_folds([0.39, 0.40, 0.44, 0.41, 0.38, 0.42, 0.43, 0.40, 0.39, 0.45])
    assert many.verdict == evidence.SUPPORTED and many.p_value < 0.05


def test_relative_gains_are_said_in_per_cent_not_points():
    found = evidence.compare_folds([0.1, 0.2, 0.15, 0.3, 0.05, 0.12, 0.22, 0.18, 0.09, 0.25], what="the gain", unit="%")
    assert "the gain +16.5 % ([" in found.sentence and "points" not in found.sentence
