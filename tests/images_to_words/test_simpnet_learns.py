"""SimpNet learns: on a toy image set whose classes are easy to tell apart, a fold's regression loss
falls clearly and the nearest-class accuracy on the trained classes beats chance by a wide margin."""

from __future__ import annotations

import pytest
from conftest import tiny_imageset

CLASSES = ["cat", "dog", "car", "ship", "bird"]


@pytest.mark.slow
def test_a_fold_learns_the_trained_classes_words(tmp_path):
    from core.images_to_words import folds, loo
    from core.images_to_words.settings import StudySettings
    from core.wordvectors import class_vectors, study_table

    table = tmp_path / "words.csv"
    table.write_text("class,best,words\n" + "".join(f"{c},{c},{c}\n" for c in CLASSES))
    images = tiny_imageset(per_class=80, classes=CLASSES, band=2)
    config = loo.study_config(images, StudySettings(epochs=6, width=0.25, batch_size=32, table=str(table), threads=1))
    _, rows = study_table(str(table), "toy", CLASSES)
    record = folds.run_fold(config, 0, images, class_vectors(CLASSES, rows, "best"), device="cpu")

    losses = [epoch["train_loss"] for epoch in record["history"]]
    assert losses[-1] < 0.25 * losses[0], losses  # the regression loss falls clearly
    chance = 1 / (len(CLASSES) - 1)  # nearest class vector among the four trained classes
    assert record["test_accuracy_trained"] >= 0.9 > 3 * chance, record["test_accuracy_trained"]
