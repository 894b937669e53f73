"""Test-set evaluation in nats per image: -ELBO, log p(x) and gradient variance.

Reported terms are losses (positive, lower is better): ``recon`` = -E_q[log p(x|z)],
``kl`` = KL(q(z|x) || p(z)), ``neg_elbo`` = recon + kl.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vae import gaussian, losses
from vae.config import ESTIMATORS
from vae.eval_budget import (  # noqa: F401  (the budgets' home; callers read them here too)
    AFTER_TRAINING,
    DEFAULT,
    FEW_DIGITS,
    FULL,
    Budget,
    budget_options,
    standard_error,
    subset,
)

ProgressFn = Callable[[str, float], None]  # (what, fraction done)

# Images the decoder makes in one call. Its activations cost about 150 KB an image
# (28x28x32 + 14x14x64 floats, plus the logits), and the allocator keeps the peak:
# 10,000 decodes in one call (K = 100 samples of 100 images) held on to 1.5 GB of a
# server's memory for good. 1,024 keeps a call near 150 MB at the same speed.
DECODES_PER_CALL = 1024


def has_quadrature(latent_dim: int) -> bool:
    """Whether log p(x) can be integrated on a grid: only over a 2-D latent plane."""
    return latent_dim == 2


def _capped(batch_size: int, decodes_per_image: int) -> int:
    """The batch size that keeps a call within DECODES_PER_CALL decoder outputs."""
    return max(1, min(batch_size, DECODES_PER_CALL // max(1, decodes_per_image)))


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)


def _image_spec(model) -> tf.TensorSpec:
    return tf.TensorSpec([None, *model.config.image_shape], tf.float32)


def per_example_terms(
    model, x: np.ndarray, *, batch_size: int = 1000, seed: int = 0, n_samples: int = 1
) -> dict[str, np.ndarray]:
    """Per-example ``recon``, ``kl``, ``neg_elbo`` [N] with the analytic KL (SGVB-B form).

    ``neg_elbo`` is the true −ELBO, recon + KL, whatever β the model was trained with.
    """

    def build():
        @tf.function(input_signature=[_image_spec(model), tf.TensorSpec([2], tf.int32)])
        def fn(xb, seed_pair):
            terms = model.elbo_terms(
                xb, seed_pair, n_samples=n_samples, estimator="sgvb-b", beta=1.0
            )
            return {"recon": -terms["recon"], "kl": terms["kl"], "neg_elbo": -terms["elbo"]}

        return fn

    fn = model.traced(f"terms/{n_samples}", build)
    parts: dict[str, list[np.ndarray]] = {"recon": [], "kl": [], "neg_elbo": []}
    for i, (a, b) in enumerate(_batches(len(x), _capped(batch_size, n_samples))):
        out = fn(tf.constant(x[a:b], tf.float32), tf.constant([seed, i], tf.int32))
        for k in parts:
            parts[k].append(out[k].numpy())
    return {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in parts.items()}


def elbo_summary(model, x: np.ndarray, **kwargs) -> dict[str, float]:
    """Mean ``neg_elbo``, ``recon`` and ``kl`` over ``x``, in nats per image."""
    terms = per_example_terms(model, x, **kwargs)
    return {k: float(np.mean(v)) for k, v in terms.items()}


def encode(model, x: np.ndarray, batch_size: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(z_mean, z_log_var), each [N, J], in batches through one traced function."""
    means, log_vars = [], []
    for a, b in _batches(len(x), batch_size):
        m, lv = model.encode_fn(tf.constant(x[a:b], tf.float32))
        means.append(m.numpy())
        log_vars.append(lv.numpy())
    j = model.config.latent_dim
    if not means:
        return np.zeros((0, j), np.float32), np.zeros((0, j), np.float32)
    return np.concatenate(means), np.concatenate(log_vars)


def decode(model, z: np.ndarray, batch_size: int = DECODES_PER_CALL) -> np.ndarray:
    """Pixel probabilities (or Gaussian means) [N, H, W, C] for z [N, J], batched."""
    z = np.asarray(z, np.float32).reshape(-1, model.config.latent_dim)
    out = [model.decode_fn(tf.constant(z[a:b])).numpy() for a, b in _batches(len(z), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, *model.config.image_shape), np.float32)


# --- importance-weighted log p(x), any J ---------------------------------------
def iw_log_px(
    model,
    x: np.ndarray,
    *,
    k: int = FULL.iw_samples,
    batch_size: int = 100,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Importance-weighted estimate of log p(x) [N] with K samples from q(z|x)."""

    def build():
        @tf.function(input_signature=[_image_spec(model), tf.TensorSpec([2], tf.int32)])
        def fn(xb, seed_pair):
            z_mean, z_log_var = model.encode(xb)
            eps = tf.random.stateless_normal(tf.concat([[k], tf.shape(z_mean)], 0), seed=seed_pair)
            z = model.reparameterize(z_mean, z_log_var, eps)  # [K, batch, J]
            logits = model.decode(tf.reshape(z, [-1, model.config.latent_dim]))
            logits = tf.reshape(
                logits, tf.concat([[k, tf.shape(xb)[0]], model.config.image_shape], 0)
            )
            recon = model.log_likelihood(xb, logits)  # [K, batch]
            return losses.importance_weighted_log_px(recon, z, z_mean, z_log_var)

        return fn

    fn = model.traced(f"iw/{k}", build)
    batch_size = _capped(batch_size, k)
    out = []
    n_batches = max(1, math.ceil(len(x) / batch_size))
    for i, (a, b) in enumerate(_batches(len(x), batch_size)):
        out.append(fn(tf.constant(x[a:b], tf.float32), tf.constant([seed, i], tf.int32)).numpy())
        if progress:
            progress(f"importance sampling (K={k})", (i + 1) / n_batches)
    return np.concatenate(out) if out else np.zeros(0, np.float32)


# --- log p(x) by quadrature, J = 2 ---------------------------------------------
@dataclass(frozen=True)
class GridResult:
    """log p(x) by a midpoint rule on an n x n grid over [-r, r]^2."""

    log_px: np.ndarray  # [N], on the full grid
    log_px_coarse: np.ndarray  # [N], on the sub-grid of every other node (spacing 2h)
    grid_size: int
    z_range: float

    @property
    def error_estimate(self) -> float:
        """Mean |fine - coarse| in nats: a conservative estimate of the fine grid's error.

        If the error fell as h^2 the fine grid's own error would be about a third of
        this difference; for the near-Gaussian integrands here both grids converge
        much faster, and the estimate over-states the error by orders of magnitude.
        It does not cover mass outside ``z_range``: see ``prior_mass_outside``.
        """
        return float(np.mean(np.abs(self.log_px - self.log_px_coarse)))

    @property
    def prior_mass_outside(self) -> float:
        """Prior mass outside the box; the integral there is at most this times max p(x|z)."""
        inside = math.erf(self.z_range / math.sqrt(2.0)) ** 2
        return 1.0 - inside


def grid_log_px(
    log_lik_fn: Callable[[np.ndarray], np.ndarray],
    n_examples: int,
    *,
    grid_size: int = FULL.grid_size,
    z_range: float = 5.0,
    chunk: int = DECODES_PER_CALL,
    progress: ProgressFn | None = None,
) -> GridResult:
    """log p(x) = log of the integral of p(x|z) N(z; 0, I) over a 2-D grid, per example.

    log_lik_fn(z): z [G, 2] -> log p(x_i | z_g) [n_examples, G]. Kept generic so a
    model with a known marginal can check the quadrature.
    """

    def reduce(z, log_prior, even):
        log_joint = np.asarray(log_lik_fn(z), np.float64) + log_prior
        coarse = _logsumexp(log_joint[:, even]) if even.any() else np.full(n_examples, -np.inf)
        return _logsumexp(log_joint), coarse

    return _quadrature(reduce, n_examples, grid_size, z_range, chunk, progress)


def _quadrature(reduce, n_examples, grid_size, z_range, chunk, progress) -> GridResult:
    """The midpoint rule, chunk by chunk of grid nodes.

    reduce(z [G, 2], log_prior [G], even [G] bool) -> (fine, coarse): per example, the
    log-sum-exp of log p(x|z) + log p(z) over the chunk's nodes, and over its even ones.
    """
    if grid_size < 4 or grid_size % 2:
        raise ValueError("grid_size must be an even number >= 4.")
    h = 2.0 * z_range / grid_size
    axis = -z_range + h * (np.arange(grid_size) + 0.5)
    zz = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2).astype(np.float32)
    even = np.zeros((grid_size, grid_size), bool)
    even[::2, ::2] = True
    even = even.reshape(-1)
    log_prior = gaussian.log_standard_normal(zz.astype(np.float64))
    fine = np.full(n_examples, -np.inf)
    coarse = np.full(n_examples, -np.inf)
    n_chunks = math.ceil(len(zz) / chunk)
    for i in range(n_chunks):
        sl = slice(i * chunk, (i + 1) * chunk)
        f, c = reduce(zz[sl], log_prior[sl], even[sl])
        fine = np.logaddexp(fine, np.asarray(f, np.float64))
        coarse = np.logaddexp(coarse, np.asarray(c, np.float64))
        if progress:
            progress(f"quadrature on a {grid_size}x{grid_size} grid", (i + 1) / n_chunks)
    return GridResult(
        log_px=fine + 2 * math.log(h),
        log_px_coarse=coarse + 2 * math.log(2 * h),
        grid_size=grid_size,
        z_range=z_range,
    )


def _logsumexp(a: np.ndarray) -> np.ndarray:
    m = np.max(a, axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(np.sum(np.exp(a - m[:, None]), axis=1))


def model_grid_log_px(
    model,
    x: np.ndarray,
    *,
    grid_size: int = FULL.grid_size,
    z_range: float | None = None,
    chunk: int = DECODES_PER_CALL,
    progress: ProgressFn | None = None,
) -> GridResult:
    """Quadrature log p(x) for a J = 2 model on images x [N, H, W, C]."""
    if not has_quadrature(model.config.latent_dim):
        raise ValueError("grid quadrature needs latent_dim 2; use iw_log_px for other sizes.")
    if z_range is None:
        # Cover the prior's 5 sigma and every posterior's 6 sigma, so no mass is cut off.
        z_mean, z_log_var = encode(model, x)
        reach = np.abs(z_mean) + 6.0 * np.exp(0.5 * z_log_var)
        z_range = float(np.clip(np.ceil(reach.max() if len(x) else 5.0), 5.0, 12.0))
    reduce = _grid_chunk_fn(model)
    flat = tf.constant(x.reshape(len(x), -1), tf.float32)

    def reduce_chunk(z, log_prior, even):
        # One decoded chunk of the grid serves every image: a matrix product, then the
        # log-sum-exp, fused in one traced call in float32 (its error, about 1e-4 nats
        # at 500 nats, is far below the grid's).
        fine, coarse = reduce(flat, tf.constant(z), tf.constant(log_prior, tf.float32), even)
        return fine.numpy(), coarse.numpy()

    return _quadrature(reduce_chunk, len(x), grid_size, z_range, chunk, progress)


def _grid_chunk_fn(model) -> Callable:
    """(x flat [N, D], z [G, 2], log_prior [G], even [G]) -> log-sum-exps [N], [N]."""
    std = model.config.gaussian_std
    d = int(np.prod(model.config.image_shape))

    def build():
        @tf.function(
            input_signature=[
                tf.TensorSpec([None, d], tf.float32),
                tf.TensorSpec([None, 2], tf.float32),
                tf.TensorSpec([None], tf.float32),
                tf.TensorSpec([None], tf.bool),
            ]
        )
        def fn(flat, z, log_prior, even):
            logits = model.decoder(z, training=False)
            logits = tf.reshape(tf.cast(logits, tf.float32), [tf.shape(z)[0], -1])  # [G, D]
            if model.config.decoder == "bernoulli":
                # sum_d x_d l_d - softplus(l_d) for every (image, grid node) pair at once.
                ll = (
                    tf.matmul(flat, logits, transpose_b=True)
                    - tf.reduce_sum(tf.nn.softplus(logits), axis=1)[None, :]
                )
            else:
                mean = tf.sigmoid(logits)
                sq_dist = (
                    tf.reduce_sum(tf.square(flat), axis=1, keepdims=True)
                    - 2.0 * tf.matmul(flat, mean, transpose_b=True)
                    + tf.reduce_sum(tf.square(mean), axis=1)[None, :]
                )
                ll = gaussian.log_density(sq_dist / std**2, 2.0 * d * math.log(std), d)
            log_joint = ll + log_prior[None, :]
            fine = tf.reduce_logsumexp(log_joint, axis=1)
            coarse = tf.reduce_logsumexp(tf.boolean_mask(log_joint, even, axis=1), axis=1)
            return fine, coarse

        return fn

    return model.traced("grid-chunk", build)


# --- everything the CLI's evaluate prints ---------------------------------------
def evaluate(
    model,
    x_test: np.ndarray,
    *,
    iw_samples: int = DEFAULT.iw_samples,
    grid_size: int = DEFAULT.grid_size,
    grid_images: int | None = DEFAULT.grid_images,
    iw_images: int | None = DEFAULT.iw_images,
    seed: int = 0,
    progress: ProgressFn | None = None,
    elbo: dict[str, float] | None = None,
) -> dict:
    """The metrics written to metrics.json, all in nats per image on ``x_test``.

    -ELBO and its terms are always over every image. log p(x) by quadrature (J = 2)
    and by importance weighting run on ``grid_images`` and ``iw_images`` of them (a
    fixed random subset; None = all), each with its standard error as an estimate of
    the whole set's mean (0 on the whole set). ``progress`` may raise to cancel.
    ``elbo``: the ``elbo_summary`` of these images with this seed when the caller has it
    already (a training's last epoch), so it is not computed twice.
    """
    start = time.perf_counter()
    n = len(x_test)
    summary = elbo if elbo is not None else elbo_summary(model, x_test, seed=seed)
    result: dict = {
        "neg_elbo": summary["neg_elbo"],
        "recon": summary["recon"],
        "kl": summary["kl"],
        "log_px": None,
        "log_px_error": None,
        "log_px_se": None,
        "log_px_images": None,
        "iw_log_px": None,
        "iw_log_px_se": None,
        "iw_images": None,
        "iw_samples": iw_samples,
        "n_images": int(n),
        "elbo_seconds": round(time.perf_counter() - start, 2),
    }
    if has_quadrature(model.config.latent_dim) and n:
        x = x_test[subset(n, grid_images)]
        grid = model_grid_log_px(model, x, grid_size=grid_size, progress=progress)
        result.update(
            log_px=float(np.mean(grid.log_px)),
            log_px_error=grid.error_estimate,
            log_px_se=standard_error(grid.log_px, n),
            log_px_images=len(x),
            grid_size=grid.grid_size,
            grid_range=grid.z_range,
        )
    if iw_samples > 0 and n:
        x = x_test[subset(n, iw_images)]
        iw = iw_log_px(model, x, k=iw_samples, seed=seed, progress=progress)
        result.update(
            iw_log_px=float(np.mean(iw)), iw_log_px_se=standard_error(iw, n), iw_images=len(x)
        )
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


# --- the variance of the two estimators' gradients -----------------------------
def gradient_variance(
    model, x: np.ndarray, *, n_repeats: int = 50, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Variance of the minibatch gradient of -ELBO under SGVB-A and SGVB-B.

    Both estimators see the same minibatch ``x`` and the same noise draws, so the
    difference is the estimator alone. For each parameter group ("encoder",
    "decoder", "all") it returns the variance summed over parameters (the trace of
    the gradient covariance) and the squared norm of the mean gradient.
    """
    encoder_vars = model.encoder.trainable_variables
    decoder_vars = model.decoder.trainable_variables
    out: dict[str, dict[str, float]] = {}
    for estimator in ESTIMATORS:
        fn = model.traced(
            f"grad/{estimator}",
            lambda e=estimator: _grad_fn(model, e, encoder_vars, decoder_vars),
        )
        xb = tf.constant(x, tf.float32)
        draws = [fn(xb, tf.constant([seed, r], tf.int32)) for r in range(n_repeats)]
        parts = {
            "encoder": np.stack([d[0].numpy() for d in draws]).astype(np.float64),
            "decoder": np.stack([d[1].numpy() for d in draws]).astype(np.float64),
        }
        parts["all"] = np.concatenate([parts["encoder"], parts["decoder"]], axis=1)
        out[estimator] = {
            name: {
                "variance": float(np.sum(np.var(g, axis=0, ddof=1))),
                "mean_sq_norm": float(np.sum(np.mean(g, axis=0) ** 2)),
            }
            for name, g in parts.items()
        }
    return out


def _grad_fn(model, estimator: str, encoder_vars, decoder_vars) -> Callable:
    @tf.function(input_signature=[_image_spec(model), tf.TensorSpec([2], tf.int32)])
    def fn(xb, seed_pair):
        with tf.GradientTape() as tape:
            terms = model.elbo_terms(xb, seed_pair, estimator=estimator)
            loss = -tf.reduce_mean(terms["elbo"])
        g_enc, g_dec = tape.gradient(loss, [encoder_vars, decoder_vars])
        return _flat(g_enc), _flat(g_dec)

    return fn


def _flat(gradients) -> tf.Tensor:
    """Every gradient of a group as one vector."""
    return tf.concat([tf.reshape(g, [-1]) for g in gradients], 0)
