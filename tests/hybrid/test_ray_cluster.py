"""Ray against a cluster started on its own (``ray start --head``, as a user would): a sweep and the tiny hybrid
search through $RAY_ADDRESS give the sequential numbers; an address where no cluster answers ends the command
with one line saying what to do, fast."""

from __future__ import annotations

import re
import time

import pytest
from conftest import free_port
from test_hybrid import _numbers
from test_hybrid_evidence import tiny_search

pytestmark = pytest.mark.ray


def seeded_sum(seed: int, callback=None) -> tuple[int, float]:
    """A job whose result depends on its seed only (torch's generator, one thread)."""
    import torch

    from core.sweeps import pinned_threads

    with pinned_threads(1):
        generator = torch.Generator().manual_seed(seed)
        return seed, float(torch.randn(1000, generator=generator, dtype=torch.float64).sum())


@pytest.mark.slow
def test_a_separately_started_cluster_gives_the_sequential_numbers(ray_cluster, ray_address, tmp_path, monkeypatch):
    from core import sweeps
    from core.errors import ResourceUnavailable
    from core.hybrid import search

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "sequential"))
    settings = tiny_search(tmp_path)
    sequential: list = []
    sweeps.sweep(seeded_sum, [(s,) for s in range(6)], sequential.append)
    whole = search.run_search(settings)

    address, token = ray_cluster
    from ray._private.authentication_test_utils import reset_auth_token_state

    # without the cluster's token: refused, with what to do
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    reset_auth_token_state()
    with pytest.raises(ResourceUnavailable, match=f"RAY_ADDRESS={address}.*RAY_AUTH_MODE=token.*unset RAY_ADDRESS"):
        sweeps.sweep(seeded_sum, [(0,)], lambda result: None, use_ray=True)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    reset_auth_token_state()
    through_ray: list = []
    assert sweeps.sweep(seeded_sum, [(s,) for s in range(6)], through_ray.append, use_ray=True) == 6
    import ray

    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2  # joined the head, not a local Ray
    assert sorted(through_ray) == sequential
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "ray"))
    clustered = search.run_search(settings, use_ray=True)
    assert clustered.config["ray"] and not whole.config["ray"]
    assert _numbers(clustered.config) == _numbers(whole.config)
    assert clustered.config["comparisons"] == whole.config["comparisons"]


def test_an_address_where_no_cluster_answers_ends_the_command_with_one_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ray")
    from core import sweeps
    from core.cli import main
    from core.errors import ResourceUnavailable

    address = f"127.0.0.1:{free_port()}"  # bound then closed: nothing listens there
    monkeypatch.setenv(sweeps.RAY_ADDRESS_ENV, address)
    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    started = time.monotonic()
    with pytest.raises(ResourceUnavailable, match=r"RAY_ADDRESS=127\.0\.0\.1:\d+.*ray start --head.*unset RAY_ADDRESS"):
        sweeps.sweep(seeded_sum, [(0,)], lambda result: None, use_ray=True)
    assert time.monotonic() - started < 15
    s = tiny_search(tmp_path)
    args = ["hybrid-search", "--imageset", "folder", "--folder", s.folder, "--per-class", "0", "--test-per-class", "0"]
    args += ["--vision", s.vision, "--text", s.text, "--image-size", "8", "--batch-sizes", "8"]
    args += ["--learning-rates", "0.01", "--optimizers", "adam", "--folds", "2", "--epochs", "1", "--threads", "1"]
    assert main(args) == 2  # $RAY_ADDRESS turns Ray on
    err = capsys.readouterr().err
    [line] = re.findall(r"error: .*", err)  # one message, on one line (after the progress bar's own)
    assert address in line and "ray start --head" in line and "unset RAY_ADDRESS" in line
    assert "Traceback" not in err
