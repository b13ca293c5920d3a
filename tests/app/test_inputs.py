"""Number inputs block their page's actions while out of range, and typed values outlive runs that hide them."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

SCRIPT = """
import streamlit as st
from ui import inputs

inputs.start_run()
if st.session_state.get("hide"):  # another page: this one's widgets are not drawn
    st.write("elsewhere")
else:
    pixels = inputs.number(st, "Pixels per side", 8, 256, 50, key="px")
    share = inputs.number(st, "Validation share", 0.0, 0.45, 0.1, 0.05, key="share")
    text = st.text_area("Sentences", "the default", key="txt", persist_state="session")
    if inputs.button(st, "Fit", key="fit"):
        st.session_state["fitted"] = int(pixels)
"""


def app() -> AppTest:
    test = AppTest.from_string(SCRIPT, default_timeout=30)
    test.run()
    assert not test.exception, test.exception
    return test


def test_an_out_of_range_number_is_named_with_its_range_and_blocks_the_action() -> None:
    test = app()
    assert not test.error and not test.button(key="fit").disabled
    test.number_input(key="px").set_value(1).run()
    assert [e.value for e in test.error] == ["Pixels per side: 1 is out of range. Allowed: 8 to 256."]
    fit = test.button(key="fit")
    assert fit.disabled and "Pixels per side: 1 is out of range" in fit.help
    test.number_input(key="px").set_value(64).run()
    assert not test.error and not test.button(key="fit").disabled
    test.button(key="fit").click().run()
    assert test.session_state["fitted"] == 64


def test_a_float_input_says_its_range_in_plain_numbers() -> None:
    test = app()
    test.number_input(key="share").set_value(0.5).run()
    assert [e.value for e in test.error] == ["Validation share: 0.5 is out of range. Allowed: 0 to 0.45."]
    assert test.button(key="fit").disabled


def test_typed_values_survive_a_run_that_does_not_draw_them() -> None:
    test = app()
    test.number_input(key="px").set_value(96)
    test.text_area(key="txt").set_value("my own sentence").run()
    test.session_state["hide"] = True
    test.run()
    assert [m.value for m in test.markdown] == ["elsewhere"]
    test.session_state["hide"] = False
    test.run()
    assert test.text_area(key="txt").value == "my own sentence"
    assert test.number_input(key="px").value == 96
