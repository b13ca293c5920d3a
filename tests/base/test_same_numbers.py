"""The same numbers before and after the code moves: one small text -> image run (dataset, one
trained model, the logistic-regression baseline) and one small leave-one-out study, pinned.

The figures below were produced by this file's own fixtures on the code before ``core/`` was split
into one package per method; a change that moves code without changing behaviour keeps them.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

PINNED_TEXT = {
    "image_sum": 2253.24,
    "test_rows": 24,
    "trustworthiness": 0.846158,
    "model_accuracy": 0.5833333333333334,
    "model_f1": 0.736842,
    "best_epoch": 1,
    "train_loss": [0.69165, 0.62016],
    "test_loss": [0.68623, 0.6801],
    "val_accuracy": [0.6, 0.6],
    "baseline_accuracy": 0.625,
    "baseline_f1": 0.64,
}
PINNED_STUDY = {
    "loss_before": [0.37513, 0.44351, 0.64954],
    "loss_after": [0.3687, 0.43199, 0.64451],
    "train_loss": [0.55207, 0.48749, 0.42809],
    "test_accuracy_trained": [0.5, 0.5, 0.5],
    "top5": [1.0, 1.0, 1.0],
}


def _text_figures(small_dataset) -> dict:
    from core.text_to_image import datasets, training

    settings = training.TrainSettings("squeezenet1_1", epochs=2, batch_size=16, normalise="batch")  # as it was then
    small_model = training.train_model(small_dataset, settings)
    arrays = datasets.load_dataset(small_dataset)
    baseline = training.logistic_baseline(small_dataset)
    history = small_model.config["history"]
    return {
        "image_sum": round(float(arrays["images"].astype(np.float64).sum()), 3),
        "test_rows": int(arrays["is_test"].sum()),
        "trustworthiness": round(small_dataset.config["quality"]["trustworthiness"], 6),
        "model_accuracy": small_model.config["metrics"]["accuracy"],
        "model_f1": round(small_model.config["metrics"]["f1"], 6),
        "best_epoch": small_model.config["best_epoch"],
        "train_loss": [round(r["train_loss"], 5) for r in history],
        "test_loss": [round(r["test_loss"], 5) for r in history],
        "val_accuracy": [round(r["val_accuracy"], 6) for r in history],
        "baseline_accuracy": baseline.config["metrics"]["accuracy"],
        "baseline_f1": round(baseline.config["metrics"]["f1"], 6),
    }


def _study_figures(tiny_studies) -> dict:
    finished, _ = tiny_studies
    folds = sorted(finished.folds.values(), key=lambda f: f["index"])
    return {
        "loss_before": [round(f["loss_before"], 5) for f in folds],
        "loss_after": [round(f["loss_after"], 5) for f in folds],
        "train_loss": [round(f["history"][-1]["train_loss"], 5) for f in folds],
        "test_accuracy_trained": [round(f["test_accuracy_trained"], 6) for f in folds],
        "top5": [round(f["top5"], 6) for f in folds],
    }


def _compare(found: dict, pinned: dict, rel: dict | None = None) -> None:
    assert found.keys() == pinned.keys()
    for key, value in pinned.items():
        assert found[key] == pytest.approx(value, rel=(rel or {}).get(key, 1e-4), abs=1e-5), key


# The layout is t-SNE, fitted on every core (n_jobs=-1): its pixel positions, and so the images, the layout's
# trustworthiness and the CNN's losses on those images, move with the machine's core count, CPU and load (on the
# 2-core machine here one run gave image_sum 2292.172 and a quiet one 2253.24, the pin). These figures are still
# compared, as an expected failure off the machine and moment that made them; every other figure of PINNED_TEXT
# does not depend on the layout's pixel positions and must match everywhere.
LAYOUT_DEPENDENT = ("image_sum", "trustworthiness", "train_loss", "test_loss")


def test_a_small_text_to_image_run_gives_the_pinned_numbers(small_dataset):
    found = _text_figures(small_dataset)
    assert found.keys() == PINNED_TEXT.keys()
    _compare(
        {k: v for k, v in found.items() if k not in LAYOUT_DEPENDENT},
        {k: v for k, v in PINNED_TEXT.items() if k not in LAYOUT_DEPENDENT},
    )


@pytest.mark.xfail(
    strict=False,
    reason="t-SNE on every core: the layout's pixel positions depend on the machine's core count, CPU and load",
)
def test_a_small_text_to_image_runs_layout_gives_the_pinned_numbers(small_dataset):
    found = _text_figures(small_dataset)
    _compare({k: found[k] for k in LAYOUT_DEPENDENT}, {k: PINNED_TEXT[k] for k in LAYOUT_DEPENDENT})


def test_a_small_leave_one_out_study_gives_the_pinned_numbers(tiny_studies):
    found = _study_figures(tiny_studies)
    _compare(found, PINNED_STUDY)


# The figures above sit near chance (0.58 and 0.5 on a few rows), so a changed model could match them by
# luck; these pin what the runs do row by row, produced by the same fixtures on the same code. The text run's
# layout (t-SNE on every core) and so its CNN differ with the machine's core count; its pins here are the ones
# that do not: the baseline on the raw embeddings, the CNN's size and frozen slice, and its predictions, which
# PINNED_TEXT's accuracy and F1 already fix (14 of 24 right with F1 0.7368: class 1 for every row).
PINNED_TEXT_BEHAVIOUR = {
    "predicted": [1] * 24,
    "baseline_predicted": [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1],
    "baseline_probability_sum": 10.17193,
    "weights": 852624,
}
PINNED_STUDY_BEHAVIOUR = {
    "rank_mean": [1.0, 2.0, 3.0],
    "top1": [1.0, 0.0, 0.0],
    "nearest_words": [
        ["hajji", "intefadeh", "xiong", "al-hakim", "mentuhotep"],
        ["caught", "speedboats", "chased", "boats", "hoses"],
        ["applets", "webcams", "guijin", "polarizers", "holograms"],
    ],
    "nearest_word_cosine": [0.60734, 0.53342, 0.51316],
}


def _text_behaviour(small_dataset) -> tuple[dict, dict]:
    from safetensors.numpy import load_file

    from core.text_to_image import training

    settings = training.TrainSettings("squeezenet1_1", epochs=2, batch_size=16, normalise="batch")  # as above
    model = training.train_model(small_dataset, settings)  # the pinned run's model (reused from the store)
    baseline = training.logistic_baseline(small_dataset)
    probabilities = np.load(model.file("test_probabilities.npy")).astype(np.float64)
    baseline_probabilities = np.load(baseline.file("test_probabilities.npy")).astype(np.float64)
    weights = load_file(str(model.file("model.safetensors")))
    found = {
        "predicted": probabilities.argmax(1).tolist(),
        "baseline_predicted": baseline_probabilities.argmax(1).tolist(),
        "baseline_probability_sum": round(float(baseline_probabilities[:, 1].sum()), 5),
        "weights": sum(int(w.size) for w in weights.values()),
    }
    return found, weights


def _study_behaviour(tiny_studies) -> dict:
    finished, _ = tiny_studies
    folds = sorted(finished.folds.values(), key=lambda f: f["index"])
    return {
        "rank_mean": [round(f["rank_mean"], 6) for f in folds],
        "top1": [round(f["top1"], 6) for f in folds],
        "nearest_words": [[w for w, _ in f["nearest_words"][:5]] for f in folds],
        "nearest_word_cosine": [round(f["nearest_words"][0][1], 5) for f in folds],
    }


def test_a_small_text_to_image_run_predicts_the_pinned_rows(small_dataset):
    import torch

    from core.text_to_image.backbones import build_backbone

    found, weights = _text_behaviour(small_dataset)
    labels = np.load(small_dataset.file("labels.npy"))[np.load(small_dataset.file("is_test.npy"))]
    # the pinned predictions are the pinned accuracies, row by row
    for key, accuracy in (("predicted", "model_accuracy"), ("baseline_predicted", "baseline_accuracy")):
        assert np.mean(np.array(PINNED_TEXT_BEHAVIOUR[key]) == labels) == pytest.approx(PINNED_TEXT[accuracy])
        assert found[key] == PINNED_TEXT_BEHAVIOUR[key], key
    # the encoder's sums differ in their last bits between CPUs, and the logistic regression stops at its
    # tolerance: its probabilities agree to about 1e-4 (10.17193 here on one CPU, 10.17327 on another)
    _compare(found, PINNED_TEXT_BEHAVIOUR, rel={"baseline_probability_sum": 1e-3})
    # the frozen slice is still the packaged SqueezeNet's, weight for weight
    packaged = build_backbone("squeezenet1_1", pretrained=True).state_dict()
    body = {k.removeprefix("body.body."): v for k, v in weights.items() if k.startswith("body.body.")}
    assert body and all(k in packaged for k in body)
    assert all(torch.equal(torch.from_numpy(v), packaged[k]) for k, v in body.items())


def test_a_small_leave_one_out_study_ranks_the_pinned_words(tiny_studies):
    found = _study_behaviour(tiny_studies)
    assert found.pop("nearest_words") == PINNED_STUDY_BEHAVIOUR["nearest_words"]
    _compare(found, {k: v for k, v in PINNED_STUDY_BEHAVIOUR.items() if k != "nearest_words"})
