"""Where SGVB-A's extra gradient noise lives: per term, per image's σ, and over training.

SGVB-A and SGVB-B differ in the KL term only. Every gradient that reaches the encoder's
weights passes through its outputs μ and log σ², so the noise is measured there, image
by image: over many draws of ε, the variance of the gradient of −ELBO's terms with
respect to (μ, log σ²), summed over the latent dimensions. Under B the KL's gradient is
exact (variance 0); under A it is sampled, and for z = μ + σε its variance is, per
dimension, σ² with respect to μ and σ²(μ² + 2σ²)/4 with respect to log σ²
(``kl_a_closed_form``). The reconstruction's noise comes from the decoder and is the
same under both. So A's extra noise matters where σ is large next to how sharply the
decoder's output changes with z: at initialisation, not on a trained model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vae import losses, train
from vae.config import VAEConfig
from vae.model import VAE

DRAWS = 32  # draws of ε per image; the variances are over these
IMAGES = 128  # test images measured per stage
STEPS = (0, 25, 100, 300)  # training steps of a fresh copy at which it is measured
SEED = 11


@dataclass(frozen=True)
class Noise:
    """Per image [N]: its mean σ, and the variance over ε of the gradient with respect
    to (μ, log σ²) of the reconstruction term, of each estimator's KL term, and of each
    estimator's whole −ELBO."""

    label: str
    steps: int | None  # training steps of the fresh copy; None for the model as trained
    sigma: np.ndarray
    recon: np.ndarray
    kl_a: np.ndarray
    kl_b: np.ndarray
    elbo_a: np.ndarray
    elbo_b: np.ndarray

    @property
    def ratio(self) -> np.ndarray:
        """A's variance over B's, per image."""
        return self.elbo_a / np.maximum(self.elbo_b, np.finfo(np.float64).tiny)

    def summary(self) -> dict[str, float | str]:
        return {
            "stage": self.label,
            "median_sigma": float(np.median(self.sigma)),
            "median_ratio": float(np.median(self.ratio)),
            "all_ratio": float(np.sum(self.elbo_a) / np.sum(self.elbo_b)),
            "kl_share_of_a": float(np.sum(self.kl_a) / np.sum(self.elbo_a)),
        }


def measure(
    model: VAE,
    x: np.ndarray,
    label: str,
    *,
    steps: int | None = None,
    draws: int = DRAWS,
    seed: int = SEED,
) -> Noise:
    """The gradient noise of ``model`` on images ``x`` [N, H, W, C], over ``draws`` ε."""
    n, j = len(x), model.config.latent_dim
    z_mean, z_log_var = model.encode(tf.constant(x, tf.float32))
    mu = tf.reshape(tf.broadcast_to(z_mean, [draws, n, j]), [-1, j])
    log_var = tf.reshape(tf.broadcast_to(z_log_var, [draws, n, j]), [-1, j])
    x_rep = tf.reshape(tf.broadcast_to(x, [draws, *x.shape]), [-1, *x.shape[1:]])
    eps = tf.random.stateless_normal([1, draws * n, j], seed=[seed, 0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([mu, log_var])
        z = model.reparameterize(mu, log_var, eps)  # [1, draws*n, J]
        logits = model.decode(z[0])[None]
        recon_samples = model.log_likelihood(x_rep, logits)  # [1, draws*n]
        a = losses.sgvb_a(recon_samples, z, mu, log_var, 1.0)
        b = losses.sgvb_b(recon_samples, z, mu, log_var, 1.0)
        # Each row depends on its own (μ, log σ²) only: one gradient gives every draw's.
        totals = {
            "recon": -tf.reduce_sum(a["recon"]),
            "kl_a": tf.reduce_sum(a["kl"]),
            "kl_b": tf.reduce_sum(b["kl"]),
            "elbo_a": -tf.reduce_sum(a["elbo"]),
            "elbo_b": -tf.reduce_sum(b["elbo"]),
        }
    out = {}
    for name, total in totals.items():
        g = tf.concat(tape.gradient(total, [mu, log_var]), axis=-1).numpy().astype(np.float64)
        out[name] = np.sum(np.var(g.reshape(draws, n, 2 * j), axis=0, ddof=1), axis=-1)
    del tape
    sigma = np.mean(np.exp(0.5 * z_log_var.numpy().astype(np.float64)), axis=-1)
    return Noise(label=label, steps=steps, sigma=sigma, **out)


def kl_a_closed_form(z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    """The variance of SGVB-A's KL gradient with respect to (μ, log σ²), per image [N]:
    Σ_j σ² + σ²(μ² + 2σ²)/4, for z_mean, z_log_var [N, J]."""
    var = np.exp(z_log_var.astype(np.float64))
    return np.sum(var + var * (z_mean.astype(np.float64) ** 2 + 2 * var) / 4, axis=-1)


def over_training(
    config: VAEConfig,
    x_train: np.ndarray,
    x_probe: np.ndarray,
    *,
    steps: Sequence[int] = STEPS,
    progress: Callable[[float, str], None] | None = None,
) -> list[Noise]:
    """A fresh copy of ``config``'s model, initialised and trained as ``vae train`` does
    (same seed, optimizer and batches), measured on ``x_probe`` at each of ``steps``."""
    steps = sorted(set(int(s) for s in steps))
    model = train.compiled_vae(config, len(x_train))
    per_epoch = len(x_train) // min(config.batch_size, len(x_train))
    epochs = -(-steps[-1] // per_epoch) + 1
    batches, _ = train.make_train_dataset(x_train, config.batch_size, config.seed, 0, epochs)
    step = tf.function(model.train_step)
    batch_iter = iter(batches)
    out: list[Noise] = []
    done = 0
    for target in steps:
        while done < target:
            step(next(batch_iter))
            done += 1
            if progress is not None and done % 5 == 0:
                progress(done / max(steps[-1], 1), f"training step {done} of {steps[-1]}")
        label = "at initialisation" if target == 0 else f"after {target} steps"
        out.append(measure(model, x_probe, label, steps=target))
    return out


def lesson(
    model: VAE,
    epoch: int,
    x_train: np.ndarray,
    x_test: np.ndarray,
    *,
    steps: Sequence[int] = STEPS,
    progress: Callable[[float, str], None] | None = None,
) -> list[Noise]:
    """The noise over a fresh copy's first ``steps`` and on ``model`` itself, trained for
    ``epoch`` epochs, each measured on the first IMAGES images of ``x_test``."""
    probe = x_test[:IMAGES]
    stages = over_training(model.config, x_train, probe, steps=steps, progress=progress)
    if progress is not None:
        progress(1.0, "measuring the trained model")
    trained = f"trained ({epoch} epoch{'' if epoch == 1 else 's'})"
    return [*stages, measure(model, probe, trained)]
