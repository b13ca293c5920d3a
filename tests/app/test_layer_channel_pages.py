"""AppTest of a dataset of one layer per RGB channel (the lab's extension) on the pages: those that draw grey images
leave it out and say so and where to use it; Train and Results take it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


@pytest.fixture(scope="module")
def layered_home(tmp_path_factory):
    """A store holding only a small dataset of per-layer channels and a model trained on it for one epoch."""
    from conftest import SMALL_CORPUS, SMALL_DATASET_LAYOUT

    from core import corpora
    from core.encoders import TextEncoder
    from core.text_to_image import datasets, training

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(tmp_path_factory.mktemp("layer-pages-home")))
        corpus = corpora.load_corpus("rotten_tomatoes", n=SMALL_CORPUS, seed=0)
        settings = datasets.DatasetSettings(
            layers=(-3, -2, -1), pooling="mean", layout=SMALL_DATASET_LAYOUT, channels="layers"
        )
        dataset = datasets.build_dataset(TextEncoder.from_name(), corpus, settings)
        training.train_model(dataset, training.TrainSettings("squeezenet1_1", epochs=1, batch_size=16))
        yield dataset


def run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.parametrize(
    "page", ["classify.py", "sentence_path.py", "image_dataset.py", "demos.py"], ids=lambda p: p.removesuffix(".py")
)
def test_pages_that_draw_grey_images_leave_it_out_and_say_where_it_goes(layered_home, page):
    app = run(f"pages/text_to_image/{page}")
    captions = " ".join(c.value for c in app.caption)
    assert "1 dataset of one layer per RGB channel" in captions and "Train and Results pages" in captions
    assert all(layered_home.id not in str(box.options) for box in app.selectbox)


def test_train_and_results_take_it(layered_home):
    for page in ("train.py", "results.py"):
        app = run(f"pages/text_to_image/{page}")
        boxes = [box for box in app.selectbox if box.label == "Dataset"]
        assert boxes and boxes[0].value == layered_home.id
