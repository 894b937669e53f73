"""vae.gaussian: one log-density for numpy arrays and TensorFlow tensors alike."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from vae import gaussian


def test_log_normal_matches_scipy_on_tensors_and_arrays() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3))
    mean = rng.normal(size=(4, 3))
    log_var = rng.normal(size=(4, 3))
    expected = stats.norm.logpdf(z, mean, np.exp(0.5 * log_var)).sum(-1)
    got = gaussian.log_normal(tf.constant(z), tf.constant(mean), tf.constant(log_var))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    on_arrays = gaussian.log_normal(z, mean, log_var)
    assert isinstance(on_arrays, np.ndarray)
    np.testing.assert_allclose(on_arrays, expected, rtol=1e-12)
    np.testing.assert_allclose(
        gaussian.log_standard_normal(tf.constant(z)).numpy(),
        stats.norm.logpdf(z).sum(-1),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        gaussian.log_standard_normal(z), stats.norm.logpdf(z).sum(-1), rtol=1e-12
    )


def test_log_density_of_hand_computed_points() -> None:
    # N(0, I_2) at the origin: -log 2π; one unit out along an axis: half a nat less.
    assert gaussian.log_density(0.0, 0.0, 2) == pytest.approx(-math.log(2 * math.pi))
    assert gaussian.log_density(1.0, 0.0, 2) == pytest.approx(-math.log(2 * math.pi) - 0.5)
    # A full covariance: scipy's density at a point, from its Mahalanobis distance.
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    x = np.array([0.7, -1.2])
    d2 = x @ np.linalg.solve(cov, x)
    want = stats.multivariate_normal(np.zeros(2), cov).logpdf(x)
    got = gaussian.log_density(d2, math.log(np.linalg.det(cov)), 2)
    assert got == pytest.approx(want, rel=1e-12)


def test_log_normal_keeps_gradients_inside_a_tf_function() -> None:
    mean = tf.Variable([[0.5, -1.0]])

    @tf.function
    def loss(z):
        return tf.reduce_sum(gaussian.log_normal(z, mean, tf.zeros([1, 2])))

    z = tf.constant([[1.0, 1.0]])
    with tf.GradientTape() as tape:
        value = loss(z)
    # d/dμ log N(z; μ, I) = z - μ.
    np.testing.assert_allclose(tape.gradient(value, mean).numpy(), [[0.5, 2.0]], rtol=1e-6)
    assert value.dtype == tf.float32


def test_numpy_inputs_while_tensorflow_is_still_being_imported(monkeypatch):
    # Another thread importing TensorFlow lists a module that has no is_tensor yet.
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    z = np.array([[0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_allclose(
        gaussian.log_standard_normal(z), [-np.log(2 * np.pi), -np.log(2 * np.pi) - 1.0]
    )
