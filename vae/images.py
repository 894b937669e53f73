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


# Five stops of viridis: perceptually even, readable in grey, and kind to colour blindness.
_HEAT = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64
)


def heatmap(values: np.ndarray) -> np.ndarray:
    """values [H, W] >= 0 -> an RGB uint8 picture [H, W, 3], the maximum in yellow."""
    v = np.asarray(values, np.float64)
    top = float(v.max()) if v.size else 0.0
    t = np.clip(v / top, 0.0, 1.0) if top > 0 else np.zeros_like(v)
    pos = t * (len(_HEAT) - 1)
    i = np.minimum(pos.astype(int), len(_HEAT) - 2)
    frac = (pos - i)[..., None]
    return (_HEAT[i] * (1 - frac) + _HEAT[i + 1] * frac + 0.5).astype(np.uint8)


def plane_picture(
    values: np.ndarray,
    extent: list[float],
    curves: list[tuple[np.ndarray, str]] = (),
    marks: list[tuple[np.ndarray, str]] = (),
    side: int = 480,
) -> bytes:
    """A heat map of ``values`` [y, x] over ``extent`` [x0, x1, y0, y1] as PNG bytes,
    with polylines ``curves`` [(points [P, 2], colour)] and crosses ``marks`` on top.
    The y axis points up, as on the app's planes."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(heatmap(np.asarray(values)[::-1])).resize((side, side), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    x0, x1, y0, y1 = extent

    def px(points: np.ndarray) -> list[tuple[float, float]]:
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return [((a - x0) / (x1 - x0) * side, (y1 - b) / (y1 - y0) * side) for a, b in p]

    for points, colour in curves:
        draw.line(px(points), fill=colour, width=2)
    for point, colour in marks:
        (cx, cy), r = px(point)[0], 7
        draw.line([(cx - r, cy), (cx + r, cy)], fill=colour, width=2)
        draw.line([(cx, cy - r), (cx, cy + r)], fill=colour, width=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
