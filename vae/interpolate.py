"""Interpolation between two images through latent space, as a strip and an animation."""

from __future__ import annotations

import io

import numpy as np

from vae import evaluate, images

INTERPOLATIONS = ("linear", "spherical")


def interpolate(
    z_start: np.ndarray, z_end: np.ndarray, steps: int, method: str = "linear"
) -> np.ndarray:
    """``steps`` points from z_start to z_end inclusive: [steps, J].

    "linear": the straight line. "spherical": the direction turns along the great
    circle while the length changes linearly, so a path between two typical prior
    draws never cuts through the low-norm middle the prior rarely visits (White 2016).
    """
    z_start = np.asarray(z_start, np.float64).ravel()
    z_end = np.asarray(z_end, np.float64).ravel()
    if z_start.shape != z_end.shape:
        raise ValueError(f"endpoints differ in size: {z_start.shape} vs {z_end.shape}.")
    if not 2 <= steps <= 200:
        raise ValueError(f"{steps} steps is out of range; choose 2 to 200.")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if method == "linear":
        path = (1.0 - t) * z_start + t * z_end
    elif method == "spherical":
        path = _slerp(z_start, z_end, t)
    else:
        raise ValueError(f"interpolation {method!r} is not one of {', '.join(INTERPOLATIONS)}.")
    path[0], path[-1] = z_start, z_end  # exact endpoints, free of rounding
    return path.astype(np.float32)


def _slerp(z_start: np.ndarray, z_end: np.ndarray, t: np.ndarray) -> np.ndarray:
    r0, r1 = np.linalg.norm(z_start), np.linalg.norm(z_end)
    if r0 < 1e-8 or r1 < 1e-8:  # no direction to turn from: the line is the only path
        return (1.0 - t) * z_start + t * z_end
    u0, u1 = z_start / r0, z_end / r1
    omega = float(np.arccos(np.clip(u0 @ u1, -1.0, 1.0)))
    if omega < 1e-6 or omega > np.pi - 1e-6:  # parallel or opposite: no unique great circle
        return (1.0 - t) * z_start + t * z_end
    direction = (np.sin((1.0 - t) * omega) * u0 + np.sin(t * omega) * u1) / np.sin(omega)
    return direction * ((1.0 - t) * r0 + t * r1)


def interpolation_frames(
    model, x_pair: np.ndarray, steps: int = 10, method: str = "linear"
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the path between the z_mean of two images, in one batched call.

    x_pair: [2, H, W, C] model inputs. Returns (z [steps, J], frames [steps, H, W] in [0, 1]).
    """
    if len(x_pair) != 2:
        raise ValueError(f"interpolation needs exactly 2 images, got {len(x_pair)}.")
    z_mean, _ = evaluate.encode(model, x_pair)
    z = interpolate(z_mean[0], z_mean[1], steps, method)
    frames = evaluate.decode(model, z)[..., 0]
    return z, frames


def gif_bytes(
    frames: np.ndarray, scale: int = 4, frame_ms: int = 120, bounce: bool = True
) -> bytes:
    """frames [T, H, W] in [0, 1] -> a looping animated GIF, enlarged with crisp pixels.

    ``bounce`` plays forward then back, so the loop has no jump from the end to the start;
    the two end frames are held a little longer so the viewer sees the originals.
    """
    from PIL import Image

    frames = np.asarray(frames)
    if frames.ndim != 3 or len(frames) < 2:
        raise ValueError(f"need frames [T >= 2, H, W], got shape {frames.shape}.")
    order = list(range(len(frames)))
    if bounce:
        order += order[-2:0:-1]
    pictures = []
    for i in order:
        img = Image.fromarray(images.to_uint8(frames[i]))
        pictures.append(img.resize((img.width * scale, img.height * scale), Image.NEAREST))
    durations = [frame_ms] * len(order)
    durations[0] = durations[len(frames) - 1] = frame_ms * 5
    buf = io.BytesIO()
    pictures[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=durations,
        loop=0,
        optimize=False,
    )
    return buf.getvalue()
