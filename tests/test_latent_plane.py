"""vae.latent_plane: projections, contours, densities, neighbours and one point's figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vae import latent_plane


def _normal2(x, y, mu, sx, sy):
    return math.exp(-0.5 * (((x - mu[0]) / sx) ** 2 + ((y - mu[1]) / sy) ** 2)) / (
        2 * math.pi * sx * sy
    )


def test_two_point_mixture_equals_hand_computed_density():
    z_mean = np.array([[0.0, 1.0], [-1.0, 0.5]])
    sigma = np.array([[0.5, 1.0], [2.0, 0.25]])
    xs, ys = np.array([-1.0, 0.0, 0.3]), np.array([0.5, 1.0])
    got = latent_plane.aggregate_posterior_density(z_mean, 2 * np.log(sigma), xs, ys)
    assert got.shape == (2, 3)
    for r, y in enumerate(ys):
        for c, x in enumerate(xs):
            want = 0.5 * (
                _normal2(x, y, z_mean[0], *sigma[0]) + _normal2(x, y, z_mean[1], *sigma[1])
            )
            assert got[r, c] == pytest.approx(want, rel=1e-9)


def test_aggregate_density_integrates_to_one_over_a_wide_grid():
    rng = np.random.default_rng(0)
    z_mean = rng.normal(size=(50, 2))
    z_log_var = rng.uniform(-2.0, 0.0, size=(50, 2))
    xs = ys = np.linspace(-8, 8, 321)
    p = latent_plane.aggregate_posterior_density(z_mean, z_log_var, xs, ys)
    h = xs[1] - xs[0]
    assert p.sum() * h * h == pytest.approx(1.0, abs=1e-3)
    assert latent_plane.prior_density(xs, ys).sum() * h * h == pytest.approx(1.0, abs=1e-3)


def test_full_covariance_path_matches_the_axis_aligned_path():
    rng = np.random.default_rng(1)
    means = rng.normal(size=(7, 2))
    sigma = rng.uniform(0.2, 1.5, size=(7, 2))
    covs = np.stack([np.diag(s**2) for s in sigma])
    xs, ys = np.linspace(-3, 3, 11), np.linspace(-2, 2, 9)
    fast = latent_plane.mixture_density(means, sigma, xs, ys)
    full = latent_plane.mixture_density(means, covs, xs, ys, chunk=3)
    np.testing.assert_allclose(full, fast, rtol=1e-10)


def test_pca_projection_is_orthonormal_and_keeps_the_prior_standard():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(500, 5)) * np.array([3.0, 0.1, 1.0, 0.1, 0.1])
    proj = latent_plane.project(z, "pca")
    np.testing.assert_allclose(proj.matrix.T @ proj.matrix, np.eye(2), atol=1e-12)
    # the first principal direction is the high-variance coordinate 0, then coordinate 2
    assert abs(proj.matrix[0, 0]) > 0.99 and abs(proj.matrix[2, 1]) > 0.99
    assert proj.apply(z).shape == (500, 2)
    assert "PCA" in proj.description and "variance" in proj.axis_titles[0]
    # projected q(z|x) covariance of an isotropic posterior stays isotropic
    cov = proj.covariances(np.zeros((1, 5)))[0]
    np.testing.assert_allclose(cov, np.eye(2), atol=1e-12)


def test_pca_density_integrates_to_one():
    rng = np.random.default_rng(3)
    z_mean = rng.normal(size=(40, 4))
    z_log_var = rng.uniform(-1.5, 0.0, size=(40, 4))
    proj = latent_plane.project(z_mean, "pca")
    xs = ys = np.linspace(-7, 7, 141)
    p = latent_plane.aggregate_posterior_density(z_mean, z_log_var, xs, ys, proj)
    assert p.sum() * (xs[1] - xs[0]) ** 2 == pytest.approx(1.0, abs=2e-3)


def test_choosing_two_dimensions_picks_those_coordinates():
    z = np.arange(12.0).reshape(3, 4)
    proj = latent_plane.project(z, (3, 1))
    np.testing.assert_array_equal(proj.apply(z), z[:, [3, 1]])
    assert proj.axis_aligned and "dimensions 4 and 2" in proj.description
    with pytest.raises(ValueError):
        latent_plane.project(z, (1, 1))
    with pytest.raises(ValueError):
        latent_plane.project(z[:, :1], (0, 1))


def test_ellipse_lies_at_the_given_mahalanobis_radius():
    mu, sigma = np.array([1.0, -2.0]), np.array([0.5, 2.0])
    pts = latent_plane.ellipse(mu, sigma, k=2.0, n_points=33)
    r = np.sqrt(np.sum(((pts - mu) / sigma) ** 2, axis=1))
    np.testing.assert_allclose(r, 2.0)
    cov = np.array([[2.0, 0.8], [0.8, 1.0]])
    pts = latent_plane.ellipse(mu, cov, k=1.5)
    d = pts - mu
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d), 1.5**2)


def test_ellipses_joins_contours_with_gaps_and_prior_contours_are_circles():
    out = latent_plane.ellipses(np.zeros((3, 2)), np.ones((3, 2)), k=1.0, n_points=10)
    assert out.shape == (33, 2) and np.isnan(out[10]).all() and np.isnan(out[-1]).all()
    contours = latent_plane.prior_contours((1, 2, 3))
    assert [r for r, _ in contours] == [1.0, 2.0, 3.0]
    for r, circle in contours:
        np.testing.assert_allclose(np.hypot(circle[:, 0], circle[:, 1]), r)


def test_nearest_returns_closest_first():
    z_mean = np.array([[0.0, 0.0], [5.0, 5.0], [1.0, 0.0], [0.2, 0.1]])
    np.testing.assert_array_equal(latent_plane.nearest(np.array([0.1, 0.0]), z_mean, 3), [0, 3, 2])
    assert latent_plane.nearest(np.zeros(2), z_mean, 10).tolist() == [0, 3, 2, 1]


def test_nearest_class_is_the_majority_of_the_k_nearest_labels():
    z_mean = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.2], [3.0, 3.0], [3.1, 3.0]])
    labels = np.array([7, 7, 1, 1, 1])
    assert latent_plane.nearest_class(np.zeros(2), z_mean, labels, k=3) == 7  # 7, 7, 1
    assert latent_plane.nearest_class(np.zeros(2), z_mean, labels, k=5) == 1  # 2 sevens, 3 ones
    assert latent_plane.nearest_class(np.zeros(2), z_mean, labels, k=4) == 1  # a tie: the smaller
    # One latent dimension works the same way.
    assert latent_plane.nearest_class(np.array([2.9]), z_mean[:, :1], labels, k=2) == 1


def test_density_grid_covers_points_and_prior():
    xs, ys = latent_plane.density_grid(np.array([[10.0, 0.0], [-1.0, 0.5]]), n=20)
    assert xs[0] <= -3.5 and xs[-1] >= 9.9 and ys[0] <= -3.5 and ys[-1] >= 3.5
    assert len(xs) == len(ys) == 20


# --- one point: the Drag pad's figures ----------------------------------------
def test_log_prior_of_hand_computed_points():
    assert latent_plane.log_prior(np.zeros(2)) == pytest.approx(-math.log(2 * math.pi))
    assert latent_plane.log_prior(np.array([1.0, 0.0])) == pytest.approx(
        -math.log(2 * math.pi) - 0.5
    )
    z = np.array([1.0, -2.0, 0.5])
    want = -1.5 * math.log(2 * math.pi) - 0.5 * (1 + 4 + 0.25)
    assert latent_plane.log_prior(z) == pytest.approx(want)


def test_prior_mass_within_has_the_closed_forms():
    # J = 2: 1 - exp(-r^2 / 2); beyond 3 sigma lies exp(-4.5) = 1.1 % of the prior.
    for r in (0.0, 1.0, 2.0, 3.0):
        assert latent_plane.prior_mass_within(r, 2) == pytest.approx(1 - math.exp(-r * r / 2))
    assert latent_plane.prior_mass_within(3.0, 2) == pytest.approx(1 - 0.0111, abs=1e-4)
    # J = 1: the familiar 68 / 95 / 99.7 rule.
    assert latent_plane.prior_mass_within(1.0, 1) == pytest.approx(0.682689, abs=1e-6)
    assert latent_plane.prior_mass_within(2.0, 1) == pytest.approx(0.954500, abs=1e-6)
    # J = 3: erf(r / sqrt 2) - sqrt(2 / pi) r exp(-r^2 / 2).
    r = 1.7
    want = math.erf(r / math.sqrt(2)) - math.sqrt(2 / math.pi) * r * math.exp(-r * r / 2)
    assert latent_plane.prior_mass_within(r, 3) == pytest.approx(want, rel=1e-12)


def test_prior_mass_within_matches_scipy_chi2():
    stats = pytest.importorskip("scipy.stats")
    for j in (1, 2, 3, 4, 5, 8, 17, 64):
        for r in (0.3, 1.0, 2.5, 4.0, 9.0):
            want = stats.chi2.cdf(r * r, j)
            assert latent_plane.prior_mass_within(r, j) == pytest.approx(want, abs=1e-12), (j, r)


def test_log_aggregate_posterior_matches_the_grid_density_and_a_hand_value():
    z_mean = np.array([[0.0, 1.0], [-1.0, 0.5]])
    sigma = np.array([[0.5, 1.0], [2.0, 0.25]])
    z = np.array([0.3, 0.5])
    grid = latent_plane.aggregate_posterior_density(z_mean, 2 * np.log(sigma), z[:1], z[1:])
    got = latent_plane.log_aggregate_posterior(z, z_mean, 2 * np.log(sigma))
    assert math.exp(got) == pytest.approx(grid[0, 0], rel=1e-12)
    # one component in 3-D: the log density of N(mu, diag sigma^2)
    mu, s = np.array([1.0, 0.0, -1.0]), np.array([1.0, 2.0, 0.5])
    z3 = np.array([2.0, 2.0, -1.0])
    want = -1.5 * math.log(2 * math.pi) - np.log(s).sum() - 0.5 * (1 + 1 + 0)
    assert latent_plane.log_aggregate_posterior(z3, mu[None], 2 * np.log(s)[None]) == pytest.approx(
        want
    )
    # far from every component: finite, not log(0)
    far = latent_plane.log_aggregate_posterior(np.array([80.0, 0.0]), z_mean, 2 * np.log(sigma))
    assert math.isfinite(far) and far < -500  # exp() of it underflows to 0


def test_mahalanobis_counts_posterior_standard_deviations():
    z_log_var = 2 * np.log(np.array([[1.0, 2.0], [0.5, 0.5]]))
    z_mean = np.array([[0.0, 0.0], [1.0, 1.0]])
    got = latent_plane.mahalanobis(np.array([1.0, 2.0]), z_mean, z_log_var)
    np.testing.assert_allclose(got, [math.sqrt(2), math.sqrt(0 + 4)])


def test_describe_point_gathers_the_figures_and_neighbours():
    z_mean = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 1.0], [0.5, 0.0]])
    z_log_var = np.zeros((4, 2))
    z = np.array([0.6, 0.0])
    s = latent_plane.describe_point(z, z_mean, z_log_var, k=2)
    assert s.radius == pytest.approx(0.6)
    assert s.log_prior == pytest.approx(latent_plane.log_prior(z))
    assert s.prior_mass_within == pytest.approx(1 - math.exp(-0.18))
    assert list(s.neighbours) == [3, 0]
    np.testing.assert_allclose(s.distances, [0.1, 0.6])
    np.testing.assert_allclose(s.neighbour_sigmas, [0.1, 0.6])  # unit posteriors
    assert s.log_ratio == pytest.approx(s.log_aggregate - s.log_prior)


def test_plane_extent_covers_points_and_the_prior():
    xy = np.array([[-1.0, 0.0], [6.0, 2.0]])
    x0, x1, y0, y1 = latent_plane.plane_extent(xy, min_extent=3.5, pad=0.0)
    assert x0 == pytest.approx(-3.5) and y0 == -3.5 and y1 == 3.5
    assert 5.9 < x1 <= 6.0  # the 99.9th percentile of two points
    x0, x1, _, _ = latent_plane.plane_extent(np.zeros((0, 2)), min_extent=2.0, pad=0.1)
    assert (x0, x1) == pytest.approx((-2.4, 2.4))
