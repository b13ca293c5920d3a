"""Which device the lab computes on: CUDA when present, the CPU otherwise."""

from __future__ import annotations

import os
from typing import Any


def default_device() -> str:
    """ "cuda" when a CUDA GPU is usable, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_threads() -> int:
    """How many threads a CPU job (t-SNE, a neighbour search) may use: torch's own count, which is every core unless
    ``OMP_NUM_THREADS`` asks for fewer (as each of the test suite's two workers does)."""
    import torch

    return max(1, int(torch.get_num_threads()))


def describe_device() -> dict[str, Any]:
    """What will run the models: kind, name, bf16 support and CPU threads."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {
            "kind": "cuda",
            "name": props.name,
            "memory_gib": round(props.total_memory / 2**30, 1),
            "bf16": bool(torch.cuda.is_bf16_supported()),
            "count": torch.cuda.device_count(),
        }
    return {
        "kind": "cpu",
        "name": "CPU",
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "bf16": False,
    }
