"""The notebook examples in docs/examples run as scripts on small data in a store of their own, each writing one
self-contained HTML file that holds its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import plotly.offline
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


def run_example(name: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    """``docs/examples/<name>`` run from another folder (one CPU thread, as each of the suite's workers)."""
    env = {**os.environ, "CROSSMODAL_HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the example finds the lab by itself
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=home.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def self_contained(page: str, figures: int) -> None:
    assert page.count(plotly.offline.get_plotlyjs()) == 1
    assert page.count("Plotly.newPlot(") == figures
    assert "<script src=" not in page.replace(plotly.offline.get_plotlyjs(), "")


@pytest.mark.slow
def test_sentence_map_example(tmp_path):
    out = tmp_path / "out" / "map.html"
    done = run_example("sentence_map.py", tmp_path / "home", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    page = out.read_text(encoding="utf-8")
    self_contained(page, 1)
    assert "your sentences" in page and "a dull, lifeless mess" in page  # the placed sentences' trace
    assert "Nearest corpus sentences" in page and "<th>neighbour</th>" in page
    assert "rotten_tomatoes, 240 sentences" in page


@pytest.mark.slow
def test_sentence_path_example(tmp_path):
    out = tmp_path / "path.html"
    done = run_example("sentence_path.py", tmp_path / "home", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    page = out.read_text(encoding="utf-8")
    self_contained(page, 6)  # every layer, the pooled vectors, the image, the slice, the probabilities, the saliency
    assert "<th>token</th>" in page and "[CLS]" in page and "beautifully" in page
    assert "always answering the majority class" in page and "held-out accuracy" in done.stdout


@pytest.mark.slow
def test_reproduction_table_example(tmp_path):
    home = tmp_path / "home"
    missing = run_example("reproduction_table.py", home, "--out", str(tmp_path / "none.html"))
    assert missing.returncode == 2 and "python -m core reproduce images-to-words" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "none.html").exists()

    out = tmp_path / "tiny.html"
    tiny = run_example("reproduction_table.py", home, "--tiny", "--out", str(out))
    assert tiny.returncode == 0, tiny.stderr[-3000:]
    page = out.read_text(encoding="utf-8")
    assert "plotly.js v" not in page  # a table and sentences only: no figure, no plotly.js
    assert "<td>the lab's settings, run here</td>" in page
    assert "--per-class 4 --epochs 1" in page and "What the paired comparisons say" in page
    assert not (home / "reproductions").exists()  # the tiny run never becomes this store's latest


def test_reproduction_table_example_exports_the_stores_latest(tmp_path, monkeypatch):
    from core import reproduce

    home = tmp_path / "home"
    monkeypatch.setenv("CROSSMODAL_HOME", str(home))
    said = {"verdict": "supported", "sentence": "Supported at 95%: A − B +5.0 points."}
    rows = [
        reproduce.Row("paper", "the poster", "median change", -0.31, "-31.0 %"),
        reproduce.Row("lab preset", "the <claim>", "difference", 0.05, "+5.0 points", evidence=said),
    ]
    reproduce.save("hybrid", "offline", rows, {}, 0.0)
    out = tmp_path / "latest.html"
    done = run_example("reproduction_table.py", home, "--paper", "hybrid", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    page = out.read_text(encoding="utf-8")
    assert said["sentence"] in page and "<td>-31.0 %</td>" in page and "the &lt;claim&gt;" in page
    assert page.index("<th>row</th>") < page.index("<th>value</th>") < page.index("<th>what</th>")
