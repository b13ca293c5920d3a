"""Portable demos: time to export a dataset (its layout and imager settings) with its models, and to import the
archive into an empty store (all checks included), and the archive's size.

Uses ``--dataset`` (default: the newest dataset with trained models) and up to ``--models`` of its models, exports
``--repeat`` times and imports each time into a fresh temporary store, and checks that a sentence gets the same
probabilities from every imported model as at home.

Run from the repository root (after building a model, e.g. ``python -m core preset workshop``)::

    .venv/bin/python bench/bench_demos.py
    .venv/bin/python bench/bench_demos.py --dataset ID --models 3 --repeat 5

It prints its figures, the machine, package versions and the command; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np

    from core import store
    from core.text_to_image import classify, datasets, demos, results

    found = [a for a in datasets.list_datasets() if results.list_models(a)]
    dataset = store.load(datasets.DATASETS, args.dataset) if args.dataset else (found[0] if found else None)
    if dataset is None:
        sys.exit("no dataset with trained models in the store: build one first, e.g. python -m core preset workshop")
    models = results.list_models(dataset)[: args.models]
    text = "A tender, funny and beautifully acted film."
    _, images = classify.dataset_imager(dataset).images([text])
    home_probs = {
        m.id: classify.classify({"m": classify.load_model(m.path)}, images[0])["per_model"]["m"] for m in models
    }
    home = os.environ.get("CROSSMODAL_HOME")
    exports, imports, same = [], [], True
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "demo.zip"
        for repeat in range(args.repeat):
            os.environ["CROSSMODAL_HOME"] = home or str(Path.home() / ".cache" / "crossmodal-lab")
            started = time.perf_counter()
            demos.export_demo(archive, dataset.id, [m.id for m in models])
            exports.append(time.perf_counter() - started)
            os.environ["CROSSMODAL_HOME"] = str(Path(scratch) / f"store-{repeat}")
            started = time.perf_counter()
            demos.import_demo(archive)
            imports.append(time.perf_counter() - started)
            for m in models:
                probs = classify.classify({"m": classify.load_model(store.load("models", m.id).path)}, images[0])
                same &= bool(np.array_equal(probs["per_model"]["m"], home_probs[m.id]))
        size = archive.stat().st_size
    print(f"dataset {dataset.id} ({datasets.dataset_label(dataset)})")
    print(f"{len(models)} model(s): {[m.id for m in models]}")
    print(f"archive {size / 2**20:.1f} MB")
    print(f"export: median {np.median(exports):.2f} s over {args.repeat}")
    print(f"import (all checks, into an empty store): median {np.median(imports):.2f} s over {args.repeat}")
    print(f"imported models give the same probabilities as at home: {same}")
    versions = {n: metadata.version(n) for n in ("torch", "safetensors", "numpy")}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {versions}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")


if __name__ == "__main__":
    main()
