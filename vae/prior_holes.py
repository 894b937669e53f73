"""Empty prior mass: how much of the prior N(0, I) lies where no test code falls.

A plain autoencoder scatters its codes with gaps between them and far from the origin;
a VAE's KL term pulls them onto the prior. Two numbers measure the difference: the
prior mass its codes leave empty, and the share of its codes inside the prior's 2σ
circle (where N(0, I) puts 86.5% of its mass).

Definition. Cut the plane ±``HALF_WIDTH`` into square cells ``CELL`` wide. A cell is
*empty* if its centre lies farther than ``RADIUS`` from every test code (z_mean's first
two dimensions). The empty prior mass is the prior's exact mass in the empty cells:
for a cell [a, b] × [c, d] that is (Φ(b) − Φ(a)) (Φ(d) − Φ(c)). The prior's mass
outside the square (under 0.01% at ±4σ) is left out.

Pure numpy (no TensorFlow, no streamlit). Shapes: codes [N, 2] (or [N, J], of which
the first two dimensions are used: the prior's marginal on them is N(0, I_2)).
"""

from __future__ import annotations

import math

import numpy as np

HALF_WIDTH = 4.0  # σ: the grid covers ±4σ, 99.99% of the prior's mass in the plane
CELL = 0.1  # σ: a cell's width; a pad pixel is about 0.02σ, so holes show at this scale
RADIUS = 0.25  # σ: a cell's centre this far from every code counts as a hole


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    # scipy is not a runtime dependency; erf on the grid's few hundred edges is cheap.
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(x, np.float64) / math.sqrt(2.0)))


def cell_edges(half_width: float = HALF_WIDTH, cell: float = CELL) -> np.ndarray:
    """Edges [n + 1] of the grid's cells along one axis, from −half_width to +half_width."""
    n = max(1, round(2 * half_width / cell))
    return np.linspace(-half_width, half_width, n + 1)


def empty_cells(codes: np.ndarray, edges: np.ndarray, radius: float = RADIUS) -> np.ndarray:
    """bool [n, n] (row: z₂ index, column: z₁ index): cells whose centre lies farther
    than ``radius`` from every code [N, ≥2]. The edges must be evenly spaced."""
    xy = np.asarray(codes, np.float64)[:, :2]
    n = len(edges) - 1
    cell = (edges[-1] - edges[0]) / n
    filled = np.zeros((n, n), bool)
    # Each code fills the cells whose centre lies within ``radius`` of it; those are
    # among the (2k + 1)² cells around its own, so the work is N × (2k + 1)², not N × n².
    home = np.floor((xy - edges[0]) / cell).astype(np.int64)  # [N, 2]: (column, row)
    k = int(math.ceil(radius / cell))
    r2 = float(radius) ** 2
    for dx in range(-k, k + 1):
        for dy in range(-k, k + 1):
            idx = home + (dx, dy)
            centre = edges[0] + (idx + 0.5) * cell
            hit = (((xy - centre) ** 2).sum(axis=1) <= r2) & np.all((idx >= 0) & (idx < n), axis=1)
            filled[idx[hit, 1], idx[hit, 0]] = True
    return ~filled


def empty_prior_mass(
    codes: np.ndarray,
    radius: float = RADIUS,
    half_width: float = HALF_WIDTH,
    cell: float = CELL,
) -> float:
    """The prior N(0, I_2)'s mass in the cells no code [N, ≥2] comes within ``radius`` of.

    0 when the codes cover the prior; near 1 when they sit far from it (the module's
    docstring defines the cells).
    """
    edges = cell_edges(half_width, cell)
    mass_1d = np.diff(_normal_cdf(edges))  # [n]: each column's (and row's) prior mass
    mass = np.outer(mass_1d, mass_1d)  # [n, n]: independent axes under N(0, I)
    return float(mass[empty_cells(codes, edges, radius)].sum())


INSIDE_SIGMA = 2.0  # the circle the Compare page counts codes in: the pad's 2σ ring


def prior_inside(k: float = INSIDE_SIGMA) -> float:
    """The prior's mass inside the circle of radius k (σ) in the plane: 1 − exp(−k²/2)."""
    return 1.0 - math.exp(-0.5 * k * k)


def share_inside(codes: np.ndarray, k: float = INSIDE_SIGMA) -> float:
    """The share of codes [N, ≥2] inside the circle of radius k (σ) in their first two
    dimensions: a model whose codes follow the prior puts ``prior_inside(k)`` there."""
    xy = np.asarray(codes, np.float64)[:, :2]
    if len(xy) == 0:
        return 0.0
    return float(np.mean(np.hypot(xy[:, 0], xy[:, 1]) <= k))
