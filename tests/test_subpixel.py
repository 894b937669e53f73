"""The sub-pixel Conv2DTranspose computes exactly Keras's function, with Keras's weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae.config import VAEConfig
from vae.model import build_vae
from vae.subpixel import Conv2DTranspose


def pair(filters: int, strides: int, x: tf.Tensor, **kwargs):
    """Keras's layer and ours, built on x and holding the same weights."""
    ref = keras.layers.Conv2DTranspose(filters, 3, strides=strides, padding="same", **kwargs)
    ours = Conv2DTranspose(filters, 3, strides=strides, padding="same", **kwargs)
    ref(x), ours(x)
    rng = np.random.default_rng(0)
    for a, b in zip(ref.weights, ours.weights, strict=True):
        assert a.shape == b.shape  # the same variables, in the same layout
        value = rng.normal(0.0, 0.1, a.shape).astype(np.float32)
        a.assign(value)
        b.assign(value)
    return ref, ours


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "side", "activation"),
    [(32, 64, 7, "relu"), (64, 32, 14, "relu"), (3, 5, 4, None), (2, 1, 1, "sigmoid")],
)
def test_outputs_and_gradients_equal_keras(in_ch, out_ch, side, activation):
    x = tf.random.stateless_normal([3, side, side, in_ch], seed=[1, 2])
    ref, ours = pair(out_ch, 2, x, activation=activation)
    assert ours.is_subpixel
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y_ref, y_ours = ref(x), ours(x)
        loss_ref = tf.reduce_sum(tf.sin(y_ref))
        loss_ours = tf.reduce_sum(tf.sin(y_ours))
    assert y_ours.shape == (3, 2 * side, 2 * side, out_ch)
    np.testing.assert_allclose(y_ours.numpy(), y_ref.numpy(), atol=1e-5)
    for g_ref, g_ours in zip(
        tape.gradient(loss_ref, [x, ref.kernel, ref.bias]),
        tape.gradient(loss_ours, [x, ours.kernel, ours.bias]),
        strict=True,
    ):
        np.testing.assert_allclose(g_ours.numpy(), g_ref.numpy(), atol=1e-4, rtol=1e-4)


def test_other_settings_fall_back_to_keras():
    x = tf.random.stateless_normal([2, 6, 6, 4], seed=[3, 4])
    for strides in (1, 3):
        ref, ours = pair(2, strides, x)
        assert not ours.is_subpixel
        np.testing.assert_allclose(ours(x).numpy(), ref(x).numpy(), atol=1e-6)


def test_default_decoder_uses_it_and_keeps_the_layout():
    model = build_vae(VAEConfig())
    layers = {layer.name: layer for layer in model.decoder.layers}
    assert layers["deconv1"].is_subpixel and layers["deconv2"].is_subpixel
    # The class name the browser export reads, and Keras's kernel layout [k, k, out, in].
    assert type(layers["deconv2"]).__name__ == "Conv2DTranspose"
    assert tuple(layers["deconv2"].kernel.shape) == (3, 3, 32, 64)
    # The whole decoder against one rebuilt with Keras's own layers and the same weights.
    z = tf.random.stateless_normal([16, 2], seed=[5, 6])
    plain = keras.models.clone_model(
        model.decoder,
        clone_function=lambda layer: (
            keras.layers.Conv2DTranspose.from_config(layer.get_config())
            if isinstance(layer, Conv2DTranspose)
            else layer.__class__.from_config(layer.get_config())
        ),
    )
    plain.set_weights(model.decoder.get_weights())
    np.testing.assert_allclose(model.decoder(z).numpy(), plain(z).numpy(), atol=1e-5)
