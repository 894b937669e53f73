"""FLOPs of the VAE counted from its layer shapes."""

from __future__ import annotations

import math

import keras

from vae.config import VAEConfig
from vae.model import VAE, build_vae


def layer_macs(model: VAE) -> list[tuple[keras.layers.Layer, int]]:
    """(layer, multiply-adds per image) for every layer with weights, input to output."""
    out = []
    for net in (model.encoder, model.decoder):
        for layer in net.layers:
            if not layer.weights:
                continue
            kernel = layer.kernel.shape
            if isinstance(layer, keras.layers.Conv2DTranspose):  # kernel [k, k, out, in]
                _, h, w, _ = layer.input.shape
                out.append((layer, h * w * math.prod(kernel)))
            elif isinstance(layer, keras.layers.Conv2D):  # kernel [k, k, in, out]
                _, h, w, _ = layer.output.shape
                out.append((layer, h * w * math.prod(kernel)))
            else:  # Dense
                out.append((layer, math.prod(kernel)))
    return out


def train_flops_per_image(config: VAEConfig) -> dict[str, float]:
    """FLOPs of one image's forward and training (forward + backward) pass.

    Counted from the layer shapes as 2 x multiply-adds; backward is twice forward
    (input and weight gradients) minus the input gradient of the first layer.
    Element-wise work (activations, softplus, Adam) is left out.
    """
    macs = [m for _, m in layer_macs(build_vae(config))]
    forward = 2.0 * sum(macs)
    backward = 2.0 * forward - 2.0 * macs[0]
    return {"forward": forward, "train": forward + backward}
