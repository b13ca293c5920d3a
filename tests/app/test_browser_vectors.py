"""Your Vectors in headless Chromium: 100,000 points drawn with WebGL (every point, no sampling), the time to
the first draw and to a hover label printed as a benchmark; a click chooses a point and lists its neighbours.

Reuses the real-browser test's server (``app_url``) over a store of its own: no encoder is loaded, nothing is
fitted (the Parquet file carries x, y).
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from test_browser import app_url, new_browser, save_screenshot, screenshots, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

POINTS = 100_000
CHOSEN_ZERO = re.compile(r"nearest to point #0 ")
DRAW_WAIT = 240.0  # seconds; generous: two busy cores, software WebGL

# The map's plotly div: how many points its traces hold, whether its WebGL canvas exists, and what the hover shows.
MAP_STATE = """
const gd = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'))[0];
if (!gd || !gd._fullData) return null;
const hover = Array.from(gd.querySelectorAll('.hoverlayer .hovertext')).map(h => h.textContent);
return {
  points: gd._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0),
  gl: gd.querySelectorAll('canvas').length,
  hover: hover,
};
"""


# Where on the page (client pixels) trace 0's point ``arguments[0]`` is drawn.
POINT_AT = """
const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
const box = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, t = gd._fullData[0];
const i = arguments[0];
return [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i])];
"""


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory) -> Path:
    """This module's own empty store (``app_url`` serves the app over it)."""
    return tmp_path_factory.mktemp("vectors-home")


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory) -> Path:
    """100,000 points in 20 clusters: a 16-dim vector column, x, y, a name and a kind."""
    rng = np.random.default_rng(0)
    kinds = rng.integers(0, 20, POINTS)
    centres = rng.normal(size=(20, 16)) * 3
    vectors = (centres[kinds] + rng.normal(size=(POINTS, 16))).astype(np.float32)
    angle = kinds / 20 * 2 * np.pi
    xy = np.column_stack([np.cos(angle), np.sin(angle)]) * 10 + rng.normal(size=(POINTS, 2))
    frame = pd.DataFrame({"name": [f"point-{i}" for i in range(POINTS)], "kind": [f"k{k:02d}" for k in kinds]})
    frame["vector"], frame["x"], frame["y"] = list(vectors), xy[:, 0], xy[:, 1]
    path = tmp_path_factory.mktemp("vectors-data") / "big.parquet"
    frame.to_parquet(path, index=False)
    return path


def map_state(driver) -> dict | None:
    return driver.execute_script(MAP_STATE)


def coloured_pixels(png: bytes) -> int:
    """How many pixels of a screenshot are not near-white (the points drawn)."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((pixels.min(axis=2) < 200).sum())


def test_a_100k_point_map_draws_and_hovers(app_url, new_browser, screenshots, big_parquet) -> None:  # noqa: F811
    driver = new_browser()
    started = time.monotonic()
    driver.get(f"{app_url}/your_vectors?vectors={big_parquet}")
    state = wait_for(
        driver,
        "the 100,000-point map",
        lambda s: "Your Vectors" in s["titles"] and (map_state(driver) or {}).get("points") == POINTS + 1,
        wait=DRAW_WAIT,
    )
    drawn = time.monotonic() - started
    assert not state["errors"], state["errors"]
    found = map_state(driver)
    assert found["gl"] >= 1, "no WebGL canvas: the map was not drawn with Scattergl"
    chart = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stPlotlyChart"]')[0]
    painted = coloured_pixels(chart.screenshot_as_png)
    assert painted > 20_000, f"only {painted} coloured pixels: the points were not drawn"

    # the screen position of the first point's marker, from plotly's own axes
    x, y = driver.execute_script(POINT_AT, 0)
    ActionChains(driver).move_to_element_with_offset(chart, 0, 0).perform()
    moved = time.monotonic()
    ActionChains(driver).move_by_offset(
        int(x - chart.rect["x"] - chart.rect["width"] / 2), int(y - chart.rect["y"] - chart.rect["height"] / 2)
    ).perform()
    hovered = None
    while time.monotonic() - moved < 30 and hovered is None:
        if (map_state(driver) or {}).get("hover"):
            hovered = time.monotonic() - moved
        time.sleep(0.01)
    assert hovered is not None, "no hover label appeared over the map"
    label = map_state(driver)["hover"][0]
    x, y = driver.execute_script(POINT_AT, 5)
    clicked = time.monotonic()
    ActionChains(driver).move_to_element_with_offset(chart, 0, 0).move_by_offset(
        int(x - chart.rect["x"] - chart.rect["width"] / 2), int(y - chart.rect["y"] - chart.rect["height"] / 2)
    ).click().perform()
    clicked_on = wait_for(driver, "the neighbours of the point clicked", lambda s: not CHOSEN_ZERO.search(s["text"]))
    listed = time.monotonic() - clicked
    chosen = re.search(r"nearest to point #(\d+) ", clicked_on["text"])
    assert chosen, "no neighbours listed after the click"  # the click chose a point (the top one under the mouse)
    save_screenshot(driver, screenshots / "your_vectors.png")
    print(
        f"\nYour Vectors, {POINTS:,} points (Scattergl, every point drawn): first draw {drawn:.1f} s from opening the "
        f"page (read the Parquet, build and send the figure, WebGL draw), hover label after {hovered * 1000:.0f} ms "
        f"(mouse moved to label in the page: {label[:40]!r}); a click on a point (#{chosen[1]}) to its "
        f"neighbours listed: {listed:.1f} s; {painted:,} coloured pixels in the chart"
    )
