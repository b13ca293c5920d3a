"""Figures reach the browser in the colours their code sets: Streamlit's chart theme replaces the colour strings
#000001 ... #000040 in a figure with theme colours, so no figure may carry one (Inferno's first stop is #000004)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from core import figures
from core.text_to_image.figures import saliency_figure

ROOT = Path(__file__).resolve().parents[2]


def test_a_named_scale_with_a_placeholder_stop_is_caught_and_the_lab_scales_carry_none():
    assert figures.theme_placeholders(go.Figure(go.Heatmap(z=[[0, 1]], colorscale="Inferno"))) == ["#000004"]
    for scale in (figures.GRAY, figures.DIVERGING, figures.SALIENCY, figures.VIRIDIS, figures.BLUES):
        assert not figures.theme_placeholders(go.Figure(go.Heatmap(z=[[0, 1]], colorscale=scale)))
    # the same colours as plotly's named scale, only spelled rgb()
    assert figures.SALIENCY[0] == [0.0, "rgb(0, 0, 4)"] and figures.SALIENCY[-1][1] == "rgb(252, 255, 164)"


def test_the_saliency_map_keeps_its_dark_zero():
    fig = saliency_figure(np.linspace(0, 1, 16).reshape(4, 4), image=np.zeros((4, 4)))
    assert not figures.theme_placeholders(fig)
    assert fig.data[-1].colorscale[0][1] == "rgb(0, 0, 4)"


def test_no_figure_or_page_names_a_hex_scale_or_a_placeholder_colour():
    """A named colour scale is resolved by plotly into hex stops; the lab passes its rgb() scales instead."""
    named = re.compile(r"colorscale=\"[A-Za-z_]+\"")
    found = []
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/**/*.py"), *ROOT.glob("pages/**/*.py")]:
        text = path.read_text()
        hits = named.findall(text) + figures.THEME_PLACEHOLDER.findall(text)
        found += [f"{path.relative_to(ROOT)}: {m}" for m in hits]
    # core/figures.py names the placeholders in its own comment only
    assert [f for f in found if not f.startswith("core/figures.py: #0000")] == []
