"""Small fixtures shared by the checkpoint and CLI tests: tiny configs and tiny data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae.config import VAEConfig

# 8x8 images and a handful of filters: a model builds in well under a second.
TINY_ARCHITECTURE = {"image_shape": (8, 8, 1), "conv_filters": (4, 8), "decoder_base_channels": 4}


def tiny_config(**changes) -> VAEConfig:
    """A VAEConfig small enough for unit tests; ``changes`` override any field."""
    return VAEConfig(**{**TINY_ARCHITECTURE, **changes})


def perturb_weights(model, seed: int) -> None:
    """Overwrite every weight with random values.

    A fresh model built from the same config gets the same initial weights (build_vae
    seeds from the config), so a round trip must use weights no fresh build would have.
    """
    rng = np.random.default_rng(seed)
    for v in model.weights:
        v.assign(rng.normal(0.0, 0.3, size=tuple(v.shape)).astype(np.float32))


def fixed_inputs(config: VAEConfig, seed: int = 0, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Binary images x [n, H, W, C] and latent points z [n, J], fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, *config.image_shape)) > 0.5).astype(np.float32)
    z = rng.normal(size=(n, config.latent_dim)).astype(np.float32)
    return x, z


def weights_of(model) -> dict[str, np.ndarray]:
    return {v.path: np.array(v.numpy()) for v in model.weights}


def write_mnist_npz(folder: Path, n_train: int = 256, n_test: int = 64, seed: int = 0) -> Path:
    """A folder holding ``mnist.npz`` in the keras layout, as ``--data-dir`` expects."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mnist.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, size=n_train, dtype=np.uint8),
        x_test=rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, size=n_test, dtype=np.uint8),
    )
    return path
