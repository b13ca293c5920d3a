"""Representation similarity of two encoders: linear CKA and PWCCA behave as measures should (1 for the same
representation, invariances, near 0 for unrelated ones), the head matching finds a model's own heads, and the
whole route runs on a tiny BERT from the library, the CLI and the page."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_bert
from test_nontext import separable_csv

ROOT = Path(__file__).resolve().parents[2]


def _anisotropic(n: int, d: int, seed: int) -> np.ndarray:
    """Correlated columns of unequal variance, as hidden states are."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)


def test_a_representation_against_itself_gives_one():
    from core.nontext.similarity import linear_cka, pwcca

    x = _anisotropic(500, 16, 0)
    assert linear_cka(x, x) == pytest.approx(1, abs=1e-9)
    assert pwcca(x, x) == pytest.approx(1, abs=1e-9)
    assert 0.95 < pwcca(x, x, regularisation=1e-3) < 1  # a ridge damps the low-variance directions a little


def test_cka_is_invariant_to_an_orthogonal_transform_and_isotropic_scaling_but_not_to_stretching_one_axis():
    from core.nontext.similarity import linear_cka, pwcca

    x, other = _anisotropic(400, 12, 1), _anisotropic(400, 12, 2)
    other = other + 0.5 * x  # related to x, so the value is neither 0 nor 1
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(12, 12)))
    moved = 3.7 * x @ q
    assert linear_cka(moved, x) == pytest.approx(1, abs=1e-9)
    assert linear_cka(moved, other) == pytest.approx(linear_cka(x, other), abs=1e-9)
    assert pwcca(moved, x) == pytest.approx(1, abs=1e-9)
    stretched = x * np.r_[10.0, np.ones(11)]  # one axis scaled: CKA changes (the check is not vacuous)
    assert abs(linear_cka(stretched, other) - linear_cka(x, other)) > 0.01


def test_independent_random_representations_give_near_zero():
    """With n = 4,000 samples of d = 10 dimensions each side: for independent isotropic noise linear CKA is about
    d / n = 0.0025 (E||Y'X||^2 = n d^2 against ||X'X|| ||Y'Y|| = n^2 d), so 0.02 is 8 times that; canonical
    correlations of independent samples are of order sqrt(d / n) = 0.05 and stay below about sqrt(dx / n) +
    sqrt(dy / n) = 0.1 (Wachter's limit), so a weighted mean of them under 0.15 is what chance allows. With as
    many samples as dimensions CCA finds correlations whatever the data: that is what the references are for."""
    from core.nontext.similarity import linear_cka, pwcca, similarity_matrices

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(4000, 10)), rng.normal(size=(4000, 10))
    assert linear_cka(x, y) < 0.02
    assert pwcca(x, y) < 0.15
    few_x, few_y = rng.normal(size=(12, 10)), rng.normal(size=(12, 10))
    assert pwcca(few_x, few_y) > 0.5  # 12 samples, 10 dimensions: high for unrelated data
    found = similarity_matrices([x], [x])
    assert found["cka"][0][0] == pytest.approx(1) and found["pwcca"][0][0] == pytest.approx(1)
    assert found["reference"]["cka"] < 0.02 and found["reference"]["pwcca"] < 0.15  # the pairing shuffled
    with pytest.raises(ValueError, match="same samples"):
        linear_cka(x, y[:100])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"a": "bert"}, "compare two of"),
        ({"examples": 1}, "examples must be >= 2"),
        ({"max_tokens": 5}, "max_tokens >= 10"),
        ({"regularisation": 1.5}, r"regularisation must be in \[0, 1\)"),
        ({"b": "domain"}, "the domain model needs"),
    ],
)
def test_bad_settings_are_refused_before_any_work(overrides, message):
    from core.nontext.similarity import SimilaritySettings, compare

    with pytest.raises(ValueError, match=message):
        compare(SimilaritySettings(**overrides))


def _attention(batch: int, heads: int, width: int, mask: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(batch, heads, width, width, generator=generator)
    logits = logits.masked_fill(~mask[:, None, None, :], -torch.inf)
    return torch.softmax(logits, -1)


def test_a_model_matched_with_itself_pairs_each_head_with_itself_at_distance_zero():
    from core.nontext.similarity import attention_cost, match_heads

    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[0, 5:] = False  # a padded sequence: its padding is left out of the distance
    maps = _attention(3, 4, 7, mask, 0)
    cost, rows = attention_cost(maps, maps, mask)
    found = match_heads((cost / rows).numpy())
    assert found["pairs"] == [[h, h] for h in range(4)]
    assert found["matched"] == 0 and found["same_head"] == 0
    assert found["random"] > 0.1  # the random matching's mean: distinct heads differ
    order = [2, 0, 3, 1]
    cost, rows = attention_cost(maps, maps[:, order], mask)
    shuffled = match_heads((cost / rows).numpy())
    assert shuffled["pairs"] == [[h, order.index(h)] for h in range(4)] and shuffled["matched"] < 1e-6
    assert shuffled["same_head"] > 0.1  # the same-numbered heads are not the same heads any more
    other = _attention(3, 4, 7, mask, 1)
    cost, rows = attention_cost(maps, other, mask)
    assert 0 < match_heads((cost / rows).numpy())["matched"] <= match_heads((cost / rows).numpy())["random"]
    garbage = maps.clone()
    garbage[0, :, :, 5:] = 0.5  # values in padded keys never count
    assert torch.allclose(attention_cost(garbage, maps, mask)[0].diagonal(), torch.zeros(4, dtype=torch.float64))


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert-similarity") / "model")


@pytest.fixture(scope="module")
def compared(tiny_encoder, tmp_path_factory):
    """A store with one finished comparison of the tiny BERT (pretrained and random, seed 0), its settings."""
    from core.nontext import runs

    root = tmp_path_factory.mktemp("similarity-home")
    settings = runs.TokenSettings(
        task="csv",
        path=str(separable_csv(root / "letters.csv", 80)),
        encoder=str(tiny_encoder),
        variants=("pretrained", "random"),
        steps=8,
        eval_every=4,
        batch_size=8,
        lr=3e-3,
        shares=(0.5, 0.2, 0.3),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSMODAL_HOME", str(root / "home"))
        found = runs.run_comparison(settings)
    assert all(r.file(runs.WEIGHTS_FILE).is_file() for r in found)
    return root / "home", settings


def test_the_tiny_bert_before_fine_tuning_against_itself_gives_one_and_its_own_heads(compared, monkeypatch):
    from core.nontext import runs
    from core.nontext.similarity import SimilaritySettings, compare

    home, settings = compared
    monkeypatch.setenv("CROSSMODAL_HOME", str(home))
    found = compare(SimilaritySettings(a="pretrained-before", b="pretrained-before"), base=settings)
    layers = found["layers_a"]
    assert layers == ["embeddings", "1", "2"] == found["layers_b"]
    for measure in ("cka", "pwcca"):
        matrix = np.array(found[measure])
        assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix), 1, atol=1e-6)
        assert ((matrix >= 0) & (matrix <= 1 + 1e-9)).all()
    assert found["reference"]["cka"] < 0.2 and found["reference"]["pwcca"] < 0.6  # 336 tokens of 32 dimensions
    assert found["inputs"]["examples"] == 24 and found["inputs"]["tokens"] == 24 * 14  # [CLS] + 12 + [SEP] each
    assert [h["pairs"] for h in found["heads"]] == [[[0, 0], [1, 1]]] * 2
    assert all(h["matched"] == 0 < h["random"] for h in found["heads"])
    # the same through a comparison: before and after fine-tuning differ, and the runs' weights are what differs
    after = compare(SimilaritySettings(a="pretrained-before", b="pretrained-after"), settings.comparison_id)
    assert after["seed"] == 0 and after["inputs"] == found["inputs"]
    assert np.array(after["cka"]).max() <= 1 and not np.allclose(after["cka"], found["cka"], atol=1e-9)
    [run] = [r for r in runs.list_runs(settings.comparison_id) if r.config["variant"] == "pretrained"]
    assert after["b"]["model"] == f"run {run.id}"


def test_the_cli_writes_the_matrix_and_refuses_bad_input_in_one_line(compared, monkeypatch, capsys, tmp_path):
    from core.cli import main
    from core.nontext import runs

    home, settings = compared
    monkeypatch.setenv("CROSSMODAL_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = tmp_path / "matrix.csv"
    command = ["tokens-similarity", "--comparison", settings.comparison_id, "--a", "random-before"]
    assert main([*command, "--b", "random-after", "--measure", "cka", "--examples", "10", "--csv", str(path)]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["measure"] == "linear CKA" and found["inputs"]["examples"] == 10
    matrix = np.array(found["matrix"])
    assert matrix.shape == (3, 3) and ((matrix >= 0) & (matrix <= 1)).all()
    assert 0 <= found["reference"]["value"] < 1 and len(found["heads"]) == 2
    table = pd.read_csv(path, index_col=0)
    assert list(table.index) == ["embeddings", "1", "2"] and np.allclose(table.to_numpy(), matrix, atol=1e-6)

    bad = {
        "no comparison 'nope'": ["tokens-similarity", "--comparison", "nope"],
        "give a comparison": ["tokens-similarity", "--task", "csv", "--path", settings.path, "--b", "random-after"],
        "HF_HUB_OFFLINE": [*command, "--b", "domain", "--domain", "someone/not-a-cached-model"],
        "leave out --task": [*command, "--task", "splice"],
    }
    for message, argv in bad.items():
        assert main(argv) == 2, message
        err = capsys.readouterr().err
        [line] = [line for line in err.splitlines() if line.startswith("error:")]  # beside transformers' loading bars
        assert message in line and "Traceback" not in err, err
    [run] = [r for r in runs.list_runs(settings.comparison_id) if r.config["variant"] == "random"]
    weights = run.file(runs.WEIGHTS_FILE)
    kept = weights.read_bytes()
    weights.unlink()  # as a run stored before runs kept their weights
    try:
        assert main([*command, "--b", "random-after"]) == 2
        assert "cannot be compared after fine-tuning" in capsys.readouterr().err
    finally:
        weights.write_bytes(kept)


def test_the_page_compares_two_encoders_on_a_button(compared, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core.figures import theme_placeholders
    from core.nontext import figures

    home, settings = compared
    monkeypatch.setenv("CROSSMODAL_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = AppTest.from_file(str(ROOT / "pages/nontext/bert_nontext.py"), default_timeout=180).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="nt-chosen").value == settings.comparison_id
    assert any("Kao & Lee report" in c.value for c in app.caption)
    app.selectbox(key="nt-sim-b").set_value("random-after").run()
    app.button(key="nt-sim-run").click().run()
    assert not app.exception, [e.value for e in app.exception]
    [table] = [d.value for d in app.dataframe if "matched heads: mean L1" in d.value.columns]
    assert table["layer"].tolist() == [1, 2]
    assert (table["matched heads: mean L1"] <= table["random matching: mean L1"] + 1e-12).all()
    assert any("on the lab's data" in c.value for c in app.caption)
    assert len(app.get("plotly_chart")) == 4  # the curves, the test figure, the matrix and the heads
    app.radio(key="nt-sim-measure").set_value("cka").run()
    assert not app.exception
    app.selectbox(key="nt-sim-a").set_value("domain").run()
    app.text_input(key="nt-sim-domain").set_value("someone/not-a-cached-model").run()
    app.button(key="nt-sim-run").click().run()
    assert not app.exception and any("HF_HUB_OFFLINE" in e.value for e in app.error)

    from core.nontext.similarity import SimilaritySettings, compare

    found = compare(SimilaritySettings(a="pretrained-before", b="random-after"), settings.comparison_id)
    for measure in ("cka", "pwcca"):
        fig = figures.similarity_figure(found, measure)
        [heatmap] = fig.data
        assert (heatmap.zmin, heatmap.zmax) == (0, 1) and heatmap.colorbar.title.text in ("linear CKA", "PWCCA")
        assert theme_placeholders(fig) == []
    assert len(figures.head_matching_figure(found).data) == 3
    assert os.environ["CROSSMODAL_HOME"] == str(home)
