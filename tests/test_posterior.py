"""vae.posterior: the refined quadrature is exact where a fixed grid is not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import fixed_inputs, tiny_config

from vae import posterior
from vae.model import build_vae

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_joint(mean, std, log_c):
    """exp(log_c) times the density of N(mean, diag std^2): its integral is exp(log_c)."""
    mean, std = np.asarray(mean, float), np.asarray(std, float)

    def fn(z):
        u = (np.asarray(z, float) - mean) / std
        return log_c - 0.5 * np.sum(u**2, 1) - LOG_2PI - np.sum(np.log(std))

    return fn


@pytest.mark.parametrize(
    "mean, std",
    [
        ((0.0, 0.0), (1.0, 1.0)),
        ((1.37, 0.54), (0.03, 0.03)),  # a few hundredths wide, off the coarse nodes
        ((-2.1, 3.3), (0.01, 0.02)),
        ((0.4, -1.2), (0.005, 0.6)),  # a thin ridge
    ],
)
def test_a_gaussian_integrand_is_integrated_to_its_known_value(mean, std):
    log_c = -150.0
    log_px, error, mode, levels, evaluations, _ = posterior.integrate(
        gaussian_log_joint(mean, std, log_c), np.array(mean), np.array(std)
    )
    assert log_px == pytest.approx(log_c, abs=0.01)
    assert error < 0.01
    assert np.allclose(mode, mean, atol=3 * max(std))
    assert evaluations < 400_000


def test_narrow_posterior_away_from_q_is_still_found():
    # q says (0, 0) with sigma 0.04; the mass is a 0.02-wide bump at (1.5, -0.8).
    log_px, *_ = posterior.integrate(
        gaussian_log_joint((1.5, -0.8), (0.02, 0.02), -120.0),
        np.zeros(2),
        np.array([0.04, 0.04]),
    )
    assert log_px == pytest.approx(-120.0, abs=0.01)


def test_two_modes_are_both_counted():
    a = gaussian_log_joint((-1.0, 0.5), (0.03, 0.05), math.log(0.25))
    b = gaussian_log_joint((2.0, -1.0), (0.2, 0.1), math.log(0.75))
    log_px, *_ = posterior.integrate(
        lambda z: np.logaddexp(a(z), b(z)), np.array([-1.0, 0.5]), np.array([0.03, 0.05])
    )
    assert log_px == pytest.approx(0.0, abs=0.01)


def test_a_model_without_a_plane_is_refused():
    model = build_vae(tiny_config(latent_dim=3))
    with pytest.raises(ValueError, match="2-D latent space"):
        posterior.exact_posterior(model, np.zeros(model.config.image_shape, np.float32))


def test_a_tiny_model_satisfies_the_elbo_identity():
    """log p(x) = ELBO + KL(q || p(z|x)), each side integrated on its own nodes."""
    model = build_vae(tiny_config())
    x, _ = fixed_inputs(model.config, n=3)
    for image in x:
        post = posterior.exact_posterior(model, image)
        assert post.kl_q_posterior >= 0.0
        assert post.log_px - post.elbo - post.kl_q_posterior == pytest.approx(0.0, abs=0.05)
        assert post.log_px >= post.elbo
        density, extent = posterior.density_image(model, image, post, n=40)
        assert density.shape == (40, 40) and extent[0] < extent[1] and extent[2] < extent[3]
        area = (extent[1] - extent[0]) * (extent[3] - extent[2]) / 40**2
        assert float(density.sum() * area) == pytest.approx(1.0, abs=0.05)
