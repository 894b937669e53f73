"""One image through the VAE, step by step: encode, draw z = mu + sigma * eps, decode, score.

The computations behind the "How a VAE works" page, as pure functions of a model and
arrays. Shapes: one image ``x`` [H, W, C] as the model sees it; J is the latent
dimension; S the number of draws of z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vae import evaluate, posterior

HERMITE_NODES = posterior.HERMITE_NODES  # per axis: the rule the exact posterior also uses
MAX_HERMITE_POINTS = HERMITE_NODES**2  # nodes^J decoder calls: J = 1 or 2 stays cheap
# The zoomed panel spans mu +- this many sigma, and a draw beyond it: at 4 sigma one
# frame in about a hundred of 100 draws needs more, so the frame holds still under Animate.
ZOOM_REACH = 4.0
DENSITY_NODES = 120  # per axis of the p(z|x) heat map
NATS_PER_BIT = math.log(2.0)  # 1 bit = ln 2 nats, so 1 nat = 1 / ln 2 bits


@dataclass(frozen=True)
class Draws:
    """S codes drawn from q(z|x) = N(z_mean, diag z_std^2) by the reparameterization."""

    z_mean: np.ndarray  # [J]
    z_std: np.ndarray  # [J]
    eps: np.ndarray  # [S, J], standard normal; the same draws again for the same ε stream
    z: np.ndarray  # [S, J] = z_mean + z_std * eps


@dataclass(frozen=True)
class ElboTerms:
    """The ELBO of one image and its two terms, in nats."""

    log_lik: np.ndarray  # [S]: log p(x|z) at each drawn z
    recon: float  # E_q[log p(x|z)] estimated by the mean of log_lik
    recon_stderr: float  # that mean's standard error; NaN for a single draw
    kl: float  # KL(q(z|x) || p(z)), analytic
    elbo: float  # recon - kl
    recon_exact: float | None  # E_q[log p(x|z)] by Gauss-Hermite, when J allows
    elbo_exact: float | None  # recon_exact - kl


def encode_one(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x [H, W, C] -> (z_mean [J], z_std [J]) of q(z|x), float64."""
    z_mean, z_log_var = evaluate.encode(model, np.asarray(x, np.float32)[None])
    return z_mean[0].astype(np.float64), np.exp(0.5 * z_log_var[0].astype(np.float64))


def noise(seed: int, n: int, latent_dim: int) -> np.ndarray:
    """eps [n, J] ~ N(0, I). For one seed, a longer draw starts with the shorter one's rows."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim))


def reparameterize(z_mean: np.ndarray, z_std: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """z = z_mean + z_std * eps; z_mean, z_std [J], eps [S, J] -> z [S, J]."""
    return np.asarray(z_mean)[None] + np.asarray(z_std)[None] * np.asarray(eps)


def draw(model, x: np.ndarray, n: int, seed: int) -> Draws:
    """Encode x [H, W, C] and draw n codes z [n, J] with the noise of ``seed``."""
    z_mean, z_std = encode_one(model, x)
    eps = noise(seed, n, len(z_mean))
    return Draws(z_mean, z_std, eps, reparameterize(z_mean, z_std, eps))


def log_likelihood(model, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """log p(x|z) for one image x [H, W, C] at each code z [S, J] -> [S], float64."""

    def build():
        spec_x = tf.TensorSpec([1, *model.config.image_shape], tf.float32)
        spec_z = tf.TensorSpec([None, model.config.latent_dim], tf.float32)

        @tf.function(input_signature=[spec_x, spec_z])
        def fn(x1, zs):
            logits = model.decode(zs)[:, None]  # [S, 1, H, W, C]
            return model.log_likelihood(x1, logits)[:, 0]

        return fn

    fn = model.traced("tour/log_lik", build)
    z = np.asarray(z, np.float32).reshape(-1, model.config.latent_dim)
    x1 = tf.constant(np.asarray(x, np.float32)[None])
    step = evaluate.DECODES_PER_CALL
    parts = [fn(x1, tf.constant(z[a : a + step])).numpy() for a in range(0, len(z), step)]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def kl_to_prior(z_mean: np.ndarray, z_std: np.ndarray) -> float:
    """KL(N(z_mean, diag z_std^2) || N(0, I)) for z_mean, z_std [J], analytic."""
    m, s = np.asarray(z_mean, np.float64), np.asarray(z_std, np.float64)
    return float(0.5 * np.sum(m**2 + s**2 - 1.0 - 2.0 * np.log(s)))


def can_integrate(latent_dim: int, nodes: int = HERMITE_NODES) -> bool:
    """Whether the Gauss-Hermite rule's nodes^J decoder calls stay affordable."""
    return nodes**latent_dim <= MAX_HERMITE_POINTS


def gauss_hermite_recon(
    model, x: np.ndarray, z_mean: np.ndarray, z_std: np.ndarray, nodes: int = HERMITE_NODES
) -> float:
    """E_q[log p(x|z)] for x [H, W, C] by a product Gauss-Hermite rule over q(z|x).

    z_mean, z_std [J]. Exact up to the rule's error, which is far below a draw's noise
    for the smooth decoder; needs nodes^J decoder calls.
    """
    j = len(z_mean)
    if not can_integrate(j, nodes):
        raise ValueError(f"{nodes}^{j} nodes are too many; the rule is for J <= 2.")
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    grids = np.meshgrid(*([t] * j), indexing="ij")
    u = np.stack([g.ravel() for g in grids], axis=1)  # [nodes^J, J]
    weights = np.prod(np.meshgrid(*([w] * j), indexing="ij"), axis=0).ravel()
    z = reparameterize(z_mean, z_std, u)
    return float(np.sum(weights * log_likelihood(model, x, z)))


def elbo_terms(
    model, x: np.ndarray, draws: Draws, exact: bool = True, recon_exact: float | None = None
) -> ElboTerms:
    """The ELBO of x [H, W, C] from the drawn codes, and exactly when ``exact`` and J <= 2.

    ``recon_exact``: this image's Gauss-Hermite value if already known (it does not
    depend on the draws), so a new draw does not repeat the rule's decoder calls.
    """
    log_lik = log_likelihood(model, x, draws.z)
    n = len(log_lik)
    recon = float(np.mean(log_lik))
    stderr = float(np.std(log_lik, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    kl = kl_to_prior(draws.z_mean, draws.z_std)
    if not exact:
        recon_exact = None
    elif recon_exact is None and can_integrate(len(draws.z_mean)):
        recon_exact = gauss_hermite_recon(model, x, draws.z_mean, draws.z_std)
    return ElboTerms(
        log_lik=log_lik,
        recon=recon,
        recon_stderr=stderr,
        kl=kl,
        elbo=recon - kl,
        recon_exact=recon_exact,
        elbo_exact=None if recon_exact is None else recon_exact - kl,
    )


def reparameterization_gradients(
    z_mean: np.ndarray, z_std: np.ndarray, eps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(dz/dmu [J], dz/dsigma [J]) of z = mu + sigma * eps for one eps [J], by autodiff.

    Each z_j depends on mu_j and sigma_j only, so the gradient of sum(z) holds the
    Jacobian's diagonal: 1 and eps. The noise needs no gradient: no weight made it.
    """
    mu = tf.Variable(np.asarray(z_mean, np.float64))
    sigma = tf.Variable(np.asarray(z_std, np.float64))
    with tf.GradientTape() as tape:
        z = mu + sigma * tf.constant(np.asarray(eps, np.float64))
    d_mu, d_sigma = tape.gradient(z, [mu, sigma])
    return d_mu.numpy(), d_sigma.numpy()


def zoom_box(z_mean: np.ndarray, z_std: np.ndarray, z: np.ndarray) -> list[float]:
    """A square [x0, x1, y0, y1] around q's first two dimensions: mu +- ZOOM_REACH sigma and
    every drawn z [S, >=2], padded by 10%, so the ellipse is seen at its true size. It
    depends on the draws only when one falls outside, so a new draw rarely moves it."""
    m = np.asarray(z_mean, np.float64)[:2]
    reach = np.max(ZOOM_REACH * np.asarray(z_std, np.float64)[:2])
    if len(z):
        reach = max(reach, float(np.max(np.abs(np.asarray(z)[:, :2] - m))))
    half = 1.1 * max(reach, 1e-3)
    return [m[0] - half, m[0] + half, m[1] - half, m[1] + half]


def pixel_spread(decoded: np.ndarray) -> float:
    """How much the decodings [S, H, W, C] of the draws differ: the per-pixel standard
    deviation across draws, averaged over pixels; 0 for a single draw."""
    decoded = np.asarray(decoded, np.float64)
    return float(np.mean(np.std(decoded, axis=0))) if len(decoded) > 1 else 0.0


def nats_to_bits(nats: float) -> float:
    """1 nat = 1 / ln 2 bits: nats measure information with the natural log."""
    return nats / NATS_PER_BIT


def exact_view(
    model, x: np.ndarray, n: int = DENSITY_NODES
) -> tuple[posterior.Posterior, np.ndarray, list[float]]:
    """The exact posterior of x [H, W, C] under a 2-D model and its heat map.

    Returns (Posterior, density [n, n] indexed [y, x], extent [x0, x1, y0, y1]).
    """
    post = posterior.exact_posterior(model, x)
    density, extent = posterior.density_image(model, x, post, n)
    return post, density, extent
