"""Layouts: a degenerate layout is flagged where it is chosen, and a new session starts on the recommended one."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_crowded_layouts_are_degenerate_and_spread_ones_are_not():
    from core.text_to_image.imaging import layout_problem

    fine = {"occupied_pct": 55.0, "max_collisions": 6, "mean_collisions": 1.7}
    assert layout_problem(fine, 2304) == ""
    crowded = {"occupied_pct": 4.0, "max_collisions": 9, "mean_collisions": 23.0}
    assert "fill only 4.0 % of the grid" in layout_problem(crowded, 2304)
    piled = {"occupied_pct": 40.0, "max_collisions": 300, "mean_collisions": 2.3}
    assert "one pixel averages 300 features" in layout_problem(piled, 2304)


def test_the_recommended_imager_is_the_default_one_not_the_newest(lab_home, small_imager):
    from core import store
    from core.text_to_image import imaging

    found = imaging.list_imagers()
    default = found[-1]
    newest = store.load(imaging.IMAGERS, found[0].id)
    assert imaging.recommended_imager([newest]) is newest  # alone, it is chosen
    # an imager fitted with every default is preferred to a newer one with other settings
    from core import corpora
    from core.encoders import DEFAULTS as ENCODER_DEFAULTS
    from core.layout import DEFAULTS as LAYOUT_DEFAULTS

    as_default = store.Artifact(
        default.kind,
        "as-default",
        default.path,
        {
            **default.config,
            "layout": imaging.layout_record(asdict(LAYOUT_DEFAULTS)),
            "encoder": {**default.config["encoder"], "name": ENCODER_DEFAULTS.name},
            "corpus": {**default.config["corpus"], "corpus": corpora.DEFAULTS.name, "rows": corpora.DEFAULTS.n},
        },
    )
    assert imaging.recommended_imager([newest, as_default]).id == "as-default"


def test_a_degenerate_layout_is_flagged_where_it_is_chosen(lab_home, monkeypatch):
    from core.text_to_image import imaging

    monkeypatch.setattr(imaging, "MIN_OCCUPIED_PCT", 101.0)  # every layout now counts as crowded
    app = AppTest.from_file(str(ROOT / "pages/text_to_image/sentence_to_image.py"), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Degenerate layout" in w.value for w in app.warning)
    app = AppTest.from_file(str(ROOT / "pages/text_to_image/feature_layout.py"), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Degenerate layout" in w.value for w in app.warning)
