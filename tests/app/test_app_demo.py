"""AppTest of the live demo's warnings: unreadable text on every page that takes a sentence, and the word
attributions' deletion check and advice on Classify."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
UNREADABLE = "这部电影太棒了，演员表演非常出色！😍🎬"


def run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def warnings(app: AppTest) -> str:
    return " ".join(w.value for w in app.warning)


def test_classify_says_a_prediction_of_unreadable_text_is_not_meaningful(lab_home, small_dataset, small_model):
    app = run("pages/text_to_image/classify.py")
    app.selectbox(key="cl-dataset").set_value(small_dataset.id).run()
    assert "cannot read" not in warnings(app)  # the default sentence is readable
    app.text_input(key="cl-text").set_value(UNREADABLE).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "The tokenizer cannot read 72 % of this sentence" in warnings(app)
    assert "the prediction below is not meaningful for it" in warnings(app)


def test_classify_shows_the_deletion_check_beside_the_words(lab_home, small_dataset, small_model):
    app = run("pages/text_to_image/classify.py")
    app.selectbox(key="cl-dataset").set_value(small_dataset.id).run()
    app.text_input(key="cl-text").set_value("A tedious, badly acted mess.").run()
    app.toggle(key="cl-attr").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    shown = [c.key for c in app.get("plotly_chart")]  # probabilities, image, saliency, the deletion curve; the edit's
    assert shown[:4] == ["cl-probs", "cl-image", "cl-saliency", "cl-attr-deletion"]
    assert all(k.startswith("cl-cf-") for k in shown[4:])
    verdicts = [m.value for m in [*app.success, *app.info, *app.warning] if "random deletion" in m.value]
    assert len(verdicts) == 1 and "random orders by" in verdicts[0]
    captions = " ".join(c.value for c in app.caption)
    assert "every word replaced by [PAD]" in captions
    shown = re.search(r"toward \*{0,2}(\w+)\*{0,2} \(calibrated probability (\d\.\d\d)\)", captions)
    assert shown, captions  # the explained model's calibrated probability (as the chart above shows it), not raw
    from core.text_to_image import calibration, classify, datasets, results

    explained = app.selectbox(key="cl-explain").value
    artifact = next(m for m in results.list_models(small_dataset) if results.model_key(m) == explained)
    _, images = classify.dataset_imager(small_dataset).images(["A tedious, badly acted mess."])
    own = classify.classify(
        {explained: classify.load_model(artifact.path)}, images[0], {explained: calibration.temperature(artifact)}
    )["per_model"][explained][datasets.label_names(small_dataset).index(shown.group(1))]
    assert shown.group(2) == f"{own:.2f}"
    heading = next(h.value for h in app.subheader if h.value.startswith("Which words"))
    several = len(app.multiselect(key=f"cl-models-{small_dataset.id}").value) > 1  # the mean is not it then
    assert heading == ("Which words pushed the prediction" + (f" of {explained}" if several else ""))
    assert re.search(r"\b\d+ gradients \(adaptive trapezoid quadrature, at most 64\)", captions)
    assert "AOPC" in captions
    table = app.dataframe[1].value
    assert list(table.columns) == ["word", "pieces", "attribution"] and "tedious" in set(table["word"])
    app.selectbox(key="cl-attr-baseline").set_value("zeros").run()
    app.radio(key="cl-attr-rule").set_value("gausslegendre").run()
    app.select_slider(key="cl-attr-steps").set_value(16).run()
    assert not app.exception, [e.value for e in app.exception]
    captions = " ".join(c.value for c in app.caption)
    assert "every word's embedding set to zeros" in captions and "16 gradients (Gauss-Legendre quadrature)" in captions
    app.toggle(key="cl-raw").set_value(True).run()
    captions = " ".join(c.value for c in app.caption)
    assert "(raw probability " in captions and "(calibrated probability" not in captions


def test_a_sentences_path_warns_about_unreadable_text(lab_home, small_dataset, small_model):
    app = run("pages/text_to_image/sentence_path.py")
    app.selectbox(key="sp-dataset").set_value(small_dataset.id).run()
    assert "cannot read" not in warnings(app)
    app.text_input(key="sp-text").set_value(UNREADABLE).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "The tokenizer cannot read 72 % of this sentence" in warnings(app)


def test_the_sentence_map_warns_about_each_unreadable_sentence(tmp_path, monkeypatch):
    from core.encoders import TextEncoder
    from core.text_to_image import sentence_map

    monkeypatch.setenv("CROSSMODAL_HOME", str(tmp_path / "home"))
    encoder = TextEncoder.from_name()
    sentence_map.fit_map(sentence_map.MapSettings(n=100), encoder, encoder.num_layers)
    app = run("pages/text_to_image/sentence_map.py")
    app.number_input(key="sm-n").set_value(100).run()
    app.text_area(key="sm-texts").set_value(f"a tender, funny film\n{UNREADABLE}").run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    [warning] = [w.value for w in app.warning if "cannot read" in w.value]
    assert "cannot read 72 % of «这部电影" in warning and "its neighbours say little" in warning
