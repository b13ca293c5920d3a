"""Running many independent jobs (the folds of a study, the trials of a search, the seeds and variants of a
comparison): one after another, or as Ray tasks.

:func:`sweep` is the one loop every method uses: it runs the jobs, hands each result to the caller's
``keep`` as it arrives (which stores it, so a stopped sweep resumes at the next unfinished job), reports
progress, and stops when the callback asks, keeping what finished. :func:`pinned_threads` fixes torch's
CPU thread count while a job runs (it changes CPU results in the last digits), so a job gives the same
numbers wherever it runs.

Ray is used only when asked: ``use_ray=True`` starts a local Ray instance, or joins the cluster at
``$RAY_ADDRESS`` when that is set (the CLI also turns Ray on when ``$RAY_ADDRESS`` is set); an address where
no cluster answers, or whose cluster refuses this client, raises :class:`core.errors.ResourceUnavailable`
saying what to do (:func:`connect`). Each
job is one task; a task asks for one GPU when the cluster has GPUs, and then at most the cluster's
CPUs per GPU, so a node with several GPUs runs as many folds at once (:func:`task_resources`).
Results come back as they finish; the caller writes them (so files are written by one process only).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core.errors import Interrupted, ResourceUnavailable
from core.store import Callback

RAY_ADDRESS_ENV = "RAY_ADDRESS"


def task_resources(cluster: dict[str, float], cpus_per_job: int) -> tuple[int, int]:
    """The CPUs and GPUs one task reserves on a Ray cluster with ``cluster`` resources (``ray.cluster_resources()``).

    A task wants ``cpus_per_job`` CPUs (at most the cluster's). When the cluster has GPUs, each task takes
    one GPU and at most CPU / GPU CPUs (cluster totals, at least 1), so every GPU gets a task at once.
    The reservation only schedules tasks: the job itself decides how many threads it uses.
    """
    cpus = max(1, int(cluster.get("CPU", 1)))
    gpus = int(cluster.get("GPU", 0))
    want = max(1, min(int(cpus_per_job), cpus))
    if gpus >= 1:
        return min(want, max(1, cpus // gpus)), 1
    return want, 0


def run_many(
    function: Callable[..., Any], arguments: Sequence[tuple], use_ray: bool = False, cpus_per_job: int = 1
) -> Iterator[Any]:
    """``function(*args)`` for each tuple of ``arguments``: in order here, or in parallel on Ray (in
    completion order, each task reserving the resources :func:`task_resources` gives). The iterator
    can be cancelled with :func:`cancel`."""
    if not use_ray:
        return (function(*args) for args in arguments)
    return _RayJobs(function, arguments, cpus_per_job)


CONNECT_SECONDS = 3.0
"""How long the address in ``$RAY_ADDRESS`` gets to answer before the sweep gives up on it."""


def _unreachable(address: str, why: str, hint: str = "") -> ResourceUnavailable:
    return ResourceUnavailable(
        f"Ray: {why} at RAY_ADDRESS={address}; {hint}start the cluster with `ray start --head` (and set RAY_ADDRESS "
        "to the address it prints), or unset RAY_ADDRESS to run without Ray."
    )


TOKEN_HINT = (
    "a cluster started with token authentication (Ray's default) needs RAY_AUTH_MODE=token here and its token "
    "(RAY_AUTH_TOKEN, or ~/.ray/auth_token); or "
)


def _check_reachable(address: str) -> None:
    """Refuse fast when ``address`` (``host:port`` or ``ray://host:port``) does not accept a connection: Ray
    itself retries for a long time."""
    if address in ("auto", "local") or ":" not in address:
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    try:
        number = int(port.split("/")[0])
    except ValueError:
        raise _unreachable(address, "the address is not host:port") from None
    try:
        socket.create_connection((host or "127.0.0.1", number), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise _unreachable(address, f"no cluster answers ({reason.lower()})") from None


def connect(ray: Any) -> None:
    """``ray.init``: a local instance, or the cluster at ``$RAY_ADDRESS``; an address that does not answer or
    refuses this client (authentication) raises :class:`core.errors.ResourceUnavailable` with what to do."""
    address = os.environ.get(RAY_ADDRESS_ENV) or None
    if address:
        _check_reachable(address)
    refused: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
    authentication = getattr(getattr(ray, "exceptions", None), "AuthenticationError", None)
    if authentication is not None:
        refused += (authentication,)
    try:
        # "local": a new instance of this process's own, never a cluster another `ray start` on this machine named
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False)
    except refused as error:
        if address is None:
            raise
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        # the address answered (checked above), so the cluster refused this client: most often its token
        raise _unreachable(address, f"the cluster did not accept this client ({first})", TOKEN_HINT) from None


class _RayJobs:
    def __init__(self, function: Callable[..., Any], arguments: Sequence[tuple], cpus_per_job: int) -> None:
        try:
            import ray
        except ImportError as error:
            raise ValueError("Ray is not installed: pip install ray (or run without --ray).") from error
        self.ray = ray
        if not ray.is_initialized():
            connect(ray)
        cpus, gpus = task_resources(ray.cluster_resources(), cpus_per_job)
        task = ray.remote(num_cpus=cpus, num_gpus=gpus)(function)
        # an object passed to several jobs (the image set, the word vectors) goes to the object store once
        counts: dict[int, int] = {}
        for args in arguments:
            for value in args:
                counts[id(value)] = counts.get(id(value), 0) + 1
        shared = {
            id(v): ray.put(v)
            for args in arguments
            for v in args
            if counts[id(v)] > 1 and v is not None and not isinstance(v, (int, float, str))
        }
        self.pending = [task.remote(*(shared.get(id(v), v) for v in args)) for args in arguments]

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if not self.pending:
            raise StopIteration
        done, self.pending = self.ray.wait(self.pending, num_returns=1)
        return self.ray.get(done[0])

    def cancel(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref, force=True)
        self.pending = []


def cancel(jobs: Iterator[Any]) -> None:
    """Stop jobs still queued or running (Ray); a plain generator is simply closed."""
    if isinstance(jobs, _RayJobs):
        jobs.cancel()
    elif hasattr(jobs, "close"):
        jobs.close()


@contextmanager
def pinned_threads(count: int | None) -> Iterator[None]:
    """torch's CPU thread count set to ``count`` while the block runs, then restored (None: left as it is)."""
    import torch

    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def sweep(
    function: Callable[..., Any],
    arguments: Sequence[tuple],
    keep: Callable[[Any], dict[str, Any] | None],
    *,
    use_ray: bool = False,
    cpus_per_job: int = 1,
    callback: Callback | None = None,
    done: int = 0,
    total: int | None = None,
    job_callback: Callable[[int, int], Callback | None] | None = None,
    stopped: str = "stopped after {done} of {total} jobs; run it again to resume.",
) -> int:
    """Run ``function(*args, callback=...)`` for each tuple of ``arguments`` and keep each result as it arrives.

    Args:
        function: one job; it takes the per-step callback as its ``callback`` keyword (None on Ray, where
            a job's steps cannot be reported while it runs).
        arguments: one tuple per job still to run.
        keep: ``keep(result)`` stores a finished job's result (the sweep's only writer, in this process) and
            returns what the progress callback should say about it.
        use_ray: run the jobs as Ray tasks (:func:`run_many`), results in completion order.
        cpus_per_job: CPUs a Ray task reserves.
        callback: ``callback(done, total, metrics)`` after each job (and, sequentially, each job's steps
            through ``job_callback``); True stops: queued and running Ray tasks are cancelled, finished
            results are kept, and :class:`core.errors.Interrupted` is raised with ``stopped``.
        done: jobs finished before these (a resumed sweep), counted in the progress.
        total: all jobs of the sweep (default: ``done`` + these).
        job_callback: ``job_callback(index, done)`` -> the per-step callback of job ``index`` (sequential only).
        stopped: the message of the Interrupted raised on a stop (``{done}`` and ``{total}`` filled in).

    Returns:
        The number of jobs finished, ``done`` included.
    """
    total = done + len(arguments) if total is None else total

    def stop() -> Interrupted:
        return Interrupted(stopped.format(done=done, total=total))

    if use_ray:
        results = run_many(_keyword_call, [(function, *args) for args in arguments], True, cpus_per_job)
        try:
            for result in results:
                info = keep(result)
                done += 1
                if callback is not None and callback(done, total, info or {}):
                    raise stop()
        finally:
            cancel(results)
        return done
    for index, args in enumerate(arguments):
        relay = job_callback(index, done) if job_callback is not None and callback is not None else None
        info = keep(function(*args, callback=relay))
        done += 1
        if callback is not None and callback(done, total, info or {}):
            raise stop()
    return done


def _keyword_call(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args, callback=None)``: a job as one Ray task (its steps are not reported)."""
    return function(*args, callback=None)
