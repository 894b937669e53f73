"""The reference variant: the TensorFlow CVAE tutorial's loss, step and input pipeline.

Kept as in tensorflow/docs tutorials/generative/cvae, on ``vae.model.build_vae``'s
network, except that the noise takes tf.shape (the tutorial's mean.shape breaks on a
short batch).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from elbo_tracker import Tracker

from vae.config import VAEConfig
from vae.model import VAE, build_vae


def tutorial_log_normal_pdf(sample, mean, logvar, raxis=1):
    log2pi = tf.math.log(2.0 * np.pi)
    return tf.reduce_sum(
        -0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=raxis
    )


def tutorial_compute_loss(model: VAE, x: tf.Tensor) -> tf.Tensor:
    """Negative SGVB-A: -(log p(x|z) + log p(z) - log q(z|x)), one z per image."""
    mean, logvar = model.encode(x)
    z = tf.random.normal(tf.shape(mean)) * tf.exp(logvar * 0.5) + mean
    x_logit = model.decode(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
    logpz = tutorial_log_normal_pdf(z, 0.0, 0.0)
    logqz_x = tutorial_log_normal_pdf(z, mean, logvar)
    return -tf.reduce_mean(logpx_z + logpz - logqz_x)


@tf.function
def tutorial_train_step(model: VAE, x: tf.Tensor, optimizer) -> None:
    with tf.GradientTape() as tape:
        loss = tutorial_compute_loss(model, x)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))


def run_reference(
    config: VAEConfig, x_train: np.ndarray, make_tracker: Callable[[VAE], Tracker]
) -> Tracker:
    """Train with the tutorial's loop until the tracker says stop; config: network and settings."""
    model = build_vae(config)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    tracker = make_tracker(model)
    train_dataset = (
        tf.data.Dataset.from_tensor_slices(x_train)
        .shuffle(len(x_train), seed=config.seed)
        .batch(config.batch_size)
    )
    step = images = 0
    start = time.perf_counter()
    while True:
        for train_x in train_dataset:
            tutorial_train_step(model, train_x, optimizer)  # synchronous on the CPU
            step += 1
            images += int(train_x.shape[0])
            clock = time.perf_counter() - start - tracker.eval_seconds
            if tracker.after_step(step, images, clock):
                return tracker
