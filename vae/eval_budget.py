"""How much work goes into log p(x): the one source of the evaluation settings.

Free of TensorFlow, so ``python -m vae --help`` can show the defaults at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

SUBSET_SEED = 0  # which test images a subset holds; fixed, so runs compare


@dataclass(frozen=True)
class Budget:
    """Quadrature nodes per axis (J = 2), importance samples K, and how many images.

    The quadrature decodes its grid once for all images, so its cost is mostly the
    grid's; the importance-weighted estimate decodes K samples per image, so it is
    the one that a subset of images makes cheap. ``None`` images means all of them.
    """

    grid_size: int  # even; the error estimate compares it with every other node
    iw_samples: int  # importance samples per image; 0 skips the estimate
    grid_images: int | None = None  # test images for the quadrature
    iw_images: int | None = None  # test images for the importance-weighted estimate

    def with_overrides(self, **changes) -> Budget:
        """This budget with the settings that are not None replaced."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# `python -m vae evaluate --full`, `train --full-eval`: every test image, both estimators.
FULL = Budget(grid_size=300, iw_samples=100)
# `python -m vae evaluate`: the full quadrature (one decoded grid serves every image) and
# the importance-weighted cross-check on a subset, reported with its standard error.
DEFAULT = Budget(grid_size=300, iw_samples=100, iw_images=1000)
# The end of a training (CLI and app): seconds, on a subset, each with its standard error.
AFTER_TRAINING = Budget(grid_size=100, iw_samples=10, grid_images=1000, iw_images=1000)
# A handful of digits on the Estimators page: a coarse grid (about 0.1 nats), a tight K.
FEW_DIGITS = Budget(grid_size=100, iw_samples=1000)


def subset(n: int, size: int | None) -> np.ndarray:
    """Indices of a fixed random subset of ``size`` of ``n`` test images, in order.

    Random, not the first ones: a data set's order is not random (MNIST's first 5,000
    test digits are the cleaner half), and a standard error assumes a random sample.
    """
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(SUBSET_SEED).choice(n, size, replace=False))


def standard_error(values: np.ndarray, population: int) -> float:
    """Standard error of the mean of ``values``, a random subset of ``population`` items.

    With the finite-population correction: 0 when the subset is the whole population.
    """
    n = len(values)
    if n < 2 or n >= population:
        return 0.0
    return float(np.std(values, ddof=1) / math.sqrt(n) * math.sqrt(1.0 - n / population))


def budget_options(budget: Budget) -> dict:
    """``evaluate.evaluate``'s keyword arguments for ``budget``."""
    return {
        "iw_samples": budget.iw_samples,
        "grid_size": budget.grid_size,
        "grid_images": budget.grid_images,
        "iw_images": budget.iw_images,
    }
