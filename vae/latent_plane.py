"""The latent plane's geometry: projections, prior contours, densities, nearest codes.

Pure numpy (no TensorFlow, no streamlit), so the latent-map page only draws what these
return. Shapes: ``z_mean``, ``z_log_var`` are [N, J]; points in the drawn plane are [N, 2].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vae import gaussian

PRIOR_LEVELS = (1.0, 2.0, 3.0)  # Mahalanobis radii of the prior contours


# --- projection to a plane ------------------------------------------------------
@dataclass(frozen=True)
class Projection:
    """A linear map from R^J to the drawn plane: ``xy = z @ matrix``.

    The columns of ``matrix`` [J, 2] are orthonormal, so the prior N(0, I_J) maps to
    N(0, I_2) and its contours stay unit circles in every projection.
    """

    matrix: np.ndarray  # [J, 2]
    description: str  # how the plane was chosen, shown on the plot
    axis_titles: tuple[str, str]
    axis_aligned: bool  # two coordinates of z, so each q(z|x) stays axis-aligned

    def apply(self, z: np.ndarray) -> np.ndarray:
        """z [N, J] -> points in the plane [N, 2]."""
        return np.asarray(z, np.float64) @ self.matrix

    def covariances(self, z_log_var: np.ndarray) -> np.ndarray:
        """Covariances [N, 2, 2] of the projected q(z|x) = N(W^T mu, W^T diag(sigma^2) W)."""
        var = np.exp(np.asarray(z_log_var, np.float64))  # [N, J]
        w = self.matrix
        return np.einsum("ja,nj,jb->nab", w, var, w)


def project(z_mean: np.ndarray, dims: tuple[int, int] | str = (0, 1)) -> Projection:
    """Choose the plane: two coordinates ``dims`` of z, or ``"pca"`` of z_mean [N, J].

    PCA directions come from the centred z_mean, but points are projected uncentred so
    that the origin (the prior's mean) stays at the origin of the plot.
    """
    z_mean = np.asarray(z_mean, np.float64)
    j = z_mean.shape[1]
    if j < 2:
        raise ValueError(f"a plane needs a latent dimension of at least 2, not {j}")
    if isinstance(dims, str):
        if dims != "pca":
            raise ValueError(f"unknown projection {dims!r}; use 'pca' or two dimensions")
        centred = z_mean - z_mean.mean(axis=0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        w = vt[:2].T.copy()
        # SVD signs are arbitrary: make each direction point along its largest coordinate
        # so the picture does not flip between runs.
        w *= np.where(w[np.abs(w).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)
        share = s**2 / max(float(np.sum(s**2)), 1e-300)
        titles = (f"PC 1 of z_mean ({share[0]:.0%} of variance)", f"PC 2 ({share[1]:.0%})")
        return Projection(w, f"PCA of z_mean (J = {j})", titles, axis_aligned=False)
    a, b = (int(d) for d in dims)
    if a == b or not (0 <= a < j and 0 <= b < j):
        raise ValueError(f"choose two different dimensions in 1..{j}, not {a + 1} and {b + 1}")
    w = np.zeros((j, 2))
    w[a, 0] = w[b, 1] = 1.0
    titles = (f"μ{_sub(a + 1)}", f"μ{_sub(b + 1)}")
    desc = (
        "J = 2, the whole latent space"
        if j == 2
        else f"dimensions {a + 1} and {b + 1} of z_mean (J = {j})"
    )
    return Projection(w, desc, titles, axis_aligned=True)


def _sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


# --- curves ---------------------------------------------------------------------
def ellipse(mu: np.ndarray, cov: np.ndarray, k: float = 1.0, n_points: int = 64) -> np.ndarray:
    """The closed k-sigma contour [n_points, 2] of N(mu, cov).

    ``cov`` is either the standard deviations [2] of an axis-aligned Gaussian or a full
    covariance [2, 2]; the contour is the set at Mahalanobis distance ``k`` from ``mu``.
    """
    cov = np.asarray(cov, np.float64)
    if cov.shape == (2,):
        cov = np.diag(cov**2)
    vals, vecs = np.linalg.eigh(cov)
    t = np.linspace(0.0, 2.0 * math.pi, n_points)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    return np.asarray(mu, np.float64) + k * (circle * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T


def ellipses(mus: np.ndarray, covs: np.ndarray, k: float, n_points: int = 48) -> np.ndarray:
    """Many contours joined into one polyline [M * (n_points + 1), 2], NaN between them.

    One trace per level keeps the figure small however many points are selected.
    """
    parts = []
    for mu, cov in zip(mus, covs, strict=True):
        parts.append(ellipse(mu, cov, k, n_points))
        parts.append(np.full((1, 2), np.nan))
    return np.concatenate(parts) if parts else np.zeros((0, 2))


def prior_contours(
    levels: tuple[float, ...] = PRIOR_LEVELS, n_points: int = 128
) -> list[tuple[float, np.ndarray]]:
    """(radius, circle [n_points, 2]) for each level: the prior N(0, I)'s contours."""
    return [(float(r), ellipse(np.zeros(2), np.ones(2), r, n_points)) for r in levels]


# --- densities on a grid --------------------------------------------------------
def density_grid(xy: np.ndarray, n: int = 80, min_extent: float = 3.5) -> tuple[np.ndarray, ...]:
    """Grid axes (xs [n], ys [n]) over ``plane_extent``: the points and the prior's 3σ."""
    x0, x1, y0, y1 = plane_extent(xy, min_extent)
    return np.linspace(x0, x1, n), np.linspace(y0, y1, n)


def prior_density(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The density [len(ys), len(xs)] of N(0, I_2) on the grid."""
    gx = np.exp(gaussian.log_standard_normal(np.asarray(xs, np.float64)[:, None]))
    gy = np.exp(gaussian.log_standard_normal(np.asarray(ys, np.float64)[:, None]))
    return np.outer(gy, gx)


def mixture_density(
    means: np.ndarray, covs: np.ndarray, xs: np.ndarray, ys: np.ndarray, chunk: int = 1024
) -> np.ndarray:
    """Density [len(ys), len(xs)] of the equal-weight mixture of N(means[n], covs[n]).

    means [N, 2]; covs [N, 2] (standard deviations, axis-aligned) or [N, 2, 2].
    Axis-aligned components factorise, so the grid is one matrix product; full
    covariances are evaluated component by component in chunks to bound memory.
    """
    means = np.asarray(means, np.float64)
    covs = np.asarray(covs, np.float64)
    xs = np.asarray(xs, np.float64)
    ys = np.asarray(ys, np.float64)
    n = len(means)
    if n == 0:
        return np.zeros((len(ys), len(xs)))
    if covs.ndim == 2:  # standard deviations: p(x, y) = sum_n N(x; .) N(y; .)
        gx = _normal_pdf(xs[None, :], means[:, :1], covs[:, :1])  # [N, nx]
        gy = _normal_pdf(ys[None, :], means[:, 1:], covs[:, 1:])  # [N, ny]
        return gy.T @ gx / n
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)  # [G, 2]
    out = np.zeros(len(pts))
    for a in range(0, n, chunk):
        mu, cov = means[a : a + chunk], covs[a : a + chunk]
        det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] ** 2
        inv = np.stack([cov[:, 1, 1], -cov[:, 0, 1], cov[:, 0, 0]], axis=1) / det[:, None]
        d = pts[:, None, :] - mu[None, :, :]  # [G, c, 2]
        q = inv[:, 0] * d[..., 0] ** 2 + 2 * inv[:, 1] * d[..., 0] * d[..., 1]
        q += inv[:, 2] * d[..., 1] ** 2
        out += np.exp(gaussian.log_density(q, np.log(det), 2)).sum(axis=1)
    return out.reshape(len(ys), len(xs)) / n


def _normal_pdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return np.exp(gaussian.log_density(((x - mu) / sigma) ** 2, 2.0 * np.log(sigma), 1))


def aggregate_posterior_density(
    z_mean: np.ndarray,
    z_log_var: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    projection: Projection | None = None,
) -> np.ndarray:
    """The aggregate posterior q(z) = (1/N) sum_n q(z|x_n) in the plane, on the grid.

    With a projection the density is that of the projected mixture, exactly: a linear
    map of a Gaussian is Gaussian. Returns [len(ys), len(xs)].
    """
    projection = projection or project(z_mean, (0, 1))
    means = projection.apply(z_mean)
    if projection.axis_aligned:
        sigma = np.exp(0.5 * np.asarray(z_log_var, np.float64)) @ np.abs(projection.matrix)
        return mixture_density(means, sigma, xs, ys)
    return mixture_density(means, projection.covariances(z_log_var), xs, ys)


# --- neighbours and thumbnails --------------------------------------------------
def nearest(z: np.ndarray, z_mean: np.ndarray, k: int = 1) -> np.ndarray:
    """Indices [k] of the k rows of z_mean [N, J] nearest to z [J], nearest first."""
    d2 = np.sum((np.asarray(z_mean, np.float64) - np.asarray(z, np.float64)) ** 2, axis=1)
    k = min(k, len(d2))
    idx = np.argpartition(d2, k - 1)[:k] if k < len(d2) else np.arange(len(d2))
    return idx[np.argsort(d2[idx], kind="stable")]


def nearest_class(z: np.ndarray, z_mean: np.ndarray, labels: np.ndarray, k: int) -> int:
    """The most common of ``labels`` [N] among the k rows of z_mean [N, J] nearest to z [J].

    A tie goes to the smaller label.
    """
    votes = np.bincount(np.asarray(labels)[nearest(z, z_mean, k)])
    return int(np.argmax(votes))


# --- one point of the latent space ----------------------------------------------
def log_prior(z: np.ndarray) -> float:
    """log p(z) in nats under the prior N(0, I_J), for z [J]."""
    return float(gaussian.log_standard_normal(np.asarray(z, np.float64).ravel()))


def prior_mass_within(radius: float, latent_dim: int) -> float:
    """P(|eps| <= radius) for eps ~ N(0, I_J): the chi-square CDF of radius^2, J dof.

    Written out because scipy is not a runtime dependency. It is the regularized lower
    gamma function P(J/2, x) with x = radius^2 / 2, which has closed forms:
    even J: 1 - e^-x sum_{k < J/2} x^k / k!  (J = 2: 1 - exp(-r^2 / 2));
    odd J: erf(sqrt x) - e^-x sum_{k < (J-1)/2} x^(k+1/2) / Gamma(k + 3/2).
    """
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be at least 1, not {latent_dim}")
    x = 0.5 * float(radius) ** 2
    total = 0.0
    if latent_dim % 2 == 0:
        term = 1.0
        for k in range(latent_dim // 2):
            total += term
            term *= x / (k + 1)
        mass = 1.0 - math.exp(-x) * total
    else:
        term = math.sqrt(x) / math.gamma(1.5)
        for k in range((latent_dim - 1) // 2):
            total += term
            term *= x / (k + 1.5)
        mass = math.erf(math.sqrt(x)) - math.exp(-x) * total
    return min(1.0, max(0.0, mass))


def log_gaussian_densities(z: np.ndarray, z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    """log N(z; z_mean[n], diag exp(z_log_var[n])) [N] of one point z [J]; inputs [N, J]."""
    mu = np.atleast_2d(np.asarray(z_mean, np.float64))
    log_var = np.atleast_2d(np.asarray(z_log_var, np.float64))
    return gaussian.log_normal(np.asarray(z, np.float64), mu, log_var)


def log_aggregate_posterior(z: np.ndarray, z_mean: np.ndarray, z_log_var: np.ndarray) -> float:
    """log q(z) of the aggregate posterior (1/N) sum_n q(z|x_n) at z [J], in all J dimensions.

    A log-sum-exp, so a point far from every encoding gives a finite (very negative) value.
    """
    logs = log_gaussian_densities(z, z_mean, z_log_var)
    top = float(np.max(logs))
    return top + math.log(float(np.mean(np.exp(logs - top))))


def mahalanobis(z: np.ndarray, z_mean: np.ndarray, z_log_var: np.ndarray) -> np.ndarray:
    """How many of q(z|x)'s standard deviations z [J] lies from z_mean: [N] for [N, J] inputs."""
    z = np.asarray(z, np.float64)
    mu = np.asarray(z_mean, np.float64)
    var = np.exp(np.asarray(z_log_var, np.float64))
    return np.sqrt(np.sum((z - mu) ** 2 / var, axis=-1))


@dataclass(frozen=True)
class PointSummary:
    """What the Drag pad shows about one latent point z [J]."""

    radius: float  # |z|: distance from the prior's mean, in the prior's standard deviations
    log_prior: float  # log p(z), nats
    prior_mass_within: float  # share of the prior closer to the origin than z
    log_aggregate: float  # log q(z), the test set's aggregate posterior, nats
    neighbours: np.ndarray  # [k] test indices by Euclidean distance of z_mean to z, nearest first
    distances: np.ndarray  # [k] those distances
    neighbour_sigmas: np.ndarray  # [k] Mahalanobis distance of z under each neighbour's q(z|x)

    @property
    def log_ratio(self) -> float:
        """log q(z) - log p(z): > 0 where the encoder puts more mass than the prior."""
        return self.log_aggregate - self.log_prior


def describe_point(
    z: np.ndarray, z_mean: np.ndarray, z_log_var: np.ndarray, k: int
) -> PointSummary:
    """Prior and aggregate-posterior figures at z [J], and its k nearest test encodings [N, J]."""
    z = np.asarray(z, np.float64)
    idx = nearest(z, z_mean, k)
    mu = np.asarray(z_mean, np.float64)[idx]
    radius = float(np.sqrt(np.sum(z**2)))
    return PointSummary(
        radius=radius,
        log_prior=log_prior(z),
        prior_mass_within=prior_mass_within(radius, z.size),
        log_aggregate=log_aggregate_posterior(z, z_mean, z_log_var),
        neighbours=idx,
        distances=np.sqrt(np.sum((mu - z) ** 2, axis=1)),
        neighbour_sigmas=mahalanobis(z, mu, np.asarray(z_log_var)[idx]),
    )


def plane_extent(xy: np.ndarray, min_extent: float = 3.5, pad: float = 0.05) -> list[float]:
    """[x_min, x_max, y_min, y_max] for drawing points xy [N, 2].

    Covers the points (0.1 to 99.9 percentiles, so a stray encoding does not shrink the
    rest) and at least +-min_extent, the prior's 3-sigma disc with room to spare, plus a
    margin of ``pad`` times the range on each side.
    """
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    lo = np.full(2, -float(min_extent))
    hi = np.full(2, float(min_extent))
    if len(xy):
        lo = np.minimum(np.percentile(xy, 0.1, axis=0), lo)
        hi = np.maximum(np.percentile(xy, 99.9, axis=0), hi)
    margin = pad * (hi - lo)
    return [float(lo[0] - margin[0]), float(hi[0] + margin[0]),
            float(lo[1] - margin[1]), float(hi[1] + margin[1])]  # fmt: skip
