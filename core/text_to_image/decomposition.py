"""Where the image route loses the sentence: the same held-out texts classified at each step of the route.

1. logistic regression on the raw embedding vectors (what the encoder knows);
2. logistic regression on the image's pixels, flattened (what the layout keeps: features averaged into shared
   pixels, scaled to grey levels);
3. logistic regression on the frozen ImageNet slice's features of those images, averaged over the feature map
   (what the slice keeps; the converged linear probe a trained head on the same slice should reach);
4. the trained CNN (the slice, the new layers and the head);
5. the same CNN with a randomly initialised slice (what ImageNet pretraining adds), where one was trained.

Each step has its held-out accuracy with a bootstrap interval over the texts, and each step is compared with
the one before it on the same texts (:func:`core.evidence.compare_paired`): the difference is that step's cost.
Steps 4 and 5 take every seed the store holds for the model's settings, paired seed by seed. Beside them, what
the layout does to the vectors: the share of features that share a pixel with another, and the mean absolute
error of reading each feature back from its pixel (the layout's feature -> pixel map), against reading every
feature as its training mean. The probes are scikit-learn's LogisticRegression (L-BFGS, standardised inputs,
seed 0); a decomposition is stored (``t2i-decompositions``) per dataset and model.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core import evidence, jobs, store
from core.store import Artifact, Callback
from core.text_to_image import datasets, results, training
from core.text_to_image.imaging import load_embeddings

DECOMPOSITIONS = "t2i-decompositions"
PROBE_ITERATIONS = 5000
UNDER_TRAINED = 0.05
"""A trained CNN this far (5 points) or more below the linear probe on its own frozen slice is flagged."""
STEPS = {
    "raw": "logistic regression on the raw vectors",
    "pixels": "logistic regression on the image's pixels",
    "slice": "logistic regression on the frozen slice's pooled features",
    "cnn": "the trained CNN",
    "random": "the CNN with a randomly initialised slice",
}
COSTS = {
    "pixels": "the layout (features into shared pixels, grey levels)",
    "slice": "the ImageNet slice (frozen)",
    "cnn": "the new layers and the head, trained",
    "random": "ImageNet pretraining (random-init slice against it)",
}


def probe(train: np.ndarray, labels: np.ndarray, test: np.ndarray, seed: int = 0) -> tuple[np.ndarray, int]:
    """Standardised logistic regression fitted on ``train`` (L-BFGS, up to :data:`PROBE_ITERATIONS`); the
    predicted class of each ``test`` row and the iterations it took."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classifier = LogisticRegression(max_iter=PROBE_ITERATIONS, random_state=seed)
    model = make_pipeline(StandardScaler(), classifier).fit(train, labels)
    return model.predict(test), int(np.max(classifier.n_iter_))


def slice_features(model_artifact: Artifact, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The frozen slice's feature maps of ``images`` (n, H, W), averaged over their positions: (n, channels)."""
    import torch

    from core.device import default_device
    from core.text_to_image.classifiers import preprocess_for
    from core.text_to_image.classify import load_model
    from core.text_to_image.training import _slice_outputs

    model = load_model(model_artifact.path)
    preprocess = preprocess_for(model.config)
    device = torch.device(default_device())
    pooled = []
    for start in range(0, len(images), 512):  # a few hundred maps at a time: the whole set's maps need not fit
        chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + 512]))
        maps = _slice_outputs(model.to(device), chunk, preprocess, device, batch_size)
        pooled.append(maps.mean(dim=(2, 3)).cpu().numpy())
    return np.concatenate(pooled).astype(np.float64)


def layout_loss(dataset: Artifact) -> dict[str, Any]:
    """What the layout does to the vectors: the share of features on a pixel with another, and the mean absolute
    error of reading each held-out text's scaled features back from their pixels, against reading every
    feature as its training mean (both in the layout's 0-1 scaled units)."""
    from core.layout import FeatureLayout
    from core.text_to_image.imaging import stack_layers

    layout = FeatureLayout.load(dataset.path / "layout")
    arrays = datasets.load_dataset(dataset)
    features = load_embeddings(store.load(training.EMBEDDINGS, dataset.config["embeddings"]))
    is_test = arrays["is_test"]
    images = arrays["images"][is_test].astype(np.float64)
    # one layer per channel: every layer's vector is a row of the layout and its image a channel
    n_layers = datasets.layout_rows(dataset.config)
    scaled = layout.scale(stack_layers(features[is_test], n_layers))
    images = images.reshape(len(scaled), *images.shape[-2:])
    rows, cols = layout.coords_[:, 0], layout.coords_[:, 1]
    read_back = images[:, rows, cols]
    occupancy = layout.occupancy()
    shared = occupancy[rows, cols] > 1
    mean = layout.scale(stack_layers(features[~is_test], n_layers)).mean(axis=0)
    return {
        "features": int(len(rows)),
        "pixels": int(occupancy.size),
        "shared_share": float(shared.mean()),
        "reconstruction_mae": float(np.abs(read_back - scaled).mean()),
        "mean_predictor_mae": float(np.abs(mean[None, :] - scaled).mean()),
    }


def _seed_models(dataset: Artifact, model: Artifact, pretrained: bool) -> list[Artifact]:
    """Finished models of ``dataset`` trained as ``model`` (its settings but the seed), with the slice
    pretrained or not, in seed order (one per seed)."""
    mine = training.settings_of(model)
    found: dict[int, Artifact] = {}
    for other in results.list_models(dataset):
        if other.config.get("status", "finished") != "finished":
            continue
        theirs = training.settings_of(other)
        same = {k: v for k, v in vars(theirs).items() if k not in ("seed", "pretrained", "device")} == {
            k: v for k, v in vars(mine).items() if k not in ("seed", "pretrained", "device")
        }
        if same and theirs.pretrained == pretrained:
            found.setdefault(int(theirs.seed), other)
    return [found[s] for s in sorted(found)]


def _correct(dataset: Artifact, artifact: Artifact) -> np.ndarray:
    from core.text_to_image.seeds import correct

    return correct(dataset, artifact)


def config_of(dataset: Artifact, model: Artifact) -> dict[str, Any]:
    """What defines a decomposition (its id): the dataset, the model and every seed of it the store holds."""
    imagenet = _seed_models(dataset, model, True)
    random_init = _seed_models(dataset, model, False)
    return {
        "dataset": dataset.id,
        "model": model.id,
        "cnn": [m.id for m in imagenet] or [model.id],
        "random": [m.id for m in random_init],
        "probe_iterations": PROBE_ITERATIONS,
    }


def decompose(dataset: Artifact, model: Artifact, callback: Callback | None = None) -> Artifact:
    """The decomposition of ``dataset``'s held-out texts for ``model`` (a trained text-as-image CNN of the
    dataset), computed once and stored; ``callback(step, 5, info)`` after each step."""
    if model.config.get("dataset") != dataset.id:
        raise ValueError(f"model {model.id} was trained on dataset {model.config.get('dataset')}, not {dataset.id}.")
    if "embeddings" not in dataset.config:
        raise ValueError(f"dataset {dataset.id} records no embeddings: the raw-vector step cannot be fitted.")
    config = config_of(dataset, model)

    def build(artifact_id: str) -> tuple[dict[str, Any], jobs.Writer]:
        started = time.perf_counter()
        arrays = datasets.load_dataset(dataset)
        is_test, labels = arrays["is_test"], arrays["labels"]
        truth = labels[is_test]
        features = load_embeddings(store.load(training.EMBEDDINGS, dataset.config["embeddings"]))
        correct: dict[str, np.ndarray] = {}
        iterations: dict[str, int] = {}

        def fitted(name: str, matrix: np.ndarray) -> None:
            predicted, iterations[name] = probe(matrix[~is_test], labels[~is_test], matrix[is_test])
            correct[name] = (predicted == truth).astype(np.int64)[None, :]
            if callback is not None:
                callback(len(correct), 5, {"step": STEPS[name], "accuracy": round(float(correct[name].mean()), 4)})

        fitted("raw", features)
        images = arrays["images"].astype(np.float32)
        fitted("pixels", images.reshape(len(images), -1))
        imagenet = [store.load(results.MODELS, i) for i in config["cnn"]]
        fitted("slice", slice_features(imagenet[0], arrays["images"]))
        correct["cnn"] = np.stack([_correct(dataset, m) for m in imagenet])
        if config["random"]:
            correct["random"] = np.stack([_correct(dataset, store.load(results.MODELS, i)) for i in config["random"]])
        steps, comparisons = {}, []
        for name, values in correct.items():
            per_seed = [float(v.mean()) for v in values]
            interval = evidence.interval_over_examples(values.mean(axis=0))
            steps[name] = {
                "title": STEPS[name],
                "accuracy": float(values.mean()),
                "interval": interval.to_record(),
                "seeds": len(values),
                "per_seed": per_seed,
                **({"iterations": iterations[name]} if name in iterations else {}),
            }
        order = [n for n in ("raw", "pixels", "slice", "cnn") if n in correct]
        pairs = list(zip(order, order[1:], strict=False)) + ([("cnn", "random")] if "random" in correct else [])
        for before, after in pairs:
            a, b = correct[before], correct[after]
            if len(a) != len(b):  # a one-fit probe is paired with every seed of the model after it
                a, b = (
                    np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)),
                    np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)),
                )
            if after == "random":
                what, claim = f"{STEPS['cnn']} − {STEPS['random']}", "greater"
            else:
                what, claim = f"{STEPS[before]} − {STEPS[after]} (the cost of {COSTS[after]})", "greater"
            found = evidence.compare_paired(a, b, claim=claim, what=what).to_record()
            comparisons.append({"before": before, "after": after, "cost_of": COSTS[after], **found})
        gap = steps["slice"]["accuracy"] - steps["cnn"]["accuracy"]
        summary = {
            "held_out": int(is_test.sum()),
            "order": list(steps),  # the store keeps keys sorted: the route's order is kept here
            "steps": steps,
            "comparisons": comparisons,
            "layout": layout_loss(dataset),
            "reference": {"majority_rate": results.reference(dataset).majority_rate},
            "under_trained": gap > UNDER_TRAINED,
            "probe_gap": gap,
            "seconds": round(time.perf_counter() - started, 1),
            **store.provenance(),
        }
        return summary, lambda folder: None

    return jobs.build_or_load(DECOMPOSITIONS, config, build)


def model_to_decompose(dataset: Artifact, model_id: str | None = None) -> Artifact:
    """``model_id`` (a finished model of ``dataset``), or the dataset's first finished ImageNet-slice model."""
    found = [m for m in results.list_models(dataset) if m.config.get("status", "finished") == "finished"]
    if model_id is not None:
        chosen = next((m for m in found if m.id == model_id), None)
        if chosen is None:
            known = ", ".join(m.id for m in found) or "none"
            raise ValueError(f"no finished model {model_id!r} of dataset {dataset.id} (its models: {known}).")
        return chosen
    pretrained = [m for m in found if m.config["classifier"]["pretrained"]]
    if not pretrained:
        raise ValueError(
            f"dataset {dataset.id} has no finished model with an ImageNet slice to decompose; train one first "
            "(python -m core t2i-train)."
        )
    return pretrained[0]


def stored(dataset: Artifact, model: Artifact) -> Artifact | None:
    """The decomposition of ``model`` on ``dataset`` if it was computed for the seeds the store holds now."""
    return store.load(DECOMPOSITIONS, store.config_hash(config_of(dataset, model)))


def summary_text(found: dict[str, Any]) -> list[str]:
    """The decomposition in sentences: each step's accuracy and what each step costs, with its verdict."""
    lines = []
    for step in (found["steps"][name] for name in found["order"]):
        i = step["interval"]
        seeds = f", mean of {step['seeds']} seeds" if step["seeds"] > 1 else ""
        lines.append(f"{step['title']}: {step['accuracy']:.3f} [{i['low']:.3f}, {i['high']:.3f}]{seeds}")
    for entry in found["comparisons"]:
        lines.append(entry["sentence"])
    return lines
