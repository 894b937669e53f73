"""Tests for vae.model on tiny configs and tiny random data (the 28x28 default only for shapes)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae import losses
from vae.config import VAEConfig
from vae.model import VAE, build_vae

# 8 -> 3 -> 1 in the valid-padding encoder; 2 -> 4 -> 8 in the decoder.
TINY = VAEConfig(image_shape=(8, 8, 1), conv_filters=(4, 8), decoder_base_channels=4, latent_dim=2)


def binary_images(n: int, seed: int = 0, shape=(8, 8, 1)) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, *shape)) < 0.5).astype(np.float32)


def structured_images(n: int, seed: int = 0) -> np.ndarray:
    """Two 8x8 prototypes with 5% of pixels flipped: something a tiny VAE can learn."""
    rng = np.random.default_rng(seed)
    rows = np.arange(8)[:, None] < 4
    prototypes = np.stack([np.broadcast_to(rows, (8, 8)), np.broadcast_to(rows.T, (8, 8))])
    x = prototypes[rng.integers(0, 2, n)].astype(np.float32)
    flip = rng.random(x.shape) < 0.05
    return np.where(flip, 1.0 - x, x)[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def tiny_model() -> VAE:
    return build_vae(TINY)


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("j", [1, 2, 5])
def test_tiny_encode_decode_sample_shapes(j: int) -> None:
    model = build_vae(TINY.replace(latent_dim=j))
    z_mean, z_log_var = model.encode(tf.constant(binary_images(3)))
    assert z_mean.shape == (3, j) and z_log_var.shape == (3, j)
    assert model.decode(z_mean).shape == (3, 8, 8, 1)
    probs = model.decode(z_mean, apply_sigmoid=True).numpy()
    assert np.all((probs >= 0.0) & (probs <= 1.0))
    np.testing.assert_allclose(probs, tf.sigmoid(model.decode(z_mean)).numpy(), rtol=1e-6)
    samples = model.sample(4, seed=1)
    assert samples.shape == (4, 8, 8, 1)
    assert np.all((samples >= 0.0) & (samples <= 1.0))
    np.testing.assert_array_equal(samples, model.sample(4, seed=1))  # seeded
    assert not np.array_equal(samples, model.sample(4, seed=2))


@pytest.mark.parametrize("j", [1, 2, 5])
def test_default_architecture_layer_shapes(j: int) -> None:
    model = VAE(VAEConfig(latent_dim=j))  # the real 28x28 model, seeded or not
    encoder_shapes = {layer.name: tuple(layer.output.shape) for layer in model.encoder.layers}
    assert encoder_shapes["conv1"] == (None, 13, 13, 32)
    assert encoder_shapes["conv2"] == (None, 6, 6, 64)
    assert encoder_shapes["z_params"] == (None, 2 * j)
    decoder_shapes = {layer.name: tuple(layer.output.shape) for layer in model.decoder.layers}
    assert decoder_shapes["dense"] == (None, 7 * 7 * 32)
    assert decoder_shapes["reshape"] == (None, 7, 7, 32)
    assert decoder_shapes["deconv1"] == (None, 14, 14, 64)
    assert decoder_shapes["deconv2"] == (None, 28, 28, 32)
    assert decoder_shapes["x_logits"] == (None, 28, 28, 1)
    z_mean, z_log_var = model.encode(tf.constant(binary_images(2, shape=(28, 28, 1))))
    assert z_mean.shape == (2, j) and z_log_var.shape == (2, j)
    assert model.decode(z_mean).shape == (2, 28, 28, 1)


# --------------------------------------------------------------------------- encoder sigma


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_sigma_stays_positive_and_finite_for_extreme_inputs(tiny_model: VAE, scale: float) -> None:
    x = tf.constant(binary_images(4, seed=1) * scale + scale)
    z_mean, z_log_var = tiny_model.encode(x)
    assert np.all(np.isfinite(z_mean.numpy())) and np.all(np.isfinite(z_log_var.numpy()))
    sigma = np.exp(0.5 * z_log_var.numpy())
    assert np.all(sigma >= 0.99 * TINY.min_std)


def test_sigma_floor_holds_with_finite_gradients() -> None:
    # Push the pre-softplus std to -1e4: softplus underflows to 0 and only the floor is left.
    model = build_vae(TINY)
    layer = model.encoder.get_layer("z_params")
    kernel, bias = layer.get_weights()
    j = TINY.latent_dim
    kernel[:, j:] = 0.0
    bias[j:] = -1e4
    layer.set_weights([kernel, bias])
    x = tf.constant(binary_images(4, seed=2))
    with tf.GradientTape() as tape:
        z_mean, z_log_var = model.encode(x)
        kl = tf.reduce_mean(losses.gaussian_kl(z_mean, z_log_var))
    np.testing.assert_allclose(z_log_var.numpy(), 2.0 * np.log(TINY.min_std), rtol=1e-5)
    assert np.isfinite(kl.numpy())
    for grad in tape.gradient(kl, model.encoder.trainable_variables):
        assert np.all(np.isfinite(grad.numpy()))


# --------------------------------------------------------------------------- decode_fn


def test_decode_fn_serves_any_batch_size_with_one_trace() -> None:
    model = build_vae(TINY)
    rng = np.random.default_rng(3)
    for n in (1, 7, 300):
        z = rng.normal(size=(n, TINY.latent_dim)).astype(np.float32)
        probs = model.decode_fn(tf.constant(z)).numpy()
        assert probs.shape == (n, 8, 8, 1)
        np.testing.assert_allclose(probs, model.decode(z, apply_sigmoid=True).numpy(), atol=1e-6)
    model.sample(5)  # sample goes through the same function
    assert model.decode_fn.experimental_get_tracing_count() == 1


def test_reparameterize_is_mean_plus_sigma_times_noise() -> None:
    rng = np.random.default_rng(4)
    mu, log_var = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    eps = rng.normal(size=(5, 3, 2))
    z = VAE.reparameterize(tf.constant(mu), tf.constant(log_var), tf.constant(eps)).numpy()
    assert z.shape == (5, 3, 2)
    np.testing.assert_allclose(z, mu + np.exp(0.5 * log_var) * eps, rtol=1e-12)


# --------------------------------------------------------------------------- seeds


def test_same_seed_gives_identical_initial_weights() -> None:
    a = build_vae(TINY).get_weights()
    b = build_vae(TINY).get_weights()
    c = build_vae(TINY.replace(seed=1)).get_weights()
    assert len(a) == len(b) == len(c) > 0
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    # Biases start at zero under any seed; every kernel must differ.
    kernels = [(wa, wc) for wa, wc in zip(a, c, strict=True) if wa.ndim > 1]
    assert len(kernels) == 7  # 3 encoder + 4 decoder layers
    assert all(not np.array_equal(wa, wc) for wa, wc in kernels)


# --------------------------------------------------------------------------- elbo_terms


def test_elbo_terms_are_per_example(tiny_model: VAE) -> None:
    x = tf.constant(binary_images(5, seed=5))
    seed = tf.constant([0, 0], tf.int32)
    for n_samples in (1, 3):
        terms = tiny_model.elbo_terms(x, seed, n_samples=n_samples)
        assert {k: v.shape for k, v in terms.items()} == {k: (5,) for k in ("recon", "kl", "elbo")}
        np.testing.assert_allclose(terms["elbo"], terms["recon"] - terms["kl"], rtol=1e-6)
        assert np.all(terms["recon"].numpy() < 0.0)  # a log-probability of binary pixels
    # Stateless noise: the same seed gives the same terms, another seed others.
    again = tiny_model.elbo_terms(x, seed)["recon"].numpy()
    np.testing.assert_array_equal(again, tiny_model.elbo_terms(x, seed)["recon"].numpy())
    other = tiny_model.elbo_terms(x, tf.constant([0, 1], tf.int32))["recon"].numpy()
    assert not np.array_equal(again, other)


def test_sgvb_b_kl_is_the_analytic_kl_of_the_encoder(tiny_model: VAE) -> None:
    x = tf.constant(binary_images(4, seed=6))
    terms = tiny_model.elbo_terms(x, tf.constant([1, 2], tf.int32), estimator="sgvb-b")
    expected = losses.gaussian_kl(*tiny_model.encode(x))
    np.testing.assert_allclose(terms["kl"].numpy(), expected.numpy(), rtol=1e-6)
    mc = tiny_model.elbo_terms(x, tf.constant([1, 2], tf.int32), estimator="sgvb-a")
    np.testing.assert_allclose(mc["recon"].numpy(), terms["recon"].numpy(), rtol=1e-6)
    assert not np.allclose(mc["kl"].numpy(), expected.numpy())  # a single-sample estimate


def test_elbo_terms_recon_uses_the_sampled_z(tiny_model: VAE) -> None:
    # With L = 1 the recon term is log p(x | mu + sigma * eps) for the seeded eps.
    x = tf.constant(binary_images(3, seed=7))
    seed = tf.constant([3, 4], tf.int32)
    z_mean, z_log_var = tiny_model.encode(x)
    eps = tf.random.stateless_normal([1, 3, TINY.latent_dim], seed=seed)
    z = tiny_model.reparameterize(z_mean, z_log_var, eps)[0]
    expected = losses.bernoulli_log_likelihood(x, tiny_model.decode(z))
    got = tiny_model.elbo_terms(x, seed, n_samples=1)["recon"]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5)


# --------------------------------------------------------------------------- training


def test_fit_lowers_the_loss_and_reports_its_terms() -> None:
    config = TINY.replace(learning_rate=1e-2, batch_size=16)
    model = build_vae(config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    history = model.fit(structured_images(64), epochs=8, batch_size=16, shuffle=False, verbose=0)
    losses_by_epoch = history.history["loss"]
    assert {"loss", "recon", "kl"} <= set(history.history)
    assert all(np.isfinite(losses_by_epoch))
    # Start: about 64 * log 2 = 44 nats. The two prototypes are learnable in a few steps.
    assert losses_by_epoch[-1] < losses_by_epoch[0] - 5.0, losses_by_epoch
    np.testing.assert_allclose(
        history.history["loss"][-1],
        history.history["recon"][-1] + history.history["kl"][-1],
        rtol=1e-4,
    )
    # evaluate() runs test_step (the analytic KL) and reports the same three names.
    x_val = structured_images(16, seed=1)
    result = model.evaluate(x_val, batch_size=16, verbose=0, return_dict=True)
    assert {"loss", "recon", "kl"} <= set(result) and np.isfinite(result["loss"])


def test_gaussian_decoder_trains_without_nan() -> None:
    config = TINY.replace(decoder="gaussian", learning_rate=1e-2)
    model = build_vae(config)
    x = np.random.default_rng(8).random((32, 8, 8, 1)).astype(np.float32)  # pixels in [0, 1]
    logits = model.decode(model.encode(tf.constant(x[:2]))[0])
    np.testing.assert_allclose(
        model.log_likelihood(tf.constant(x[:2]), logits).numpy(),
        losses.gaussian_log_likelihood(x[:2], tf.sigmoid(logits), config.gaussian_std).numpy(),
        rtol=1e-6,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    history = model.fit(x, epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
