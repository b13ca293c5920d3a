"""The calibration of trained text-as-image models: the temperature fitted on each model's validation split.

A model trained here carries its calibration in its config (``calibration``, fitted at the end of
training; see :mod:`core.calibration`). A model trained before calibration existed has none: its
validation split is recovered (the same seeded, stratified share of the dataset's training split that
chose its best epoch), the model is run on it and on the held-out split, and the temperature fitted then
is stored once as a ``calibrations`` artifact (JSON only) beside it. When that split cannot be recovered
(no validation share was set aside, the dataset is gone, or the model no longer reproduces its stored
held-out predictions) the reason is said instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from core import jobs, store
from core.calibration import BINS, METHOD, Calibration, calibrate, expected_calibration_error
from core.store import Artifact

CALIBRATIONS = "calibrations"
"""Temperatures fitted after training, for models trained before calibration was part of training."""
REPRODUCED = 0.05
"""A recovered model's held-out probabilities may differ from the stored ones by at most this much."""
COLUMNS = ("temperature", "val ECE raw", "val ECE calibrated", "test ECE raw", "test ECE calibrated")
"""The figures :func:`summary` gives (then a ``confidence`` note)."""
NO_VALIDATION = (
    "no validation split was set aside (validation share 0, as in the paper's training), so no temperature can be "
    "fitted without looking at the held-out split; the probabilities shown are the raw ones."
)


def model_calibration(model: Artifact, fit: bool = True) -> Calibration | str:
    """A trained model's calibration, or a sentence saying why it has none.

    Args:
        model: a ``models`` artifact.
        fit: for a model trained before calibration existed, fit (and store) its temperature now when it has
            not been fitted yet; False only reads what is stored.
    """
    if "calibration" in model.config:
        record = model.config["calibration"]
        return NO_VALIDATION if record is None else Calibration.from_record(record)
    if not float(model.config.get("training", {}).get("validation", 0) or 0):
        return NO_VALIDATION
    config = _config(model)
    found = store.load(CALIBRATIONS, store.config_hash(config))
    if found is None and not fit:
        return "not fitted yet (this model was trained before calibration was part of training)."
    try:
        found = found or jobs.build_or_load(CALIBRATIONS, config, lambda _: _fit_later(model))
    except _Unrecoverable as reason:
        return str(reason)
    record = found.config["calibration"]
    return found.config["unavailable"] if record is None else Calibration.from_record(record)


def temperature(model: Artifact) -> float | None:
    """The fitted temperature of a trained model (None when it has no calibration)."""
    found = model_calibration(model)
    return found.temperature if isinstance(found, Calibration) else None


def summary(artifact: Artifact) -> dict[str, Any]:
    """A model's (or a baseline's) calibration in a few figures: the temperature, the validation and held-out
    ECE before and after it (:data:`core.calibration.BINS` equal-width bins), and a short note on its confidence
    (what the results table and the CLI show). A baseline, or a model without calibration, gets its raw
    held-out ECE and the reason it has no temperature."""
    found = model_calibration(artifact) if "classifier" in artifact.config else BASELINE
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    if not isinstance(found, Calibration):
        probabilities = np.load(artifact.file("test_probabilities.npy"), allow_pickle=False)
        labels = _held_out_labels(artifact)
        if labels is not None and len(labels) == len(probabilities):
            row["test ECE raw"] = round(expected_calibration_error(probabilities, labels, BINS), 6)
        return {**row, "confidence": f"raw only: {found}"}
    row.update({"temperature": found.temperature, "val ECE raw": found.validation.ece_raw})
    row["val ECE calibrated"] = found.validation.ece
    if found.test is not None:
        row.update({"test ECE raw": found.test.ece_raw, "test ECE calibrated": found.test.ece})
    note = "over-confident when raw" if found.overconfident else "calibrated"
    return {**row, "confidence": f"{note} (T = {found.temperature:.2f})"}


BASELINE = "a logistic regression fitted on the whole training split, with no validation share to fit a temperature on."


def _held_out_labels(artifact: Artifact) -> np.ndarray | None:
    from core.text_to_image.datasets import DATASETS
    from core.text_to_image.results import held_out_labels

    dataset = store.load(DATASETS, str(artifact.config.get("dataset", "")))
    return None if dataset is None else held_out_labels(dataset)


class _Unrecoverable(Exception):
    """Why an older model's validation split cannot be recovered."""


def _config(model: Artifact) -> dict[str, Any]:
    return {
        "model": model.id,
        "model_written": str(model.config.get("provenance", {}).get("created", "")),
        "bins": BINS,
        "method": METHOD,
    }


def _fit_later(model: Artifact) -> tuple[dict[str, Any], jobs.Writer]:
    """Recover an older model's validation split, run the model on it and on the held-out split, and fit."""
    from core.text_to_image.classifiers import preprocess_for
    from core.text_to_image.classify import load_model
    from core.text_to_image.datasets import DATASETS, load_split
    from core.text_to_image.training import validation_split
    from core.train import forward_batches

    dataset = store.load(DATASETS, str(model.config.get("dataset", "")))
    if dataset is None:
        raise _Unrecoverable(
            f"its dataset {model.config.get('dataset')} is not in this store, so its validation split cannot be "
            "recovered to fit a temperature; the probabilities shown are the raw ones."
        )
    training = model.config["training"]
    split = load_split(dataset)
    _, held = validation_split(split.train_labels, float(training["validation"]), int(training["seed"]))
    network = load_model(model.path)
    preprocess = preprocess_for(network.config)
    validation_logits = forward_batches(network, split.train_images[torch.as_tensor(held)], preprocess).numpy()
    test_logits = forward_batches(network, split.test_images, preprocess).numpy()
    stored = np.load(model.file("test_probabilities.npy"), allow_pickle=False)
    now = torch.softmax(torch.as_tensor(test_logits), dim=1).numpy()
    if stored.shape != now.shape or float(np.abs(stored - now).max()) > REPRODUCED:  # stored: not tried again
        reason = (
            "the model no longer reproduces its stored held-out predictions (its dataset was rebuilt?), so its "
            "validation split cannot be trusted to fit a temperature; the probabilities shown are the raw ones."
        )
        return {"calibration": None, "unavailable": reason, "provenance": store.provenance()}, lambda folder: None
    found = calibrate(
        validation_logits, split.train_labels[held].numpy(), test_logits, split.test_labels.numpy(), bins=BINS
    )
    more = {"calibration": found.to_record(), "provenance": store.provenance()}
    return more, lambda folder: None
