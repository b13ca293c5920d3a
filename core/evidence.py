"""The evidence behind a comparison: intervals, paired tests, the smallest detectable difference, a verdict.

Every method of the lab compares models on the same test examples (and, where it sweeps them, the same
seeds or leave-one-out folds). This module turns those per-example or per-seed results into what a reader
needs to trust a difference: a confidence interval of each metric, a *paired* test of the difference,
the smallest difference the design could have detected, and a verdict in words. The statistics are
scipy.stats' own (``bootstrap``, ``binomtest``, ``wilcoxon``, ``t``, ``norm``); nothing here is a
hand-written test.

Conventions: metrics are fractions (accuracy 0.73, not 73); ``confidence`` is two-sided (0.95);
intervals are (low, high) tuples; every function takes a ``random_state`` where it resamples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
POWER = 0.8
RESAMPLES = 2000

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive at this size"


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of model A against model B (``difference`` = A − B) and its verdict."""

    difference: Interval
    test: str
    p_value: float
    detectable: float
    verdict: str
    sentence: str
    discordant: tuple[int, int] | None = None
    needed: int | None = None

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["discordant"] = list(self.discordant) if self.discordant is not None else None
        return record


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}.")


def _as_1d(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{what}: no values to summarise.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: the values hold NaN or infinity.")
    return array


def _bootstrap(
    values: np.ndarray, statistic, method: str, confidence: float, n_resamples: int, random_state: int
) -> Interval:
    """``statistic`` of ``values`` with its percentile bootstrap interval (scipy.stats.bootstrap); values that
    are all the same give a zero-width interval at the estimate."""
    estimate = float(statistic(values))
    if values.size < 2 or np.all(values == values[0]):
        return Interval(estimate, estimate, estimate, confidence, method, int(values.size))
    result = stats.bootstrap(
        (values,),
        statistic,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        random_state=random_state,
        vectorized=statistic is np.mean,
    )
    low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high), confidence, method, int(values.size))


# --------------------------------------------------------------------------- one metric


def interval_over_examples(
    per_example: Sequence[float] | np.ndarray,
    confidence: float = CONFIDENCE,
    n_resamples: int = RESAMPLES,
    random_state: int = 0,
) -> Interval:
    """A mean over test examples (accuracy: 1 for a right answer, 0 for a wrong one) with its bootstrap
    interval (scipy.stats.bootstrap, percentile method, resampling the examples).

    A set where every example has the same value has a zero-width interval at that value.
    """
    _check_confidence(confidence)
    values = _as_1d(per_example, "per-example values")
    return _bootstrap(values, np.mean, "bootstrap over examples", confidence, n_resamples, random_state)


def interval_over_seeds(
    per_seed: Sequence[float] | np.ndarray,
    confidence: float = CONFIDENCE,
    bounds: tuple[float, float] | None = None,
) -> Interval:
    """A metric's mean over seeds with its Student-t interval (scipy.stats.t); one seed: no interval
    (low = high = the value, method says so). ``bounds`` is the metric's own range (an accuracy's is (0, 1)): the
    interval is cut to it, and its method says so (with two or three seeds a t interval easily reaches past it)."""
    _check_confidence(confidence)
    if bounds is not None:
        found = interval_over_seeds(per_seed, confidence)
        low, high = max(found.low, bounds[0]), min(found.high, bounds[1])
        if (low, high) == (found.low, found.high):
            return found
        method = f"{found.method}, cut to [{bounds[0]:g}, {bounds[1]:g}]"
        return Interval(found.estimate, low, high, found.confidence, method, found.n)
    values = _as_1d(per_seed, "per-seed values")
    estimate = float(values.mean())
    if values.size < 2:
        return Interval(estimate, estimate, estimate, confidence, "one seed: no spread", 1)
    sem = float(stats.sem(values))
    if sem == 0:
        return Interval(estimate, estimate, estimate, confidence, "t over seeds", int(values.size))
    low, high = stats.t.interval(confidence, values.size - 1, loc=estimate, scale=sem)
    return Interval(estimate, float(low), float(high), confidence, "t over seeds", int(values.size))


def interval_of_median(
    values: Sequence[float] | np.ndarray,
    confidence: float = CONFIDENCE,
    n_resamples: int = RESAMPLES,
    random_state: int = 0,
) -> Interval:
    """The median of per-fold (or per-class) values with its percentile bootstrap interval over them
    (scipy.stats.bootstrap)."""
    _check_confidence(confidence)
    values = _as_1d(values, "per-fold values")
    return _bootstrap(values, np.median, "bootstrap of the median over folds", confidence, n_resamples, random_state)


def interval_of_correlation(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    confidence: float = CONFIDENCE,
    n_resamples: int = RESAMPLES,
    random_state: int = 0,
) -> Interval:
    """Spearman's rank correlation of paired ``x`` and ``y`` with a paired percentile bootstrap interval
    (scipy.stats.bootstrap with ``paired=True``: each pair is resampled whole); fewer than three pairs, or a
    constant side, raise ``ValueError``."""
    _check_confidence(confidence)
    a, b = _as_1d(x, "x"), _as_1d(y, "y")
    if a.size != b.size or a.size < 3:
        raise ValueError(f"a correlation needs at least three pairs of the same length, got {a.size} and {b.size}.")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("a correlation needs values that vary on both sides.")

    def rho(first: np.ndarray, second: np.ndarray) -> float:
        found = stats.spearmanr(first, second).statistic
        return float(found) if np.isfinite(found) else 0.0

    estimate = rho(a, b)
    result = stats.bootstrap(
        (a, b),
        rho,
        paired=True,
        vectorized=False,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        random_state=random_state,
    )
    low, high = result.confidence_interval
    low, high = (estimate, estimate) if not (np.isfinite(low) and np.isfinite(high)) else (float(low), float(high))
    return Interval(estimate, low, high, confidence, "paired bootstrap over folds", int(a.size))


# --------------------------------------------------------------------------- the smallest detectable difference


def detectable_difference(
    n: int, seeds: int = 1, accuracy: float = 0.5, confidence: float = CONFIDENCE, power: float = POWER
) -> float:
    """The smallest true difference of two accuracies this design detects with ``power`` at two-sided
    ``confidence``: ``(z_{1-α/2} + z_power) · sqrt(2 p (1 − p) / (n · seeds))``, the normal approximation for
    two proportions near ``accuracy`` measured on ``n`` test examples, ``seeds`` times each.

    The two models are treated as independent, which is conservative for a paired design (pairing can only
    lower the variance of the difference); a design that cannot tell 5 points apart says so.
    """
    _check_confidence(confidence)
    if not 0 < power < 1:
        raise ValueError(f"power must be between 0 and 1 (e.g. 0.8), got {power}.")
    if int(n) < 1 or int(seeds) < 1:
        raise ValueError(f"the design needs at least one test example and one seed, got n={n}, seeds={seeds}.")
    p = min(max(float(accuracy), 1e-6), 1 - 1e-6)
    z = stats.norm.ppf(1 - (1 - confidence) / 2) + stats.norm.ppf(power)
    return float(z * math.sqrt(2 * p * (1 - p) / (int(n) * int(seeds))))


def examples_needed(
    difference: float, accuracy: float = 0.5, seeds: int = 1, confidence: float = CONFIDENCE, power: float = POWER
) -> int | None:
    """Test examples (per seed) that :func:`detectable_difference` says would detect ``difference``; None for
    a zero difference (no size detects it)."""
    if difference == 0:
        return None
    p = min(max(float(accuracy), 1e-6), 1 - 1e-6)
    z = stats.norm.ppf(1 - (1 - confidence) / 2) + stats.norm.ppf(power)
    return int(math.ceil(z**2 * 2 * p * (1 - p) / (difference**2 * int(seeds))))


# --------------------------------------------------------------------------- paired comparisons


def _verdict(
    difference: Interval, p_value: float, detectable: float, claim: str, what: str, unit: str = "points"
) -> tuple[str, str]:
    """``claim`` is ``greater`` (A beats B) or ``less`` (A falls below B). A verdict either way needs both the
    interval to exclude 0 and the test to reject no difference at the same level: with few pairs (three folds, a
    handful of discordant examples) a bootstrap interval can exclude 0 while no test could, and that is not
    evidence."""
    level = f"{difference.confidence:.0%}"
    points = 100 * difference.estimate
    interval = f"[{100 * difference.low:+.1f}, {100 * difference.high:+.1f}] {unit}"
    significant = p_value < 1 - difference.confidence
    favoured = (difference.low > 0 if claim == "greater" else difference.high < 0) and significant
    against = (difference.high < 0 if claim == "greater" else difference.low > 0) and significant
    if not significant and (difference.low > 0 or difference.high < 0):
        return INCONCLUSIVE, (
            f"Inconclusive at this size: {what} {points:+.1f} {unit} ({interval}, p = {p_value:.3g}); the interval "
            f"excludes 0 but the test does not reject no difference at {level}: too few pairs to tell."
        )
    if favoured:
        return SUPPORTED, f"Supported at {level}: {what} {points:+.1f} {unit} ({interval}, p = {p_value:.3g})."
    if against:
        return CONTRADICTED, (
            f"Contradicted at {level}: {what} {points:+.1f} {unit}, the other way ({interval}, p = {p_value:.3g})."
        )
    return INCONCLUSIVE, (
        f"Inconclusive at this size: {what} {points:+.1f} {unit} ({interval}, p = {p_value:.3g}); "
        f"differences under {100 * detectable:.1f} {unit} cannot be told apart here."
    )


def compare_paired(
    correct_a: Sequence[float] | np.ndarray,
    correct_b: Sequence[float] | np.ndarray,
    claim: str = "greater",
    what: str = "A − B",
    confidence: float = CONFIDENCE,
    n_resamples: int = RESAMPLES,
    random_state: int = 0,
) -> Comparison:
    """Model A against model B on the same test examples (and seeds): ``correct_*`` hold 1 / 0 per example
    (shape (examples,) or (seeds, examples), the same examples in the same order).

    The difference of accuracies gets a paired bootstrap interval (scipy.stats.bootstrap, ``paired=True``,
    resampling examples, every seed's run of an example kept together) and an exact McNemar test: a
    binomial test (scipy.stats.binomtest) of the discordant pairs (A right and B wrong against B right and
    A wrong), two-sided. The verdict on ``claim`` (``greater``: A beats B; ``less``: A falls below B) is
    *supported* when the interval excludes 0 on the claimed side, *contradicted* when it excludes 0 on the
    other, and *inconclusive at this size* otherwise, with the smallest detectable difference and the test
    size that would detect the observed one.
    """
    if claim not in ("greater", "less"):
        raise ValueError(f"claim must be 'greater' or 'less', got {claim!r}.")
    _check_confidence(confidence)
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"paired results need the same examples in the same order, got shapes {a.shape} and {b.shape}."
        )
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("paired results are 1 (right) or 0 (wrong) per example.")
    if a.ndim == 1:
        a, b = a[None, :], b[None, :]
    seeds, n = a.shape
    estimate = float(a.mean() - b.mean())
    per_example = (a - b).mean(axis=0)  # each example's difference, averaged over seeds: pairs stay together
    difference = _bootstrap(
        per_example, np.mean, "paired bootstrap over examples", confidence, n_resamples, random_state
    )
    difference = Interval(estimate, difference.low, difference.high, confidence, difference.method, n)
    a_only = int(((a == 1) & (b == 0)).sum())
    b_only = int(((a == 0) & (b == 1)).sum())
    p_value = float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0
    accuracy = float((a.mean() + b.mean()) / 2)
    detectable = detectable_difference(n, seeds, accuracy, confidence)
    verdict, sentence = _verdict(difference, p_value, detectable, claim, what)
    needed = examples_needed(estimate, accuracy, seeds, confidence) if verdict == INCONCLUSIVE else None
    if needed is not None:
        sentence += f" About {needed:,} test examples per seed would detect {100 * abs(estimate):.1f} points."
    test = "McNemar (exact binomial)"
    return Comparison(difference, test, p_value, detectable, verdict, sentence, (a_only, b_only), needed)


def compare_folds(
    gains: Sequence[float] | np.ndarray,
    claim: str = "greater",
    what: str = "the gain",
    unit: str = "points",
    confidence: float = CONFIDENCE,
    n_resamples: int = RESAMPLES,
    random_state: int = 0,
) -> Comparison:
    """Per-fold gains of A over B (leave-one-out folds, or seeds), one number per fold: a bootstrap interval
    of the median gain, the Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided; a sign test by
    binomtest when every gain is tied at zero or fewer than 6 folds leave wilcoxon no exact power), and the
    verdict on ``claim``. The detectable difference is the interval's half-width: the spread of the gains
    at this number of folds. ``unit`` names the gains' unit in the sentence (``points`` of accuracy; ``%`` for
    relative gains).
    """
    if claim not in ("greater", "less"):
        raise ValueError(f"claim must be 'greater' or 'less', got {claim!r}.")
    _check_confidence(confidence)
    values = _as_1d(gains, "per-fold gains")
    median = _bootstrap(
        values, np.median, "bootstrap of the median over folds", confidence, n_resamples, random_state
    )
    nonzero = values[values != 0]
    if nonzero.size >= 6:
        p_value, test = float(stats.wilcoxon(nonzero).pvalue), "Wilcoxon signed-rank"
    else:
        wins = int((nonzero > 0).sum())
        p_value = float(stats.binomtest(wins, nonzero.size, 0.5).pvalue) if nonzero.size else 1.0
        test = "sign test (exact binomial)"
    detectable = float((median.high - median.low) / 2) if median.high > median.low else float("nan")
    verdict, sentence = _verdict(median, p_value, detectable if np.isfinite(detectable) else 0.0, claim, what, unit)
    wins, losses = int((values > 0).sum()), int((values < 0).sum())
    sentence += f" {wins} of {values.size} folds gain, {losses} lose."
    return Comparison(median, test, p_value, detectable, verdict, sentence, (wins, losses), None)
