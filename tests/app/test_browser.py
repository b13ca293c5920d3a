"""The real app in headless Chromium: every page renders its charts, and browser sessions stay private.

Starts ``streamlit run app.py`` on a free port against the session's small fitted imager (``lab_home``) and
drives it with Selenium. Set ``CROSSMODAL_SCREENSHOTS=docs/screenshots`` to (re)make the README screenshots;
otherwise they land in the test's tmp_path.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import free_port
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "needs Chromium and its driver on PATH "
        "(Debian: apt-get install chromium chromium-driver; scripts/test.sh does it)",
        allow_module_level=True,
    )

WAIT = 90.0  # seconds for anything to appear; generous, since the first page view loads the encoder
SERVER_WAIT = 90.0
SHOT_MAX_HEIGHT = 4000
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,2000",
    "--hide-scrollbars",  # cleaner screenshots
)

# One look at the page, taken in a single script call so that Streamlit's re-renders cannot go stale under us.
# arguments[0]: sentences whose bordered container (their markdown line and its charts) should be described.
PAGE_STATE = """
const all = (root, sel) => Array.from(root.querySelectorAll(sel));
const chart = c => ({
  svgs: all(c, '.main-svg').length,
  heatmaps: all(c, '.hm image').length,
  canvases: all(c, 'canvas').length,
  height: Math.round(c.getBoundingClientRect().height),
});
const sentences = {};
for (const s of arguments[0] || []) {
  const line = all(document, '[data-testid="stMarkdownContainer"]').find(m => m.textContent.includes(s));
  const block = line ? line.closest('[data-testid="stVerticalBlock"]') : null;
  sentences[s] = block ? all(block, '[data-testid="stPlotlyChart"]').map(chart) : null;
}
const values = all(document, 'textarea, input').map(e => e.value || '').join('\\n');
return {
  running: all(document, '[data-testid="stStatusWidget"]').length > 0,
  stale: all(document, '[data-stale="true"]').length,
  spinners: all(document, '[data-testid="stSpinner"]').length,
  titles: all(document, '[data-testid="stHeading"] h1').map(h => h.textContent.trim()),
  tables: all(document, '[data-testid="stDataFrame"]').map(t => t.textContent),
  metrics: all(document, '[data-testid="stMetricLabel"]').map(m => m.textContent.trim()),
  charts: all(document, '[data-testid="stPlotlyChart"]').map(chart),
  exceptions: all(document, '[data-testid="stException"]').map(e => e.innerText.slice(0, 2000)),
  errors: all(document, '[data-testid="stAlertContentError"]').map(e => e.innerText),
  selects: all(document, '[data-testid="stSelectbox"]')\
.map(e => [e.innerText, ...all(e, 'input').map(i => i.value)].join(' ')),
  text: document.body.innerText + '\\n' + values,
  sentences: sentences,
};
"""


# The first and last stop of every trace's colour scale, per chart, as plotly holds them in the page.
SCALES = """
return Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')).map(
  gd => (gd._fullData || []).map(t => t.colorscale ? [t.colorscale[0][1], t.colorscale.at(-1)[1]] : null)
);
"""


def page_state(driver: WebDriver, sentences: tuple[str, ...] = ()) -> dict:
    return driver.execute_script(PAGE_STATE, list(sentences))


def is_idle(state: dict) -> bool:
    """No script run in progress, nothing stale or spinning, and every chart has drawn its svg."""
    return (
        not state["running"]
        and not state["stale"]
        and not state["spinners"]
        and all(c["svgs"] for c in state["charts"])
    )


def wait_for(
    driver: WebDriver, what: str, ready: Callable[[dict], bool], sentences: tuple[str, ...] = (), wait: float = WAIT
) -> dict:
    """Poll the page until ``ready(state)`` holds and the page is idle on two polls in a row; fail with what we saw."""
    seen: dict = {}
    streak = 0

    def check(_driver: WebDriver) -> dict | bool:
        nonlocal seen, streak
        seen = page_state(driver, sentences)
        if seen["exceptions"]:
            pytest.fail(f"the app raised while waiting for {what}:\n" + "\n---\n".join(seen["exceptions"]))
        streak = streak + 1 if ready(seen) and is_idle(seen) else 0
        return seen if streak >= 2 else False

    try:
        return WebDriverWait(
            driver, wait, poll_frequency=0.3, ignored_exceptions=(StaleElementReferenceException,)
        ).until(check)
    except TimeoutException:
        summary = {
            k: seen.get(k)
            for k in ("running", "stale", "spinners", "titles", "metrics", "charts", "errors", "sentences")
        }
        pytest.fail(
            f"waited {wait:.0f} s for {what} at {driver.current_url}; last state {summary}; "
            f"page text ends: {seen.get('text', '')[-1500:]!r}"
        )


def type_sentences(driver: WebDriver, text: str) -> None:
    """Replace the text area's content and submit it (Ctrl+Enter), then move focus away."""
    area = driver.find_element(By.CSS_SELECTOR, '[data-testid="stTextArea"] textarea')
    area.click()
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys(Keys.DELETE)
    area.send_keys(text)
    area.send_keys(Keys.CONTROL, Keys.ENTER)
    driver.execute_script("document.activeElement && document.activeElement.blur();")


def save_screenshot(driver: WebDriver, path: Path) -> None:
    """Whole page from the top, at most SHOT_MAX_HEIGHT px tall: the viewport is stretched to the content."""
    driver.execute_script(
        "document.activeElement && document.activeElement.blur();"
        "document.querySelectorAll('[data-testid=\"stMain\"]').forEach(m => m.scrollTo(0, 0)); window.scrollTo(0, 0);"
    )
    width, height = driver.execute_script(
        """
        const main = document.querySelector('[data-testid="stMain"]');
        const body = document.querySelector('[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"]');
        const height = body ? body.getBoundingClientRect().bottom + 64
                            : (main || document.documentElement).scrollHeight;
        return [window.innerWidth, Math.ceil(height)];
        """
    )
    height = min(max(int(height), 600), SHOT_MAX_HEIGHT)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": int(width), "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        wait_for(driver, "the page to settle after resizing for the screenshot", lambda s: True)
        driver.execute_async_script(
            "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(path)), f"could not save {path}"
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    print(f"screenshot {path} ({width}×{height})")


def start_chrome(profile: Path) -> WebDriver:
    """Headless Chromium with a fresh profile; the system driver and browser, never a download."""
    options = webdriver.ChromeOptions()
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(30)
    return driver


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def stop(process: subprocess.Popen) -> None:
    """Terminate the server's whole process group, then kill it if it lingers."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def streamlit_run() -> list[str]:
    """``streamlit run app.py`` with the project's Streamlit (its venv's, else this interpreter's)."""
    streamlit = REPO / ".venv" / "bin" / "streamlit"
    return [*([str(streamlit)] if streamlit.exists() else [sys.executable, "-m", "streamlit"]), "run", "app.py"]


def server_options(port: int) -> list[str]:
    """The test server's options: headless on ``port``, no usage statistics, no file watcher."""
    return [
        "--server.headless", "true", "--server.port", str(port), "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def app_url(lab_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by a real ``streamlit run`` on a free port; prints the time to the home page's first render."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("streamlit-logs")
    command = [*streamlit_run(), *server_options(port)]
    env = {**os.environ, "CROSSMODAL_HOME": str(lab_home), "HF_HUB_OFFLINE": "1"}
    driver = start_chrome(tmp_path_factory.mktemp("chrome-first-render"))  # started first: not part of the timing
    try:
        started = time.monotonic()
        with open(logs / "stdout.log", "wb") as out, open(logs / "stderr.log", "wb") as err:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=err, start_new_session=True)
        try:
            deadline = started + SERVER_WAIT
            while True:
                if process.poll() is not None:
                    pytest.fail(
                        f"streamlit exited with code {process.returncode} before serving;\nstderr:\n"
                        f"{tail(logs / 'stderr.log')}\nstdout:\n{tail(logs / 'stdout.log')}"
                    )
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"streamlit did not answer {url}/_stcore/health within {SERVER_WAIT:.0f} s;\nstderr:\n"
                        f"{tail(logs / 'stderr.log')}\nstdout:\n{tail(logs / 'stdout.log')}"
                    )
                time.sleep(0.25)
            healthy = time.monotonic() - started
            driver.get(url + "/")
            wait_for(driver, "the home page title", lambda s: "Crossmodal Lab" in s["titles"])
            rendered = time.monotonic() - started
            driver.quit()
            driver = None
            print(
                f"\ntime to first render: {rendered:.1f} s from `streamlit run` to the home page title in Chromium "
                f"(health endpoint up after {healthy:.1f} s)"
            )
            yield url
        finally:
            stop(process)
    finally:
        if driver is not None:
            driver.quit()


@pytest.fixture
def new_browser(tmp_path: Path) -> Iterator[Callable[[], WebDriver]]:
    """Makes headless Chromium drivers, each with its own fresh profile; all are closed after the test."""
    drivers: list[WebDriver] = []

    def make() -> WebDriver:
        drivers.append(start_chrome(tmp_path / f"chrome-profile-{len(drivers)}"))
        return drivers[-1]

    yield make
    for driver in drivers:
        driver.quit()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: $CROSSMODAL_SCREENSHOTS (created) when set, else the test's tmp_path."""
    folder = (
        Path(os.environ["CROSSMODAL_SCREENSHOTS"])
        if os.environ.get("CROSSMODAL_SCREENSHOTS")
        else tmp_path / "screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots go to {folder.resolve()}")
    return folder


EXAMPLE = "A gripping, beautifully acted film"  # the start of the page's first example sentence


def sentence_charts(state: dict, sentence: str) -> list[dict]:
    return state["sentences"].get(sentence) or []


def shows_images(state: dict, sentence: str) -> bool:
    """The sentence's own container holds a layer strip (six heatmaps) and a combined image (one), all drawn."""
    charts = sentence_charts(state, sentence)
    counts = sorted(c["heatmaps"] for c in charts)
    return len(charts) >= 2 and 6 in counts and 1 in counts and all(c["svgs"] and c["height"] > 100 for c in charts)


def test_pages_render(app_url: str, new_browser, screenshots: Path) -> None:
    started = time.monotonic()
    driver = new_browser()

    driver.get(app_url + "/")
    home = wait_for(
        driver,
        "the home page's availability tables",
        lambda s: (
            "Crossmodal Lab" in s["titles"]
            and len(s["tables"]) >= 2
            and any("all-MiniLM-L6-v2" in t for t in s["tables"])
            and any("rotten_tomatoes" in t for t in s["tables"])
        ),
    )
    assert driver.title == "Crossmodal Lab"
    assert not home["errors"], home["errors"]
    save_screenshot(driver, screenshots / "home.png")

    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a[data-testid="stSidebarNavLink"]')
    to_images = [
        link for link in links if (link.get_attribute("href") or "").rstrip("/").endswith("/sentence_to_image")
    ]
    assert to_images, (
        f"no sidebar link to the Sentence → Image page among {[link.get_attribute('href') for link in links]}"
    )
    to_images[0].click()
    wait_for(driver, "the Sentence → Image page", lambda s: "Sentence → Image" in s["titles"] and len(s["charts"]) >= 2)
    assert urllib.parse.urlsplit(driver.current_url).path.rstrip("/").endswith("/sentence_to_image")

    mine = (
        "A lighthouse keeper paints seven violet herons at dawn.",
        "The committee postponed the quarterly budget review again.",
    )
    type_sentences(driver, "\n".join(mine))
    state = wait_for(
        driver, "the images of the typed sentences", lambda s: all(shows_images(s, m) for m in mine), (*mine, EXAMPLE)
    )
    for sentence in mine:
        charts = sentence_charts(state, sentence)
        assert sorted(c["heatmaps"] for c in charts)[-2:] == [1, 6], charts
    assert state["sentences"][EXAMPLE] is None, "the example sentence's images are still shown"
    assert not state["errors"], state["errors"]
    save_screenshot(driver, screenshots / "sentence_to_image.png")
    stale_labels = [label for label in state["selects"] if EXAMPLE in label]
    assert not stale_labels, f"the Sentence A/B select boxes still show the old text {stale_labels}"

    driver.get(app_url + "/feature_layout")
    layout = wait_for(
        driver,
        "the Feature Layout page's charts and quality metrics",
        lambda s: "Feature Layout" in s["titles"] and "Trustworthiness" in s["metrics"] and len(s["charts"]) >= 2,
    )
    assert all(c["heatmaps"] or c["canvases"] for c in layout["charts"]), layout["charts"]
    assert not layout["errors"], layout["errors"]
    save_screenshot(driver, screenshots / "feature_layout.png")
    print(f"pages test: {time.monotonic() - started:.1f} s")


def test_sessions_do_not_share_sentences(app_url: str, new_browser) -> None:
    sentences = (
        "Nine copper kettles whistled in the abandoned observatory.",
        "A marathon of tax forms left the accountant strangely cheerful.",
    )
    drivers = [new_browser(), new_browser()]
    for driver in drivers:
        driver.get(app_url + "/sentence_to_image")
    for driver in drivers:
        wait_for(
            driver, "the Sentence → Image page", lambda s: "Sentence → Image" in s["titles"] and len(s["charts"]) >= 2
        )
    for driver, sentence in zip(drivers, sentences, strict=True):  # both typed before either is checked
        type_sentences(driver, sentence)
    for driver, sentence in zip(drivers, sentences, strict=True):
        wait_for(
            driver, f"the images of {sentence!r}", lambda s, sentence=sentence: shows_images(s, sentence), sentences
        )
    for driver, own, other in zip(drivers, sentences, reversed(sentences), strict=True):  # after both have rendered
        state = page_state(driver, sentences)
        assert shows_images(state, own), state["sentences"]
        assert own in state["text"]
        assert other not in state["text"], f"a session shows another session's sentence {other!r}"
        assert state["sentences"][other] is None


def type_into_input(driver: WebDriver, text: str) -> None:
    """Replace the text input's content and submit it (Enter)."""
    field = driver.find_element(By.CSS_SELECTOR, '[data-testid="stTextInput"] input')
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text)
    field.send_keys(Keys.ENTER)
    driver.execute_script("document.activeElement && document.activeElement.blur();")


CLASSIFY_CHARTS = 8
"""Classify's charts: the probabilities, the image, the saliency map; the edited copy's two predictions, two images
and their difference."""


def test_classify_a_sentence(app_url: str, new_browser, screenshots: Path, small_dataset, small_model) -> None:
    driver = new_browser()
    driver.get(app_url + "/image_dataset")
    gallery = wait_for(
        driver,
        "the dataset gallery",
        lambda s: "Image Dataset" in s["titles"] and "Held-out images" in s["metrics"] and len(s["charts"]) >= 5,
    )
    assert not gallery["errors"], gallery["errors"]
    save_screenshot(driver, screenshots / "image_dataset.png")

    driver.get(app_url + "/classify")
    wait_for(
        driver,
        "the Classify page",
        lambda s: "Classify" in s["titles"] and "Ensemble:" in s["text"] and len(s["charts"]) == CLASSIFY_CHARTS,
    )
    sentence = "An overlong, joyless and thoroughly tedious sequel."
    type_into_input(driver, sentence)
    state = wait_for(
        driver,
        "the prediction, image and saliency of the typed sentence",
        lambda s: sentence in s["text"]
        and "Ensemble:" in s["text"]
        and len(s["charts"]) == CLASSIFY_CHARTS
        and s["tables"],
    )
    assert not state["errors"], state["errors"]
    assert [c["heatmaps"] for c in state["charts"]][1:3] == [1, 1], state["charts"]  # the image and its saliency map
    assert "dimension" in state["tables"][0] and "saliency" in state["tables"][0]
    # the saliency scale as the browser drew it: Inferno's dark zero, not the theme colour that replaced it before
    drawn = driver.execute_script(SCALES)
    assert drawn[2][-1] == ["rgb(0, 0, 4)", "rgb(252, 255, 164)"], drawn
    save_screenshot(driver, screenshots / "classify.png")

    driver.get(app_url + "/results")
    results = wait_for(
        driver, "the Results page", lambda s: "Results" in s["titles"] and s["tables"] and len(s["charts"]) == 2
    )
    assert small_model.id in results["text"]
    save_screenshot(driver, screenshots / "results.png")


def test_images_to_words_page_draws_a_study(app_url: str, new_browser, screenshots: Path, tiny_studies) -> None:
    finished, _ = tiny_studies
    driver = new_browser()
    driver.get(app_url + "/images_to_words")
    state = wait_for(
        driver,
        "the Images → Words page's summary, table and figures",
        lambda s: (
            "Images → Words" in s["titles"]
            and "Median held-out loss change" in s["metrics"]
            and s["tables"]
            and any(
                name in s["tables"][0] for name in finished.planned
            )  # the fold table's rows drawn, not only its frame
            and len(s["charts"]) >= 4
        ),
    )
    assert not state["errors"], state["errors"]
    assert all(c["svgs"] and c["height"] > 100 for c in state["charts"]), state["charts"]
    shown = [name for name in finished.planned if name in state["tables"][0]]  # the finished study, or the partial one
    assert shown and ("folds are finished" in state["text"]) == (len(shown) < len(finished.planned)), state["tables"][
        0
    ][:500]
    save_screenshot(driver, screenshots / "images_to_words.png")


def test_bert_on_non_text_tokens_page_shows_the_task_and_its_tokens(
    app_url: str, new_browser, screenshots: Path
) -> None:
    driver = new_browser()
    driver.get(app_url + "/bert_nontext")
    state = wait_for(
        driver,
        "the BERT on non-text tokens page: the splice task, its mapping table and the run controls",
        lambda s: (
            "BERT on DNA, proteins and music" in s["titles"]
            and "3,186 sequences" in s["text"]
            and len(s["tables"]) >= 2
            and any("id read" in t for t in s["tables"])  # a grid's text arrives after the grid itself
            and "Run the comparison" in s["text"]
        ),
    )
    assert not state["errors"], state["errors"]
    save_screenshot(driver, screenshots / "bert_nontext.png")


def set_number(driver: WebDriver, label: str, value: int) -> None:
    """Type ``value`` into the number input labelled ``label`` and submit it (Enter)."""
    path = f"//div[@data-testid='stNumberInput'][.//label[contains(., '{label}')]]//input"
    # an expander just opened may still be unfolding, a rerun may be redrawing the input, other tabs hold hidden
    # twins: try again until the input takes the keys
    deadline = time.monotonic() + 20
    while True:
        shown = [f for f in driver.find_elements(By.XPATH, path) if f.is_displayed() and f.is_enabled()]
        try:
            if shown:
                field = shown[0]
                field.click()
                field.send_keys(Keys.CONTROL, "a")
                field.send_keys(Keys.DELETE)
                field.send_keys(str(value))
                field.send_keys(Keys.ENTER)
                break
        except (ElementClickInterceptedException, ElementNotInteractableException, StaleElementReferenceException):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no number input labelled {label!r} that takes input")
        time.sleep(0.2)
    driver.execute_script("document.activeElement && document.activeElement.blur();")


def test_workshop_preset_then_classify(app_url: str, new_browser, screenshots: Path) -> None:
    """The demo path: the workshop preset (on 60 texts and one epoch here; the full preset is measured in
    docs/benchmarks.md), then Classify with the model it trained."""
    driver = new_browser()
    started = time.monotonic()
    driver.get(app_url + "/train")
    wait_for(driver, "the Train page", lambda s: "Train" in s["titles"] and "Presets: a whole run" in s["text"])
    print(f"\nTrain page first load in Chromium: {time.monotonic() - started:.1f} s")
    presets = driver.find_element(By.XPATH, "//details[summary[contains(., 'Presets: a whole run in one click')]]")
    if presets.get_attribute("open") is None:  # open already while the store holds no dataset
        presets.find_element(By.TAG_NAME, "summary").click()
    wait_for(driver, "the workshop preset's Run button", lambda s: "Run: Workshop demo" in s["text"])
    set_number(driver, "Texts", 60)
    wait_for(driver, "60 texts in the preset", lambda s: "(60 texts)" in s["text"])
    set_number(driver, "Epochs", 1)
    wait_for(driver, "one epoch in the preset", lambda s: "1 epochs of batch" in s["text"])
    driver.find_element(By.XPATH, "//button[contains(., 'Run: Workshop demo')]").click()
    state = wait_for(
        driver,
        "the trained demo model's outcome",
        lambda s: "held-out accuracy" in s["text"] and "majority class" in s["text"],
    )
    assert not state["errors"], state["errors"]
    save_screenshot(driver, screenshots / "workshop_preset.png")

    driver.get(app_url + "/classify")
    wait_for(driver, "the Classify page", lambda s: "Classify" in s["titles"] and "Ensemble:" in s["text"])
    type_into_input(driver, "A tender, funny and beautifully acted film.")
    state = wait_for(
        driver,
        "the demo model's prediction",
        lambda s: "A tender, funny" in s["text"] and "Ensemble:" in s["text"] and "majority class" in s["text"],
    )
    assert not state["errors"], state["errors"]


def visit(app_url: str, new_browser, screenshots: Path, page: str, what: str, ready) -> dict:
    """Open ``page`` in a new browser, wait until ``ready(state)``, check it shows no error, save a screenshot."""
    driver = new_browser()
    driver.get(f"{app_url}/{page}")
    state = wait_for(driver, what, ready)
    assert not state["errors"], state["errors"]
    save_screenshot(driver, screenshots / f"{page}.png")
    return state


def test_hybrid_page_shows_its_settings_and_says_which_vision_model_it_is(
    app_url: str, new_browser, screenshots: Path
) -> None:
    state = visit(
        app_url,
        new_browser,
        screenshots,
        "hybrid",
        "the hybrid page: its settings, the vision model's caveat and the search button",
        lambda s: (
            "BERT + vision transformer" in s["titles"]
            and "Not BEiT" in s["text"]
            and "Run the search" in s["text"]
        ),
    )
    assert "the wiring here is the lab's own" in state["text"]


def test_sentence_map_page_offers_to_fit_the_map(app_url: str, new_browser, screenshots: Path) -> None:
    visit(
        app_url,
        new_browser,
        screenshots,
        "sentence_map",
        "the sentence map page: its layer slider and the offer to fit the map",
        lambda s: "Sentence Map" in s["titles"] and "is not fitted yet" in s["text"] and "Fit every layer" in s["text"],
    )


def test_portable_demos_page_offers_export_and_import(app_url: str, new_browser, screenshots: Path) -> None:
    visit(
        app_url,
        new_browser,
        screenshots,
        "demos",
        "the portable demos page: its export and import sections",
        lambda s: "Portable Demos" in s["titles"] and "Import" in s["text"] and "never reads pickle" in s["text"],
    )


def test_sentence_path_page_opens(app_url: str, new_browser, screenshots: Path) -> None:
    visit(
        app_url,
        new_browser,
        screenshots,
        "sentence_path",
        "the sentence's path page: its title and either the steps or what to do first",
        lambda s: (
            "A Sentence's Path" in s["titles"] and ("1. Tokens" in s["text"] or "Train a model first" in s["text"])
        ),
    )


def open_expander(driver: WebDriver, title: str) -> None:
    """Unfold the expander whose summary contains ``title`` (left open when it already is)."""
    details = driver.find_element(By.XPATH, f"//details[summary[contains(., '{title}')]]")
    if details.get_attribute("open") is None:
        details.find_element(By.TAG_NAME, "summary").click()


def go_to(driver: WebDriver, page: str) -> None:
    """Follow the sidebar's link to ``page`` (the same browser session, unlike a new URL)."""
    driver.find_element(By.XPATH, f"//*[@data-testid='stSidebarNav']//a[contains(., '{page}')]").click()


def test_an_out_of_range_number_blocks_its_action_with_the_range(app_url: str, new_browser, screenshots: Path) -> None:
    driver = new_browser()
    driver.get(app_url + "/feature_layout")
    wait_for(
        driver, "the Feature Layout page", lambda s: "Feature Layout" in s["titles"] and "Fit a layout" in s["text"]
    )
    open_expander(driver, "Fit a layout")
    set_number(driver, "Pixels per side", 1)
    state = wait_for(driver, "the range message", lambda s: any("Pixels per side: 1" in e for e in s["errors"]))
    assert [e.split("\n")[-1] for e in state["errors"]] == ["Pixels per side: 1 is out of range. Allowed: 8 to 256."]
    fit = driver.find_element(By.XPATH, "//button[normalize-space(.)='Fit']")
    assert not fit.is_enabled(), "Fit stays clickable with 1 pixel per side"
    save_screenshot(driver, screenshots / "feature_layout_out_of_range.png")
    set_number(driver, "Pixels per side", 32)
    wait_for(driver, "the message gone", lambda s: not s["errors"])
    assert driver.find_element(By.XPATH, "//button[normalize-space(.)='Fit']").is_enabled()


@pytest.fixture(scope="module")
def small_sentence_map(lab_home: Path):
    """A 100-sentence map of the default encoder's last layer in the app's store."""
    from core.encoders import TextEncoder
    from core.text_to_image import sentence_map

    encoder = TextEncoder.from_name()
    return sentence_map.fit_map(sentence_map.MapSettings(n=100), encoder, encoder.num_layers)


def test_typed_sentences_survive_a_layer_fit_and_a_page_switch(
    app_url: str, new_browser, screenshots: Path, small_sentence_map
) -> None:
    mine = "my own sentence about a quiet harbour town"
    driver = new_browser()
    driver.get(app_url + "/sentence_map")
    wait_for(driver, "the Sentence Map page", lambda s: "Sentence Map" in s["titles"])
    open_expander(driver, "Sentences and map settings")
    set_number(driver, "Sentences (a stratified sample)", 100)
    wait_for(driver, "the 100-sentence map", lambda s: "Colour by" in s["text"] and s["charts"])
    type_sentences(driver, mine)
    wait_for(driver, "the typed sentence placed", lambda s: "1 sentence(s) embedded" in s["text"])
    layer = driver.find_element(By.CSS_SELECTOR, '[data-testid="stSlider"] input[type="range"]')  # the first: Layer
    driver.execute_script("arguments[0].focus();", layer)  # the range input is visually hidden behind its thumb
    ActionChains(driver).send_keys(Keys.ARROW_LEFT).perform()
    wait_for(driver, "the offer to fit the next layer down", lambda s: "is not fitted yet" in s["text"])
    driver.find_element(By.XPATH, "//button[contains(., 'Fit the map of layer')]").click()
    state = wait_for(driver, "the new layer's map", lambda s: "1 sentence(s) embedded" in s["text"], wait=180)
    assert mine in state["text"], "the typed sentence was replaced by the defaults after a layer fit"
    go_to(driver, "Classify")
    wait_for(driver, "the Classify page", lambda s: "Classify" in s["titles"])
    go_to(driver, "Sentence Map")
    # with the settings' 100 sentences forgotten it would offer to fit the 2,000-sentence map instead
    state = wait_for(driver, "the Sentence Map again", lambda s: "1 sentence(s) embedded" in s["text"])
    assert mine in state["text"], "the typed sentence was lost on a page switch"
    save_screenshot(driver, screenshots / "sentence_map_kept.png")


def test_stop_offers_resume_without_a_reload(app_url: str, new_browser, screenshots: Path, small_dataset) -> None:
    driver = new_browser()
    driver.get(app_url + "/train")
    wait_for(driver, "the Train page", lambda s: "Train" in s["titles"] and "Slice weights" in s["text"])
    set_number(driver, "Epochs", 200)
    wait_for(driver, "200 epochs set", lambda s: "200" in s["text"].split("\n"))
    driver.find_element(By.XPATH, "//button[normalize-space(.)='Train']").click()
    # the running page is never idle, so wait for the live bar directly
    WebDriverWait(driver, 120, poll_frequency=0.2).until(
        lambda d: "/200: held-out accuracy" in d.execute_script("return document.body.innerText")
    )
    stop_button = "//*[@data-testid='stStatusWidget']//button[contains(., 'Stop')]"
    WebDriverWait(driver, WAIT, poll_frequency=0.2).until(lambda d: d.find_elements(By.XPATH, stop_button))
    driver.find_element(By.XPATH, stop_button).click()
    state = wait_for(
        driver, "the Resume offer after Stop", lambda s: "Resume it" in s["text"] and "stopped after epoch" in s["text"]
    )
    assert "Fit the logistic-regression baseline" in state["text"], "the page below the job is gone after Stop"
    assert "/200: held-out accuracy" not in state["text"], "the stopped run's frozen bar is still shown"
    save_screenshot(driver, screenshots / "train_stopped.png")


LINK = """
return Array.from(document.querySelectorAll('[data-testid="stCode"] code')).map(c => c.innerText).find(
  t => t.includes('?')
) || null;
"""


def test_a_copied_link_opens_the_same_view_in_a_fresh_browser(
    app_url: str, new_browser, screenshots: Path, small_dataset, small_model
) -> None:
    first = new_browser()
    first.get(app_url + "/classify")
    wait_for(first, "the Classify page", lambda s: "Classify" in s["titles"] and "Ensemble:" in s["text"])
    sentence = "A dull, lifeless and overlong mess."
    type_into_input(first, sentence)
    shown = wait_for(first, "the typed sentence's prediction", lambda s: f"«{sentence}»" in s["text"])
    ensemble = next(line for line in shown["text"].splitlines() if line.startswith("Ensemble:"))
    assert "text=" in first.current_url and "dataset=" in first.current_url  # the address bar holds the view
    first.find_element(By.XPATH, "//button[contains(., 'Link to this view')]").click()
    WebDriverWait(first, 20).until(lambda d: d.execute_script(LINK))
    link = first.execute_script(LINK)
    dataset = urllib.parse.parse_qs(urllib.parse.urlsplit(first.current_url).query)["dataset"][0]
    assert link.startswith(app_url + "/classify?") and f"dataset={dataset}" in link, link
    save_screenshot(first, screenshots / "link_to_this_view.png")

    second = new_browser()  # its own profile: no session, no typed text; only the link
    second.get(link)
    again = wait_for(second, "the linked view", lambda s: f"«{sentence}»" in s["text"] and "Ensemble:" in s["text"])
    assert not again["errors"], again["errors"]
    assert ensemble in again["text"].splitlines()  # the same dataset, models and sentence: the same prediction
    field = second.find_element(By.CSS_SELECTOR, '[data-testid="stTextInput"] input')
    assert field.get_attribute("value") == sentence
    save_screenshot(second, screenshots / "linked_view.png")


def test_a_deep_link_on_a_fresh_server_opens_without_page_not_found(lab_home: Path, new_browser, tmp_path) -> None:
    """A server started as run_app.sh starts it (warm_app.py beside it): the first visitor's deep link shows its
    page and no "Page not found" dialog."""
    port = free_port()
    env = {**os.environ, "CROSSMODAL_HOME": str(lab_home), "HF_HUB_OFFLINE": "1"}
    options = server_options(port)
    with open(tmp_path / "stderr.log", "wb") as err:
        server = subprocess.Popen(
            [*streamlit_run(), *options], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
            start_new_session=True,
        )  # fmt: skip
        try:
            warmed = subprocess.run(
                [sys.executable, "scripts/warm_app.py", *options], cwd=REPO, env=env, capture_output=True, text=True,
                timeout=SERVER_WAIT + 60,
            )  # fmt: skip
            assert warmed.returncode == 0 and "pages are known" in warmed.stderr, warmed.stderr
            driver = new_browser()
            driver.get(f"http://127.0.0.1:{port}/results")
            state = wait_for(driver, "the Results page from a deep link", lambda s: "Results" in s["titles"])
            assert not state["errors"], state["errors"]
            dialogs = [d.text for d in driver.find_elements(By.CSS_SELECTOR, '[role="dialog"]')]
            assert not any("Page not found" in d for d in dialogs), dialogs
        finally:
            stop(server)


CELL_AT = """
const plots = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'));
const gd = plots.find(p => (p._fullData || []).some(t => t.type === 'scattergl' && t.marker.symbol === 'square'));
if (!gd) return null;
gd.scrollIntoView({block: 'center'});
const t = gd._fullData[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
const i = t.customdata.findIndex(c => Number(c[0]) === arguments[0] && Number(c[1]) === arguments[1]);
return [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i])];
"""


ENLARGED = """
const titles = Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"] .gtitle')).map(t => t.textContent)
  .filter(t => t.startsWith('layer '));
return titles.find(t => !t.startsWith('layer 1, head 1:')) || null;
"""


def test_a_click_on_the_attention_grid_enlarges_that_head(
    app_url: str, new_browser, screenshots: Path, small_dataset, small_model, small_imager
) -> None:
    driver = new_browser()
    driver.get(app_url + "/sentence_path")
    wait_for(driver, "the attention grid", lambda s: "2b. Attention" in s["text"] and "layer 1, head 1" in s["text"])
    x, y = driver.execute_script(CELL_AT, 2, 2)  # viewport coordinates of a cell of layer 2, head 2
    clicks = ActionChains(driver)
    clicks.w3c_actions.pointer_action.move_to_location(int(x), int(y))
    clicks.w3c_actions.pointer_action.pause(0.3)
    clicks.w3c_actions.pointer_action.click()
    clicks.perform()
    state = wait_for(driver, "layer 2, head 2 enlarged", lambda s: bool(driver.execute_script(ENLARGED)))
    assert driver.execute_script(ENLARGED).startswith("layer 2, head 2:"), driver.execute_script(ENLARGED)
    assert not state["errors"], state["errors"]
    save_screenshot(driver, screenshots / "attention_click.png")
