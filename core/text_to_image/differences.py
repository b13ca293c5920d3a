"""Text -> image's section of docs/presets.md (:mod:`core.paper_differences`): the lab's ``workshop`` preset against
the ``paper`` preset (Benarab 2021 as its public code ran it), setting by setting, read from the two presets
(:func:`core.text_to_image.presets.differences`), and what ``paper-offline`` replaces
(:data:`core.text_to_image.presets.SUBSTITUTIONS`)."""

from __future__ import annotations

from core.paper_differences import Section, Table, section_lines
from core.text_to_image import presets
from core.text_to_image.presets import PAPER, WORKSHOP, RunPreset


def section(lab: RunPreset = WORKSHOP, paper: RunPreset = PAPER) -> Section:
    """The section, its rows read from ``lab`` and ``paper``."""
    compared = Table(
        f"The lab's `{lab.name}` preset against the `{paper.name}` preset, which runs the paper's public code's "
        "settings (every value in its column is the code's; of the code's five backbones the preset trains one, "
        f"{paper.train.backbone}):",
        (
            "setting",
            f"the paper's code (`{paper.name}` preset)",
            f"the lab's `{lab.name}` preset",
            "why the lab differs",
        ),
        tuple((r["setting"], r["paper"], r["lab"], r["why"]) for r in presets.differences(lab, paper)),
    )
    offline = Table(
        "`paper-offline` runs the paper's settings with packaged stand-ins for its online inputs (the lab's offline "
        "data against the paper's):",
        ("setting", "the paper's input", "the lab's offline stand-in (`paper-offline`)", "why"),
        tuple(
            (key, presets.show_value(theirs, key), presets.show_value(stand_in, key), why)
            for key, (theirs, stand_in, why) in presets.SUBSTITUTIONS.items()
        ),
    )
    return Section(
        "Text → image (Benarab 2021)",
        "The lab's presets: `core/text_to_image/presets.py` (`PRESETS`: `workshop`, `paper`, `paper-offline`).",
        (compared, offline),
    )


def markdown(lab: RunPreset = WORKSHOP, paper: RunPreset = PAPER) -> str:
    """The section alone as Markdown (``python -m core t2i-preset-differences --markdown``)."""
    found = section(lab, paper)
    return "\n".join(section_lines(found, level=1)) + "\n"
