"""A view as one self-contained HTML file: plotly.js inside and no address to fetch, every figure's data, tables
escaped; the app's charts save PNGs at print resolution, a call's own Plotly config kept."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
import pytest
from conftest import offline_chromium
from plotly.io.json import to_json_plotly

from core import export

REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


def _figures() -> list[go.Figure]:
    bars = go.Figure(go.Bar(x=["fresh", "rotten"], y=[0.8125, 0.1875], name="bars-of-the-test"))
    heat = go.Figure(go.Heatmap(z=np.arange(6).reshape(2, 3) + 0.5, name="heat-of-the-test"))
    return [bars, heat]


def test_a_view_is_one_offline_file_with_plotly_js_and_every_figure():
    bars, heat = _figures()
    page = export.view_html("A view", ["Some **words**.", bars, pd.DataFrame({"a": [1, 2]}), heat])
    assert page.startswith("<!DOCTYPE html>") and page.count("<h1>") == 1
    assert not REMOTE_SCRIPT.search(page)  # no CDN: nothing to fetch
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1
    rest = page.replace(bundle, "")
    assert "cdn." not in rest and "http://" not in rest and "https://" not in rest
    for number, name in ((1, "bars-of-the-test"), (2, "heat-of-the-test")):
        assert f'id="figure-{number}"' in page and f'Plotly.newPlot(                        "figure-{number}"' in page
        assert name in page
    for fig in (bars, heat):  # each figure's data as plotly writes it (numpy arrays as base64 typed arrays)
        assert to_json_plotly(fig.to_dict()["data"]) in page
    assert "0.8125" in page
    assert '"format": "svg"' in page  # the exported charts' camera button saves SVG
    assert page.index("Some <strong>words</strong>.") < page.index("figure-1") < page.index("<table")


def test_a_view_without_figures_carries_no_plotly_js():
    page = export.view_html("Only a table", [pd.DataFrame({"a": [1]})])
    assert "plotly.js v" not in page and "Plotly.newPlot" not in page and "<table" in page


def test_table_cells_headings_and_text_stay_text():
    evil = "<script>alert('x')</script>"
    table = pd.DataFrame({evil: [evil, "a & b"], "value": [0.123456, float("nan")]})
    page = export.view_html(f"Title {evil}", [f"Text {evil} and `code {evil}`", table], note=evil)
    body = page.split("</head>", 1)[1]
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert "a &amp; b" in body and "<td>0.1235</td>" in body and "<td></td>" in body
    assert "<title>Title &lt;script&gt;" in page


def test_markdown_subset():
    shown = export.markdown_html("## Head\n**What:**\n- one *a*\n- two `x*y*`\n\nLast line")
    assert shown == (
        "<h3>Head</h3>\n<p><strong>What:</strong></p>\n<ul><li>one <em>a</em></li><li>two <code>x*y*</code></li></ul>"
        "\n<p>Last line</p>"
    )
    assert export.markdown_html("snake_case_name and 2 * 3 * 4") == "<p>snake_case_name and 2 * 3 * 4</p>"


@pytest.mark.parametrize(
    ("title", "parts", "message"),
    [
        ("", [], "needs a title"),
        ("T", [object()], "part 0 is a object"),
        ("T", ["fine", {"data": []}], "part 1 is a dict"),
    ],
)
def test_bad_parts_are_refused_with_a_message(title, parts, message):
    with pytest.raises(ValueError, match=message):
        export.view_html(title, parts)


def test_image_config_keeps_what_a_call_passes():
    plain = {"modeBarButtons": [["toImage"]], "toImageButtonOptions": {"filename": "mine"}}
    config = export.image_config("sp-layers", plain)
    assert config["modeBarButtons"] == [["toImage"]]
    assert config["toImageButtonOptions"] == {"format": "png", "filename": "mine", "scale": export.PRINT_SCALE}
    assert export.image_config("a key/with spaces")["toImageButtonOptions"]["filename"] == "a-key-with-spaces"
    assert plain == {"modeBarButtons": [["toImage"]], "toImageButtonOptions": {"filename": "mine"}}  # not changed
    with pytest.raises(ValueError, match="image_format must be one of"):
        export.image_config("x", image_format="jpeg")
    with pytest.raises(ValueError, match="config must be a dict"):
        export.image_config("x", ["displayModeBar"])


def test_write_html_makes_its_folder(tmp_path):
    written = export.write_html(tmp_path / "deeper" / "view.html", "A view", _figures())
    assert written.is_file() and "heat-of-the-test" in written.read_text(encoding="utf-8")


@pytest.mark.browser
def test_the_file_opens_offline_and_saves_svg_and_png(tmp_path):
    """In headless Chromium, from the file alone: both figures drawn, and each saves an SVG and a PNG."""
    page = export.write_html(tmp_path / "view.html", "A view", _figures())
    driver = offline_chromium(tmp_path / "profile")
    try:
        driver.set_script_timeout(60)
        driver.get(Path(page).as_uri())
        drawn = driver.execute_script("return [1, 2].map(n => !!document.getElementById('figure-' + n)._fullLayout);")
        assert drawn == [True, True]
        images = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const gd = document.getElementById('figure-1');"
            "Promise.all([Plotly.toImage(gd, {format: 'svg'}), Plotly.toImage(gd, {format: 'png', scale: 3})])"
            ".then(found => done(found.map(url => url.slice(0, 30) + ' ' + url.length)), e => done(String(e)));"
        )
        assert images[0].startswith("data:image/svg+xml") and images[1].startswith("data:image/png")
    finally:
        driver.quit()
