"""The latent-map component: a Plotly WebGL scatter with thumbnail hover and selections.

A Streamlit v1 custom component without a build step: ``frontend/`` holds a static
``index.html`` and ``main.js``. Plotly.js is copied from the installed plotly package
into that folder (Streamlit serves a component's files from its own folder only), so
the map works offline. Thumbnails travel as one PNG sprite sheet written beside it;
the browser fetches it once by its content-hashed name and caches it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import plotly
import streamlit.components.v1 as components

from vae import sprite
from vae.atomic import write_bytes_atomic
from vae.sprite import SpriteLayout

FRONTEND = Path(__file__).resolve().parent / "frontend"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _install_plotly_js() -> None:
    """Copy plotly.min.js next to index.html unless an identical copy is there."""
    target = FRONTEND / "plotly.min.js"
    if target.exists() and target.stat().st_size == PLOTLY_JS.stat().st_size:
        return
    tmp = target.with_name(f"plotly.min.js.tmp-{os.getpid()}")
    shutil.copyfile(PLOTLY_JS, tmp)
    os.replace(tmp, target)  # atomic: a browser never reads half a file


_install_plotly_js()
_component = components.declare_component("latent_map", path=str(FRONTEND))


def publish_sprite(x_uint8: np.ndarray, cols: int = 100) -> tuple[str, SpriteLayout]:
    """Write the thumbnail sheet of x_uint8 [N, H, W] into the served folder, once.

    Returns its URL relative to index.html and its layout. The file is named by the
    images' hash, so a restarted server skips the PNG encoding (about 0.4 s).
    """
    x = np.ascontiguousarray(x_uint8)
    digest = hashlib.sha256(x.tobytes() + repr((x.shape, cols)).encode()).hexdigest()[:16]
    name = f"sprites/{digest}.png"
    target = FRONTEND / name
    if target.exists():
        return name, sprite.sprite_layout(*x.shape[:3], cols=cols)
    png, layout = sprite.thumbnail_sprite(x, cols)
    target.parent.mkdir(exist_ok=True)
    write_bytes_atomic(target, png)
    return name, layout


def latent_map(
    figure: dict[str, Any],
    sprite_url: str,
    layout: SpriteLayout,
    *,
    key: str,
    height: int = 620,
    fill: bool = False,
) -> dict[str, Any] | None:
    """Draw ``figure`` (a Plotly figure as a dict); returns the last selection, if any.

    Traces whose ``customdata`` holds test-set indices are hoverable and selectable.
    The value is ``{"indices": [int, ...], "seq": int}``; ``seq`` differs on every
    selection so the page can tell a new one from the last. ``fill``: the map as tall
    as the browser window below it (presentation mode); ``height`` is then the fallback.
    """
    sprite = {
        "url": sprite_url,
        "cols": layout.cols,
        "cell_w": layout.cell_w,
        "cell_h": layout.cell_h,
        "width": layout.width,
        "height": layout.height,
    }
    return _component(
        figure=figure, sprite=sprite, height=height, fill=bool(fill), key=key, default=None
    )
