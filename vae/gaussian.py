"""The Gaussian log-density, written once for the loss, log p(x) and the app's figures.

The loss runs in TensorFlow (inside tf.function, with gradients); the figures and the
quadrature run in numpy. ``log_normal`` and ``log_standard_normal`` take either: given a
TensorFlow tensor they use TensorFlow's numpy API, otherwise numpy, and TensorFlow is
never imported here.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


def log_density(sq_distance: Any, log_det: Any, dim: int) -> Any:
    """log N at a point whose squared Mahalanobis distance from the mean is ``sq_distance``.

    -(dim log 2π + log|Σ| + d²) / 2, for a ``dim``-dimensional Gaussian with covariance
    determinant exp(``log_det``). Plain arithmetic, so arrays, tensors and floats all work.
    """
    return -0.5 * (dim * LOG_2PI + log_det + sq_distance)


def log_normal(z: Any, mean: Any, log_var: Any) -> Any:
    """log N(z; mean, diag exp(log_var)), summed over the last axis.

    z, mean, log_var: [..., J] (broadcasting) -> [...].
    """
    xp = _ops(z, mean, log_var)
    return -0.5 * xp.sum(LOG_2PI + log_var + xp.square(z - mean) * xp.exp(-log_var), axis=-1)


def log_standard_normal(z: Any) -> Any:
    """log N(z; 0, I), summed over the last axis. z: [..., J] -> [...]."""
    xp = _ops(z)
    return -0.5 * xp.sum(LOG_2PI + xp.square(z), axis=-1)


def _ops(*arrays: Any):
    """numpy, or TensorFlow's numpy API when any input is a TensorFlow tensor."""
    # A tensor exists only once TensorFlow is loaded. While another thread (the app's
    # warm-up) is still importing it, the module is listed but lacks is_tensor, and
    # there is no tensor yet either.
    is_tensor = getattr(sys.modules.get("tensorflow"), "is_tensor", None)
    if is_tensor is not None and any(is_tensor(a) for a in arrays):
        import tensorflow.experimental.numpy as tnp

        return tnp
    return np
