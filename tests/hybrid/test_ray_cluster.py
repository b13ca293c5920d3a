"""Ray against a cluster started on its own (``ray start --head``, as a user would): a sweep and the tiny hybrid
search through $RAY_ADDRESS give the sequential numbers; an address where no cluster answers ends the command
with one line saying what to do, fast."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from test_hybrid import _numbers
from test_hybrid_evidence import tiny_search

ROOT = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seeded_sum(seed: int, callback=None) -> tuple[int, float]:
    """A job whose result depends on its seed only (torch's generator, one thread)."""
    import torch

    from core.sweeps import pinned_threads

    with pinned_threads(1):
        generator = torch.Generator().manual_seed(seed)
        return seed, float(torch.randn(1000, generator=generator, dtype=torch.float64).sum())


def _answers(address: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


@pytest.fixture
def ray_head(tmp_path):
    """A Ray head started as its own process group (workers import the lab and these tests), stopped after."""
    pytest.importorskip("ray")
    if not RAY.is_file():
        pytest.skip(f"no ray command beside {sys.executable}")
    port = free_port()
    token = secrets.token_hex(32)  # the cluster's own token (Ray's default: token authentication)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "hybrid")]),
        "HF_HUB_OFFLINE": "1",
    }
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    env.pop("RAY_ADDRESS", None)
    command = [str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"]
    command += ["--disable-usage-stats", "--block"]
    head = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        if not _answers("127.0.0.1", port, 90):
            pytest.fail(f"the Ray head did not answer on port {port} within 90 s")
        yield f"127.0.0.1:{port}", token
    finally:
        import ray
        from ray._private.authentication_test_utils import reset_auth_token_state

        ray.shutdown()
        # the test's token settings are undone by now (monkeypatch tears down first); Ray caches what it read, so a
        # later local ray.init() in this process would otherwise start its cluster expecting this head's token
        reset_auth_token_state()
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


@pytest.mark.slow
def test_a_separately_started_cluster_gives_the_sequential_numbers(ray_head, tmp_path, monkeypatch):
    from core import sweeps
    from core.errors import ResourceUnavailable
    from core.hybrid import search

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "sequential"))
    settings = tiny_search(tmp_path)
    sequential: list = []
    sweeps.sweep(seeded_sum, [(s,) for s in range(6)], sequential.append)
    whole = search.run_search(settings)

    address, token = ray_head
    monkeypatch.setenv(sweeps.RAY_ADDRESS_ENV, address)
    # without the cluster's token: refused, with what to do
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(ResourceUnavailable, match=f"RAY_ADDRESS={address}.*RAY_AUTH_MODE=token.*unset RAY_ADDRESS"):
        sweeps.sweep(seeded_sum, [(0,)], lambda result: None, use_ray=True)
    from ray._private.authentication_test_utils import reset_auth_token_state

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
