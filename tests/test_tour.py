"""vae.tour: the draws, the ELBO's terms and the gradient of the reparameterization."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from helpers import fixed_inputs, perturb_weights, tiny_config

from vae import losses, posterior, tour
from vae.model import build_vae


@pytest.fixture(scope="module")
def model2():
    model = build_vae(tiny_config())
    perturb_weights(model, seed=1)  # a posterior with some shape, not the fresh build's
    return model


@pytest.fixture(scope="module")
def image(model2):
    x, _ = fixed_inputs(model2.config, n=1)
    return x[0]


def test_one_seed_gives_the_same_noise_and_a_longer_draw_extends_a_shorter_one():
    a = tour.noise(7, 20, 2)
    np.testing.assert_array_equal(a, tour.noise(7, 20, 2))
    np.testing.assert_array_equal(a, tour.noise(7, 50, 2)[:20])
    assert not np.allclose(a, tour.noise(8, 20, 2))


def test_resampling_changes_z_and_keeps_mu_and_sigma(model2, image):
    first, second = tour.draw(model2, image, 20, seed=0), tour.draw(model2, image, 20, seed=1)
    np.testing.assert_array_equal(first.z_mean, second.z_mean)
    np.testing.assert_array_equal(first.z_std, second.z_std)
    assert np.all(first.z_std > 0)
    assert np.all(np.abs(first.z - second.z) > 0)
    np.testing.assert_allclose(first.z, first.z_mean + first.z_std * first.eps)
    z_mean, z_log_var = model2.encode(image[None])
    np.testing.assert_allclose(first.z_mean, z_mean[0], rtol=1e-6)
    np.testing.assert_allclose(first.z_std, np.exp(0.5 * z_log_var[0]), rtol=1e-5)


def test_the_mean_and_spread_of_many_draws_approach_mu_and_sigma():
    z_mean, z_std = np.array([0.7, -1.3, 2.0]), np.array([0.05, 0.4, 1.5])
    n = 40_000
    z = tour.reparameterize(z_mean, z_std, tour.noise(3, n, 3))
    assert np.all(np.abs(z.mean(axis=0) - z_mean) < 4 * z_std / math.sqrt(n))
    np.testing.assert_allclose(z.std(axis=0), z_std, rtol=0.02)


def test_kl_to_the_prior_matches_hand_values_and_the_training_loss():
    assert tour.kl_to_prior(np.zeros(3), np.ones(3)) == pytest.approx(0.0)
    assert tour.kl_to_prior(np.ones(2), np.ones(2)) == pytest.approx(1.0)  # 1/2 per dimension
    m, s = np.array([0.3, -2.0]), np.array([0.04, 0.5])
    expected = losses.gaussian_kl(tf.constant(m[None]), tf.constant(2 * np.log(s)[None]))
    assert tour.kl_to_prior(m, s) == pytest.approx(float(expected[0]), rel=1e-12)


def test_the_elbo_terms_add_up_and_match_the_model(model2, image):
    draws = tour.draw(model2, image, 30, seed=5)
    terms = tour.elbo_terms(model2, image, draws)
    assert terms.elbo == pytest.approx(terms.recon - terms.kl, abs=1e-9)
    assert terms.elbo_exact == pytest.approx(terms.recon_exact - terms.kl, abs=1e-9)
    assert terms.recon == pytest.approx(float(np.mean(terms.log_lik)), abs=1e-9)
    assert terms.recon_stderr == pytest.approx(np.std(terms.log_lik, ddof=1) / math.sqrt(30))
    direct = model2.log_likelihood(image[None], model2.decode(draws.z.astype(np.float32))[:, None])
    np.testing.assert_allclose(terms.log_lik, direct.numpy()[:, 0], rtol=1e-5)
    assert terms.kl == pytest.approx(tour.kl_to_prior(draws.z_mean, draws.z_std))
    assert math.isnan(tour.elbo_terms(model2, image, tour.draw(model2, image, 1, 0)).recon_stderr)


def test_gauss_hermite_agrees_with_the_exact_posterior_and_with_many_draws(model2, image):
    z_mean, z_std = tour.encode_one(model2, image)
    exact = tour.gauss_hermite_recon(model2, image, z_mean, z_std)
    assert exact == pytest.approx(posterior.exact_posterior(model2, image).recon, abs=1e-6)
    many = tour.elbo_terms(model2, image, tour.draw(model2, image, 4000, seed=2), exact=False)
    assert many.recon_exact is None
    assert abs(many.recon - exact) < 5 * many.recon_stderr + 1e-6


def test_gauss_hermite_is_refused_beyond_two_dimensions_and_skipped_by_the_elbo():
    model = build_vae(tiny_config(latent_dim=3))
    x, _ = fixed_inputs(model.config, n=1)
    with pytest.raises(ValueError, match="J <= 2"):
        tour.gauss_hermite_recon(model, x[0], np.zeros(3), np.ones(3))
    terms = tour.elbo_terms(model, x[0], tour.draw(model, x[0], 5, seed=0))
    assert terms.recon_exact is None and terms.elbo_exact is None
    assert np.isfinite(terms.elbo)


def test_the_gradient_reaches_mu_as_one_and_sigma_as_eps():
    eps = np.array([0.8, -1.7])
    d_mu, d_sigma = tour.reparameterization_gradients(np.array([0.1, 2.0]), np.ones(2) * 0.05, eps)
    np.testing.assert_array_equal(d_mu, [1.0, 1.0])
    np.testing.assert_allclose(d_sigma, eps)


def test_the_zoom_box_is_square_holds_every_draw_and_stays_put_for_ordinary_draws():
    z_mean, z_std = np.array([1.0, -0.5]), np.array([0.03, 0.06])
    z = tour.reparameterize(z_mean, z_std, np.array([[0.0, 0.0], [5.0, -1.0]]))
    x0, x1, y0, y1 = tour.zoom_box(z_mean, z_std, z)
    assert x1 - x0 == pytest.approx(y1 - y0)
    assert x0 < z_mean[0] - 4 * z_std[1] and x1 > z_mean[0] + 4 * z_std[1]
    assert x0 < z[:, 0].min() and x1 > z[:, 0].max() and y0 < z[:, 1].min()
    assert x1 - x0 < 1.0  # a zoom, not the whole plane
    # Draws inside the frame do not move it: Resample and Animate keep the same axes.
    inside = tour.reparameterize(z_mean, z_std, np.array([[1.0, -2.0], [0.5, 3.0]]))
    outside = tour.reparameterize(z_mean, z_std, np.array([[-3.0, 2.0]]))
    assert tour.zoom_box(z_mean, z_std, inside) == tour.zoom_box(z_mean, z_std, outside)


def test_a_nat_is_1_44_bits():
    assert tour.nats_to_bits(1.0) == pytest.approx(1.4427, abs=1e-4)
    assert tour.nats_to_bits(math.log(2.0)) == pytest.approx(1.0)


def test_the_exact_view_frames_the_posterior(model2, image):
    post, density, extent = tour.exact_view(model2, image, n=40)
    assert density.shape == (40, 40)
    x0, x1, y0, y1 = extent
    cell = (x1 - x0) / 40 * (y1 - y0) / 40
    assert 0.9 < density.sum() * cell < 1.1
    assert x0 <= post.mode[0] <= x1 and y0 <= post.mode[1] <= y1


def test_pixel_spread_is_zero_for_equal_decodings_and_the_std_across_draws_otherwise():
    same = np.full((4, 8, 8, 1), 0.3)
    assert tour.pixel_spread(same) == 0.0
    assert tour.pixel_spread(same[:1]) == 0.0
    two = np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1))])
    assert tour.pixel_spread(two) == pytest.approx(0.5)
