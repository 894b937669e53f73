"""The exact posterior p(z|x) of one image, for a model with a 2-D latent space.

In two dimensions p(z|x) = p(x|z) p(z) / p(x) can be integrated on a grid instead
of approximated. A fixed grid fails for digits whose posterior is a few hundredths
wide, so the grid is refined where the mass is: a coarse grid over the whole
reachable plane, then every cell that holds non-negligible mass (and its neighbours)
is split into 2 x 2 cells, level after level, until log p(x) stops changing. The
last change is reported as the quadrature's error.

From the same integral come the ELBO (E_q[log p(x|z)] by Gauss-Hermite over q, and
the analytic KL to the prior) and KL(q(z|x) || p(z|x)), integrated on its own grid
around q. The identity log p(x) = ELBO + KL(q || p(z|x)) then checks all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vae import evaluate, gaussian

NEGLIGIBLE = 20.0  # nats below the peak: such a cell holds < 1e-8 of the mass
SPLIT = 2  # a refined cell becomes SPLIT x SPLIT cells: small steps stop near the need
COARSE = 96  # nodes per axis of the first grid
MAX_LEVELS = 10  # coarse spacing / 2^9: below 1e-3 of a unit on the default plane
TOLERANCE = 0.005  # nats: refinement stops once a level changes log p(x) by less
HERMITE_NODES = 24  # per axis, for E_q[log p(x|z)]
KL_NODES = 64  # per axis of the grid around q for KL(q || p(z|x)): a quarter sigma apart
KL_REACH = 8.0  # that grid spans q's mean +- this many sigma


@dataclass(frozen=True)
class Posterior:
    """Everything known exactly about one image's posterior, in nats."""

    log_px: float  # log p(x) by the refined quadrature
    log_px_error: float  # the last refinement's change: the quadrature's own error estimate
    elbo: float  # E_q[log p(x|z)] - KL(q || p(z))
    recon: float  # E_q[log p(x|z)]
    kl_prior: float  # KL(q(z|x) || p(z)), analytic
    kl_q_posterior: float  # KL(q(z|x) || p(z|x)), on a grid around q
    z_mean: np.ndarray  # [2]
    z_std: np.ndarray  # [2]
    mode: np.ndarray  # [2]: the grid node of highest posterior density
    levels: int  # refinement levels used
    evaluations: int  # decoder calls, one per grid node
    box: float  # the coarse grid spans [-box, box]^2

    def as_dict(self) -> dict:
        return {
            "log_px": self.log_px,
            "log_px_error": self.log_px_error,
            "elbo": self.elbo,
            "recon": self.recon,
            "kl_prior": self.kl_prior,
            "kl_q_posterior": self.kl_q_posterior,
            "gap": self.log_px - self.elbo,
            "z_mean": [float(v) for v in self.z_mean],
            "z_std": [float(v) for v in self.z_std],
            "mode": [float(v) for v in self.mode],
            "levels": self.levels,
            "evaluations": self.evaluations,
        }


def log_joint(model, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """log p(x|z) + log p(z) for one image x [H, W, C] at points z [G, 2] -> [G], float64."""

    def build():
        spec_x = tf.TensorSpec([1, *model.config.image_shape], tf.float32)
        spec_z = tf.TensorSpec([None, model.config.latent_dim], tf.float32)

        @tf.function(input_signature=[spec_x, spec_z])
        def fn(x1, zs):
            logits = model.decode(zs)[:, None]  # [G, 1, H, W, C]
            return model.log_likelihood(x1, logits)[:, 0]

        return fn

    fn = model.traced("posterior/log_lik", build)
    z = np.asarray(z, np.float32).reshape(-1, 2)
    x1 = tf.constant(np.asarray(x, np.float32)[None])
    step = evaluate.DECODES_PER_CALL
    parts = [fn(x1, tf.constant(z[a : a + step])).numpy() for a in range(0, len(z), step)]
    log_lik = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
    zd = z.astype(np.float64)
    return log_lik + gaussian.log_standard_normal(zd)


def _logsumexp(a: np.ndarray) -> float:
    m = float(np.max(a))
    return m + math.log(float(np.sum(np.exp(a - m))))


def _coarse_box(z_mean: np.ndarray, z_std: np.ndarray) -> float:
    """Half-width of the first grid: the prior's 6 sigma and q's 10 sigma, at most 16."""
    reach = np.abs(z_mean) + 10.0 * z_std
    return float(np.clip(np.ceil(max(6.0, reach.max())), 6.0, 16.0))


def _cells(centres: np.ndarray, h: float) -> np.ndarray:
    """The SPLIT x SPLIT children of square cells of side h around ``centres`` [C, 2]."""
    offsets = (np.arange(SPLIT) + 0.5) / SPLIT - 0.5
    ox, oy = np.meshgrid(offsets, offsets, indexing="ij")
    d = np.stack([ox.ravel(), oy.ravel()], 1) * h  # [S*S, 2]
    return (centres[:, None, :] + d[None]).reshape(-1, 2)


def _with_neighbours(idx: np.ndarray, n: int) -> np.ndarray:
    """Integer cell indices [C, 2] grown by one cell in all 8 directions, within [0, n)."""
    steps = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)])
    grown = (idx[:, None, :] + steps[None]).reshape(-1, 2)
    grown = grown[np.all((grown >= 0) & (grown < n), axis=1)]
    return np.unique(grown, axis=0)


def integrate(log_joint_fn, z_mean: np.ndarray, z_std: np.ndarray):
    """log of the integral of exp(log_joint_fn(z)) over the plane, by adaptive refinement.

    log_joint_fn: z [G, 2] -> [G]; z_mean, z_std [2] say where q puts its mass, so the
    first grid reaches it. Returns (log_px, error, mode, levels, evaluations, box).

    Each level keeps one value per leaf cell; a cell whose centre lies within
    NEGLIGIBLE nats of the best one so far, or next to one that does, is split.
    """
    r = _coarse_box(z_mean, z_std)
    h = 2.0 * r / COARSE
    axis = -r + h * (np.arange(COARSE) + 0.5)
    zz = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    values = log_joint_fn(zz)
    evaluations = len(zz)
    # Leaves that are not split again keep their value and log area.
    estimate = _logsumexp(values) + 2.0 * math.log(h)
    best = float(values.max())
    mode = zz[int(np.argmax(values))]
    keep_v, keep_a = [], []
    idx = np.argwhere(values.reshape(COARSE, COARSE) > best - NEGLIGIBLE)
    idx = _with_neighbours(idx, COARSE)
    split = np.zeros((COARSE, COARSE), bool)
    split[idx[:, 0], idx[:, 1]] = True
    flat_split = split.ravel()
    keep_v.append(values[~flat_split])
    keep_a.append(np.full((~flat_split).sum(), 2.0 * math.log(h)))
    centres = zz[flat_split]
    error = math.inf
    levels = 0
    while levels < MAX_LEVELS - 1:
        levels += 1
        h /= SPLIT
        children = _cells(centres, h * SPLIT)
        child_v = log_joint_fn(children)
        evaluations += len(children)
        kept_v = np.concatenate(keep_v) if keep_v else np.zeros(0)
        kept_a = np.concatenate(keep_a) if keep_a else np.zeros(0)
        new = _logsumexp(np.concatenate([kept_v + kept_a, child_v + 2.0 * math.log(h)]))
        error, estimate = abs(new - estimate), new
        if child_v.max() > best:
            best = float(child_v.max())
            mode = children[int(np.argmax(child_v))]
        if error < TOLERANCE:
            break
        # Split again only where the mass is; children elsewhere become leaves.
        hot = child_v > best - NEGLIGIBLE
        hot = _grow_among(children, hot, h)
        keep_v.append(child_v[~hot])
        keep_a.append(np.full((~hot).sum(), 2.0 * math.log(h)))
        centres = children[hot]
        if len(centres) == 0:
            break
    return estimate, error, np.asarray(mode, np.float64), levels + 1, evaluations, r


def _grow_among(centres: np.ndarray, hot: np.ndarray, h: float) -> np.ndarray:
    """Mark the cells next to a hot cell as hot too (cells of side h, centres [C, 2])."""
    if not hot.any():
        return hot
    keys = np.round(centres / h).astype(np.int64)
    hot_keys = np.round(centres[hot] / h).astype(np.int64)
    near = {
        (int(a) + di, int(b) + dj) for a, b in hot_keys for di in (-1, 0, 1) for dj in (-1, 0, 1)
    }
    return np.array([(int(a), int(b)) in near for a, b in keys], bool)


def _q_terms(model, x, z_mean, z_std, log_px: float) -> tuple[float, float]:
    """(E_q[log p(x|z)] by Gauss-Hermite, KL(q || p(z|x)) on a grid around q)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
    weights = weights / weights.sum()
    gx, gy = np.meshgrid(nodes, nodes, indexing="ij")
    z = z_mean + np.stack([gx.ravel(), gy.ravel()], 1) * z_std
    w = np.outer(weights, weights).ravel()
    log_prior = gaussian.log_standard_normal(z)
    recon = float(np.sum(w * (log_joint(model, x, z) - log_prior)))

    n = KL_NODES
    hx, hy = 2.0 * KL_REACH * z_std / n
    ax = z_mean[0] + hx * (np.arange(n) + 0.5) - KL_REACH * z_std[0]
    ay = z_mean[1] + hy * (np.arange(n) + 0.5) - KL_REACH * z_std[1]
    zz = np.stack(np.meshgrid(ax, ay, indexing="ij"), -1).reshape(-1, 2)
    u = (zz - z_mean) / z_std
    log_q = gaussian.log_density(np.sum(u**2, axis=1), 2.0 * np.sum(np.log(z_std)), 2)
    q_mass = np.exp(log_q) * hx * hy
    log_post = log_joint(model, x, zz) - log_px
    kl = float(np.sum(q_mass * (log_q - log_post)) / np.sum(q_mass))
    return recon, kl


def exact_posterior(model, x: np.ndarray) -> Posterior:
    """Everything about one image x [H, W, C] (model input) under a 2-D model."""
    if not evaluate.has_quadrature(model.config.latent_dim):
        raise ValueError(
            f"the exact posterior needs a 2-D latent space; this model has "
            f"latent_dim {model.config.latent_dim}."
        )
    x = np.asarray(x, np.float32)
    m, lv = evaluate.encode(model, x[None])
    z_mean = m[0].astype(np.float64)
    z_std = np.exp(0.5 * lv[0].astype(np.float64))
    log_px, error, mode, levels, evaluations, r = integrate(
        lambda z: log_joint(model, x, z), z_mean, z_std
    )
    recon, kl_post = _q_terms(model, x, z_mean, z_std, log_px)
    kl_prior = float(0.5 * np.sum(z_mean**2 + z_std**2 - 1.0 - 2.0 * np.log(z_std)))
    return Posterior(
        log_px=log_px,
        log_px_error=error,
        elbo=recon - kl_prior,
        recon=recon,
        kl_prior=kl_prior,
        kl_q_posterior=kl_post,
        z_mean=z_mean,
        z_std=z_std,
        mode=mode,
        levels=levels,
        evaluations=evaluations,
        box=r,
    )


def density_image(
    model, x: np.ndarray, post: Posterior, n: int = 120
) -> tuple[np.ndarray, list[float]]:
    """p(z|x) on an n x n grid framing the posterior's mass and q's 3 sigma.

    Returns (density [n, n] indexed [y, x], extent [x0, x1, y0, y1]) for a heat map.
    """
    centre = (post.mode + post.z_mean) / 2.0
    half = max(
        np.max(np.abs(post.mode - post.z_mean)) / 2.0 + 4.0 * post.z_std.max(),
        np.max(np.abs(post.mode - centre)) + 0.25,
        0.15,
    )
    # Widen until the frame holds the posterior's visible mass: at most 3 tries.
    for _ in range(3):
        ax = centre[0] - half + 2 * half * (np.arange(n) + 0.5) / n
        ay = centre[1] - half + 2 * half * (np.arange(n) + 0.5) / n
        zz = np.stack(np.meshgrid(ax, ay, indexing="xy"), -1).reshape(-1, 2)
        log_post = log_joint(model, x, zz) - post.log_px
        inside = float(np.sum(np.exp(log_post)) * (2 * half / n) ** 2)
        if inside > 0.99:
            break
        half *= 2.0
    extent = [float(centre[0] - half), float(centre[0] + half)]
    extent += [float(centre[1] - half), float(centre[1] + half)]
    return np.exp(log_post).reshape(n, n), extent


# --- the digits whose q misses --------------------------------------------------------
MISS_GRID = 100  # nodes per axis of the shared grid that ranks every image
MISS_SAMPLES = 8  # draws of z per image for its ELBO, so its noise is far below a miss


def worst_fits(
    model, x: np.ndarray, n: int = 8, progress: evaluate.ProgressFn | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` images of x [N, H, W, C] whose q(z|x) misses p(z|x) most, worst first.

    Ranks every image by log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)), with log p(x) from one
    shared MISS_GRID² grid (seconds for 10,000 images). That grid is coarse for the
    narrowest posteriors, so the gaps returned are approximate (in nats); the exact
    posterior of each, ``exact_posterior``, gives its exact gap. Returns (indices, gaps).
    """
    terms = evaluate.per_example_terms(model, x, n_samples=MISS_SAMPLES)
    grid = evaluate.model_grid_log_px(model, x, grid_size=MISS_GRID, progress=progress)
    gap = grid.log_px + terms["neg_elbo"]
    worst = np.argsort(-gap, kind="stable")[:n]
    return worst, gap[worst]
