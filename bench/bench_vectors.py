"""Your own vectors on the map: reading, fitting and reloading the layout, and a neighbour query, at several sizes.

For each ``--points`` size it writes synthetic clustered vectors (``--dims`` wide, 20 clusters, with a name and a
kind per point) as Parquet into a temporary store, then times: reading the file (:func:`core.vectors.load_vectors`),
fitting each ``--methods`` layout once (:func:`core.vectors.fit_map`: unit rows, PCA 50, then t-SNE / UMAP),
loading the same fit again from the store (a second open), and the 10 nearest neighbours of one point (exact
cosine, scikit-learn). The browser side (first draw and hover of 100,000 points) is timed by
``tests/app/test_browser_vectors.py``.

Run from the repository root::

    .venv/bin/python bench/bench_vectors.py
    .venv/bin/python bench/bench_vectors.py --points 10000 100000 --methods pca umap tsne

It prints one line per measurement, the machine, threads, package versions and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def points_file(folder: Path, n: int, dims: int) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    kinds = rng.integers(0, 20, n)
    vectors = (rng.normal(size=(20, dims)) * 3)[kinds] + rng.normal(size=(n, dims))
    frame = pd.DataFrame({"name": [f"point-{i}" for i in range(n)], "kind": [f"k{k:02d}" for k in kinds]})
    frame["vector"] = list(vectors.astype("float32"))
    path = folder / f"points-{n}.parquet"
    frame.to_parquet(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, nargs="+", default=[3000, 10000])
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--methods", nargs="+", default=["pca", "tsne"], choices=["pca", "umap", "tsne"])
    args = parser.parse_args()
    from core import store, vectors
    from core.device import cpu_threads

    with store.scratch_home():
        folder = store.home()
        for n in args.points:
            path = points_file(folder, n, args.dims)
            started = time.perf_counter()
            table = vectors.load_vectors(path)
            read = time.perf_counter() - started
            print(f"{n:,} points x {args.dims}: read the Parquet {read:.2f} s")
            for method in args.methods:
                settings = vectors.VectorMapSettings(method=method)
                started = time.perf_counter()
                artifact = vectors.fit_map(table.vectors, settings)
                fitted = time.perf_counter() - started
                started = time.perf_counter()
                again = vectors.load_coords(vectors.fit_map(table.vectors, settings))
                loaded = time.perf_counter() - started
                print(
                    f"  {method}: fit {fitted:.1f} s (stored as {artifact.id}); a second open (hash the vectors, "
                    f"load the stored fit) {loaded:.2f} s for {len(again):,} positions"
                )
            started = time.perf_counter()
            vectors.neighbours(table, 0, 10)
            print(
                f"  10 nearest neighbours of one point (exact cosine): {(time.perf_counter() - started) * 1000:.0f} ms"
            )
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("numpy", "scikit-learn", "openTSNE", "umap-learn"))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {cpu_threads()} threads; "
        f"Python {platform.python_version()}; {versions}"
    )
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
