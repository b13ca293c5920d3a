"""Temperature scaling and the expected calibration error on simulated models whose true calibration is known:
labels are drawn from softmax(z), so logits z are calibrated by construction and 10 z are over-confident."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import calibration


def simulated(n: int = 3000, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated logits and labels drawn from their softmax (so the task has label noise)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, classes))
    probabilities = calibration.scaled_probabilities(logits)
    labels = (rng.random((n, 1)) > probabilities.cumsum(1)).sum(1)  # one draw per row from its softmax
    return logits, labels


def test_a_calibrated_model_keeps_a_temperature_near_one_and_an_ece_near_zero():
    logits, labels = simulated()
    assert calibration.fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.1)
    ece = calibration.expected_calibration_error(calibration.scaled_probabilities(logits), labels)
    assert ece < 0.03  # 3,000 draws in 15 bins: only sampling noise is left


def test_temperature_scaling_lowers_the_nll_of_an_over_confident_model_and_its_ece():
    logits, labels = simulated()
    sharp = 10 * logits
    temperature = calibration.fit_temperature(sharp[:1500], labels[:1500])
    assert temperature == pytest.approx(10, rel=0.15)
    raw, scaled = (calibration.negative_log_likelihood(sharp[:1500], labels[:1500], t) for t in (1.0, temperature))
    assert scaled < 0.5 * raw
    ece_raw = calibration.expected_calibration_error(calibration.scaled_probabilities(sharp[1500:]), labels[1500:])
    ece = calibration.expected_calibration_error(
        calibration.scaled_probabilities(sharp[1500:], temperature), labels[1500:]
    )
    assert ece_raw > 0.2 and ece < 0.05  # on the half the temperature never saw


def test_an_under_confident_model_is_sharpened():
    logits, labels = simulated()
    assert calibration.fit_temperature(logits / 4, labels) == pytest.approx(0.25, rel=0.15)


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy_per_bin():
    probabilities = np.array([[0.9, 0.1]] * 10 + [[0.3, 0.7]] * 10)
    labels = np.array([0] * 9 + [1] + [1] * 5 + [0] * 5)
    # bin (0.867, 0.933]: confidence 0.9, accuracy 0.9; bin (0.667, 0.733]: confidence 0.7, accuracy 0.5
    assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(0.5 * 0.2)
    table = calibration.reliability_table(probabilities, labels)
    assert [(r["n"], round(r["confidence"], 3), r["accuracy"]) for r in table] == [(10, 0.7, 0.5), (10, 0.9, 0.9)]
    assert calibration.expected_calibration_error(probabilities, labels, bins=1) == pytest.approx(abs(0.7 - 0.8))


def test_calibration_round_trips_through_json_and_flags_an_over_confident_model():
    logits, labels = simulated()
    fitted = calibration.calibrate(10 * logits[:1500], labels[:1500], 10 * logits[1500:], labels[1500:])
    again = calibration.Calibration.from_record(json.loads(json.dumps(fitted.to_record())))
    assert again == fitted and again.bins == calibration.BINS
    assert fitted.overconfident and "over-confident" in fitted.message() and "15 bins" in fitted.message()
    assert fitted.test.nll < fitted.test.nll_raw and fitted.validation.nll < fitted.validation.nll_raw
    calibrated = calibration.calibrate(logits[:1500], labels[:1500])
    assert not calibrated.overconfident and calibrated.message() == "" and calibrated.test is None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x, y: calibration.fit_temperature(x[:, :1], y), "at least two classes"),
        (lambda x, y: calibration.fit_temperature(x, y[:-1]), "rows against"),
        (lambda x, y: calibration.fit_temperature(np.where(x > 1, np.nan, x), y), "NaN"),
        (lambda x, y: calibration.fit_temperature(x, y + 5), "class indices"),
        (lambda x, y: calibration.fit_temperature(x, y, bounds=(2, 10)), "bounds"),
        (lambda x, y: calibration.scaled_probabilities(x, 0.0), "positive"),
        (lambda x, y: calibration.negative_log_likelihood(x, y, -1.0), "positive"),
        (lambda x, y: calibration.expected_calibration_error(x, y), "sum to 1"),
        (lambda x, y: calibration.reliability_table(calibration.scaled_probabilities(x), y, bins=0), "bins"),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(call, match):
    logits, labels = simulated(n=50)
    with pytest.raises(ValueError, match=match):
        call(logits, labels)
