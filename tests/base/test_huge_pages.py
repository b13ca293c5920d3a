"""Importing the lab before torch gives torch's large CPU tensors transparent huge pages (core/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")
# a fresh process: how many kB of huge pages a 64 MiB tensor, filled, adds to it
GROWTH = """
import re, sys
import core, torch
def huge():
    return int(re.search(r"AnonHugePages:\\s+(\\d+)", open("/proc/self/smaps_rollup").read()).group(1))
before = huge()
tensor = torch.ones(64 << 20, dtype=torch.uint8)
print(huge() - before, "torch" in sys.modules)
"""


def _growth(**env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"} | env
    found = subprocess.run(
        [sys.executable, "-c", GROWTH], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    kilobytes, _ = found.stdout.split()
    return int(kilobytes)


def test_importing_core_sets_the_switch_before_torch_and_keeps_a_users_choice():
    code = "import sys, os, core; print(os.environ['THP_MEM_ALLOC_ENABLE'], 'torch' in sys.modules)"
    environment = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert found.stdout.split() == ["1", "False"]
    kept = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment | {"THP_MEM_ALLOC_ENABLE": "0"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert kept.stdout.split() == ["0", "False"]


@pytest.mark.skipif(
    not MODE.exists() or "[never]" in MODE.read_text() or not Path("/proc/self/smaps_rollup").exists(),
    reason="this kernel gives no transparent huge pages",
)
def test_a_large_tensor_gets_huge_pages_only_with_the_switch():
    assert _growth() >= 32 * 1024  # at least half of the 64 MiB tensor in 2 MB pages
    if "[madvise]" in MODE.read_text():  # the kernel's other mode gives them to every process anyway
        assert _growth(THP_MEM_ALLOC_ENABLE="0") < 8 * 1024
