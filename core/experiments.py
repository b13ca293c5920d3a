"""Experiments on an image dataset: trained classifiers, the two baselines, and live classification.

A trained classifier is a ``models`` artifact: ``model.safetensors`` (the best epoch's weights),
``test_probabilities.npy`` and a ``config.json`` holding the dataset id, the architecture, the
training settings, the per-epoch history, the best epoch's held-out metrics, its confusion matrix
and provenance. Training saves its progress after every epoch, so an interrupted run resumes
where it stopped; a run stopped on request is published with the best epoch so far (status
"stopped") and resumes too when asked again.

The baselines, on the same split: logistic regression on the raw embedding vectors the images were
made from (``baselines`` artifacts), and the same architecture with a randomly initialised slice
(a ``models`` artifact with ``pretrained: false``).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import store
from core.classifiers import SlicedClassifier, build_classifier, check_images, classifier_config, to_backbone_input
from core.imaging import DATASETS, EMBEDDINGS, load_dataset, load_embeddings
from core.layout import FeatureLayout
from core.store import Artifact, Callback
from core.train import DEFAULTS, TrainResult, classification_metrics, predict, train_classifier

MODELS = "models"
BASELINES = "baselines"
_PROGRESS = "progress.safetensors"


@dataclass(frozen=True)
class Split:
    """A dataset's images and labels, split as it was built."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def load_split(dataset: Artifact) -> Split:
    """The dataset's images (float16) and labels, split by its stored test mask."""
    arrays = load_dataset(dataset)
    images, labels, is_test = torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"]), torch.from_numpy(arrays["is_test"])
    return Split(images[~is_test], labels[~is_test], images[is_test], labels[is_test])


def label_names(dataset: Artifact) -> list[str]:
    """The dataset's class names (their numbers when it has none)."""
    names = list(dataset.config.get("label_names") or [])
    if names:
        return names
    return [str(i) for i in range(int(np.load(dataset.file("labels.npy")).max()) + 1)]


def model_config(
    dataset: Artifact,
    backbone: str,
    node: str | None = None,
    pretrained: bool = True,
    finetune: bool = False,
    epochs: int = DEFAULTS.epochs,
    batch_size: int = DEFAULTS.batch_size,
    seed: int = DEFAULTS.seed,
    validation: float = DEFAULTS.validation,
) -> dict[str, Any]:
    """What defines a trained model (and so its id): the dataset, the architecture, the training."""
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"epochs must be at least 1 and batch size at least 2, got {epochs} and {batch_size}.")
    if not 0 < validation < 0.5:
        raise ValueError(f"the validation share of the training split must be between 0 and 0.5, got {validation}.")
    shape = np.load(dataset.file("images.npy"), mmap_mode="r").shape[1:]
    return {
        "dataset": dataset.id,
        "classifier": classifier_config(backbone, node, pretrained, finetune, len(label_names(dataset)), shape),
        "training": {"optimizer": "adam", "loss": "cross-entropy", "epochs": int(epochs), "batch_size": int(batch_size), "seed": int(seed),
                     "validation": float(validation), "best_epoch_chosen_on": "validation"},
    }


def validation_split(labels: torch.Tensor, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the training split to fit on and rows set aside to choose the best epoch (stratified, seeded)."""
    from sklearn.model_selection import train_test_split

    labels = labels.cpu().numpy()
    size = max(len(np.unique(labels)), int(round(share * len(labels))))
    if size >= len(labels):
        raise ValueError(f"the training split ({len(labels)} images) is too small to set {size} aside for validation.")
    fit, held = train_test_split(np.arange(len(labels)), test_size=size, stratify=labels, random_state=seed)
    return np.sort(fit), np.sort(held)


def _preprocess(upsample: int):
    return lambda batch: to_backbone_input(batch, upsample)


def _save_progress(folder: Path, model: torch.nn.Module, result: TrainResult) -> None:
    """What a resume needs, in one file written atomically: the last epoch's weights, the best
    weights, the optimiser state, and (in its metadata) the history that goes with them."""
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v.contiguous() for k, v in (result.best_state or {}).items()})
    optimiser = result.optimiser_state or {"state": {}, "param_groups": []}
    for index, state in optimiser["state"].items():
        tensors.update({f"adam.{index}.{k}": torch.as_tensor(v).detach().cpu().contiguous() for k, v in state.items()})
    record = {"history": result.history, "best_epoch": result.best_epoch, "param_groups": optimiser["param_groups"]}
    partial = folder / f"{_PROGRESS}.part"
    save_file(tensors, str(partial), metadata={"progress": json.dumps(record)})
    partial.replace(folder / _PROGRESS)


def _load_progress(folder: Path, model: torch.nn.Module) -> TrainResult | None:
    """The saved progress of an interrupted run (``model`` gets its last epoch's weights), or None."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = folder / _PROGRESS
    if not path.is_file():
        return None
    with safe_open(str(path), "pt") as handle:
        record = json.loads(handle.metadata()["progress"])
    tensors = load_file(str(path))
    model.load_state_dict({k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("adam."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    best = {k[len("best.") :]: v for k, v in tensors.items() if k.startswith("best.")}
    return TrainResult(record["history"], record["best_epoch"], best or None, False, {"state": state, "param_groups": record["param_groups"]})


def train_model(
    dataset: Artifact,
    backbone: str,
    node: str | None = None,
    pretrained: bool = True,
    finetune: bool = False,
    epochs: int = DEFAULTS.epochs,
    batch_size: int = DEFAULTS.batch_size,
    seed: int = DEFAULTS.seed,
    device: str | None = None,
    callback: Callback | None = None,
    validation: float = DEFAULTS.validation,
) -> Artifact:
    """Train a classifier on ``dataset`` (resuming an interrupted run of the same config) and save it.

    A seeded, stratified ``validation`` share of the training split is set aside to choose the best
    epoch; the held-out (test) split is measured after every epoch but chooses nothing, so the
    reported figures (those of the best epoch) are not optimistic.

    Returns the ``models`` artifact; a finished model of the same config is returned as it is.
    ``callback(epoch, epochs, metrics)`` after each epoch may return True to stop: the best epoch so
    far is saved with status "stopped", and calling again with the same settings resumes.
    """
    from core.device import default_device

    config = model_config(dataset, backbone, node, pretrained, finetune, epochs, batch_size, seed, validation)
    artifact_id = store.config_hash(config)
    found = store.load(MODELS, artifact_id)
    if found is not None and found.config.get("status") == "finished":
        return found
    device = torch.device(device or default_device())
    split = load_split(dataset)
    torch.manual_seed(seed)  # the new layers start from the seed: the same settings give the same model
    model = build_classifier(config["classifier"]).to(device)
    resident = device.type == "cuda" and _fits_on_gpu(split, device)
    if resident:  # images stay on the GPU for the whole run; otherwise each batch is copied over
        split = Split(*(t.to(device) for t in (split.train_images, split.train_labels, split.test_images, split.test_labels)))
    partial = store.shard_dir(MODELS, artifact_id)
    resume = _load_progress(partial, model)
    started = time.perf_counter()
    fit, held = (torch.as_tensor(rows, device=split.train_labels.device) for rows in validation_split(split.train_labels, validation, seed))
    result = train_classifier(
        model,
        (split.train_images[fit], split.train_labels[fit]),
        (split.test_images, split.test_labels),
        _preprocess(config["classifier"]["upsample"]),
        epochs,
        batch_size,
        seed,
        callback=callback,
        resume=resume,
        on_epoch=lambda m, r: _save_progress(partial, m, r),
        validation=(split.train_images[held], split.train_labels[held]),
    )
    probabilities = predict(model, split.test_images, _preprocess(config["classifier"]["upsample"])).numpy()
    test_labels = split.test_labels.cpu().numpy()
    done = len(result.history) >= epochs
    config.update(_report(probabilities, test_labels, label_names(dataset)))
    config.update(
        {
            "architecture": model.config,
            "status": "finished" if done else "stopped",
            "history": result.history,
            "best_epoch": result.best_epoch,
            "device": str(device),
            "data_on_gpu": resident,
            "seconds": round(sum(r["seconds"] for r in result.history), 2),
            "provenance": store.provenance(session_seconds=round(time.perf_counter() - started, 2)),
        }
    )
    with store.writing(MODELS, artifact_id, config) as folder:
        _write_weights(folder, model)
        np.save(folder / "test_probabilities.npy", probabilities.astype(np.float32), allow_pickle=False)
    if done:
        shutil.rmtree(partial, ignore_errors=True)
    return store.load(MODELS, artifact_id)


def _fits_on_gpu(split: Split, device: torch.device, share: float = 0.5) -> bool:
    """Whether the dataset takes less than ``share`` of the GPU's free memory (the rest is for the model)."""
    free, _ = torch.cuda.mem_get_info(device)
    size = sum(t.numel() * t.element_size() for t in (split.train_images, split.train_labels, split.test_images, split.test_labels))
    return size < share * free


def _write_weights(folder: Path, model: torch.nn.Module) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "crossmodal-lab"})


def _report(probabilities: np.ndarray, labels: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Held-out metrics and confusion matrix of some predicted class probabilities."""
    from sklearn.metrics import confusion_matrix

    predicted = probabilities.argmax(1)
    return {
        "metrics": classification_metrics(labels, predicted),
        "confusion": confusion_matrix(labels, predicted, labels=list(range(len(names)))).tolist(),
        "label_names": names,
    }


def logistic_baseline(dataset: Artifact, C: float = 1.0, seed: int = DEFAULTS.seed) -> Artifact:
    """Logistic regression on the raw embedding vectors of the dataset's texts, on the same split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    config = {"dataset": dataset.id, "method": "logistic_regression", "C": float(C), "seed": int(seed), "scaling": "standard"}
    artifact_id = store.config_hash(config)
    found = store.load(BASELINES, artifact_id)
    if found is not None:
        return found
    embeddings = store.load(EMBEDDINGS, dataset.config["embeddings"])
    if embeddings is None:
        raise FileNotFoundError(f"the embeddings {dataset.config['embeddings']} of dataset {dataset.id} are gone; build the dataset again.")
    features = load_embeddings(embeddings)
    arrays = load_dataset(dataset)
    is_test, labels = arrays["is_test"], arrays["labels"]
    started = time.perf_counter()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))
    model.fit(features[~is_test], labels[~is_test])
    probabilities = model.predict_proba(features[is_test])
    config.update(_report(probabilities, labels[is_test], label_names(dataset)))
    config.update({"features": int(features.shape[1]), "seconds": round(time.perf_counter() - started, 2), "provenance": store.provenance()})
    with store.writing(BASELINES, artifact_id, config) as folder:
        np.save(folder / "test_probabilities.npy", probabilities.astype(np.float32), allow_pickle=False)
    return store.load(BASELINES, artifact_id)


def list_models(dataset: Artifact | None = None) -> list[Artifact]:
    """Trained models (of one dataset when given), newest first."""
    return [a for a in store.list_artifacts(MODELS) if dataset is None or a.config.get("dataset") == dataset.id]


def list_datasets() -> list[Artifact]:
    """Built image datasets, newest first."""
    return store.list_artifacts(DATASETS)


def has_results(dataset: Artifact) -> bool:
    """Whether any model or baseline has been measured on ``dataset``."""
    return bool(list_models(dataset)) or any(a.config.get("dataset") == dataset.id for a in store.list_artifacts(BASELINES))


def model_label(artifact: Artifact) -> str:
    """A one-line description of a trained model."""
    c = artifact.config["classifier"]
    init = "ImageNet" if c["pretrained"] else "random init"
    acc = artifact.config.get("metrics", {}).get("accuracy")
    return f"{c['backbone']} @ {c['node']} · {init}{' · fine-tuned' if c['finetune'] else ''} · acc {acc:.3f} · {artifact.id}"


def results_table(dataset: Artifact) -> list[dict[str, Any]]:
    """One row per trained model and baseline of ``dataset``: what it is and its held-out metrics."""
    rows = []
    for artifact in list_models(dataset):
        c, t = artifact.config["classifier"], artifact.config["training"]
        rows.append(
            {
                "model": f"{c['backbone']} @ {c['node']}",
                "kind": ("sliced CNN (ImageNet)" if c["pretrained"] else "baseline: random-init slice") + (", fine-tuned" if c["finetune"] else ""),
                **artifact.config["metrics"],
                "best epoch": artifact.config["best_epoch"],
                "epochs run": f"{len(artifact.config['history'])}/{t['epochs']}",
                "status": artifact.config["status"],
                "train seconds": artifact.config["seconds"],
                "id": artifact.id,
            }
        )
    for artifact in store.list_artifacts(BASELINES):
        if artifact.config.get("dataset") == dataset.id:
            rows.append(
                {
                    "model": f"logistic regression on {artifact.config['features']} embedding features",
                    "kind": "baseline: raw embeddings",
                    **artifact.config["metrics"],
                    "best epoch": None,
                    "epochs run": "",
                    "status": "finished",
                    "train seconds": artifact.config["seconds"],
                    "id": artifact.id,
                }
            )
    return rows


# --------------------------------------------------------------------------- live classification


def load_model(folder: str | Path, device: str = "cpu") -> SlicedClassifier:
    """A trained model from a folder holding ``model.safetensors`` and its ``config.json``.

    The architecture is rebuilt from the config (no weights are downloaded: they all come from the
    checkpoint). Anything else is refused: a folder without a config of a trained model, pickle
    files, or weights that do not fit the config's architecture.
    """
    from core.train import load_checkpoint

    folder = Path(folder)
    config = store.read_json(folder / store.CONFIG_NAME)
    if not isinstance(config, dict) or "classifier" not in config or "dataset" not in config:
        raise ValueError(f"{folder}/config.json does not describe a trained text-as-image model (no classifier / dataset).")
    model = build_classifier({**config["classifier"], "pretrained": False})
    load_checkpoint(folder, model, config, ("dataset", "classifier"))
    model.config["pretrained"] = config["classifier"]["pretrained"]  # the weights came from the checkpoint
    return model.to(device).eval()


@dataclass
class DatasetImager:
    """Turns new texts into images exactly as a dataset's texts were: same encoder, layers, layout."""

    encoder: Any
    layers: list[int]
    pooling: str
    layout: FeatureLayout
    config: dict[str, Any]

    def images(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(features (n, F), images (n, H, W)) of ``texts``."""
        features = self.encoder.embed(texts, layers=self.layers, pooling=self.pooling)
        return features, self.layout.transform(features)


def dataset_imager(dataset: Artifact, encoder: Any = None) -> DatasetImager:
    """The imager of a dataset (its encoder is loaded unless given; it must be the same model and revision)."""
    from core.encoders import TextEncoder

    config = dataset.config
    encoder = encoder or TextEncoder.from_name(config["encoder"]["name"])
    now, then = encoder.describe(), config["encoder"]
    if (now["model_id"], now["revision"]) != (then["model_id"], then["revision"]):
        raise ValueError(f"dataset {dataset.id} was made with {then['model_id']} ({then['revision'][:12]}), not {now['model_id']} ({now['revision'][:12]}).")
    return DatasetImager(encoder, list(config["layers"]), config["pooling"], FeatureLayout.load(dataset.file("layout")), config)


def saliency(model: SlicedClassifier, image: np.ndarray, target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Input-gradient saliency of one (H, W) image: |d logit[target] / d pixel| (target: the predicted class).

    Returns (saliency (H, W), class probabilities).
    """
    config = model.config
    tensor = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
    check_images(config, tensor)
    device = next(model.parameters()).device
    tensor = tensor.to(device).requires_grad_(True)
    model.eval()
    with torch.enable_grad():
        logits = model(to_backbone_input(tensor, config["upsample"]))
        target = int(logits.argmax(1)) if target is None else int(target)
        logits[0, target].backward()
    return tensor.grad[0].abs().cpu().numpy(), torch.softmax(logits.detach()[0].float(), 0).cpu().numpy()


def influential_features(layout: FeatureLayout, saliency_map: np.ndarray, layers: list[int], hidden: int, values: np.ndarray, k: int = 10) -> list[dict[str, Any]]:
    """The features on the ``k`` most salient pixels that hold features, each as (layer, dimension) through the layout.

    Empty pixels (0 in every image) are passed over, whatever their gradient; features that share a
    pixel share its saliency; every index returned is a valid feature of ``values`` (one text's
    feature vector).
    """
    height, width = saliency_map.shape
    rows = []
    for flat in np.argsort(saliency_map, axis=None)[::-1]:
        row, col = divmod(int(flat), width)
        for feature in layout.inverse(row, col):
            layer_index, dimension = divmod(int(feature), hidden)
            rows.append(
                {
                    "feature": int(feature),
                    "layer": int(layers[layer_index]),
                    "dimension": int(dimension),
                    "pixel": (row, col),
                    "saliency": float(saliency_map[row, col]),
                    "value": float(values[feature]),
                }
            )
        if len({r["pixel"] for r in rows}) >= k:
            break
    return rows


def classify(models: dict[str, SlicedClassifier], image: np.ndarray) -> dict[str, Any]:
    """Every model's class probabilities for one image, and the ensemble's vote (mean probability)."""
    tensor = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
    per_model = {}
    for name, model in models.items():
        check_images(model.config, tensor)
        per_model[name] = predict(model, tensor, _preprocess(model.config["upsample"]))[0].numpy()
    if not per_model:
        raise ValueError("no trained model to classify with; train one first.")
    mean = np.mean(list(per_model.values()), axis=0)
    votes = np.bincount([int(p.argmax()) for p in per_model.values()], minlength=len(mean))
    return {"per_model": per_model, "mean": mean, "votes": votes, "vote": int(mean.argmax())}
