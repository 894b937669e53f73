"""The two Keras VAEs students train, built here as their sources build them.

``TutorialCVAE`` is the TensorFlow CVAE tutorial's model, ``ExampleVAE`` holds the
Keras VAE example's functional encoder and decoder. ``sigma`` says what the encoder's
second half is: "log_var" as in both sources, or "softplus" (sigma = softplus(raw) +
min_std) as this app trains it.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vae.config import VAEConfig

MIN_STD = VAEConfig().min_std


class TutorialCVAE(keras.Model):
    """The TensorFlow CVAE tutorial's model; ``sigma`` says what the Dense's second half is."""

    def __init__(self, latent_dim: int, sigma: str = "log_var"):
        super().__init__()
        self.latent_dim, self.sigma = latent_dim, sigma
        self.encoder = keras.Sequential(
            [
                keras.layers.InputLayer(shape=(28, 28, 1)),
                keras.layers.Conv2D(32, 3, strides=(2, 2), activation="relu"),
                keras.layers.Conv2D(64, 3, strides=(2, 2), activation="relu"),
                keras.layers.Flatten(),
                keras.layers.Dense(latent_dim + latent_dim),
            ]
        )
        self.decoder = keras.Sequential(
            [
                keras.layers.InputLayer(shape=(latent_dim,)),
                keras.layers.Dense(7 * 7 * 32, activation=tf.nn.relu),
                keras.layers.Reshape(target_shape=(7, 7, 32)),
                keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
                keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same"),
            ]
        )
        # The tutorial trains with its own loop and never calls the model itself.
        self.built = True

    def encode(self, x):
        mean, raw = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, _sigma(raw, self.sigma)

    def decode(self, z):
        return tf.sigmoid(self.decoder(z))


class Sampling(keras.layers.Layer):
    """The Keras example's layer: z = z_mean + exp(z_log_var / 2) * eps."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(shape=keras.ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * eps


class ExampleVAE(keras.Model):
    """The Keras VAE example's encoder and decoder, held as the example's VAE holds them."""

    def __init__(self, latent_dim: int, sigma: str = "log_var"):
        super().__init__()
        self.sigma = sigma
        layers = keras.layers
        x_in = keras.Input(shape=(28, 28, 1))
        h = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(x_in)
        h = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(h)
        h = layers.Flatten()(h)
        h = layers.Dense(16, activation="relu")(h)
        z_mean = layers.Dense(latent_dim, name="z_mean")(h)
        z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
        z = Sampling()([z_mean, z_log_var])
        self.encoder = keras.Model(x_in, [z_mean, z_log_var, z], name="encoder")
        z_in = keras.Input(shape=(latent_dim,))
        h = layers.Dense(7 * 7 * 64, activation="relu")(z_in)
        h = layers.Reshape((7, 7, 64))(h)
        h = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(h)
        h = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(h)
        out = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(h)
        self.decoder = keras.Model(z_in, out, name="decoder")
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.built = True

    def encode(self, x):
        z_mean, raw, _ = self.encoder(x)
        return z_mean, _sigma(raw, self.sigma)

    def decode(self, z):
        return self.decoder(z)


def _sigma(raw, sigma: str):
    if sigma == "log_var":
        return tf.exp(0.5 * raw)
    return tf.nn.softplus(raw) + MIN_STD


KERAS_MODELS = {"tf-tutorial": TutorialCVAE, "keras-example": ExampleVAE}


def saved_keras_model(folder: Path, origin: str, latent_dim: int, sigma: str, seed: int = 0):
    """A Keras model with random non-zero weights and biases, and its .weights.h5 file."""
    keras.utils.set_random_seed(seed)
    model = KERAS_MODELS[origin](latent_dim, sigma)
    rng = np.random.default_rng(seed)
    for v in model.weights:  # fresh biases are zero and fresh decodings near 0.5 everywhere
        v.assign(2.0 * v.numpy() + rng.normal(0.0, 0.1, v.shape).astype(np.float32))
    path = folder / "model.weights.h5"
    model.save_weights(path)
    return model, path
