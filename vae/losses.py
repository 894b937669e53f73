"""The maths of the ELBO as pure functions of tensors.

Every function returns per-example terms, shape ``[batch]`` (or ``[L, batch]``
where noted), in nats. Nothing here touches a model, so tests can check each
function against values worked out by hand.
"""

from __future__ import annotations

import math

import tensorflow as tf

from vae.gaussian import log_density, log_normal, log_standard_normal


def _sum_event(t: tf.Tensor, event_ndims: int) -> tf.Tensor:
    """Sum over the trailing ``event_ndims`` axes."""
    return tf.reduce_sum(t, axis=list(range(-event_ndims, 0)))


def gaussian_kl(z_mean: tf.Tensor, z_log_var: tf.Tensor) -> tf.Tensor:
    """KL(N(z_mean, diag exp(z_log_var)) || N(0, I)), analytic.

    z_mean, z_log_var: [batch, J] -> [batch].
    Equals -1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2) (Kingma & Welling, App. B).
    """
    return -0.5 * tf.reduce_sum(1.0 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=-1)


def bernoulli_log_likelihood(x: tf.Tensor, x_logits: tf.Tensor) -> tf.Tensor:
    """log p(x|z) for a Bernoulli decoder given its logits.

    x: [batch, H, W, C] in {0, 1}; x_logits: [..., batch, H, W, C] -> [..., batch].
    Uses the stable form x*l - softplus(l), which equals -BCE(x, sigmoid(l)).
    """
    x = tf.cast(x, x_logits.dtype)
    return _sum_event(x * x_logits - tf.nn.softplus(x_logits), 3)


def gaussian_log_likelihood(x: tf.Tensor, x_mean: tf.Tensor, std: float) -> tf.Tensor:
    """log p(x|z) for a Gaussian decoder with fixed scalar std.

    x: [batch, H, W, C]; x_mean: [..., batch, H, W, C] -> [..., batch].
    """
    x = tf.cast(x, x_mean.dtype)
    per_pixel = log_density(tf.square(x - x_mean) / (std * std), 2.0 * math.log(std), 1)
    return _sum_event(per_pixel, 3)


def reparameterize(z_mean: tf.Tensor, z_log_var: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """z = mu + sigma * eps. z_mean, z_log_var: [batch, J]; eps: [..., batch, J]."""
    return z_mean + tf.exp(0.5 * z_log_var) * eps


def sgvb_b(
    recon_samples: tf.Tensor,
    z: tf.Tensor,
    z_mean: tf.Tensor,
    z_log_var: tf.Tensor,
    beta: float = 1.0,
) -> dict[str, tf.Tensor]:
    """SGVB-B: analytic KL plus the Monte Carlo reconstruction term.

    recon_samples: [L, batch], log p(x|z_l) for each of L samples z_l ~ q(z|x);
    z: [L, batch, J] is unused (same signature as ``sgvb_a``). Returns per-example
    ``recon``, ``kl``, ``elbo`` = recon - beta * kl, each [batch].
    """
    recon = tf.reduce_mean(recon_samples, axis=0)
    kl = gaussian_kl(z_mean, z_log_var)
    return {"recon": recon, "kl": kl, "elbo": recon - beta * kl}


def sgvb_a(
    recon_samples: tf.Tensor,
    z: tf.Tensor,
    z_mean: tf.Tensor,
    z_log_var: tf.Tensor,
    beta: float = 1.0,
) -> dict[str, tf.Tensor]:
    """SGVB-A: Monte Carlo estimate of the whole ELBO, log p(x,z) - log q(z|x).

    recon_samples: [L, batch]; z: [L, batch, J] the samples that produced them.
    ``kl`` here is the single-sample estimate log q(z|x) - log p(z), averaged over L;
    its expectation is the analytic KL, but it is noisier.
    """
    recon = tf.reduce_mean(recon_samples, axis=0)
    kl = tf.reduce_mean(log_normal(z, z_mean, z_log_var) - log_standard_normal(z), axis=0)
    return {"recon": recon, "kl": kl, "elbo": recon - beta * kl}


def importance_weighted_log_px(
    recon_samples: tf.Tensor, z: tf.Tensor, z_mean: tf.Tensor, z_log_var: tf.Tensor
) -> tf.Tensor:
    """log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K.

    recon_samples: [K, batch]; z: [K, batch, J] -> [batch]. A lower bound on
    log p(x) in expectation that tightens as K grows (Burda et al., 2016).
    """
    log_w = recon_samples + log_standard_normal(z) - log_normal(z, z_mean, z_log_var)
    k = tf.cast(tf.shape(log_w)[0], log_w.dtype)
    return tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(k)


# Keyed by vae.config.ESTIMATORS, the one list of names (no if/elif chain).
ESTIMATOR_FUNCTIONS = {"sgvb-a": sgvb_a, "sgvb-b": sgvb_b}
