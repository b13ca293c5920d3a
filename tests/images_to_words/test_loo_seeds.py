"""Study seeds: the same leave-one-out study run with several seeds is pooled, each figure a mean over seeds with
its interval and each control's claim on the seed-averaged per-class gains; the page shows it, and a study with
one seed says what it alone can tell apart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

PAGE = Path(__file__).resolve().parents[2] / "pages/images_to_words/images_to_words.py"


@pytest.fixture
def two_seeds(tmp_path, monkeypatch):
    from conftest import write_image_folder

    from core.images_to_words import jobs
    from core.images_to_words.settings import StudySettings

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    folder = write_image_folder(tmp_path / "images", ("cat", "dog", "bird", "fish"), per_class=12)
    settings = StudySettings(
        imageset="folder", path=str(folder), epochs=1, width=0.125, batch_size=16, threads=1, shuffled_control=True
    )
    first = jobs.run_loo(settings)
    return first, jobs.run_loo(replace(settings, seed=1)), jobs.run_loo(replace(settings, seed=2, epochs=2))


def test_studies_that_differ_only_by_seed_are_pooled_with_intervals_and_tests(two_seeds):
    from core import evidence
    from core.images_to_words import analysis, loo

    first, second, other = two_seeds
    siblings = analysis.seed_siblings(first, loo.list_studies())
    assert [s.id for s in siblings] == [first.id, second.id]  # the 2-epoch study is not the same study
    assert analysis.seed_siblings(other, loo.list_studies()) == [other]
    found = analysis.seed_summary(siblings)
    assert found["seeds"] == [0, 1]
    medians = [analysis.summary(s)["median_change"] for s in siblings]
    expected = evidence.interval_over_seeds(medians)
    assert found["median_change"]["estimate"] == pytest.approx(np.mean(medians))
    assert (found["median_change"]["low"], found["median_change"]["high"]) == pytest.approx(
        (expected.low, expected.high)
    )
    for name, key in (("constant", "gain_over_constant"), ("shuffled", "gain_over_shuffled")):
        by_class = [{f["class"]: f[key] for f in s.folds.values()} for s in siblings]
        gains = [np.mean([b[c] for b in by_class]) for c in ("cat", "dog", "bird", "fish")]
        claim = evidence.compare_folds(gains)
        assert found[name]["difference"]["estimate"] == pytest.approx(claim.difference.estimate)
        assert found[name]["verdict"] == claim.verdict and found[name]["test"] == claim.test
    with pytest.raises(ValueError, match="at least one finished study"):
        analysis.seed_summary([])


def test_the_page_pools_the_seeds_and_gives_the_correlation_its_interval(two_seeds):
    from streamlit.testing.v1 import AppTest

    first, second, other = two_seeds
    app = AppTest.from_file(str(PAGE), default_timeout=180).run()
    app.selectbox(key="loo-study").set_value(first.id).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Across study seeds" in m.value for m in app.markdown)
    pooled = {m.label: m.value for m in app.metric if "[" in str(m.value)}
    assert "Median held-out loss change" in pooled and "Accuracy, trained classes" in pooled
    assert any("mean over seeds" in c.value for c in app.caption)
    assert any("95% interval [" in c.value and "Spearman" in c.value for c in app.caption)
    app.selectbox(key="loo-study").set_value(other.id).run()
    assert not app.exception
    assert any(c.value.startswith("One seed (2)") for c in app.caption)
