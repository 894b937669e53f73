"""Thumbnail sprite sheets: every test image in one PNG, so hovering costs no round trip."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpriteLayout:
    """Where thumbnail i sits in the sheet: row i // cols, column i % cols."""

    count: int
    cols: int
    rows: int
    cell_h: int
    cell_w: int

    @property
    def width(self) -> int:
        return self.cols * self.cell_w

    @property
    def height(self) -> int:
        return self.rows * self.cell_h

    def offset(self, i: int) -> tuple[int, int]:
        """(x, y) pixel offset of thumbnail ``i``'s top-left corner."""
        r, c = divmod(int(i), self.cols)
        return c * self.cell_w, r * self.cell_h


def sprite_layout(n: int, h: int, w: int, cols: int = 100) -> SpriteLayout:
    """The layout of a sheet of ``n`` images of h x w pixels, ``cols`` to a row."""
    cols = max(1, min(cols, n))
    return SpriteLayout(n, cols, max(1, math.ceil(n / cols)), h, w)


def thumbnail_sprite(x_uint8: np.ndarray, cols: int = 100) -> tuple[bytes, SpriteLayout]:
    """One PNG sheet of all images x_uint8 [N, H, W], unpadded, row-major, and its layout.

    The browser draws thumbnail i with a CSS background offset, so hovering costs no
    server round trip.
    """
    from PIL import Image

    x = np.asarray(x_uint8)
    if x.ndim == 4:
        x = x[..., 0]
    if x.dtype != np.uint8:
        raise ValueError(f"thumbnails must be uint8 images, not {x.dtype}")
    layout = sprite_layout(*x.shape, cols=cols)
    n, h, w = x.shape
    sheet = np.zeros((layout.rows * layout.cols, h, w), np.uint8)
    sheet[:n] = x
    sheet = sheet.reshape(layout.rows, layout.cols, h, w).transpose(0, 2, 1, 3)
    buf = io.BytesIO()
    Image.fromarray(sheet.reshape(layout.height, layout.width)).save(buf, format="PNG")
    return buf.getvalue(), layout
