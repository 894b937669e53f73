"""Tests for vae.losses: each pure function against values worked out by hand.

Statistical checks use fixed numpy seeds and tolerances of five standard errors,
so they fail only on a real bias (a wrong sign, a missing term), not on bad luck.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from vae import gaussian, losses


def kl_by_hand(mu: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """KL(N(mu, sigma^2) || N(0, 1)) = 1/2 (sigma^2 + mu^2 - 1 - log sigma^2), summed."""
    return 0.5 * np.sum(np.exp(log_var) + mu**2 - 1.0 - log_var, axis=-1)


# --------------------------------------------------------------------------- analytic KL


@pytest.mark.parametrize("batch, j", [(1, 1), (3, 2), (5, 7)])
def test_gaussian_kl_of_standard_normal_is_zero(batch: int, j: int) -> None:
    kl = losses.gaussian_kl(tf.zeros([batch, j]), tf.zeros([batch, j]))
    assert kl.shape == (batch,)
    np.testing.assert_allclose(kl.numpy(), 0.0, atol=1e-7)


@pytest.mark.parametrize("j", [1, 2, 5])
def test_gaussian_kl_unit_mean_is_half_per_dimension(j: int) -> None:
    kl = losses.gaussian_kl(tf.ones([4, j]), tf.zeros([4, j]))
    np.testing.assert_allclose(kl.numpy(), np.full(4, 0.5 * j), rtol=1e-6)


def test_gaussian_kl_with_nonzero_log_var() -> None:
    # mu = 0, sigma^2 = 2: 1/2 (2 - 1 - log 2) per dimension.
    j = 3
    kl = losses.gaussian_kl(tf.zeros([2, j]), tf.fill([2, j], math.log(2.0)))
    np.testing.assert_allclose(kl.numpy(), j * 0.5 * (2.0 - 1.0 - math.log(2.0)), rtol=1e-6)


def test_gaussian_kl_mixed_dimensions_per_example() -> None:
    mu = np.array([[0.5, -2.0], [0.0, 0.0], [3.0, 1.0]])
    log_var = np.array([[math.log(0.25), math.log(3.0)], [0.0, -1.0], [2.0, 0.0]])
    kl = losses.gaussian_kl(tf.constant(mu), tf.constant(log_var)).numpy()
    # Row 0 by hand: 1/2 (0.25 + 0.25 - 1 - log 0.25) + 1/2 (3 + 4 - 1 - log 3).
    row0 = 0.5 * (0.5 - 1.0 - math.log(0.25)) + 0.5 * (6.0 - math.log(3.0))
    assert kl.shape == (3,)
    np.testing.assert_allclose(kl[0], row0, rtol=1e-12)
    np.testing.assert_allclose(kl, kl_by_hand(mu, log_var), rtol=1e-12)
    # Examples do not mix: the second row has only its own (positive) variance term.
    np.testing.assert_allclose(kl[1], 0.5 * (math.exp(-1.0) - 1.0 + 1.0), rtol=1e-12)


# --------------------------------------------------------------------------- densities


def test_monte_carlo_kl_averages_to_analytic_kl() -> None:
    mu = np.array([0.5, -1.0, 2.0])
    log_var = np.log(np.array([0.5, 1.0, 2.0]))
    n = 200_000
    eps = np.random.default_rng(0).standard_normal((n, 3))
    z = mu + np.exp(0.5 * log_var) * eps  # z ~ q
    log_ratio = (
        gaussian.log_normal(tf.constant(z), tf.constant(mu), tf.constant(log_var))
        - gaussian.log_standard_normal(tf.constant(z))
    ).numpy()
    assert log_ratio.shape == (n,)
    analytic = float(losses.gaussian_kl(tf.constant(mu[None]), tf.constant(log_var[None]))[0])
    np.testing.assert_allclose(analytic, kl_by_hand(mu, log_var), rtol=1e-12)
    standard_error = log_ratio.std(ddof=1) / math.sqrt(n)
    assert abs(log_ratio.mean() - analytic) < 5.0 * standard_error


# --------------------------------------------------------------------------- likelihoods


def numpy_bernoulli(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """sum x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)) over H, W, C, naively."""
    p = 1.0 / (1.0 + np.exp(-logits))
    return np.sum(x * np.log(p) + (1.0 - x) * np.log1p(-p), axis=(-3, -2, -1))


def test_bernoulli_log_likelihood_matches_numpy() -> None:
    rng = np.random.default_rng(2)
    x = (rng.random((3, 4, 4, 2)) < 0.5).astype(np.float64)
    logits = rng.normal(scale=3.0, size=(3, 4, 4, 2))
    got = losses.bernoulli_log_likelihood(tf.constant(x), tf.constant(logits))
    assert got.shape == (3,)
    np.testing.assert_allclose(got.numpy(), numpy_bernoulli(x, logits), rtol=1e-10)


def test_bernoulli_log_likelihood_is_stable_for_large_logits() -> None:
    x = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], np.float32).reshape(1, 1, 6, 1)
    logits = np.array([1e4, 1e4, -1e4, -1e4, 100.0, -100.0], np.float32).reshape(1, 1, 6, 1)
    got = losses.bernoulli_log_likelihood(tf.constant(x), tf.constant(logits)).numpy()
    assert np.all(np.isfinite(got))
    # Per pixel, log sigmoid(l) = -log(1 + e^-l) and log(1 - sigmoid(l)) = -log(1 + e^l).
    per_pixel = np.where(x == 1, -np.logaddexp(0.0, -logits), -np.logaddexp(0.0, logits))
    np.testing.assert_allclose(got, per_pixel.sum(), rtol=1e-6)
    # The two confident mistakes cost 1e4 nats each; the four confident hits cost ~0.
    np.testing.assert_allclose(got, -2e4, rtol=1e-6)


def test_bernoulli_log_likelihood_keeps_leading_sample_axis() -> None:
    rng = np.random.default_rng(3)
    x = (rng.random((3, 4, 4, 1)) < 0.5).astype(np.float32)
    logits = rng.normal(size=(5, 3, 4, 4, 1)).astype(np.float32)  # [L, batch, H, W, C]
    got = losses.bernoulli_log_likelihood(tf.constant(x), tf.constant(logits)).numpy()
    assert got.shape == (5, 3)
    for sample in range(5):
        np.testing.assert_allclose(got[sample], numpy_bernoulli(x, logits[sample]), rtol=1e-5)


def test_gaussian_log_likelihood_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    std = 0.3
    x = rng.random((3, 4, 4, 1))
    x_mean = rng.random((2, 3, 4, 4, 1))  # [L, batch, H, W, C]
    got = losses.gaussian_log_likelihood(tf.constant(x), tf.constant(x_mean), std).numpy()
    assert got.shape == (2, 3)
    expected = stats.norm.logpdf(x[None], x_mean, std).sum(axis=(-3, -2, -1))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# --------------------------------------------------------------------------- estimators


def test_reparameterize_is_mean_plus_sigma_times_noise() -> None:
    rng = np.random.default_rng(5)
    mu, log_var = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    eps = rng.normal(size=(4, 3, 2))  # a leading L axis broadcasts
    z = losses.reparameterize(tf.constant(mu), tf.constant(log_var), tf.constant(eps)).numpy()
    np.testing.assert_allclose(z, mu + np.exp(0.5 * log_var) * eps, rtol=1e-12)


X_TOY = np.array([1.0, -0.5])


def toy_problem(
    n_draws: int, seed: int, mean=(0.4, -0.3), var=(0.6, 0.3), lik_std: float = 1.0
) -> dict[str, np.ndarray]:
    """One example, J = 2, drawn n_draws times: each draw is one "batch" row.

    p(z) = N(0, I), q(z|x) = N(mean, diag var), log p(x|z) = log N(x; z, lik_std^2 I)
    with x = (1, -0.5), so the recon term depends on z.
    """
    rng = np.random.default_rng(seed)
    mu = np.tile([mean], (n_draws, 1))
    log_var = np.tile(np.log([var]), (n_draws, 1))
    z = mu + np.exp(0.5 * log_var) * rng.standard_normal((n_draws, 2))
    recon = stats.norm.logpdf(X_TOY, z, lik_std).sum(-1)
    return {"recon_samples": recon[None], "z": z[None], "z_mean": mu, "z_log_var": log_var}


def both_estimators(problem: dict[str, np.ndarray]) -> tuple[dict, dict]:
    t = {k: tf.constant(v) for k, v in problem.items()}
    a = {k: v.numpy() for k, v in losses.sgvb_a(**t).items()}
    b = {k: v.numpy() for k, v in losses.sgvb_b(**t).items()}
    return a, b


def test_sgvb_a_and_b_agree_in_expectation() -> None:
    n = 100_000
    a, b = both_estimators(toy_problem(n, seed=6))
    for terms in (a, b):
        assert {k: v.shape for k, v in terms.items()} == {k: (n,) for k in ("recon", "kl", "elbo")}
    np.testing.assert_array_equal(a["recon"], b["recon"])  # same samples, same recon
    # Per draw the two ELBOs differ only through the KL, and E[MC KL - analytic KL] = 0.
    diff = a["elbo"] - b["elbo"]
    assert abs(diff.mean()) < 5.0 * diff.std(ddof=1) / math.sqrt(n)
    assert abs(a["kl"].mean() - b["kl"][0]) < 5.0 * a["kl"].std(ddof=1) / math.sqrt(n)
    np.testing.assert_allclose(b["kl"], kl_by_hand(np.array([0.4, -0.3]), np.log([0.6, 0.3])))


def test_sgvb_a_is_noisier_when_the_recon_depends_weakly_on_z() -> None:
    # Var(A) = Var(B) + Var(MC KL) - 2 Cov(recon, MC KL). With a broad likelihood
    # (std 5) the recon barely moves with z, so the MC KL's own noise dominates.
    # This is not universal: when q is the exact posterior, A has zero variance
    # (next test), which is why the app measures gradient variance on real models.
    a, b = both_estimators(toy_problem(20_000, seed=11, lik_std=5.0))
    assert a["elbo"].var() > 5.0 * b["elbo"].var()
    assert a["kl"].var() > 0.1  # the MC KL is genuinely random per draw


def test_sgvb_a_is_exact_when_q_is_the_true_posterior() -> None:
    # p(z) = N(0, I), p(x|z) = N(x; z, I): the posterior is N(x / 2, I / 2), and then
    # log p(x, z) - log q(z|x) = log p(x) = log N(x; 0, 2 I) for every z.
    a, b = both_estimators(toy_problem(1000, seed=12, mean=X_TOY / 2, var=(0.5, 0.5)))
    log_px = stats.norm.logpdf(X_TOY, 0.0, math.sqrt(2.0)).sum()
    np.testing.assert_allclose(a["elbo"], log_px, rtol=1e-12)
    assert b["elbo"].std() > 0.1  # SGVB-B still carries the recon term's noise
    assert abs(b["elbo"].mean() - log_px) < 5.0 * b["elbo"].std() / math.sqrt(1000)


@pytest.mark.parametrize("estimator", [losses.sgvb_a, losses.sgvb_b])
def test_beta_weights_the_kl(estimator) -> None:
    t = {k: tf.constant(v) for k, v in toy_problem(6, seed=7).items()}
    plain = estimator(**t)
    free = estimator(**t, beta=0.0)
    double = estimator(**t, beta=2.0)
    np.testing.assert_array_equal(free["elbo"].numpy(), free["recon"].numpy())
    np.testing.assert_allclose(plain["elbo"], plain["recon"] - plain["kl"], rtol=1e-12)
    np.testing.assert_allclose(double["elbo"], double["recon"] - 2.0 * double["kl"], rtol=1e-12)
    assert np.all(plain["kl"].numpy() != 0.0)  # so beta visibly changes the ELBO


@pytest.mark.parametrize("estimator", [losses.sgvb_a, losses.sgvb_b])
def test_estimators_average_the_recon_over_samples(estimator) -> None:
    rng = np.random.default_rng(8)
    recon = rng.normal(size=(4, 3))  # [L, batch]
    z = rng.normal(size=(4, 3, 2))
    zeros = tf.zeros([3, 2], tf.float64)
    terms = estimator(tf.constant(recon), tf.constant(z), zeros, zeros)
    np.testing.assert_allclose(terms["recon"].numpy(), recon.mean(0), rtol=1e-12)
    if estimator is losses.sgvb_a:
        # Under q = N(0, I) = p(z) the Monte Carlo KL is exactly log q - log p = 0.
        np.testing.assert_allclose(terms["kl"].numpy(), 0.0, atol=1e-12)


def test_importance_weighted_with_one_sample_is_the_sgvb_a_elbo() -> None:
    rng = np.random.default_rng(9)
    recon = rng.normal(-50.0, 5.0, size=(1, 4))
    z = rng.normal(size=(1, 4, 3))
    mu, log_var = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    args = [tf.constant(v) for v in (recon, z, mu, log_var)]
    iw = losses.importance_weighted_log_px(*args).numpy()
    assert iw.shape == (4,)
    np.testing.assert_allclose(iw, losses.sgvb_a(*args)["elbo"].numpy(), rtol=1e-12)


def test_importance_weighted_bound_tightens_with_k() -> None:
    # J = 1, p(z) = N(0, 1), p(x|z) = N(x; z, s^2), so p(x) = N(x; 0, 1 + s^2) exactly.
    # q = N(1, 0.6^2) is deliberately off (the true posterior is N(1.2, 0.2)), so the
    # bound is loose at K = 1 and visibly tightens; q is wider than the posterior, so
    # the weights are bounded and the averages settle quickly.
    x, s, reps = 1.5, 0.5, 4000
    exact = stats.norm.logpdf(x, 0.0, math.sqrt(1.0 + s * s))
    rng = np.random.default_rng(10)
    mu = np.ones((reps, 1))
    log_var = np.full((reps, 1), math.log(0.36))
    means, ses = [], []
    for k in (1, 4, 32, 256):
        z = mu + 0.6 * rng.standard_normal((k, reps, 1))
        recon = stats.norm.logpdf(x, z[..., 0], s)
        bound = losses.importance_weighted_log_px(
            tf.constant(recon), tf.constant(z), tf.constant(mu), tf.constant(log_var)
        ).numpy()
        assert bound.shape == (reps,)
        means.append(bound.mean())
        ses.append(bound.std(ddof=1) / math.sqrt(reps))
    for k_index in range(3):
        step = means[k_index + 1] - means[k_index]
        assert step > -3.0 * (ses[k_index] + ses[k_index + 1]), (means, ses)
    assert means[-1] - means[0] > 10.0 * ses[0], (means, ses)  # a real, not a noisy, gain
    assert means[-1] < exact + 5.0 * ses[-1]  # still a lower bound
    assert exact - means[-1] < 0.01  # and close to log p(x) at large K
