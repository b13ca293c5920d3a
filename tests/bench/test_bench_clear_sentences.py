"""The clear-sentences benchmark on the test store's small dataset: one row per reader, each count the readers' own
predictions on the packaged sentences."""

from __future__ import annotations

import re
import sys

import numpy as np
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))


def test_every_reader_is_counted_on_the_packaged_sentences(lab_home, small_dataset, small_model, capsys):
    import bench_clear_sentences as bench

    from core.text_to_image import classify, datasets

    texts, labels = bench.load_sentences()
    assert len(texts) == 40 and labels.count("fresh") == labels.count("rotten") == 20
    assert bench.main(["--dataset", small_dataset.id]) == 0
    table = capsys.readouterr().out
    names = datasets.label_names(small_dataset)
    truth = np.array([names.index(label) for label in labels])
    imager = classify.dataset_imager(small_dataset)
    features, images = imager.images(texts)
    logistic = int((bench.logistic_on_sentences(small_dataset, features) == truth).sum())
    model = classify.load_model(small_model.path)
    right = sum(
        int(classify.classify({"m": model}, image)["vote"]) == t for image, t in zip(images, truth, strict=True)
    )
    assert re.search(rf"\| logistic regression, raw vectors \| {logistic}/40 \|", table)
    assert re.search(rf"\({small_model.id}\) \| {right}/40 \|", table) and "McNemar" in table
    assert bench.main(["--dataset", "no-such-dataset"]) == 2
