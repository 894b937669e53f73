"""Empty prior mass (vae/prior_holes.py) against cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vae import prior_holes

# Φ(1) − Φ(0) = erf(1/√2)/2: the standard normal's mass between 0 and 1σ.
HALF = 0.341344746068543


def test_one_code_fills_one_of_four_cells():
    # Grid ±1 in cells 1 wide: centres (±0.5, ±0.5), each cell holding HALF² of the prior.
    # A code at (0.5, 0.5) with radius 0.5 reaches its own centre only (the others are
    # 1 and √2 away), so three cells are empty.
    mass = prior_holes.empty_prior_mass(np.array([[0.5, 0.5]]), radius=0.5, half_width=1, cell=1)
    assert mass == pytest.approx(3 * HALF**2, abs=1e-12)  # 0.349549


def test_no_codes_leave_the_whole_square_empty():
    square = (2 * HALF) ** 2  # (Φ(1) − Φ(−1))²
    empty = np.empty((0, 2))
    assert prior_holes.empty_prior_mass(empty, half_width=1, cell=1) == pytest.approx(square)
    # The default grid, ±4σ: all but 2Φ(−4) of each axis' mass.
    inside = (1 - math.erfc(4 / math.sqrt(2))) ** 2
    assert prior_holes.empty_prior_mass(empty) == pytest.approx(inside, abs=1e-12)


def test_a_code_on_the_circle_fills_and_one_outside_the_grid_reaches_in():
    # (1.2, 0.5) lies outside the ±1 grid, 0.7 from the centre (0.5, 0.5): radius 0.7
    # reaches it exactly (a tie counts as filled), radius 0.69 does not.
    code = np.array([[1.2, 0.5]])
    reach = prior_holes.empty_cells(code, prior_holes.cell_edges(1, 1), radius=0.7)
    assert reach.tolist() == [[True, True], [True, False]]  # rows z₂ = −0.5, 0.5
    short = prior_holes.empty_prior_mass(code, radius=0.69, half_width=1, cell=1)
    assert short == pytest.approx(4 * HALF**2)


def test_only_the_first_two_dimensions_count():
    # J = 3: z₃ is far out, but the plane's marginal ignores it.
    code = np.array([[-0.5, -0.5, 9.0]])
    mass = prior_holes.empty_prior_mass(code, radius=0.1, half_width=1, cell=1)
    assert mass == pytest.approx(3 * HALF**2)


def test_codes_on_the_prior_leave_less_empty_than_codes_off_it():
    rng = np.random.default_rng(0)
    on = rng.normal(size=(10_000, 2))
    off = on * 0.2 + 3.0  # a tight clump at (3, 3)
    assert prior_holes.empty_prior_mass(on) < 0.05 < 0.9 < prior_holes.empty_prior_mass(off)


def test_the_fast_marking_equals_every_distance():
    rng = np.random.default_rng(1)
    codes = rng.normal(scale=1.5, size=(500, 2))
    edges = prior_holes.cell_edges(2.0, 0.2)
    centres = 0.5 * (edges[:-1] + edges[1:])
    cx, cy = np.meshgrid(centres, centres)
    d2 = (cx[..., None] - codes[:, 0]) ** 2 + (cy[..., None] - codes[:, 1]) ** 2
    want = d2.min(axis=-1) > 0.3**2
    np.testing.assert_array_equal(prior_holes.empty_cells(codes, edges, radius=0.3), want)


def test_share_inside_counts_codes_in_the_circle_and_the_prior_matches_its_mass():
    codes = np.array([[0.0, 0.0], [2.0, 0.0], [1.5, 1.5], [0.0, -2.01], [9.0, 9.0]])
    assert prior_holes.share_inside(codes) == pytest.approx(2 / 5)  # (0,0) and (2,0)
    assert prior_holes.share_inside(codes, k=3.0) == pytest.approx(4 / 5)
    assert prior_holes.share_inside(np.zeros((0, 2))) == 0.0
    draws = np.random.default_rng(0).standard_normal((200_000, 3))  # J = 3: first two count
    for k in (1.0, 2.0, 3.0):
        assert prior_holes.share_inside(draws, k) == pytest.approx(
            prior_holes.prior_inside(k), abs=0.004
        )
    assert prior_holes.prior_inside() == pytest.approx(0.8647, abs=1e-4)
