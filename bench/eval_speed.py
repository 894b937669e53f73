"""Quadrature log p(x): the fused grid (vae.evaluate) against the float64 NumPy reduction.

Both decode the same grid chunk by chunk and form every (image, node) log-likelihood
with one matrix product; the reference then adds the prior and takes the log-sum-exp
in float64 NumPy on one core (how vae.evaluate did it before), the fused path does it
in the same traced float32 call. Same run, same images, back to back, so the ratio
holds on a loaded machine. Prints one JSON line.

    python bench/eval_speed.py [--checkpoint checkpoints/mnist-2d] [--images 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vae import checkpoint, evaluate  # noqa: E402
from vae.data import load_dataset, to_model_input  # noqa: E402


def reference_log_lik(model, x: np.ndarray):
    """log p(x_i | z_g) [N, G] as a float64 array, the float64 path's input."""
    flat = tf.constant(x.reshape(len(x), -1), tf.float32)

    def log_lik(z: np.ndarray) -> np.ndarray:
        logits = tf.reshape(model.decoder(tf.constant(z), training=False), [len(z), -1])
        ll = (
            tf.matmul(flat, logits, transpose_b=True)
            - tf.reduce_sum(tf.nn.softplus(logits), axis=1)[None, :]
        )
        return ll.numpy()

    return log_lik


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=Path("checkpoints/mnist-2d"))
    p.add_argument("--images", type=int, default=2000, help="test images (a fixed subset)")
    p.add_argument("--grid-size", type=int, default=evaluate.FULL.grid_size)
    args = p.parse_args()
    model = checkpoint.load_checkpoint(args.checkpoint).model
    if model.config.decoder != "bernoulli" or model.config.latent_dim != 2:
        sys.exit("this benchmark needs a J = 2 model with a Bernoulli decoder.")
    x_all = to_model_input(load_dataset(model.config.dataset).x_test, model.config.decoder)
    x = x_all[evaluate.subset(len(x_all), args.images)]
    z_mean, z_log_var = evaluate.encode(model, x)
    reach = np.abs(z_mean) + 6.0 * np.exp(0.5 * z_log_var)
    z_range = float(np.clip(np.ceil(reach.max()), 5.0, 12.0))
    evaluate.model_grid_log_px(model, x[:2], grid_size=4, z_range=z_range)  # trace once

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    ref = evaluate.grid_log_px(
        reference_log_lik(model, x), len(x), grid_size=args.grid_size, z_range=z_range
    )
    ref_s = time.perf_counter() - start
    start = time.perf_counter()
    new = evaluate.model_grid_log_px(model, x, grid_size=args.grid_size, z_range=z_range)
    new_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "images": len(x),
                "grid_size": args.grid_size,
                "z_range": z_range,
                "float64_numpy_s": round(ref_s, 1),
                "fused_s": round(new_s, 1),
                "speedup": round(ref_s / new_s, 2),
                "log_px_float64": round(float(np.mean(ref.log_px)), 4),
                "log_px_fused": round(float(np.mean(new.log_px)), 4),
                "max_abs_diff": float(np.max(np.abs(ref.log_px - new.log_px))),
                "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            }
        )
    )


if __name__ == "__main__":
    main()
