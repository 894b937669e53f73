"""The Compare pad: two models' latent planes side by side with one shared marker.

Both planes sit in one frame (``compare.html`` beside the drag pad's modules in
``components/drag_pad/frontend``), so one pointer moves both markers and each model's
decoder redraws its image in the browser, with no server message during a drag.

A Streamlit v1 component always loads its folder's ``index.html``, which is the drag
pad's. So this module registers the same folder a second time under its own name (to
serve its files) and declares the component by the URL of ``compare.html`` there. The
URL is relative: Streamlit's page URLs are one level below the app's base path, where
its component routes live, so it holds under any ``server.baseUrlPath``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit.components.v1 as components

from components.drag_pad import FRONTEND

_files = components.declare_component("compare_files", path=str(FRONTEND))
_component = components.declare_component(
    "compare_pad", url=f"component/{_files.name}/compare.html"
)


def compare_pad(
    *,
    planes: Sequence[dict[str, Any]],
    z_init: Sequence[float],
    key: str,
    height: int = 520,
    present: bool = False,
) -> dict[str, Any] | None:
    """Draw two planes with one marker; returns the last point released, or None before any.

    - ``planes``: two dicts, one a model: ``name`` (shown above its image),
      ``decoder_url`` (``publish_decoder``'s stem), ``points_url`` (``publish_points``),
      ``extent`` ``[x_min, x_max, y_min, y_max]`` and ``palette`` (class colours).
      Each plane keeps its own extent; the marker is the same z on both, drawn at the
      edge of a plane it lies beyond.
    - ``z_init`` [2]: where the marker starts (z₁, z₂; a model's other dimensions are
      held at 0). Sending back the point the frame sent does not move the marker.
    - ``present``: presentation mode: the planes as tall as the window allows.

    The value is ``{"z": [z1, z2], "seq": int}`` on release; ``seq`` differs on every one.
    """
    if len(planes) != 2:
        raise ValueError(f"the Compare pad draws two planes, not {len(planes)}")
    return _component(
        planes=[dict(p) for p in planes],
        z_init=[float(v) for v in z_init],
        height=int(height),
        present=bool(present),
        key=key,
        default=None,
    )
