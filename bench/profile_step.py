"""What this CPU can do for the VAE: a big matmul's GFLOP/s, the bare training step's
forward / forward+backward / Adam times, and each layer's forward+backward time alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from flops import layer_macs, train_flops_per_image
from progress_log import log

from vae.config import VAEConfig
from vae.model import build_vae


def layer_profile(config: VAEConfig, seconds: float) -> dict[str, dict[str, float]]:
    """Forward + backward time and GFLOP/s of each layer alone, at the config's batch.

    Shows where a step's time goes: layers with one input or output channel do
    little arithmetic per byte and run far below the matmul peak.
    """
    model = build_vae(config)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random([config.batch_size, *config.image_shape]) < 0.13, tf.float32)
    inputs = {}
    h = x
    for layer in model.encoder.layers[1:]:
        inputs[layer.name] = h
        h = layer(h)
    h = tf.random.stateless_normal([config.batch_size, config.latent_dim], seed=[0, 0])
    for layer in model.decoder.layers[1:]:
        inputs[layer.name] = h
        h = layer(h)
    out = {}
    for layer, macs in layer_macs(model):
        x_in = inputs[layer.name]

        @tf.function
        def forward_backward(layer=layer, x_in=x_in):
            with tf.GradientTape() as tape:
                tape.watch(x_in)
                y = layer(x_in)
            grads = [x_in, *layer.trainable_variables]
            return tape.gradient(y, grads, output_gradients=tf.ones_like(y))

        ms = _time_ms(forward_backward, seconds)
        gflops = 6.0 * macs * config.batch_size / (ms * 1e-3) / 1e9
        out[layer.name] = {
            "ms": round(ms, 3),
            "gflops": round(gflops, 1),
            "mmacs": round(macs / 1e6, 4),
        }
    return out


def _time_ms(fn: Callable[[], Any], seconds: float) -> float:
    """Mean ms per call of fn, after one untimed call that traces it."""
    fn()
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or reps < 3:
        fn()
        reps += 1
    return 1e3 * (time.perf_counter() - start) / reps


def matmul_gflops(dtype: tf.DType, n: int, seconds: float) -> float:
    """GFLOP/s of an n x n matmul: the most this CPU gives TensorFlow in practice."""
    a = tf.cast(tf.random.normal([n, n]), dtype)
    b = tf.cast(tf.random.normal([n, n]), dtype)
    matmul = tf.function(tf.matmul)
    matmul(a, b).numpy()
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = matmul(a, b)
        reps += 1
    out.numpy()
    return 2.0 * n**3 * reps / (time.perf_counter() - start) / 1e9


def step_profile(config: VAEConfig, seconds: float) -> dict[str, float]:
    """ms per batch of the forward pass, forward + backward, and a whole Adam step.

    Runs the model's own ``elbo_terms`` in plain tf.functions on one fixed batch:
    no input pipeline, no Keras ``fit`` and no callbacks.
    """
    model = build_vae(config)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    x = tf.constant((rng.random([config.batch_size, *config.image_shape]) < 0.13), tf.float32)
    seed = tf.constant([0, 0])

    def loss_fn():
        return -tf.reduce_mean(model.elbo_terms(x, seed)["elbo"])

    @tf.function
    def forward():
        return loss_fn()

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, model.trainable_variables)

    @tf.function
    def full_step():
        grads = forward_backward()
        optimizer.apply(grads, model.trainable_variables)
        return grads[0]

    passes = {"forward": forward, "forward_backward": forward_backward, "step": full_step}
    out = {f"{name}_ms": round(_time_ms(fn, seconds), 3) for name, fn in passes.items()}
    out["step_images_per_s"] = round(config.batch_size / out["step_ms"] * 1e3, 1)
    return out


def profile_key(batch_size: int, precision: str) -> str:
    """How the ceiling's step profiles are keyed: one per batch size and precision."""
    return f"batch{batch_size}-{precision}"


def ceiling(configs: dict[str, VAEConfig], quick: bool) -> dict[str, Any]:
    """FLOPs per image, matmul peaks, each config's step profile, the last one's layers."""
    log("ceiling: matmul peak and per-step profile")
    flops = train_flops_per_image(configs[next(iter(configs))])
    n, seconds = (1024, 0.5) if quick else (2048, 3.0)
    peak32 = matmul_gflops(tf.float32, n, seconds)
    peak16 = matmul_gflops(tf.bfloat16, n, seconds)
    result: dict[str, Any] = {
        "forward_mflop_per_image": round(flops["forward"] / 1e6, 3),
        "train_mflop_per_image": round(flops["train"] / 1e6, 3),
        "matmul_gflops_float32": round(peak32, 1),
        "matmul_gflops_bfloat16": round(peak16, 1),
        "images_per_s_at_float32_peak": round(peak32 * 1e9 / flops["train"], 0),
        "images_per_s_at_bfloat16_peak": round(peak16 * 1e9 / flops["train"], 0),
        "steps": {},
    }
    seen = set()
    for name, config in configs.items():
        key = (config.batch_size, config.precision)
        if key in seen:
            continue
        seen.add(key)
        prof = step_profile(config, 0.5 if quick else 3.0)
        achieved = prof["step_images_per_s"] * flops["train"] / 1e9
        peak = peak16 if config.precision == "mixed_bfloat16" else peak32
        prof["achieved_gflops"] = round(achieved, 1)
        prof["fraction_of_matmul_peak"] = round(achieved / peak, 3)
        result["steps"][profile_key(config.batch_size, config.precision)] = prof
        log(f"  {name}: batch {config.batch_size} {config.precision}: {prof}")
    last = configs[next(reversed(configs))]
    result["layers"] = {
        "config": profile_key(last.batch_size, last.precision),
        **layer_profile(last, 0.3 if quick else 1.5),
    }
    log(f"  layers at {result['layers']['config']}: {result['layers']}")
    return result
