"""Where SGVB-A's extra gradient noise lives (vae/estimator_noise.py), and the Estimators
page's lesson built from it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app_pages import DEFAULT, open_page
from vae import estimator_noise
from vae.checkpoint import load_checkpoint, save_checkpoint
from vae.config import VAEConfig
from vae.data import load_dataset, to_model_input
from vae.model import build_vae


@pytest.fixture(scope="module")
def x_test() -> np.ndarray:
    return to_model_input(load_dataset("mnist").x_test[:256], "bernoulli")


@pytest.fixture(scope="module")
def small():
    return build_vae(VAEConfig(conv_filters=(4, 8), decoder_base_channels=4, epochs=1))


def test_the_sampled_kl_is_as_noisy_as_its_closed_form_and_the_exact_kl_not_at_all(small, x_test):
    x = x_test[:4]
    noise = estimator_noise.measure(small, x, "probe", draws=4000)
    assert np.all(noise.kl_b == 0.0)  # B's KL gradient does not depend on ε
    # B's −ELBO is the reconstruction plus a constant gradient: the same noise.
    np.testing.assert_allclose(noise.elbo_b, noise.recon, rtol=1e-4)
    z_mean, z_log_var = small.encode(x)
    want = estimator_noise.kl_a_closed_form(z_mean.numpy(), z_log_var.numpy())
    np.testing.assert_allclose(noise.kl_a, want, rtol=0.1)
    assert np.all(noise.elbo_a > noise.elbo_b)
    np.testing.assert_allclose(noise.sigma, np.mean(np.exp(0.5 * z_log_var.numpy()), axis=-1))


@pytest.mark.slow
def test_on_the_default_a_matters_at_initialisation_and_not_once_trained(x_test):
    ckpt = load_checkpoint(DEFAULT)
    # No training steps: the fresh copy is measured as initialised.
    init, trained = estimator_noise.lesson(ckpt.model, ckpt.epoch, x_test, x_test, steps=(0,))
    assert init.label == "at initialisation" and trained.label == f"trained ({ckpt.epoch} epochs)"
    first, last = init.summary(), trained.summary()
    assert first["all_ratio"] > 3, first
    assert first["kl_share_of_a"] > 0.2, first
    assert last["all_ratio"] > 1.0, last
    assert last["all_ratio"] < 1.05, last
    assert last["kl_share_of_a"] < 1e-3, last
    assert last["median_sigma"] < 0.2 < first["median_sigma"]
    # Image by image on the trained model: the larger σ, the more the sampled KL adds.
    share = trained.kl_a / trained.recon
    order = np.argsort(trained.sigma)
    low, high = share[order[: len(order) // 4]], share[order[-len(order) // 4 :]]
    assert np.median(high) > 3 * np.median(low)


def _noise_tables(at) -> list:
    return [e.value for e in at.dataframe if "KL's share of A's noise" in e.value.columns]


@pytest.mark.slow
def test_the_page_measures_the_lesson_on_request(tmp_path, monkeypatch, x_test):
    config = VAEConfig(conv_filters=(4, 8), decoder_base_channels=4, epochs=1)
    path = tmp_path / "small"
    save_checkpoint(path, build_vae(config), epoch=1, include_optimizer=False)
    monkeypatch.setattr(estimator_noise, "STEPS", (0, 3))
    at = open_page("estimators", path)
    assert not _noise_tables(at)  # nothing until asked
    (button,) = [b for b in at.button if b.key == "estimators_noise"]
    assert "3 steps" in button.label
    button.click().run()
    assert not at.exception, at.exception
    (table,) = _noise_tables(at)
    assert list(table["stage"]) == ["at initialisation", "after 3 steps", "trained (1 epoch)"]
    trained = estimator_noise.measure(
        load_checkpoint(path).model, x_test[: estimator_noise.IMAGES], "trained"
    )
    np.testing.assert_allclose(
        table["A/B variance"].iloc[-1], trained.summary()["all_ratio"], rtol=1e-5
    )
    text = " ".join(m.value for m in at.markdown)
    assert "What was measured on this model" in text
    first = table["A/B variance"].iloc[0]
    assert (f"{first:.3g}×" if first >= 2 else f"{first:.3f}×") in text
