"""The app's launcher starts torch with transparent huge pages for its large CPU tensors (scripts/run_app.sh), and the
switch does what it says: a large tensor gets 2 MB pages with it and not without it."""

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
import re
import torch
def huge():
    return int(re.search(r"AnonHugePages:\\s+(\\d+)", open("/proc/self/smaps_rollup").read()).group(1))
before = huge()
tensor = torch.ones(64 << 20, dtype=torch.uint8)
print(huge() - before)
"""


def _without_switch() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}


def _launcher_value(**env: str) -> str:
    """THP_MEM_ALLOC_ENABLE after the launcher's own line for it, run by bash."""
    lines = (ROOT / "scripts/run_app.sh").read_text().splitlines()
    line = next(x for x in lines if x.startswith("export THP_MEM_ALLOC_ENABLE="))
    found = subprocess.run(
        ["bash", "-c", f'{line}; echo "$THP_MEM_ALLOC_ENABLE"'], env=_without_switch() | env, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    return found.stdout.strip()


def test_the_launcher_turns_the_switch_on_and_keeps_a_users_choice():
    assert _launcher_value() == "1"
    assert _launcher_value(THP_MEM_ALLOC_ENABLE="0") == "0"


def _growth(**env: str) -> int:
    found = subprocess.run(
        [sys.executable, "-c", GROWTH], cwd=ROOT, env=_without_switch() | env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return int(found.stdout.split()[-1])


@pytest.mark.skipif(
    not MODE.exists() or "[never]" in MODE.read_text() or not Path("/proc/self/smaps_rollup").exists(),
    reason="this kernel gives no transparent huge pages",
)
def test_a_large_tensor_gets_huge_pages_only_with_the_switch():
    assert _growth(THP_MEM_ALLOC_ENABLE="1") >= 32 * 1024  # at least half of the 64 MiB tensor in 2 MB pages
    if "[madvise]" in MODE.read_text():  # the kernel's other mode gives them to every process anyway
        assert _growth() < 8 * 1024
