"""Tests for vae.evaluate: quadrature against a known marginal, and the model-level helpers."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from vae import evaluate
from vae.config import VAEConfig
from vae.model import VAE, build_vae

TINY = VAEConfig(image_shape=(8, 8, 1), conv_filters=(4, 8), decoder_base_channels=4, latent_dim=2)


def binary_images(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 8, 8, 1)) < 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_model() -> VAE:
    return build_vae(TINY)


# --------------------------------------------------------------------------- grid_log_px

# A linear-Gaussian "decoder" p(x|z) = N(W z + b, s^2 I) in D = 3 dims with z ~ N(0, I_2)
# has the marginal p(x) = N(b, W W^T + s^2 I), so the quadrature has an exact answer.
W = np.array([[1.0, 0.2], [-0.3, 0.9], [0.5, -0.5]])
B = np.array([0.3, -0.2, 0.1])
# s = 0.05 makes the posterior narrow (std 0.04-0.05), comparable to the default grid's
# spacing h = 10 / 300: the fine grid is then accurate to ~1e-7 while the coarse sub-grid
# (spacing 2h) is off by ~1e-4, so the error estimate is measurably above the error.
S = 0.05


def linear_gaussian(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)) @ W.T + B + S * rng.standard_normal((n, 3))

    def log_lik_fn(z: np.ndarray) -> np.ndarray:
        mean = z.astype(np.float64) @ W.T + B  # [G, 3]
        return stats.norm.logpdf(x[:, None, :], mean[None], S).sum(-1)  # [n, G]

    exact = stats.multivariate_normal(B, W @ W.T + S**2 * np.eye(3)).logpdf(x)
    return log_lik_fn, exact


def test_grid_log_px_matches_the_linear_gaussian_marginal() -> None:
    log_lik_fn, exact = linear_gaussian(6)
    result = evaluate.grid_log_px(log_lik_fn, 6, grid_size=300, z_range=5.0, chunk=10_000)
    assert result.log_px.shape == result.log_px_coarse.shape == (6,)
    error = np.abs(result.log_px - exact)
    assert error.max() < 1e-3
    assert result.error_estimate < 1e-3
    # The coarse-vs-fine difference is conservative: at least the fine grid's actual error.
    assert result.error_estimate >= error.mean()
    coarse_error = np.mean(np.abs(result.log_px_coarse - exact))
    np.testing.assert_allclose(result.error_estimate, coarse_error, rtol=0.05)
    assert 0.0 < result.prior_mass_outside < 1e-5


def test_grid_log_px_does_not_depend_on_chunking() -> None:
    log_lik_fn, _ = linear_gaussian(3, seed=1)
    one = evaluate.grid_log_px(log_lik_fn, 3, grid_size=40, z_range=5.0, chunk=100_000)
    many = evaluate.grid_log_px(log_lik_fn, 3, grid_size=40, z_range=5.0, chunk=37)
    np.testing.assert_allclose(many.log_px, one.log_px, rtol=1e-12)
    np.testing.assert_allclose(many.log_px_coarse, one.log_px_coarse, rtol=1e-12)


def test_a_coarse_narrow_grid_is_noticeably_worse() -> None:
    log_lik_fn, exact = linear_gaussian(6)
    coarse = evaluate.grid_log_px(log_lik_fn, 6, grid_size=8, z_range=2.0)
    assert np.mean(np.abs(coarse.log_px - exact)) > 1.0
    assert coarse.error_estimate > 1.0  # and its own estimate says so
    assert coarse.prior_mass_outside > 0.05


@pytest.mark.parametrize("grid_size", [2, 7, 301])
def test_grid_log_px_rejects_bad_grid_sizes(grid_size: int) -> None:
    log_lik_fn, _ = linear_gaussian(1)
    with pytest.raises(ValueError, match="even number"):
        evaluate.grid_log_px(log_lik_fn, 1, grid_size=grid_size)


# --------------------------------------------------------------------------- model log p(x)


def widened_model(seed: int) -> VAE:
    """A tiny J = 2 model whose q(z|x) = N(mu(x), 1.2^2 I) is wider than the prior.

    At initialization q is narrower than the true posterior (which is close to the
    prior), so the importance weights are heavy-tailed and even K = 2000 scatters by
    ~0.05 nats on average over 8 images. A proposal wider than the prior bounds
    the weights p(x, z) / q(z|x), and the estimate then settles to ~0.01 nats.
    Scaling the decoder's first kernel makes p(x|z) depend on z more strongly.
    """
    model = build_vae(TINY.replace(seed=seed))
    layer = model.encoder.get_layer("z_params")
    kernel, bias = layer.get_weights()
    kernel[:, 2:] = 0.0
    bias[2:] = np.log(np.expm1(1.2))  # softplus^-1(1.2)
    layer.set_weights([kernel, bias])
    dense = model.decoder.get_layer("dense")
    kernel, bias = dense.get_weights()
    dense.set_weights([3.0 * kernel, bias])
    return model


def test_model_grid_log_px_agrees_with_importance_sampling() -> None:
    model = widened_model(seed=0)
    x = binary_images(8, seed=1)
    grid = evaluate.model_grid_log_px(model, x)
    assert grid.log_px.shape == (8,)
    z_mean, _ = evaluate.encode(model, x)
    assert np.abs(z_mean).max() + 6 * 1.2 <= grid.z_range <= 12.0  # covers every q's 6 sigma
    assert grid.error_estimate < 1e-3
    iw = evaluate.iw_log_px(model, x, k=2000, batch_size=4, seed=0)
    assert iw.shape == (8,)
    # The per-image IW scatter here is <= 0.02 nats (measured over seeds), so its mean
    # over 8 images has a standard error of ~0.007: 0.05 is about 7 standard errors.
    assert abs(np.mean(iw) - np.mean(grid.log_px)) < 0.05
    # The ELBO is a lower bound on log p(x); q here is deliberately loose, so the gap
    # (~0.15 nats measured) is well above the ELBO's Monte Carlo noise with L = 100.
    neg_elbo = evaluate.per_example_terms(model, x, n_samples=100)["neg_elbo"]
    assert np.mean(grid.log_px) > -np.mean(neg_elbo) + 0.05
    assert np.mean(iw) > -np.mean(neg_elbo) + 0.05


def test_model_grid_log_px_explicit_range_and_gaussian_decoder() -> None:
    # The Gaussian branch builds ||x - mean||^2 from matmuls; check it against the
    # model's own log_likelihood on a small grid written out here.
    model = build_vae(TINY.replace(decoder="gaussian"))
    x = np.random.default_rng(2).random((3, 8, 8, 1)).astype(np.float32)
    grid = evaluate.model_grid_log_px(model, x, grid_size=20, z_range=4.0)
    h = 8.0 / 20
    axis = -4.0 + h * (np.arange(20) + 0.5)
    zz = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
    logits = model.decode(tf.constant(zz))  # [G, 8, 8, 1]
    log_lik = np.stack(
        [model.log_likelihood(tf.constant(np.repeat(xi[None], len(zz), 0)), logits) for xi in x]
    )  # [3, G]
    log_joint = log_lik + stats.multivariate_normal(np.zeros(2)).logpdf(zz)[None]
    expected = np.logaddexp.reduce(log_joint.astype(np.float64), axis=1) + 2 * np.log(h)
    np.testing.assert_allclose(grid.log_px, expected, atol=1e-3)


def test_model_grid_log_px_refuses_other_latent_sizes() -> None:
    model = build_vae(TINY.replace(latent_dim=3))
    with pytest.raises(ValueError, match="latent_dim 2"):
        evaluate.model_grid_log_px(model, binary_images(2))


# --------------------------------------------------------------------------- ELBO terms


def test_one_rule_says_where_quadrature_runs_and_every_budget_fits_the_grid() -> None:
    assert evaluate.has_quadrature(2)
    assert not evaluate.has_quadrature(1) and not evaluate.has_quadrature(3)
    budgets = (evaluate.FULL, evaluate.DEFAULT, evaluate.AFTER_TRAINING, evaluate.FEW_DIGITS)
    for budget in budgets:
        assert budget.grid_size >= 4 and budget.grid_size % 2 == 0, budget
        assert budget.iw_samples >= 0, budget


def test_per_example_terms_add_up_and_are_deterministic(tiny_model: VAE) -> None:
    x = binary_images(7, seed=3)
    terms = evaluate.per_example_terms(tiny_model, x, batch_size=3, seed=5)
    assert {k: v.shape for k, v in terms.items()} == {k: (7,) for k in ("recon", "kl", "neg_elbo")}
    np.testing.assert_allclose(terms["neg_elbo"], terms["recon"] + terms["kl"], rtol=1e-6)
    assert np.all(terms["recon"] > 0.0) and np.all(terms["kl"] >= 0.0)  # losses, in nats
    again = evaluate.per_example_terms(tiny_model, x, batch_size=3, seed=5)
    for key in terms:
        np.testing.assert_array_equal(again[key], terms[key])
    other = evaluate.per_example_terms(tiny_model, x, batch_size=3, seed=6)
    assert not np.array_equal(other["recon"], terms["recon"])  # the seed drives the noise
    np.testing.assert_allclose(other["kl"], terms["kl"], rtol=1e-6)  # the KL is analytic
    summary = evaluate.elbo_summary(tiny_model, x, batch_size=3, seed=5)
    assert summary == pytest.approx({k: float(np.mean(v)) for k, v in terms.items()})
    assert summary == evaluate.elbo_summary(tiny_model, x, batch_size=3, seed=5)


@pytest.mark.parametrize("beta", [0.0, 4.0])
def test_reported_elbo_is_the_true_elbo_whatever_beta_trained(tiny_model, beta) -> None:
    weighted = build_vae(TINY.replace(beta=beta))
    weighted.set_weights(tiny_model.get_weights())
    x = binary_images(5, seed=2)
    terms = evaluate.per_example_terms(weighted, x, seed=1)
    np.testing.assert_allclose(terms["neg_elbo"], terms["recon"] + terms["kl"], rtol=1e-6)
    same = evaluate.per_example_terms(tiny_model, x, seed=1)  # beta = 1
    np.testing.assert_allclose(terms["neg_elbo"], same["neg_elbo"], rtol=1e-6)
    # The per-epoch test figure (Keras' evaluate) is the true -ELBO too.
    for m in (weighted, tiny_model):
        m.compile(optimizer="adam")
    got = weighted.evaluate(x, batch_size=5, verbose=0, return_dict=True)
    want = tiny_model.evaluate(x, batch_size=5, verbose=0, return_dict=True)
    assert got == pytest.approx(want, rel=1e-6)
    assert got["loss"] == pytest.approx(got["recon"] + got["kl"], rel=1e-5)


def test_per_example_terms_of_no_images_are_empty(tiny_model: VAE) -> None:
    terms = evaluate.per_example_terms(tiny_model, np.zeros((0, 8, 8, 1), np.float32))
    assert {k: v.shape for k, v in terms.items()} == {k: (0,) for k in ("recon", "kl", "neg_elbo")}
    assert evaluate.iw_log_px(tiny_model, np.zeros((0, 8, 8, 1), np.float32), k=5).shape == (0,)


# --------------------------------------------------------------------------- gradient variance


def test_gradient_variance_separates_the_estimators(tiny_model: VAE) -> None:
    x = binary_images(8, seed=4)
    result = evaluate.gradient_variance(tiny_model, x, n_repeats=30, seed=0)
    a, b = result["sgvb-a"], result["sgvb-b"]
    # Same noise, and the KL term does not touch the decoder: identical decoder gradients.
    for stat in ("variance", "mean_sq_norm"):
        np.testing.assert_allclose(a["decoder"][stat], b["decoder"][stat], rtol=1e-6)
    assert a["decoder"]["variance"] > 0.0
    # The MC KL adds noise to the encoder's gradient. Measured on this tiny untrained
    # model the ratio is 60-170x over seeds: q is far from the posterior here, so the
    # covariance that can make SGVB-A quieter (see test_losses) is negligible.
    assert a["encoder"]["variance"] > 5.0 * b["encoder"]["variance"] > 0.0
    # Variances are traces, so the groups add up.
    for est in (a, b):
        total = est["encoder"]["variance"] + est["decoder"]["variance"]
        np.testing.assert_allclose(est["all"]["variance"], total, rtol=1e-9)
    again = evaluate.gradient_variance(tiny_model, x, n_repeats=30, seed=0)
    for est in result:  # stateless noise: reproducible
        for group in result[est]:
            assert again[est][group] == pytest.approx(result[est][group], rel=1e-6)


# --------------------------------------------------------------------------- encode / decode


def test_encode_helper_batches_like_one_call(tiny_model: VAE) -> None:
    x = binary_images(11, seed=5)
    z_mean, z_log_var = evaluate.encode(tiny_model, x, batch_size=4)
    expected_mean, expected_log_var = tiny_model.encode(tf.constant(x))
    assert z_mean.shape == z_log_var.shape == (11, 2)
    np.testing.assert_allclose(z_mean, expected_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z_log_var, expected_log_var.numpy(), rtol=1e-5, atol=1e-6)
    empty_mean, empty_log_var = evaluate.encode(tiny_model, np.zeros((0, 8, 8, 1), np.float32))
    assert empty_mean.shape == empty_log_var.shape == (0, 2)


def test_decode_helper_batches_like_one_call(tiny_model: VAE) -> None:
    z = np.random.default_rng(6).normal(size=(11, 2)).astype(np.float32)
    probs = evaluate.decode(tiny_model, z, batch_size=4)
    assert probs.shape == (11, 8, 8, 1)
    expected = tiny_model.decode(tf.constant(z), apply_sigmoid=True).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    single = evaluate.decode(tiny_model, z[3])  # one point, shape [J]
    assert single.shape == (1, 8, 8, 1)
    np.testing.assert_allclose(single[0], expected[3], rtol=1e-5, atol=1e-6)
    assert evaluate.decode(tiny_model, np.zeros((0, 2))).shape == (0, 8, 8, 1)


def test_every_call_stays_within_the_decoder_budget(tiny_model, monkeypatch):
    """The allocator keeps a call's peak for good, so no call may make too many images."""
    sizes = []
    batches = evaluate._batches
    monkeypatch.setattr(
        evaluate, "_batches", lambda n, size: sizes.append(size) or batches(n, size)
    )
    x = np.zeros((30, 8, 8, 1), np.float32)
    evaluate.iw_log_px(tiny_model, x, k=100, batch_size=100)  # 100 images x K=100 asked
    evaluate.per_example_terms(tiny_model, x, n_samples=500, batch_size=8)
    evaluate.decode(tiny_model, np.zeros((3000, tiny_model.config.latent_dim), np.float32))
    assert evaluate.DECODES_PER_CALL == 1024
    assert sizes == [10, 2, 1024]


# --------------------------------------------------------------------------- one decoded grid


def test_fused_grid_matches_the_float64_quadrature_for_bernoulli_pixels() -> None:
    """The traced float32 matmul + log-sum-exp against the generic float64 path."""
    model = widened_model(seed=2)
    x = binary_images(40, seed=7)

    def log_lik_fn(z: np.ndarray) -> np.ndarray:
        logits = model.decode(tf.constant(z))  # [G, 8, 8, 1]
        return np.stack([model.log_likelihood(tf.constant(xi[None]), logits) for xi in x])

    # A chunk that is not a multiple of the grid's rows, so chunks start at odd nodes.
    fused = evaluate.model_grid_log_px(model, x, grid_size=30, z_range=6.0, chunk=77)
    exact = evaluate.grid_log_px(log_lik_fn, len(x), grid_size=30, z_range=6.0, chunk=900)
    np.testing.assert_allclose(fused.log_px, exact.log_px, atol=1e-3)
    np.testing.assert_allclose(fused.log_px_coarse, exact.log_px_coarse, atol=1e-3)
    assert fused.error_estimate > 0.0


# --------------------------------------------------------------------------- subsets


def test_subset_is_fixed_random_and_sorted_and_whole_when_asked() -> None:
    picked = evaluate.subset(10_000, 1000)
    assert len(picked) == len(set(picked)) == 1000
    assert np.all(np.diff(picked) > 0)
    np.testing.assert_array_equal(picked, evaluate.subset(10_000, 1000))  # the same every run
    assert picked.max() >= 5000  # not the first images: both halves of the set are in it
    np.testing.assert_array_equal(evaluate.subset(7, None), np.arange(7))
    np.testing.assert_array_equal(evaluate.subset(7, 50), np.arange(7))


def test_standard_error_has_the_finite_population_correction() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0])
    plain = np.std(values, ddof=1) / 2.0
    assert evaluate.standard_error(values, 10**9) == pytest.approx(plain)
    assert evaluate.standard_error(values, 8) == pytest.approx(plain * np.sqrt(0.5))
    assert evaluate.standard_error(values, 4) == 0.0  # the whole population: no sampling error


def test_evaluate_on_subsets_reports_standard_errors(tiny_model: VAE) -> None:
    x = binary_images(30, seed=8)
    calls = []
    metrics = evaluate.evaluate(
        tiny_model,
        x,
        iw_samples=5,
        grid_size=10,
        grid_images=12,
        iw_images=9,
        progress=lambda what, fraction: calls.append((what, fraction)),
    )
    assert metrics["n_images"] == 30  # -ELBO is always over every image
    assert (metrics["log_px_images"], metrics["iw_images"]) == (12, 9)
    assert metrics["log_px_se"] > 0.0 and metrics["iw_log_px_se"] > 0.0
    expected = evaluate.model_grid_log_px(tiny_model, x[evaluate.subset(30, 12)], grid_size=10)
    assert metrics["log_px"] == pytest.approx(float(np.mean(expected.log_px)), abs=1e-5)
    # Each phase reports its own progress, and each ends at 100 %.
    assert {w for w, f in calls if f == 1.0} == {w for w, _ in calls} and len(calls) >= 2
    whole = evaluate.evaluate(tiny_model, x, **evaluate.budget_options(evaluate.FULL))
    assert whole["log_px_se"] == whole["iw_log_px_se"] == 0.0
    assert whole["log_px_images"] == whole["iw_images"] == 30


def test_a_progress_callback_that_raises_cancels_the_evaluation(tiny_model: VAE) -> None:
    class Stop(Exception):
        pass

    def stop(what, fraction):
        raise Stop

    with pytest.raises(Stop):
        evaluate.evaluate(tiny_model, binary_images(5), iw_samples=3, grid_size=10, progress=stop)


def test_evaluate_takes_the_elbo_a_training_has_just_measured(tiny_model: VAE) -> None:
    x = binary_images(6, seed=9)
    known = evaluate.elbo_summary(tiny_model, x)
    metrics = evaluate.evaluate(tiny_model, x, iw_samples=0, grid_size=4, elbo=known)
    assert {k: metrics[k] for k in known} == known
    # The same numbers as computing it afresh: the same function, seed and batches.
    fresh = evaluate.evaluate(tiny_model, x, iw_samples=0, grid_size=4)
    assert {k: fresh[k] for k in known} == known
