"""Points in the latent plane: the manifold grid of Kingma & Welling, Fig. 4."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from vae import evaluate

GRID_MODES = ("prior", "linear")


def grid_axis(n: int, mode: str = "prior", span: float = 3.0) -> np.ndarray:
    """n coordinates along one latent axis.

    "prior": the Gaussian's inverse CDF at evenly spaced probabilities, so each cell
    holds equal prior mass (Fig. 4 of the paper); ``span`` is unused.
    "linear": evenly spaced from -span to +span.
    """
    if not 1 <= n <= 100:
        raise ValueError(f"grid size {n} is out of range; choose 1 to 100.")
    if mode == "prior":
        probs = (np.arange(n) + 0.5) / n
        return np.array([NormalDist().inv_cdf(p) for p in probs], np.float32)
    if mode == "linear":
        if not 0 < span <= 20:
            raise ValueError(f"span {span} is out of range; choose a value in (0, 20].")
        return np.linspace(-span, span, n, dtype=np.float32)
    raise ValueError(f"grid mode {mode!r} is not one of {', '.join(GRID_MODES)}.")


def manifold(model, n: int = 20, mode: str = "prior", span: float = 3.0) -> np.ndarray:
    """Decoded images on an n x n grid, one batched call: [n, n, H, W] in [0, 1].

    Row 0 is the top of the picture, so z2 grows upwards as on a plot.
    """
    if model.config.latent_dim != 2:
        raise ValueError("the manifold grid needs a 2-D latent space.")
    axis = grid_axis(n, mode, span)
    z1, z2 = np.meshgrid(axis, axis[::-1])
    z = np.stack([z1.ravel(), z2.ravel()], axis=1)
    images = evaluate.decode(model, z)
    h, w = model.config.image_shape[:2]
    return images[..., 0].reshape(n, n, h, w)
