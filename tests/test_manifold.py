"""vae.latent: the grid axes, the manifold's layout, and paths between two codes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from tests.helpers import tiny_config
from vae import evaluate, interpolate, manifold


@pytest.mark.parametrize("n", [1, 2, 5, 20, 30])
def test_prior_axis_is_the_gaussian_inverse_cdf_at_cell_midpoints(n):
    expected = norm.ppf((np.arange(n) + 0.5) / n)
    np.testing.assert_allclose(manifold.grid_axis(n, "prior"), expected, atol=1e-6)


def test_linear_axis_spans_minus_to_plus_span():
    np.testing.assert_allclose(manifold.grid_axis(5, "linear", 2.0), [-2, -1, 0, 1, 2])
    assert manifold.grid_axis(1, "linear", 2.0).tolist() == [-2.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, "prior"), "out of range"),
        ((101, "prior"), "out of range"),
        ((5, "linear", 0.0), "span"),
        ((5, "linear", 25.0), "span"),
        ((5, "cubic"), "not one of"),
    ],
)
def test_bad_grid_arguments_say_what_to_choose(args, message):
    with pytest.raises(ValueError, match=message):
        manifold.grid_axis(*args)


def test_picture_scale_and_grid_picture():
    assert manifold.picture_scale(30) == 2 and manifold.picture_scale(5) == 5
    grid = np.random.default_rng(0).random((3, 3, 4, 4))
    pic = manifold.grid_picture(grid)
    assert pic.shape == (12, 12) and pic.dtype == np.uint8
    np.testing.assert_array_equal(pic[4:8, 8:12], np.round(grid[1, 2] * 255).astype(np.uint8))


def test_manifold_of_a_larger_latent_space_spans_two_chosen_dims():
    from vae.model import build_vae

    model = build_vae(tiny_config(latent_dim=3))
    grid = manifold.manifold(model, n=3, mode="linear", span=1.0, dims=(0, 2))
    assert grid.shape == (3, 3, 8, 8)
    # Top-left cell: z0 = -1 (left), z2 = +1 (top), z1 held at 0.
    expected = evaluate.decode(model, np.array([[-1.0, 0.0, 1.0]]))[0, ..., 0]
    np.testing.assert_allclose(grid[0, 0], expected, atol=1e-5)
    for dims in [(0, 0), (0, 3)]:
        with pytest.raises(ValueError, match="two different dimensions"):
            manifold.manifold(model, n=3, dims=dims)


@pytest.mark.parametrize("method", interpolate.INTERPOLATIONS)
def test_interpolation_starts_and_ends_at_the_endpoints(method):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=4), rng.normal(size=4)
    path = interpolate.interpolate(a, b, 7, method)
    assert path.shape == (7, 4)
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)


def test_linear_path_is_evenly_spaced_on_the_line():
    path = interpolate.interpolate([0.0, 0.0], [4.0, 2.0], 5, "linear")
    np.testing.assert_allclose(path, [[0, 0], [1, 0.5], [2, 1], [3, 1.5], [4, 2]])


def test_slerp_keeps_norms_between_the_endpoints_and_turns_around_the_origin():
    a, b = np.array([3.0, 0.0]), np.array([-0.1, 2.0])  # about 92 degrees apart
    path = interpolate.interpolate(a, b, 11, "spherical")
    norms = np.linalg.norm(path, axis=1)
    np.testing.assert_allclose(norms, np.linspace(3.0, np.linalg.norm(b), 11), rtol=1e-5)
    straight = interpolate.interpolate(a, b, 11, "linear")
    assert np.linalg.norm(straight, axis=1).min() < norms.min()  # the line dips inwards
    angles = np.unwrap(np.arctan2(path[:, 1], path[:, 0]))
    assert np.all(np.diff(angles) > 0) and np.allclose(np.diff(angles), np.diff(angles)[0])
    # Parallel or zero endpoints have no great circle: the straight line is used.
    np.testing.assert_allclose(
        interpolate.interpolate([1, 1], [2, 2], 3, "spherical"), [[1, 1], [1.5, 1.5], [2, 2]]
    )
    np.testing.assert_allclose(
        interpolate.interpolate([0, 0], [2, 0], 3, "spherical"), [[0, 0], [1, 0], [2, 0]]
    )


def test_bad_interpolation_arguments():
    with pytest.raises(ValueError, match="steps"):
        interpolate.interpolate([0, 0], [1, 1], 1)
    with pytest.raises(ValueError, match="not one of"):
        interpolate.interpolate([0, 0], [1, 1], 5, "cubic")
    with pytest.raises(ValueError, match="differ in size"):
        interpolate.interpolate([0, 0], [1, 1, 1], 5)
