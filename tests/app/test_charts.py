"""Every chart of the app goes through ui.charts.show (PNG at print resolution, a call's config kept), and a
collected view offers what it drew as one HTML file."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core import export

ROOT = Path(__file__).resolve().parents[2]
NOT_YET_ROUTED: set[str] = set()
"""Files that still call ``st.plotly_chart`` themselves (their charts save Plotly's default PNG)."""


def test_every_chart_goes_through_the_helper():
    calls = []
    for path in sorted([*(ROOT / "pages").rglob("*.py"), *(ROOT / "ui").rglob("*.py"), ROOT / "app.py"]):
        shown = str(path.relative_to(ROOT))
        if shown in NOT_YET_ROUTED or shown == "ui/charts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "plotly_chart":
                calls.append(f"{shown}:{node.lineno}")
    assert not calls, f"draw charts with ui.charts.show: {calls}"


def _view_script():
    import pandas as pd
    import plotly.graph_objects as go
    import streamlit as st

    from core import export
    from ui import charts

    st.title("Outside the view")
    with charts.view("A test view", "t-html") as view:
        charts.markdown("**Step 1.** <b>bold</b>")
        left, _ = st.columns(2)
        charts.show(go.Figure(go.Bar(y=[1, 2], name="bars-of-the-test")), key="t-bars", where=left)
        charts.show(go.Figure(go.Scatter(y=[3, 4])), key="t-small", config={"modeBarButtons": [["toImage"]]})
        charts.dataframe(pd.DataFrame({"cell": ["<script>x</script>"]}), hide_index=True)
        charts.caption("a caption")
    charts.show(go.Figure(), key="t-after")  # drawn after the view: not in it
    st.session_state["page"] = export.view_html(view.title, view.parts)


def test_a_view_collects_what_it_draws_and_offers_it_as_html():
    app = AppTest.from_function(_view_script, default_timeout=60).run()
    assert not app.exception, [e.value for e in app.exception]
    [button] = app.get("download_button")
    assert button.proto.label == "This view (HTML)" and "opens offline" in button.proto.help
    assert "SVG" in button.proto.help and button.proto.deferred_file_id  # built when clicked
    configs = [json.loads(chart.proto.config) for chart in app.get("plotly_chart")]
    options = [c["toImageButtonOptions"] for c in configs]
    assert options[0] == {"format": "png", "filename": "t-bars", "scale": export.PRINT_SCALE}
    assert configs[1]["modeBarButtons"] == [["toImage"]] and options[1]["filename"] == "t-small"
    assert options[2]["filename"] == "t-after"
    page = app.session_state["page"]
    assert page.count("Plotly.newPlot(") == 2 and "bars-of-the-test" in page
    assert "<strong>Step 1.</strong> &lt;b&gt;bold&lt;/b&gt;" in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert '<div class="caption"><p>a caption</p></div>' in page and "Outside the view" not in page


def _failing_view_script():
    import streamlit as st

    from ui import charts

    try:
        with charts.view("Fails", "f-html"):
            charts.markdown("half")
            raise ValueError("a bad input")
    except ValueError as error:
        st.error(str(error))


def test_a_view_that_fails_offers_no_download():
    app = AppTest.from_function(_failing_view_script, default_timeout=60).run()
    assert not app.exception and app.error[0].value == "a bad input"
    assert not app.get("download_button")
