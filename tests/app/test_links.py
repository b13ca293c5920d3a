"""A link to a view: a page's main choices come back from the URL in a new session, a bad or stale value falls
back to the widget's default, and the values round-trip through the query string (ui/links.py)."""

from __future__ import annotations

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

TIMEOUT = 180


def opened(page: str, **params: str) -> AppTest:
    """``page`` opened in a new session from a link carrying ``params``."""
    app = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    app.query_params.update(params)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_a_link_restores_the_classify_view(lab_home, small_dataset, small_model):
    sentence = "A dull, lifeless and overlong mess."
    app = opened("pages/text_to_image/classify.py", dataset=small_dataset.id, text=sentence, raw="1")
    assert app.selectbox(key="cl-dataset").value == small_dataset.id
    assert app.text_input(key="cl-text").value == sentence and app.toggle(key="cl-raw").value is True
    assert any(f"«{sentence}»" in m.value for m in app.markdown)  # the view drawn is the linked sentence's
    # once drawn, the widgets are the user's: a change is kept, the link's value is not applied again
    app.text_input(key="cl-text").set_value("Another sentence.").run()
    assert app.text_input(key="cl-text").value == "Another sentence."


def test_a_stale_or_bad_value_falls_back_to_the_default(lab_home, small_dataset, small_model):
    app = opened("pages/text_to_image/classify.py", dataset="no-such-dataset", raw="perhaps")
    chosen = app.selectbox(key="cl-dataset")
    assert chosen.index == 0 and chosen.value != "no-such-dataset"  # the page's default: its first dataset
    assert app.toggle(key="cl-raw").value is False
    assert not app.error


def test_a_sentence_path_link_restores_the_head_shown(lab_home, small_dataset, small_model):
    app = opened("pages/text_to_image/sentence_path.py", dataset=small_dataset.id, layer="2", head="2")
    assert (app.selectbox(key="sp-att-layer").value, app.selectbox(key="sp-att-head").value) == (2, 2)
    assert any("layer 2, head 2" in str(c.proto.spec) for c in app.get("plotly_chart"))


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [("a sentence, with commas & ?", str, "a sentence, with commas & ?"), (True, bool, "1"), (False, bool, "0"),
     (7, int, "7"), (0.25, float, "0.25"), (["a", "b"], list, "a,b")],
)  # fmt: skip
def test_values_round_trip_through_the_url(value, kind, text):
    from ui import links

    assert links.encode(value, kind) == text and links.decode(text, kind) == value


def test_the_link_is_the_page_address_with_its_choices(monkeypatch):
    import streamlit as st

    from ui import links

    monkeypatch.setattr(st, "session_state", {"_link_params": {"text": ("t", str), "raw": ("r", bool)}, "t": "a b&c"})
    assert links.url("http://lab:8501/classify?old=1") == "http://lab:8501/classify?text=a+b%26c"
    with pytest.raises(ValueError, match="yes/no"):
        links.decode("perhaps", bool)
