"""Interpolation between two images through latent space, as a strip and an animation."""

from __future__ import annotations

import io

import numpy as np

from vae import evaluate, images, latent


def interpolation_frames(
    model, x_pair: np.ndarray, steps: int = 10, method: str = "linear"
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the path between the z_mean of two images, in one batched call.

    x_pair: [2, H, W, C] model inputs. Returns (z [steps, J], frames [steps, H, W] in [0, 1]).
    """
    if len(x_pair) != 2:
        raise ValueError(f"interpolation needs exactly 2 images, got {len(x_pair)}.")
    z_mean, _ = evaluate.encode(model, x_pair)
    z = latent.interpolate(z_mean[0], z_mean[1], steps, method)
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
