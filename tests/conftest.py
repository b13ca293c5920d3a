"""Shared fixtures: a private artifact store holding one small fitted imager."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:  # one of two pytest-xdist workers on two cores: one thread each, so they do not fight over the cores
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


SMALL_CORPUS = 120
SMALL_LAYOUT = {"pixels": 24, "random_state": 0}


@pytest.fixture(scope="session")
def lab_home(tmp_path_factory) -> Path:
    """A CROSSMODAL_HOME with a small imager fitted on Rotten Tomatoes (mean pooling, the default encoder's
    recommended), for the whole session."""
    home = tmp_path_factory.mktemp("lab-home")
    previous = os.environ.get("CROSSMODAL_HOME")
    os.environ["CROSSMODAL_HOME"] = str(home)
    from core import corpora
    from core.encoders import TextEncoder
    from core.text_to_image import imaging

    encoder = TextEncoder.from_name()
    corpus = corpora.load_corpus("rotten_tomatoes", n=SMALL_CORPUS, seed=0)
    embeddings = imaging.embed_corpus(encoder, corpus, pooling="mean")
    artifact = imaging.fit_imager(embeddings, SMALL_LAYOUT)
    (home / "small-imager-id").write_text(artifact.id)
    yield home
    if previous is None:
        os.environ.pop("CROSSMODAL_HOME", None)
    else:
        os.environ["CROSSMODAL_HOME"] = previous


@pytest.fixture(scope="session")
def small_imager(lab_home):
    """The fitted small imager, loaded (other tests may add imagers to the same store)."""
    from core import store
    from core.text_to_image import imaging

    artifact_id = (lab_home / "small-imager-id").read_text()
    return imaging.load_imager(store.load(imaging.IMAGERS, artifact_id))


def _separable_images(n: int = 64, side: int = 20, seed: int = 0):
    """Class 0 is bright on the left half, class 1 on the right half, both under noise."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = 0.3 * torch.rand(n, side, side, generator=generator)
    images[labels == 0, :, : side // 2] += 0.6
    images[labels == 1, :, side // 2 :] += 0.6
    return images, labels


@pytest.fixture()
def separable():
    """A factory of small separable grayscale image sets: separable(n, side, seed) -> (images, labels)."""
    return _separable_images


SMALL_DATASET_LAYOUT = {"pixels": 24, "random_state": 0}


@pytest.fixture(scope="session")
def small_dataset(lab_home):
    """An image dataset of the small Rotten Tomatoes sample (24 px, layout fitted on the training rows)."""
    from core import corpora
    from core.encoders import TextEncoder
    from core.text_to_image import datasets

    corpus = corpora.load_corpus("rotten_tomatoes", n=SMALL_CORPUS, seed=0)
    return datasets.build_dataset(
        TextEncoder.from_name(), corpus, datasets.DatasetSettings(layout=SMALL_DATASET_LAYOUT)
    )


@pytest.fixture(scope="session")
def small_model(small_dataset):
    """A SqueezeNet-slice classifier trained for two epochs on the small dataset."""
    from core.text_to_image import training

    return training.train_model(small_dataset, training.TrainSettings("squeezenet1_1", epochs=2, batch_size=16))


def write_separable_dataset(dataset_id: str, n: int = 96, side: int = 24):
    """A ``datasets`` artifact of separable images (no texts behind them), for training tests."""
    import numpy as np

    from core import store
    from core.text_to_image import datasets

    images, labels = _separable_images(n, side, seed=1)
    is_test = np.zeros(n, dtype=bool)
    is_test[::4] = True
    config = {
        "label_names": ["left", "right"],
        "split": {"train": int((~is_test).sum()), "test": int(is_test.sum())},
        "provenance": store.provenance(),
    }
    with store.writing(datasets.DATASETS, dataset_id, config) as folder:
        np.save(folder / "images.npy", images.numpy().astype(np.float16))
        np.save(folder / "labels.npy", labels.numpy())
        np.save(folder / "is_test.npy", is_test)
    return store.load(datasets.DATASETS, dataset_id)


@pytest.fixture()
def separable_dataset(tmp_path, monkeypatch):
    """A fresh store holding one separable image dataset."""
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    return write_separable_dataset("separable")


TINY_CLASSES = ["cat", "dog", "car"]


def tiny_imageset(per_class: int = 60, side: int = 12, seed: int = 0, classes: list[str] = TINY_CLASSES, band: int = 4):
    """Grey 1 x side x side images, each class a bright band of ``band`` rows in its own place, under noise."""
    import numpy as np

    from core.imagesets import ImageSet

    rng = np.random.default_rng(seed)

    def make(n: int):
        labels = np.repeat(np.arange(len(classes)), n)
        images = rng.integers(0, 80, size=(len(labels), 1, side, side))
        for c in range(len(classes)):
            images[labels == c, 0, band * c : band * c + band, :] += 150
        return images.clip(0, 255).astype(np.uint8), labels.astype(np.int64)

    train, test = make(per_class), make(per_class // 4)
    name = "tiny" if list(classes) == TINY_CLASSES else "toy"
    return ImageSet(name, list(classes), *train, *test, {"imageset": name})


def tiny_config(imageset, **overrides):
    """A study config for the tiny image set: 1 epoch, width 0.125, one CPU thread (``overrides``: settings of
    :class:`core.images_to_words.settings.StudySettings` by keyword)."""
    from core.images_to_words import loo
    from core.images_to_words.settings import StudySettings

    settings = {
        "epochs": 1,
        "width": 0.125,
        "batch_size": 32,
        "table": str(Path(__file__).parent / "data" / "tiny_words.csv"),
        "threads": 1,
    }
    settings.update(overrides)
    if settings.get("classes") is not None:
        settings["classes"] = tuple(settings["classes"])
    return loo.study_config(imageset, StudySettings(**settings))


@pytest.fixture(scope="session")
def tiny_studies(lab_home):
    """A finished study (all three classes) and a partial one (one fold of three), in the session's store."""
    from core.errors import Interrupted
    from core.images_to_words import loo

    images = tiny_imageset()
    finished = loo.run_study(images, tiny_config(images))
    config = tiny_config(images, seed=1)
    with pytest.raises(Interrupted):
        loo.run_study(images, config, callback=lambda done, total, metrics: done >= 1 and "epoch" not in metrics)
    return finished, loo.load_study(loo.store.config_hash(config))


def write_image_folder(
    root: Path, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 12, side: int = 16
) -> Path:
    """An image folder (one sub-folder of PNGs per class), each class a bright band in its own rows, under noise."""
    import numpy as np
    from PIL import Image

    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.random.default_rng(100 * c + i).integers(0, 60, (side, side, 3)).astype(np.uint8)
            row = (c * side // len(classes)) % (side - 4)
            pixels[row : row + 4] = 220
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def tiny_bert(folder: Path) -> Path:
    """A 2-layer BERT (hidden 32) with a BERT-style vocabulary (1,000 reserved ids, then letters), saved."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    special = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = special + [f"[unused{i}]" for i in range(99, 99 + 1000 - len(special))]
    vocab += list("abcdefghijklmnopqrstuvwxyz") + [f"w{i}" for i in range(200)]
    BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    model = BertModel(config)
    with torch.no_grad():  # as if pretrained: no weight left at its initial constant (LayerNorm 1, biases 0)
        for weight in model.parameters():
            weight.add_(0.05 * torch.randn_like(weight))
    model.save_pretrained(folder)
    return folder


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


@pytest.fixture(scope="session")
def ray_cluster():
    """One Ray head for the session, started as its own process group (``ray start --head``, as a user would; its
    workers import the lab and these tests) with its own token: ``(address, token)``. Stopped after the session."""
    pytest.importorskip("ray")
    ray_command = Path(sys.executable).with_name("ray")
    if not ray_command.is_file():
        pytest.skip(f"no ray command beside {sys.executable}")
    port = free_port()
    token = secrets.token_hex(32)  # the cluster's own token (Ray's default: token authentication)
    tests = ROOT / "tests"
    folders = [ROOT, tests, *(d for d in sorted(tests.iterdir()) if d.is_dir())]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(folder) for folder in folders),
        "HF_HUB_OFFLINE": "1",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
    }
    env.pop("RAY_ADDRESS", None)
    command = [str(ray_command), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    command += ["--disable-usage-stats", "--block"]
    head = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        if not _answers(port, 90):
            pytest.fail(f"the Ray head did not answer on port {port} within 90 s")
        yield f"127.0.0.1:{port}", token
    finally:
        import ray

        ray.shutdown()
        for sent, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):  # its workers may outlive a TERM: kill
            try:
                os.killpg(head.pid, sent)
                head.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        from ray._common.utils import get_ray_address_file

        current = Path(get_ray_address_file(None))  # `ray start` names its head here; a later ray.init() joins it
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()  # this head is gone: a local ray.init() elsewhere must start its own


@pytest.fixture
def ray_address(ray_cluster, monkeypatch):
    """$RAY_ADDRESS and the token of the session's Ray head set for this test (so the lab joins it); the driver
    leaves the cluster after the test."""
    from ray._private.authentication_test_utils import reset_auth_token_state

    address, token = ray_cluster
    monkeypatch.setenv("RAY_ADDRESS", address)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    reset_auth_token_state()
    yield address
    import ray

    ray.shutdown()
    # Ray caches the token settings it read; monkeypatch undoes them after this, so the next read must not be cached
    reset_auth_token_state()


def offline_chromium(profile: Path):
    """Headless Chromium that can reach nothing outside the page it opens (a dead proxy for every request), with its
    own ``profile``; the test is skipped where Chromium or its driver is not on PATH."""
    import shutil

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("needs Chromium and its driver on PATH")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(arg)
    options.add_argument("--proxy-server=127.0.0.1:9")  # nothing outside the file can be fetched
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = chromium
    return webdriver.Chrome(service=Service(driver_path), options=options)
