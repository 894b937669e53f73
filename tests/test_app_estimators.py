"""AppTest of the Estimators page on a small 28x28 model: the variances and the gaps shown."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.app_pages import copy_default, open_page
from vae import evaluate, precompute
from vae.checkpoint import save_checkpoint
from vae.config import ESTIMATORS, VAEConfig
from vae.data import load_dataset, to_model_input
from vae.model import build_vae


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """An untrained 28x28 MNIST model with few filters: fast, and its encoder is far from
    the true posterior, so the gap is large and plain to see."""
    config = VAEConfig(conv_filters=(4, 8), decoder_base_channels=4, epochs=1)
    model = build_vae(config)
    path = tmp_path_factory.mktemp("ckpt") / "small"
    save_checkpoint(path, model, epoch=1, include_optimizer=False)
    return path, model


@pytest.mark.slow
def test_variances_equal_gradient_variance_and_every_gap_is_nonnegative(small):
    path, model = small
    at = open_page("estimators", path)
    assert not at.error

    x = to_model_input(load_dataset("mnist").x_test[:100], "bernoulli")
    gv = evaluate.gradient_variance(model, x, n_repeats=30, seed=0)
    table = at.dataframe[0].value
    for col in ("encoder", "decoder", "all"):
        np.testing.assert_allclose(
            table[f"{col} variance"],
            [gv["sgvb-a"][col]["variance"], gv["sgvb-b"][col]["variance"]],
            rtol=1e-9,
        )
    ratio = gv["sgvb-a"]["encoder"]["variance"] / gv["sgvb-b"]["encoder"]["variance"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Encoder A/B"] == f"{ratio:.3f}×"
    assert metrics["Decoder A/B"] == "1.000×"  # the KL term never touches the decoder

    gaps = at.dataframe[1].value
    assert list(gaps["test image"]) == ["#0 (7)", "#1 (2)", "#2 (1)", "#3 (0)", "#4 (4)"]
    assert (gaps["gap = KL(q ‖ posterior)"] >= 0).all()
    np.testing.assert_allclose(gaps["gap = KL(q ‖ posterior)"], gaps["−ELBO"] - gaps["−log p(x)"])
    log_px = evaluate.model_grid_log_px(model, x[:5], grid_size=100).log_px
    np.testing.assert_allclose(gaps["−log p(x)"], -log_px, rtol=1e-6)


def test_bad_index_text_shows_what_to_write(small):
    path, _ = small
    at = open_page("estimators", path)
    at.text_input(key="gap_indices").input("3, x").run()
    assert "whole numbers" in at.error[0].value
    at.text_input(key="gap_indices").input("5, 10000").run()
    assert "0 to 9999" in at.error[0].value
    at.text_input(key="gap_indices").input("7").run()
    assert not at.error and list(at.dataframe[1].value["test image"]) == ["#7 (9)"]


def legend_clear_of_the_toolbar(chart) -> bool:
    """Plotly's toolbar covers the top right corner: a legend below the plot misses it."""
    legend = json.loads(chart.proto.spec)["layout"].get("legend", {})
    return legend.get("y", 1.0) < 0 and legend.get("yanchor") == "top"


def test_stored_figures_are_shown_without_computing_them(tmp_path, monkeypatch):
    path = copy_default(tmp_path)
    stored = precompute.read(path, dataset="mnist", latent_dim=2, n_test=10_000)
    assert stored is not None, "the shipped model's stored figures are missing or stale"

    def computing(*args, **kwargs):
        raise AssertionError("the page computed what is stored beside the checkpoint")

    for name in ("gradient_variance", "model_grid_log_px", "per_example_terms", "iw_log_px"):
        monkeypatch.setattr(evaluate, name, computing)
    at = open_page("estimators", path)
    assert not at.error and not at.warning

    table = at.dataframe[0].value
    gv = stored.gradient_variance
    for col in ("encoder", "decoder", "all"):
        assert list(table[f"{col} variance"]) == [gv[e][col]["variance"] for e in ESTIMATORS]
    gaps = at.dataframe[1].value
    np.testing.assert_allclose(gaps["−log p(x)"], stored.gap_neg_log_px, rtol=1e-6)
    np.testing.assert_allclose(gaps["−ELBO"], stored.gap_neg_elbo, rtol=1e-6)
    assert stored.gap_how in at.caption[-1].value
    # Both legends lie below their bars, away from Plotly's toolbar.
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and all(legend_clear_of_the_toolbar(c) for c in charts)


@pytest.mark.slow
def test_a_damaged_stored_file_is_named_and_the_page_computes(tmp_path):
    path = copy_default(tmp_path)
    (path / precompute.FILE).write_bytes(b"\x80\x04not figures")
    at = open_page("estimators", path)
    assert "damaged" in at.warning[0].value and "computes" in at.warning[0].value
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Decoder A/B"] == "1.000×"  # computed afresh: the KL never touches the decoder
