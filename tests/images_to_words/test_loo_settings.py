"""Leave-one-out settings: defaults and presets that check, one clear error per invalid value, the record, and the
command line's presets and command names."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.images_to_words.cli import settings_from
from core.images_to_words.settings import DEFAULTS, LAPTOP, PRESETS, StudySettings
from core.settings import from_record, to_record


def _parse(*argv: str):
    from core.cli import build_parser

    return build_parser().parse_args(list(argv))


def test_the_defaults_and_every_preset_check():
    StudySettings().check()
    for preset in PRESETS.values():
        preset.check()
    assert PRESETS["laptop"] == LAPTOP and (LAPTOP.per_class, LAPTOP.epochs, LAPTOP.width) == (1000, 5, 0.25)
    assert PRESETS["paper"] == replace(DEFAULTS, imageset="cifar100")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"imageset": "mnist"}, "unknown image set 'mnist'"),
        ({"classes": ("cat", 3)}, "classes must be class names"),
        ({"per_class": 0}, "per_class must be a positive whole number or None"),
        ({"epochs": 0}, "epochs must be at least 1, got 0"),
        ({"width": 0.0}, "width must be positive, got 0.0"),
        ({"batch_size": 1}, "batch size must be at least 2, got 1"),
        ({"lr": -1e-3}, "the learning rate must be positive, got -0.001"),
        ({"seed": -1}, "seed must be a whole number of at least 0, got -1"),
        ({"loss": "l1"}, "loss must be one of \\('mse', 'cosine'\\), got 'l1'"),
        ({"words": "first"}, "words must be one of \\('best', 'average'\\), got 'first'"),
        ({"threads": 0}, "threads must be at least 1"),
    ],
)
def test_each_invalid_setting_is_a_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        replace(DEFAULTS, **change).check()


def test_the_settings_record_round_trips():
    settings = replace(LAPTOP, classes=("cat", "dog"), table="words.csv", threads=2)
    record = to_record(settings)
    assert record["classes"] == ["cat", "dog"] and from_record(StudySettings, record) == settings


def test_preset_laptop_is_laptop_and_given_options_override_it():
    assert settings_from(_parse("loo-run", "--preset", "laptop")) == LAPTOP
    assert settings_from(_parse("loo-run", "--laptop")) == LAPTOP
    assert settings_from(_parse("loo", "--laptop", "--epochs", "2")) == replace(LAPTOP, epochs=2)
    assert settings_from(_parse("loo-run", "--preset", "laptop", "--epochs", "2", "--per-class", "0")) == replace(
        LAPTOP, epochs=2, per_class=None
    )
    assert settings_from(_parse("loo-run")) == DEFAULTS
    assert settings_from(_parse("loo-run", "--preset", "paper", "--classes", "apple")) == replace(
        PRESETS["paper"], classes=("apple",)
    )
    with pytest.raises(ValueError, match="batch size must be at least 2"):
        settings_from(_parse("loo-run", "--batch-size", "1"))


def test_the_old_command_names_still_work():
    assert _parse("loo", "--epochs", "1").run is _parse("loo-run", "--epochs", "1").run
    assert _parse("studies").run is _parse("loo-results").run
    assert _parse("studies", "--add-controls", "abc").add_controls == "abc"
