"""Calibrated confidence: temperature scaling and the expected calibration error.

A classifier trained until its training loss nears zero usually says 1.00 about nearly everything, wrong
answers included. Temperature scaling (Guo et al., "On calibration of modern neural networks", ICML 2017)
divides every logit by one scalar ``T > 0`` fitted to minimise the negative log-likelihood of a held-out
validation split; no prediction changes (the arg max is the same), only how sure the model says it is.
``T > 1`` softens an over-confident model, ``T < 1`` sharpens an under-confident one.

The expected calibration error (ECE) is what the confidence promises against what it delivers: the
predictions are put in equal-width bins of their top probability, and ECE is the mean, weighted by the
bins' sizes, of |accuracy - mean confidence| in each bin (0 = the stated confidence is the hit rate).

The optimiser is scipy's (``minimize_scalar``, bounded, on log T); the log-softmax is scipy.special's.
Nothing here knows a method: logits and labels come in as arrays.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

BINS = 15
"""Equal-width confidence bins of the expected calibration error (Guo et al. 2017 use 15)."""
BOUNDS = (0.05, 100.0)
"""The range the temperature is searched in."""
OVERCONFIDENT_ECE = 0.1
"""An uncalibrated expected calibration error above this is called badly calibrated."""
OVERCONFIDENT_T = 2.0
"""A fitted temperature above this says the raw logits are more than twice as large as the evidence allows."""
METHOD = "temperature scaling (Guo et al. 2017): one T > 0 minimising the validation split's negative log-likelihood"


def _check(logits: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).ravel()
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"{what} must be a (samples, classes) array with at least two classes, got {logits.shape}.")
    if len(logits) == 0 or len(labels) != len(logits):
        raise ValueError(f"{what}: {len(logits)} rows against {len(labels)} labels; both must be equal and non-zero.")
    if not np.all(np.isfinite(logits)):
        raise ValueError(f"{what} hold NaN or infinity.")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels must be class indices between 0 and {logits.shape[1] - 1}.")
    return logits, labels.astype(np.int64)


def _check_temperature(temperature: float) -> float:
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"the temperature must be a positive number, got {temperature}.")
    return float(temperature)


def scaled_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) over the last axis (T = 1: the raw probabilities)."""
    temperature = _check_temperature(temperature)
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """The mean negative log-likelihood of ``labels`` under softmax(logits / T)."""
    logits, labels = _check(logits, labels, "logits")
    temperature = _check_temperature(temperature)
    return float(-log_softmax(logits / temperature, axis=1)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = BOUNDS) -> float:
    """The temperature T that minimises the NLL of softmax(logits / T) on (``logits``, ``labels``).

    Searched on log T within ``bounds`` by scipy's bounded scalar minimiser (the NLL is convex in 1/T,
    so the minimum found is the minimum). Fit it on a validation split, never on the split you report.
    """
    logits, labels = _check(logits, labels, "logits")
    low, high = bounds
    if not 0 < low < 1 < high:
        raise ValueError(f"the temperature bounds must satisfy 0 < low < 1 < high, got {bounds}.")
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / math.exp(log_t), axis=1)[rows, labels].mean())

    found = minimize_scalar(nll, bounds=(math.log(low), math.log(high)), method="bounded", options={"xatol": 1e-4})
    best = float(math.exp(found.x))
    return best if nll(math.log(best)) <= nll(0.0) else 1.0  # never worse than leaving the logits as they are


def _bins(confidence: np.ndarray, bins: int) -> np.ndarray:
    """The equal-width bin of each confidence: (k/bins, (k+1)/bins], the first bin closed at 0."""
    return np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)


def reliability_table(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> list[dict[str, Any]]:
    """One row per non-empty equal-width bin of the top probability: its range, its size, its mean confidence and
    its accuracy (what a reliability diagram draws)."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}.")
    probabilities, labels = _check(probabilities, labels, "probabilities")
    if np.any(probabilities < 0) or not np.allclose(probabilities.sum(1), 1, atol=1e-3):
        raise ValueError("probabilities must be non-negative and sum to 1 in every row (give softmax outputs).")
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    index = _bins(confidence, bins)
    rows = []
    for k in range(bins):
        inside = index == k
        if inside.any():
            rows.append(
                {
                    "low": k / bins,
                    "high": (k + 1) / bins,
                    "n": int(inside.sum()),
                    "confidence": float(confidence[inside].mean()),
                    "accuracy": float(correct[inside].mean()),
                }
            )
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """ECE: the size-weighted mean over equal-width bins of the top probability of |accuracy - confidence|."""
    rows = reliability_table(probabilities, labels, bins)
    total = sum(r["n"] for r in rows)
    return float(sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / total)


@dataclass(frozen=True)
class SplitCalibration:
    """How well one split's probabilities are calibrated, raw (T = 1) and at the fitted temperature."""

    n: int
    nll_raw: float
    nll: float
    ece_raw: float
    ece: float
    reliability_raw: list[dict[str, Any]]
    reliability: list[dict[str, Any]]


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it does to the validation split (where it was fitted) and the test split.

    Attributes:
        temperature: T; calibrated probabilities are softmax(logits / T).
        bins: the equal-width bins of every ECE here.
        validation: the split T was fitted on.
        test: the held-out split, which chose nothing (None when it was not measured).
        method: how T was fitted, in words.
    """

    temperature: float
    bins: int
    validation: SplitCalibration
    test: SplitCalibration | None = None
    method: str = METHOD

    @property
    def overconfident(self) -> bool:
        """Whether the raw model is badly over-confident: a large raw ECE with T > 1, or a large T."""
        return (self.validation.ece_raw > OVERCONFIDENT_ECE and self.temperature > 1) or (
            self.temperature > OVERCONFIDENT_T
        )

    def message(self) -> str:
        """A warning in words for a badly over-confident raw model ('' otherwise)."""
        if not self.overconfident:
            return ""
        split = self.test or self.validation
        which = "held-out" if self.test else "validation"
        return (
            f"The raw model is badly over-confident: its stated confidence misses its {which} hit rate by "
            f"{split.ece_raw:.2f} on average (ECE, {self.bins} bins), and its logits had to be divided by "
            f"T = {self.temperature:.2f} to match the validation split. Read the calibrated probabilities "
            f"(ECE {split.ece:.2f}); the raw ones overstate how sure it is."
        )

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`from_record`)."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Calibration:
        """The calibration a :meth:`to_record` dict describes."""
        test = record.get("test")
        return cls(
            temperature=float(record["temperature"]),
            bins=int(record["bins"]),
            validation=SplitCalibration(**record["validation"]),
            test=None if test is None else SplitCalibration(**test),
            method=str(record.get("method", METHOD)),
        )


def _split(logits: np.ndarray, labels: np.ndarray, temperature: float, bins: int) -> SplitCalibration:
    raw, scaled = scaled_probabilities(logits), scaled_probabilities(logits, temperature)
    return SplitCalibration(
        n=int(len(labels)),
        nll_raw=round(negative_log_likelihood(logits, labels), 6),
        nll=round(negative_log_likelihood(logits, labels, temperature), 6),
        ece_raw=round(expected_calibration_error(raw, labels, bins), 6),
        ece=round(expected_calibration_error(scaled, labels, bins), 6),
        reliability_raw=reliability_table(raw, labels, bins),
        reliability=reliability_table(scaled, labels, bins),
    )


def calibrate(
    validation_logits: np.ndarray,
    validation_labels: np.ndarray,
    test_logits: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    bins: int = BINS,
) -> Calibration:
    """Fit a temperature on the validation split and measure both splits before and after it."""
    temperature = round(fit_temperature(validation_logits, validation_labels), 6)
    test = None if test_logits is None else _split(test_logits, test_labels, temperature, bins)
    return Calibration(temperature, bins, _split(validation_logits, validation_labels, temperature, bins), test)
