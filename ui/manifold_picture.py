"""The Manifold page's picture: the grid of decodings as a square that fills its column.

Plain HTML rather than a chart: a Plotly figure has a fixed height, so a square grid
inside it leaves blank bands whenever the column is not exactly that wide. Here CSS
keeps the picture square at any width, no taller than the window, with tick labels at
cell centres and each cell's z in a tooltip; nothing on it takes a touch, so a finger
scrolls the page across it.
"""

from __future__ import annotations

import base64
import html
import math

import numpy as np

MAX_TICKS = 11  # labels per axis: more would crowd a phone's width
# px of the window above and below the picture that it leaves free: the header, the
# model line and the x axis's labels, and outside presentation mode the page's title too.
ABOVE_BELOW = {False: 300, True: 180}
MIN_SIDE = 320  # px: on a short window the picture may scroll rather than shrink further


def tick_indices(n: int, most: int = MAX_TICKS) -> list[int]:
    """Cells that get a label: the first, the last, and evenly spread between them.

    Neighbouring labels are at least k cells apart, the smallest k that keeps to
    ``most`` labels, so the last one never crowds the one before.
    """
    if n <= most:
        return list(range(n))
    k = math.ceil((n - 1) / (most - 1))
    m = (n - 1) // k + 1  # labels k or more cells apart, from the first to the last
    return sorted({round(i * (n - 1) / (m - 1)) for i in range(m)})


def _fmt(v: float) -> str:
    return f"{v:.2f}".replace("-", "−")


def picture_html(
    png: bytes, axis: np.ndarray, dims: tuple[int, int], *, present: bool = False
) -> str:
    """HTML of the grid picture ``png`` with axis values ``axis`` [n] on both axes.

    Row 0 of the picture is the top, where z of the vertical dimension is largest.
    """
    n = len(axis)
    zx, zy = f"z{dims[0] + 1}", f"z{dims[1] + 1}"
    font = 20 if present else 13
    side = f"max({MIN_SIDE}px, 100vh - {ABOVE_BELOW[present]}px)"
    pct = [(i + 0.5) / n * 100 for i in range(n)]
    ticks = tick_indices(n)
    x_labels = "".join(f'<span style="left:{pct[i]:.3f}%">{_fmt(axis[i])}</span>' for i in ticks)
    y_labels = "".join(
        f'<span style="top:{pct[i]:.3f}%">{_fmt(axis[n - 1 - i])}</span>' for i in ticks
    )
    cells = "".join(
        f'<i style="left:{c / n * 100:.3f}%;top:{r / n * 100:.3f}%" '
        f'title="{zx} = {_fmt(axis[c])}, {zy} = {_fmt(axis[n - 1 - r])}"></i>'
        for r in range(n)
        for c in range(n)
    )
    src = "data:image/png;base64," + base64.b64encode(png).decode()
    alt = html.escape(f"{n} × {n} decodings over {zx} and {zy}")
    return f"""
<style>
.mf {{ display: grid; grid-template-columns: auto 1fr; grid-template-rows: auto auto;
  width: min(100%, calc({side} + 4.4em)); font-size: {font}px; column-gap: 0.4em;
  font-variant-numeric: tabular-nums; }}
.mf-y {{ position: relative; width: 4em; }}
.mf-y span {{ position: absolute; right: 0.3em; transform: translateY(-50%); white-space: nowrap; }}
.mf-y b {{ position: absolute; left: 0; top: 50%; transform: translateY(-50%);
  font-style: italic; font-weight: 400; }}
.mf-pic {{ position: relative; aspect-ratio: 1 / 1; width: 100%; max-width: {side}; }}
.mf-pic img {{ display: block; width: 100%; height: 100%; image-rendering: pixelated; }}
.mf-pic i {{ position: absolute; width: {100 / n:.4f}%; height: {100 / n:.4f}%; }}
.mf-x {{ grid-column: 2; position: relative; height: 1.4em; max-width: {side}; }}
.mf-x span {{ position: absolute; top: 0.2em; transform: translateX(-50%); white-space: nowrap; }}
.mf-t {{ grid-column: 2; max-width: {side}; text-align: center; font-style: italic;
  margin-top: 0.3em; }}
</style>
<div class="mf" data-testid="manifold-picture">
  <div class="mf-y"><b>{zy}</b>{y_labels}</div>
  <div class="mf-pic"><img src="{src}" alt="{alt}">{cells}</div>
  <div class="mf-x">{x_labels}</div>
  <div class="mf-t">{zx}</div>
</div>
"""
