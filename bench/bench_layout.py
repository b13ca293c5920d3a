"""Layout fit time and trustworthiness: FeatureLayout against pyDeepInsight, same run, same matrix.

For each feature shape the benchmark embeds 2,000 Rotten Tomatoes snippets (cached in the store by
``core.text_to_image.imaging.embed_corpus``) and fits, on that one samples x features matrix:

* ``pyDeepInsight``: the paper's recipe, ``Norm2Scaler().fit_transform`` and then
  ``ImageTransformer(feature_extractor=sklearn TSNE(n_components=2, metric="cosine",
  random_state=1701), pixels=50).fit`` (sklearn's defaults otherwise: 1,000 iterations, PCA start,
  Barnes-Hut gradient on all OpenMP threads);
* ``FeatureLayout()``: the lab's defaults (log scaler, PCA to 50 over the sample axis, openTSNE
  on exact scikit-learn neighbours, 100 + 150 iterations, all cores, like sklearn's t-SNE);
* ``FeatureLayout(n_jobs=1)``: the same on one thread;
* ``FeatureLayout(scaler=None)`` fed ``Norm2Scaler``'s output: pyDeepInsight's exact input
  through our PCA + openTSNE, which separates the effect of the scaler from that of the 2-D
  method.

Fit time is ``time.perf_counter`` around ``fit`` only (pyDeepInsight's ``Norm2Scaler`` runs before
its timer; ours scales inside ``fit``); every module a fit imports (sklearn's TSNE, openTSNE,
sklearn's PCA) is imported before the first timer. Trustworthiness is computed the same way for
all: sklearn's ``trustworthiness`` of the 2-D feature positions before binning (pyDeepInsight's
``_xrot``, ours ``embedding_``) with respect to the scaled features (features as points),
``n_neighbors=5``, ``metric="cosine"``. FeatureLayout's log scaler, ``log(x - min + 1) / max``,
equals ``Norm2Scaler``'s ``log(x + |min| + 1) / max`` only where a column's minimum is <= 0; the
script checks that, and when it does not hold it reports trustworthiness against both scalings
(each method's own input, and the other one). Occupied pixels and collisions come from the binned
pixel of each feature.

Run from the repository root::

    .venv/bin/python bench/bench_layout.py --shapes minilm mpnet --n 2000 --repeats 1

It prints its figures, the machine, package versions and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHAPES = {
    # name: (encoder, layers (None: the encoder's defaults), label)
    "minilm": ("all-MiniLM-L6-v2", None, "all-MiniLM-L6-v2, layers 1..6 [CLS]"),
    "mpnet": ("all-mpnet-base-v2", [6, 7, 8, 9, 10, 11], "all-mpnet-base-v2, layers 6..11 [CLS]"),
}
SEED = 1701
PIXELS = 50
NEIGHBOURS = 5
METRIC = "cosine"
# name: (kind, n_jobs); "norm2" is FeatureLayout(scaler=None) fed Norm2Scaler's output, i.e. pyDeepInsight's input
METHODS = {
    "pyDeepInsight": ("pydeepinsight", None),
    "FeatureLayout() (defaults, all cores)": ("ours", -1),
    "FeatureLayout(n_jobs=1)": ("ours", 1),
    "FeatureLayout(scaler=None) on Norm2Scaler output": ("norm2", -1),
}
PACKAGES = ("pyDeepInsight", "openTSNE", "scikit-learn", "numpy", "scipy", "torch", "transformers", "threadpoolctl")


def cpu_model() -> str:
    """The CPU's model name from ``lscpu`` (or /proc/cpuinfo), else ``platform.processor()``."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10).stdout
        for line in out.splitlines():
            if line.strip().lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """CPU count, model, platform and the thread pools numpy, scikit-learn and torch will use."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    from threadpoolctl import threadpool_info

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_model": cpu_model(),
        "platform.processor()": platform.processor() or "(empty)",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sklearn_openmp_threads": _openmp_effective_n_threads(),
        "torch_threads": torch.get_num_threads(),
        "thread_pools": sorted({f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()}),
    }


def versions() -> dict[str, str]:
    """Installed versions of the packages whose code is being timed."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def load_matrix(shape: str, n: int) -> tuple[np.ndarray, str, float]:
    """The corpus embeddings of ``shape`` (embedded and cached on first use), its artifact id, seconds taken."""
    from core import corpora
    from core.encoders import TextEncoder
    from core.text_to_image import imaging

    name, layers, _ = SHAPES[shape]
    started = time.perf_counter()
    corpus = corpora.load_corpus("rotten_tomatoes", n=n, seed=0)
    encoder = TextEncoder.from_name(name, device="cpu")
    artifact = imaging.embed_corpus(encoder, corpus, layers=layers, pooling="cls")
    matrix = imaging.load_embeddings(artifact)
    return matrix, artifact.id, time.perf_counter() - started


def occupancy(coords: np.ndarray) -> tuple[float, int]:
    """Occupied pixels (% of the PIXELS x PIXELS grid) and the most features on one pixel."""
    counts = np.bincount(coords[:, 0] * PIXELS + coords[:, 1], minlength=PIXELS * PIXELS)
    return 100.0 * np.count_nonzero(counts) / counts.size, int(counts.max())


def timed(fit: Any) -> dict[str, Any]:
    """Run ``fit()`` once: its wall seconds, the process CPU seconds and the 1-minute load before and after."""
    load_before, cpu = os.getloadavg()[0], time.process_time()
    started = time.perf_counter()
    fit()
    return {
        "fit_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu,
        "load": (load_before, os.getloadavg()[0]),
    }


def fit_pydeepinsight(X: np.ndarray) -> dict[str, Any]:
    """The paper's recipe; the timer runs around ``ImageTransformer.fit`` only."""
    from pyDeepInsight import ImageTransformer
    from pyDeepInsight.utils import Norm2Scaler
    from sklearn.manifold import TSNE

    started = time.perf_counter()
    scaled = Norm2Scaler().fit_transform(X)
    scale_s = time.perf_counter() - started
    transformer = ImageTransformer(
        feature_extractor=TSNE(n_components=2, metric=METRIC, random_state=SEED), pixels=PIXELS
    )
    return {
        **timed(lambda: transformer.fit(scaled)),
        "scale_s": scale_s,
        "positions": np.asarray(transformer._xrot),
        "coords": np.asarray(transformer._coords),
        "scaled": scaled,
    }


def fit_ours(X: np.ndarray, n_jobs: int, norm2: bool = False) -> dict[str, Any]:
    """FeatureLayout with its defaults (and ``n_jobs``); the timer runs around ``fit`` only.

    With ``norm2`` the layout gets exactly pyDeepInsight's input: ``Norm2Scaler().fit_transform(X)``
    (computed before the timer) and no scaler of its own.
    """
    from pyDeepInsight.utils import Norm2Scaler

    from core.layout import FeatureLayout

    if norm2:
        X = Norm2Scaler().fit_transform(X)
    layout = FeatureLayout(n_jobs=n_jobs, scaler=None) if norm2 else FeatureLayout(n_jobs=n_jobs)
    return {
        **timed(lambda: layout.fit(X)),
        "positions": layout.embedding_,
        "coords": layout.coords_,
        "layout": layout,
    }


def check_scalers(X: np.ndarray, ours: np.ndarray, theirs: np.ndarray) -> dict[str, Any]:
    """Whether FeatureLayout's log scaler and Norm2Scaler agree on X (they do when column minima are <= 0)."""
    minima = X.min(axis=0)
    return {
        "columns": X.shape[1],
        "columns_min_gt_0": int(np.count_nonzero(minima > 0)),
        "all_minima_le_0": bool(np.all(minima <= 0)),
        "max_abs_diff": float(np.max(np.abs(ours - theirs.astype(np.float64)))),
    }


def bench_shape(shape: str, n: int, repeats: int) -> dict[str, Any]:
    """Embeds (or reuses) the corpus for ``shape`` and fits every method ``repeats`` times."""
    import openTSNE  # noqa: F401  imported here so that no timer below counts an import
    import sklearn.decomposition  # noqa: F401
    import sklearn.manifold  # noqa: F401
    from sklearn.manifold import trustworthiness

    X, artifact_id, load_s = load_matrix(shape, n)
    print(
        f"\n[{shape}] matrix {X.shape[0]} samples x {X.shape[1]} features ({X.dtype}), "
        f"embeddings artifact {artifact_id}, loaded/embedded in {load_s:.1f} s",
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {method: [] for method in METHODS}
    for repeat in range(repeats):
        for method, (kind, n_jobs) in METHODS.items():
            result = fit_pydeepinsight(X) if kind == "pydeepinsight" else fit_ours(X, n_jobs, norm2=kind == "norm2")
            print(
                f"[{shape}] repeat {repeat + 1}/{repeats}: {method} fit {result['fit_s']:.2f} s wall, "
                f"{result['cpu_s']:.2f} s CPU (this process, all threads), 1-min load average "
                f"{result['load'][0]:.2f} before / {result['load'][1]:.2f} after",
                flush=True,
            )
            runs[method].append(result)

    ours_scaled = runs["FeatureLayout(n_jobs=1)"][0]["layout"].scale(X)  # float64 log(x - min + 1) / max
    norm2_scaled = runs["pyDeepInsight"][0]["scaled"]  # what pyDeepInsight's t-SNE saw
    scalers = check_scalers(X, ours_scaled, norm2_scaled)
    print(f"[{shape}] scalers: {scalers}", flush=True)
    references = {"log": ours_scaled.T, "norm2": np.asarray(norm2_scaled, dtype=np.float64).T}
    rows = []
    for method, results in runs.items():
        first = results[0]
        trust = {}
        for key, features in references.items():  # each feature a point: its scaled values over the samples
            started = time.perf_counter()
            trust[key] = float(trustworthiness(features, first["positions"], n_neighbors=NEIGHBOURS, metric=METRIC))
            print(
                f"[{shape}] {method}: trustworthiness vs {key}-scaled features {trust[key]:.4f} "
                f"(computed in {time.perf_counter() - started:.1f} s)",
                flush=True,
            )
        occupied, collisions = occupancy(first["coords"])
        times = [r["fit_s"] for r in results]
        rows.append(
            {
                "shape": shape,
                "features": X.shape[1],
                "method": method,
                "fit_s": statistics.median(times),
                "fit_all_s": times,
                "cpu_s": statistics.median(r["cpu_s"] for r in results),
                "load_max": max(max(r["load"]) for r in results),
                "trust_log": trust["log"],
                "trust_norm2": trust["norm2"],
                "occupied_pct": occupied,
                "max_collisions": collisions,
            }
        )
    baseline = rows[0]["fit_s"]
    for row in rows:
        row["speedup"] = baseline / row["fit_s"]
    return {"rows": rows, "scalers": scalers, "artifact": artifact_id, "samples": X.shape[0]}


def table(results: list[dict[str, Any]], repeats: int) -> str:
    """The markdown table of every shape's rows."""
    timing = "fit s" if repeats == 1 else f"fit s (median of {repeats})"
    lines = [
        f"| features | method | {timing} | speed-up vs pyDeepInsight | trustworthiness vs log(x-min+1) "
        "(FeatureLayout's input) | trustworthiness vs Norm2Scaler (pyDeepInsight's input) | occupied px % | "
        "max collisions | CPU s | max 1-min load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for row in result["rows"]:
            label = SHAPES[row["shape"]][2]
            lines.append(
                f"| {row['features']:,} ({label}) | {row['method']} | {row['fit_s']:.2f} | {row['speedup']:.2f}x | "
                f"{row['trust_log']:.4f} | {row['trust_norm2']:.4f} | {row['occupied_pct']:.2f} | "
                f"{row['max_collisions']} | {row['cpu_s']:.2f} | {row['load_max']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parses the options, runs the benchmark and prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["minilm", "mpnet"])
    parser.add_argument("--n", type=int, default=2000, help="Rotten Tomatoes snippets (sample seed 0)")
    parser.add_argument("--repeats", type=int, default=1, help="fits per method (the table shows the median)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    command = shlex.join([os.path.relpath(sys.executable), *sys.argv]) if argv is None else shlex.join(argv)
    print(f"command: {command}")
    print(f"started: {time.strftime('%Y-%m-%d %H:%M:%S %z')}; load average (1, 5, 15 min): {os.getloadavg()}")
    for key, value in machine().items():
        print(f"machine.{key}: {value}")
    for key, value in versions().items():
        print(f"version.{key}: {value}")
    results = [bench_shape(shape, args.n, args.repeats) for shape in args.shapes]

    print("\n## Layout fit: FeatureLayout vs pyDeepInsight\n")
    print(
        f"Rotten Tomatoes, {args.n} snippets (seed 0), {PIXELS} x {PIXELS} pixels, one machine, one process, "
        f"{args.repeats} fit(s) per method.\n"
    )
    print(table(results, args.repeats))
    print()
    for result in results:
        s = result["scalers"]
        print(
            f"- {result['rows'][0]['features']:,} features: column minima all <= 0: {s['all_minima_le_0']} "
            f"({s['columns_min_gt_0']} of {s['columns']} columns have min > 0); "
            f"max |FeatureLayout log scaler - Norm2Scaler| = {s['max_abs_diff']:.4g}; "
            f"embeddings artifact {result['artifact']}"
        )
        for row in result["rows"]:
            if len(row["fit_all_s"]) > 1:
                print(f"  - {row['method']} fit times: {', '.join(f'{t:.2f}' for t in row['fit_all_s'])} s")
    print(
        "\nCPU s: process CPU time during fit (all threads; CPU s / fit s ~ cores kept busy). Load average: the "
        "1-minute system load read before and after each fit; on this 2-core machine a value well above 2 means "
        "other work shared the CPU and the fit times are inflated."
    )
    print(f"finished: {time.strftime('%Y-%m-%d %H:%M:%S %z')}; load average (1, 5, 15 min): {os.getloadavg()}")


if __name__ == "__main__":
    main()
