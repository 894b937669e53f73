"""vae.manifold: the grid axes and the manifold's layout."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from tests.helpers import tiny_config
from vae import evaluate, manifold


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
