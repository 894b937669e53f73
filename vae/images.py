"""Image helpers shared by the CLI and the app: tiling and PNG encoding."""

from __future__ import annotations

import io
import math
import os

import numpy as np


def tile(images: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """images [N, H, W, 1] or [N, H, W] in [0, 1] -> one uint8 picture [rows*H', cols*W']."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    n, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad), np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = img
    return to_uint8(out)


def to_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(x, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def png_bytes(picture: np.ndarray, scale: int = 1) -> bytes:
    """uint8 [H, W] -> PNG bytes, optionally enlarged with crisp (nearest) pixels."""
    from PIL import Image

    img = Image.fromarray(picture)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_png(picture: np.ndarray, path: str | os.PathLike, scale: int = 2) -> None:
    from vae.atomic import write_bytes_atomic

    write_bytes_atomic(path, png_bytes(picture, scale))
