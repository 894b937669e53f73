"""The manifold: decodings on a grid of latent points (Kingma & Welling, Fig. 4)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from vae import images

GRID_MODES = ("prior", "linear")
# The grid first shown: the paper's Fig. 4 layout at a size that reads on a laptop.
DEFAULT_SIZE = 20
DEFAULT_MODE = "prior"
DEFAULT_SPAN = 3.0  # the linear grid's reach: the prior's 3 sigma


def grid_axis(n: int, mode: str = DEFAULT_MODE, span: float = DEFAULT_SPAN) -> np.ndarray:
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


def manifold(
    model,
    n: int = DEFAULT_SIZE,
    mode: str = DEFAULT_MODE,
    span: float = DEFAULT_SPAN,
    dims: tuple[int, int] = (0, 1),
) -> np.ndarray:
    """Decoded images on an n x n grid, one batched call: [n, n, H, W] in [0, 1].

    Row 0 is the top of the picture, so z2 grows upwards as on a plot. For J > 2 the
    grid spans latent dimensions ``dims`` and every other dimension stays at 0, the
    prior's mean.
    """
    j = model.config.latent_dim
    d1, d2 = dims
    if j < 2:
        raise ValueError("the manifold grid needs at least 2 latent dimensions.")
    if d1 == d2 or not (0 <= d1 < j and 0 <= d2 < j):
        raise ValueError(f"choose two different dimensions between 0 and {j - 1}, not {dims}.")
    # Here, not at the top: the grid's axis and defaults are read by pages that must draw
    # before TensorFlow is imported (the Drag pad outlines the grid).
    from vae import evaluate

    axis = grid_axis(n, mode, span)
    z1, z2 = np.meshgrid(axis, axis[::-1])
    z = np.zeros((n * n, j), np.float32)
    z[:, d1], z[:, d2] = z1.ravel(), z2.ravel()
    images = evaluate.decode(model, z)
    h, w = model.config.image_shape[:2]
    return images[..., 0].reshape(n, n, h, w)


def picture_scale(n: int, image_side: int = 28, target: int = 700) -> int:
    """Whole-number enlargement so an n x n grid of images is at least ``target`` px wide."""
    return max(2, math.ceil(target / (n * image_side)))


def grid_picture(grid: np.ndarray) -> np.ndarray:
    """[n, n, H, W] in [0, 1] -> one uint8 picture [n*H, n*W] with no gaps (as Fig. 4)."""
    n, m, h, w = grid.shape
    return images.tile(grid.reshape(n * m, h, w), cols=m, pad=0)
