"""vae.interpolate: paths between two codes, their decodings and the animation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.helpers import tiny_config
from vae import evaluate, interpolate
from vae.model import build_vae


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


def test_frames_run_from_one_image_to_the_other_in_one_decode():
    model = build_vae(tiny_config(latent_dim=2))
    x_pair = np.random.default_rng(0).random((2, 8, 8, 1)).astype(np.float32)
    z, frames = interpolate.interpolation_frames(model, x_pair, steps=5)
    z_mean, _ = evaluate.encode(model, x_pair)
    assert z.shape == (5, 2) and frames.shape == (5, 8, 8)
    np.testing.assert_allclose(z[[0, -1]], z_mean, atol=1e-6)
    np.testing.assert_allclose(frames, evaluate.decode(model, z)[..., 0], atol=1e-6)
    with pytest.raises(ValueError, match="exactly 2 images"):
        interpolate.interpolation_frames(model, x_pair[:1])


def test_gif_bounces_and_holds_the_end_frames():
    frames = np.linspace(0.0, 1.0, 4)[:, None, None] * np.ones((4, 3, 3))
    gif = Image.open(io.BytesIO(interpolate.gif_bytes(frames, scale=2, frame_ms=100)))
    assert gif.format == "GIF" and gif.size == (6, 6)
    assert gif.n_frames == 6  # 0 1 2 3 2 1: forward, then back without repeating the ends
    durations = []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
    assert durations == [500, 100, 100, 500, 100, 100]
    with pytest.raises(ValueError, match="T >= 2"):
        interpolate.gif_bytes(frames[:1])
