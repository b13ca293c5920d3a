"""What a leave-one-out study shows: its summary over the finished folds (beside the controls), one row per
fold, and what the held-out loss change goes with (Spearman's rho)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from core.images_to_words.folds import CONTROL_FIELDS, SHUFFLED_FIELDS

if TYPE_CHECKING:
    import pandas as pd

    from core.images_to_words.loo import Study


def summary(study: Study) -> dict[str, Any]:
    """Median and extremes of the relative change of held-out loss, and mean accuracies, over finished folds."""
    changes = np.array([f["relative_change"] for f in study.folds.values()])
    if not len(changes):
        return {"folds": 0}
    return {
        "folds": int(len(changes)),
        "median_change": float(np.median(changes)),
        "best_change": float(changes.min()),
        "worst_change": float(changes.max()),
        "improved": int((changes < 0).sum()),
        "test_accuracy_trained": float(np.mean([f["test_accuracy_trained"] for f in study.folds.values()])),
        "top5_held_out": float(np.mean([f["top5"] for f in study.folds.values()])),
        "chance_top5": 5 / len(study.config["class_names"]) if len(study.config["class_names"]) > 5 else 1.0,
        **_controlled(list(study.folds.values())),
        **_against_shuffled(list(study.folds.values())),
    }


def _controlled(folds: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures against the controls, over the folds that carry them."""
    folds = [f for f in folds if all(k in f for k in CONTROL_FIELDS)]
    if not folds:
        return {"controlled_folds": 0}
    after = np.array([f["loss_after"] for f in folds])
    constant = np.array([f["constant_loss"] for f in folds])
    nearest = np.array([f["nearest_word_loss"] for f in folds])
    before = np.array([f["loss_before"] for f in folds])
    return {
        "controlled_folds": len(folds),
        "beats_constant": int((after < constant).sum()),
        "beats_nearest_word": int((after < nearest).sum()),
        "median_gain_over_constant": float(np.median(1 - after / constant)),
        "median_constant_change": float(np.median(constant / before - 1)),
        "median_nearest_word_change": float(np.median(nearest / before - 1)),
    }


def _against_shuffled(folds: list[dict[str, Any]]) -> dict[str, Any]:
    folds = [f for f in folds if all(k in f for k in SHUFFLED_FIELDS)]
    if not folds:
        return {"shuffled_folds": 0}
    after = np.array([f["loss_after"] for f in folds])
    shuffled = np.array([f["shuffled_loss"] for f in folds])
    return {
        "shuffled_folds": len(folds),
        "beats_shuffled": int((after < shuffled).sum()),
        "median_gain_over_shuffled": float(np.median(1 - after / shuffled)),
        "median_shuffled_change": float(np.median(shuffled / np.array([f["loss_before"] for f in folds]) - 1)),
    }


def fold_verdicts(study: Study) -> dict[str, dict[str, Any]]:
    """Is the trained model's held-out loss lower than a control's, across folds? Per control the folds carry
    (``constant``: the constant predictor; ``shuffled``: the shuffled-words model), the per-fold gains
    1 − loss after / the control's loss read by :func:`core.evidence.compare_folds`: a bootstrap interval of the
    median gain, a Wilcoxon signed-rank (or sign) test and a verdict in words."""
    from core import evidence

    found = {}
    folds = list(study.folds.values())
    for name, key, fields, what in (
        ("constant", "gain_over_constant", CONTROL_FIELDS, "the gain over the constant predictor"),
        ("shuffled", "gain_over_shuffled", SHUFFLED_FIELDS, "the gain over the shuffled-words model"),
    ):
        carrying = [f for f in folds if all(k in f for k in fields)]
        if carrying:  # each fold's recorded gain: 1 − loss after / the control's loss
            found[name] = evidence.compare_folds([f[key] for f in carrying], what=what, unit="%").to_record()
    return found


def fold_table(study: Study) -> pd.DataFrame:
    """One row per finished fold, in class order: losses before and after, the change, ranks, nearest words."""
    import pandas as pd

    rows = []
    for index in sorted(study.folds):
        f = study.folds[index]
        rows.append(
            {
                "class": f["class"],
                "loss before": f["loss_before"],
                "loss after": f["loss_after"],
                "change %": 100 * f["relative_change"],
                "after / before": f["loss_after"] / f["loss_before"],
                "median rank of true class": f["rank_median"],
                "top-1": f["top1"],
                "top-5": f["top5"],
                "nearest words": ", ".join(w for w, _ in f["nearest_words"][:5]),
                "nearest trained class": f["nearest_trained_class"],
                "word cosine": f["nearest_trained_cosine"],
                **(
                    {
                        "constant predictor loss": f["constant_loss"],
                        "nearest-word loss": f["nearest_word_loss"],
                        "gain over constant %": 100 * f["gain_over_constant"],
                    }
                    if "constant_loss" in f
                    else {}
                ),
                **(
                    {"shuffled-words loss": f["shuffled_loss"], "gain over shuffled %": 100 * f["gain_over_shuffled"]}
                    if "shuffled_loss" in f
                    else {}
                ),
            }
        )
    return pd.DataFrame(rows)


EXPLANATIONS = {"nearest_trained_cosine": "word similarity to the nearest trained class", "loss_before": "loss before"}
"""What the correlation view can set against the held-out loss change."""


def change_correlation(folds: list[dict[str, Any]], explanation: str) -> tuple[float, float] | None:
    """Spearman's rho (and p) between one explanatory variable of :data:`EXPLANATIONS` and the loss change;
    None with fewer than three folds."""
    from scipy.stats import spearmanr

    if explanation not in EXPLANATIONS:
        raise ValueError(f"explanation must be one of {list(EXPLANATIONS)}, got {explanation!r}.")
    if len(folds) < 3:
        return None
    rho, p = spearmanr([f[explanation] for f in folds], [f["relative_change"] for f in folds])
    return float(rho), float(p)


def correlation_evidence(folds: list[dict[str, Any]], explanation: str) -> dict[str, Any] | None:
    """Spearman's rho between :data:`EXPLANATIONS`' ``explanation`` and the loss change with its p-value and a
    paired bootstrap interval over the folds (:func:`core.evidence.interval_of_correlation`); None with fewer
    than three folds or a side that does not vary."""
    from core import evidence

    found = change_correlation(folds, explanation)
    if found is None:
        return None
    try:
        interval = evidence.interval_of_correlation(
            [f[explanation] for f in folds], [f["relative_change"] for f in folds]
        )
    except ValueError:
        return None
    return {"rho": found[0], "p": found[1], "interval": interval.to_record()}


STUDY_KEYS = ("imageset", "class_names", "held_out", "image_shape", "train_images", "test_images", "model", "words")
"""What defines a study besides its training settings (its record also holds when and where it was made)."""


def _without_seed(config: dict[str, Any]) -> dict[str, Any]:
    training = {k: v for k, v in config["training"].items() if k != "seed"}
    return {**{k: config.get(k) for k in STUDY_KEYS}, "training": training}


def seed_siblings(study: Study, studies: list[Study]) -> list[Study]:
    """``study`` and every finished study of ``studies`` with the same settings but another study seed, in seed
    order (the runs :func:`seed_summary` pools)."""
    mine = _without_seed(study.config)
    found = {int(study.config["training"]["seed"]): study}
    for other in studies:
        seed = int(other.config["training"]["seed"])
        if other.complete and seed not in found and _without_seed(other.config) == mine:
            found[seed] = other
    return [found[s] for s in sorted(found)]


def similarity_correlation(folds: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Spearman's rho (and its p-value) between word similarity to the nearest trained class and the
    held-out loss change, over the folds; None with fewer than three folds."""
    return change_correlation(folds, "nearest_trained_cosine")


def seed_summary(studies: list[Study]) -> dict[str, Any]:
    """What the same study run with several study seeds shows (each seed moves every fold's initialisation and
    batch order): per seed its :func:`summary`; the median held-out loss change and the accuracy on the trained
    classes as a mean over seeds with a Student-t interval over seeds (:func:`core.evidence.interval_over_seeds`);
    and each control's per-class gain averaged over the seeds, over the classes every seed finished, read by
    :func:`core.evidence.compare_folds` (a bootstrap interval of the median gain, a Wilcoxon signed-rank or sign
    test, a verdict)."""
    from core import evidence

    if not studies:
        raise ValueError("a seed summary needs at least one finished study.")
    per_seed = [{"seed": int(s.config["training"]["seed"]), **summary(s)} for s in studies]
    found: dict[str, Any] = {"seeds": [p["seed"] for p in per_seed], "per_seed": per_seed}
    for key in ("median_change", "test_accuracy_trained", "median_constant_change", "median_shuffled_change"):
        values = [p[key] for p in per_seed if key in p]
        if len(values) == len(per_seed):
            bounds = (0.0, 1.0) if key == "test_accuracy_trained" else None
            found[key] = evidence.interval_over_seeds(values, bounds=bounds).to_record()
    by_class = [{f["class"]: f for f in s.folds.values()} for s in studies]
    classes = [c for c in by_class[0] if all(c in b for b in by_class)]
    found["classes"] = classes
    for name, key, fields, what in (
        ("constant", "gain_over_constant", CONTROL_FIELDS, "the gain over the constant predictor (mean over seeds)"),
        ("shuffled", "gain_over_shuffled", SHUFFLED_FIELDS, "the gain over the shuffled-words model (mean over seeds)"),
    ):
        carrying = [c for c in classes if all(all(k in b[c] for k in fields) for b in by_class)]
        if carrying:
            gains = [float(np.mean([b[c][key] for b in by_class])) for c in carrying]
            record = evidence.compare_folds(gains, what=what, unit="%").to_record()
            found[name] = record | {"gains": dict(zip(carrying, gains, strict=True))}
    return found
