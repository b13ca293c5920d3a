"""bench/gpu_check.py cannot rot: its tiny CPU run fills every section, and its agreement check really compares."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


gpu_check = _load()


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny CPU run (one thread: on two shared cores that is the quicker), its exit status and its JSON."""
    from core.sweeps import pinned_threads

    out = tmp_path_factory.mktemp("gpu-check") / "tiny.json"
    with pinned_threads(1):
        status = gpu_check.main(["--cpu", "--tiny", "--out", str(out)])
    return status, json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_tiny_cpu_run_fills_every_section_with_finite_positive_rates(tiny):
    status, report = tiny
    assert status == 0
    assert report["mode"] == {"device": "cpu", "tiny": True}
    assert set(report["sections"]) == set(gpu_check.SECTIONS)
    for name, section in report["sections"].items():
        assert "error" not in section, (name, section.get("error"))
        assert section["rows"], name
        assert section["how"], name
        for row in section["rows"]:
            assert _positive(row["throughput"]) and _positive(row["items"]) and _positive(row["seconds"]), row
            if row.get("phase") != "eval":  # a pass the Trainer times around its evaluation has no FLOP count
                assert _positive(row["flops_per_item"]) and _positive(row["achieved_tflops"]), row
                assert _positive(row["share_of_matmul"]), row
            assert row["share_of_peak"] is None  # a CPU has no datasheet peak unless one is given
            assert row["peak_memory_bytes"] is None  # GPU memory only
        assert section["agreement"] and all(case["passed"] for case in section["agreement"]), name
    built = {row["backbone"] for row in report["sections"]["text_to_image"]["rows"]}
    skipped = {row["backbone"] for row in report["sections"]["text_to_image"]["skipped"]}
    assert built | skipped == set(gpu_check.T2I_BACKBONES)
    assert report["agreement"]["passed"] and "no CUDA path is checked" in report["agreement"]["compared"]
    assert report["peak"]["bf16_tflops"] is None and _positive(report["peak"]["measured_matmul"]["tflops"])


@pytest.mark.slow
def test_the_projections_multiply_out_the_measured_rates(tiny):
    _, report = tiny
    names = [item["name"] for item in report["projections"]]
    assert any(name.startswith("IMDB 50k") for name in names)
    assert any(name.startswith("CIFAR-100 leave-one-out") for name in names)
    for item in report["projections"]:
        assert _positive(item["seconds"]) and math.isclose(item["hours"], item["seconds"] / 3600)
        assert "--tiny" in item["note"]
    fold = next(r for r in report["sections"]["images_to_words"]["rows"] if r["phase"] == "fold")
    study = next(item for item in report["projections"] if item["name"].startswith("CIFAR-100"))
    assert math.isclose(study["seconds"], 100 * 25 * 49_500 / fold["throughput"])


def test_the_agreement_check_fails_a_perturbed_copy_and_passes_the_same_model():
    import copy

    from core.images_to_words.simpnet import SimpNet
    from core.train import forward_batches

    torch.manual_seed(0)
    model = SimpNet(3, 10, 0.1).eval()
    inputs = torch.randn(6, 3, 16, 16)
    perturbed = copy.deepcopy(model)
    with torch.no_grad():
        weight = perturbed.head[-1].weight
        weight.add_(0.5 * weight.abs().mean() * torch.randn_like(weight))
    reference = forward_batches(model, inputs)
    assert gpu_check.agreement(reference, forward_batches(copy.deepcopy(model), inputs))["passed"]
    found = gpu_check.agreement(reference, forward_batches(perturbed, inputs), probabilities=True)
    assert not found["passed"] and found["relative_error"] > gpu_check.RELATIVE_TOLERANCE


def test_the_agreement_check_compares_probabilities_and_the_argmax():
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0], [0.01, 0.0]])
    assert gpu_check.agreement(logits, logits + 1e-4, probabilities=True)["passed"]
    # a near-tie may swap within the tolerance: only rows whose top two are further apart are held to the argmax
    tie_swapped = torch.tensor([[3.0, 0.0], [0.0, 3.0], [0.0, 0.01]])
    found = gpu_check.agreement(logits, tie_swapped, probabilities=True)
    assert found["passed"] and found["argmax_rows_checked"] == 2 and not found["argmax_same_on_all_rows"]
    swapped = torch.tensor([[0.0, 3.0], [0.0, 3.0], [0.01, 0.0]])
    found = gpu_check.agreement(logits, swapped, probabilities=True)
    assert not found["passed"] and found["argmax_mismatches"] == 1
    assert not gpu_check.agreement(logits, logits.T[:2])["passed"]  # another shape
    assert not gpu_check.agreement(logits, torch.full_like(logits, float("nan")))["passed"]


def test_without_cuda_it_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--out", "unused.json"]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "no CUDA device" in lines[0] and "--cpu --tiny" in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_as_a_command_without_cuda_it_exits_2_with_no_traceback(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "no CUDA device" in done.stdout
    assert not (tmp_path / "x.json").exists()
