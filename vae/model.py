"""The convolutional VAE of Kingma & Welling (2014), as in the TensorFlow CVAE tutorial.

Encoder q(z|x) = N(z_mean, diag exp(z_log_var)); prior p(z) = N(0, I); decoder
p(x|z) Bernoulli (logits) or Gaussian (mean = sigmoid of the same output).
``VAE.train_step`` calls the pure functions in ``vae.losses``, so ``fit()`` and
Keras callbacks work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from vae import losses
from vae.config import VAEConfig


def build_encoder(config: VAEConfig) -> keras.Model:
    """x: [batch, H, W, C] -> [batch, 2J] (the means, then sigma's raw values)."""
    f1, f2 = config.conv_filters
    dt = config.precision  # a dtype policy; variables stay float32 either way
    pad = config.encoder_padding
    x = keras.Input(shape=config.image_shape, name="x")
    h = keras.layers.Conv2D(
        f1, 3, strides=2, padding=pad, activation="relu", name="conv1", dtype=dt
    )(x)
    h = keras.layers.Conv2D(
        f2, 3, strides=2, padding=pad, activation="relu", name="conv2", dtype=dt
    )(h)
    h = keras.layers.Flatten(name="flatten", dtype=dt)(h)
    if config.encoder_hidden:
        h = keras.layers.Dense(config.encoder_hidden, activation="relu", name="hidden", dtype=dt)(h)
    out = keras.layers.Dense(2 * config.latent_dim, name="z_params", dtype="float32")(h)
    return keras.Model(x, out, name="encoder")


def build_decoder(config: VAEConfig) -> keras.Model:
    """z: [batch, J] -> x_logits: [batch, H, W, C]."""
    h_img, w_img, c_img = config.image_shape
    f1, f2 = config.conv_filters
    dt = config.precision
    base = (h_img // 4, w_img // 4, config.decoder_base_channels)
    z = keras.Input(shape=(config.latent_dim,), name="z")
    h = keras.layers.Dense(int(np.prod(base)), activation="relu", name="dense", dtype=dt)(z)
    h = keras.layers.Reshape(base, name="reshape", dtype=dt)(h)
    h = keras.layers.Conv2DTranspose(
        f2, 3, strides=2, padding="same", activation="relu", name="deconv1", dtype=dt
    )(h)
    h = keras.layers.Conv2DTranspose(
        f1, 3, strides=2, padding="same", activation="relu", name="deconv2", dtype=dt
    )(h)
    # The likelihood needs float32 logits: bfloat16 has 8 bits of mantissa.
    out = keras.layers.Conv2DTranspose(
        c_img, 3, strides=1, padding="same", name="x_logits", dtype="float32"
    )(h)
    return keras.Model(z, out, name="decoder")


class VAE(keras.Model):
    """A VAE whose training step is the negative SGVB estimator named in its config."""

    def __init__(self, config: VAEConfig, **kwargs):
        super().__init__(name="vae", **kwargs)
        self.config = config
        self.encoder = build_encoder(config)
        self.decoder = build_decoder(config)
        self._estimator = losses.ESTIMATOR_FUNCTIONS[config.estimator]
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # Every tf.function of this model, by purpose: traced once, reused by every caller.
        self._traced: dict[str, Callable] = {}
        # One trace serves a single point and a batch of any size.
        self.traced(
            "decode",
            lambda: tf.function(
                self._decode_probs,
                input_signature=[tf.TensorSpec([None, config.latent_dim], tf.float32)],
                reduce_retracing=True,
            ),
        )
        self.traced(
            "encode",
            lambda: tf.function(
                self.encode,
                input_signature=[tf.TensorSpec([None, *config.image_shape], tf.float32)],
            ),
        )
        # Building now creates every variable, so weights can be loaded at once.
        self(tf.zeros([1, *config.image_shape]))

    # --- traced functions ------------------------------------------------------
    def traced(self, name: str, build: Callable[[], Callable]) -> Callable:
        """This model's tf.function ``name``, made by ``build`` on first use and then reused."""
        if name not in self._traced:
            self._traced[name] = build()
        return self._traced[name]

    @property
    def traced_functions(self) -> dict[str, Callable]:
        """Every tf.function built so far, by name (a copy)."""
        return dict(self._traced)

    @property
    def decode_fn(self) -> Callable:
        """z [batch, J] -> pixel probabilities [batch, H, W, C], one trace for any batch."""
        return self._traced["decode"]

    @property
    def encode_fn(self) -> Callable:
        """x [batch, H, W, C] -> (z_mean, z_log_var), each [batch, J]."""
        return self._traced["encode"]

    # --- the model -------------------------------------------------------------
    def encode(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """x: [batch, H, W, C] -> (z_mean, z_log_var), each [batch, J].

        sigma = softplus(raw) + min_std keeps sigma positive and its log finite
        with gradients everywhere, where a hard clamp would stop them; with
        ``sigma="log_var"`` raw is z_log_var itself, as the Keras examples train it.
        """
        h = self.encoder(x)
        z_mean, raw = tf.split(h, 2, axis=-1)
        if self.config.sigma == "log_var":
            return z_mean, raw
        z_std = tf.nn.softplus(raw) + self.config.min_std
        return z_mean, 2.0 * tf.math.log(z_std)

    @staticmethod
    def reparameterize(z_mean: tf.Tensor, z_log_var: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
        """z = mu + sigma * eps; eps: [..., batch, J] broadcasts over leading axes."""
        return losses.reparameterize(z_mean, z_log_var, eps)

    def decode(self, z: tf.Tensor, apply_sigmoid: bool = False) -> tf.Tensor:
        """z: [batch, J] -> x_logits [batch, H, W, C]; probabilities with apply_sigmoid."""
        x_logits = self.decoder(z)
        return tf.sigmoid(x_logits) if apply_sigmoid else x_logits

    def _decode_probs(self, z: tf.Tensor) -> tf.Tensor:
        return self.decode(z, apply_sigmoid=True)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n images drawn through the prior: [n, H, W, C] pixel probabilities."""
        z = tf.random.stateless_normal([n, self.config.latent_dim], seed=[seed, 0])
        return self.decode_fn(z).numpy()

    def call(self, x: tf.Tensor) -> tf.Tensor:
        z_mean, _ = self.encode(x)
        return self.decode(z_mean)

    def log_likelihood(self, x: tf.Tensor, x_logits: tf.Tensor) -> tf.Tensor:
        """log p(x|z) for the configured decoder.

        x: [batch, H, W, C]; x_logits: [..., batch, H, W, C] -> [..., batch].
        """
        if self.config.decoder == "gaussian":  # the mean lives in [0, 1] like the pixels
            return losses.gaussian_log_likelihood(x, tf.sigmoid(x_logits), self.config.gaussian_std)
        return losses.bernoulli_log_likelihood(x, x_logits)

    def elbo_terms(
        self,
        x: tf.Tensor,
        seed: tf.Tensor,
        n_samples: int | None = None,
        estimator: str | None = None,
        beta: float | None = None,
    ) -> dict[str, tf.Tensor]:
        """Per-example recon, kl and elbo, each [batch], with L samples of z ~ q(z|x).

        ``elbo`` weighs the KL by ``beta`` (the config's β, the training objective, if
        None); ``beta=1.0`` gives the true ELBO, which every reported figure uses.

        seed: int32 [2] for stateless noise, so a run is reproducible and a resumed
        run draws exactly the noise the uninterrupted run would have drawn.
        """
        n_samples = self.config.n_samples if n_samples is None else n_samples
        estimator_fn = losses.ESTIMATOR_FUNCTIONS[estimator] if estimator else self._estimator
        z_mean, z_log_var = self.encode(x)
        eps = tf.random.stateless_normal(
            tf.concat([[n_samples], tf.shape(z_mean)], axis=0), seed=seed, dtype=z_mean.dtype
        )
        z = self.reparameterize(z_mean, z_log_var, eps)  # [L, batch, J]
        flat_z = tf.reshape(z, [-1, self.config.latent_dim])
        x_logits = self.decode(flat_z)
        x_logits = tf.reshape(
            x_logits, tf.concat([[n_samples, tf.shape(x)[0]], self.config.image_shape], axis=0)
        )
        recon_samples = self.log_likelihood(x, x_logits)  # [L, batch]
        beta = self.config.beta if beta is None else beta
        return estimator_fn(recon_samples, z, z_mean, z_log_var, beta)

    # --- Keras training hooks --------------------------------------------------
    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.recon_tracker, self.kl_tracker]

    def _step_seed(self) -> tf.Tensor:
        # Distinct noise per step and per replica, derived from saved state only.
        replica = tf.distribute.get_replica_context()
        replica_id = 0 if replica is None else replica.replica_id_in_sync_group
        step = tf.cast(self.optimizer.iterations, tf.int64)
        seed = tf.stack([tf.constant(self.config.seed, tf.int64), step])
        return tf.random.experimental.stateless_fold_in(seed, replica_id)

    def _update_metrics(self, terms: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        self.loss_tracker.update_state(-terms["elbo"])
        self.recon_tracker.update_state(-terms["recon"])
        self.kl_tracker.update_state(terms["kl"])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(x, self._step_seed())
            loss = -tf.reduce_mean(terms["elbo"])
            # Gradients are summed across replicas, so each replica's mean is scaled.
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return self._update_metrics(terms)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        # Evaluation always uses the analytic KL (same expectation, less noise) and the
        # true ELBO (β = 1), whatever β the model is trained with.
        terms = self.elbo_terms(
            x, tf.constant([self.config.seed, -1]), estimator="sgvb-b", beta=1.0
        )
        return self._update_metrics(terms)


def build_vae(config: VAEConfig) -> VAE:
    """Create a VAE with every variable built, seeded from ``config.seed``."""
    keras.utils.set_random_seed(config.seed)
    return VAE(config)
