"""The drag pad: drag a point through the latent plane; the browser decodes it live.

A Streamlit v1 custom component without a build step, like ``latent_map``:
``frontend/`` holds a static ``index.html`` and ES modules (``pad.js`` wires the rest;
``network.js`` runs the exported decoder), and the Streamlit component protocol (API
version 1) is spoken with postMessage.
Why v1 and not components v2: v2 serves files only from an ``asset_dir`` declared
in the ``pyproject.toml`` of an installed package, and this app is a folder, not a
package. The pad must fetch the exported decoder and the 10,000 test encodings as
static files by URL (so they cross the wire once, not with every rerun's args), and
v1 serves its whole folder, generated files included, with no packaging step. v1
also keeps one protocol for both of the app's components and lets AppTest set the
component's value like any widget's.

Generated files go into the served folder under content-hashed names
(``models/<digest>.json|.bin``, ``points/<digest>.bin``): written once, atomically,
and cacheable forever by the browser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import streamlit.components.v1 as components

from vae import export
from vae.atomic import write_bytes_atomic
from vae.errors import UnsupportedArchitectureError

FRONTEND = Path(__file__).resolve().parent / "frontend"

_component = components.declare_component("drag_pad", path=str(FRONTEND))


def publish_decoder(
    ckpt: Any,
    on_unsupported: Callable[[UnsupportedArchitectureError], None] | None = None,
) -> str | None:
    """Export ``ckpt``'s decoder into the served folder; its URL stem, or None.

    Returns ``"models/<digest>"``: the browser fetches ``<stem>.json`` (the spec) and
    ``<stem>.bin`` (float32 weights). Files already there are not rewritten, so
    another server process or a rerun costs one export (a few milliseconds) and a
    hash. If a layer cannot run in JavaScript, returns None and hands the error to
    ``on_unsupported``: the page then decodes on the server and says why.
    """
    try:
        spec, weights = export.export_decoder(ckpt.model.decoder)
    except UnsupportedArchitectureError as exc:
        if on_unsupported is not None:
            on_unsupported(exc)
        return None
    return publish_export(spec, weights)


def publish_export(spec: dict[str, Any], weights: bytes) -> str:
    """Put a decoder export (``export.export_decoder``'s spec and weights) in the served
    folder; its URL stem ``"models/<digest>"``, as ``publish_decoder`` returns.

    For an export stored beside the checkpoint (vae/precompute.py): the pad is then
    served without building the model, so its first draw need not wait for TensorFlow.
    """
    stem = f"models/{export.network_digest(spec, weights)}"
    json_path, bin_path = FRONTEND / f"{stem}.json", FRONTEND / f"{stem}.bin"
    if not (json_path.exists() and bin_path.exists()):
        # Both files are named by this same digest; the weights are written first.
        export.write_export(spec, weights, json_path.parent, json_path.stem)
    return stem


def publish_points(z_plane: np.ndarray, labels: np.ndarray) -> str:
    """Write the plane's points once: float32 xy [N, 2] (little-endian), then uint8 labels [N].

    Returns the URL relative to index.html. The browser reads N from the file's length
    (9 bytes a point), so the file needs no header.
    """
    xy = np.ascontiguousarray(np.asarray(z_plane, dtype="<f4"))
    y = np.ascontiguousarray(np.asarray(labels, dtype=np.uint8))
    if xy.ndim != 2 or xy.shape[1] != 2 or y.shape != (len(xy),):
        raise ValueError(f"points must be [N, 2] with labels [N], not {xy.shape}, {y.shape}")
    data = xy.tobytes() + y.tobytes()
    name = f"points/{hashlib.sha256(data).hexdigest()[:16]}.bin"
    target = FRONTEND / name
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        write_bytes_atomic(target, data)
    return name


def drag_pad(
    *,
    decoder_url: str | None,
    points_url: str,
    class_names: Sequence[str],
    palette: Sequence[str],
    z_init: Sequence[float],
    extent: Sequence[float],
    manifold_range: Sequence[float] | None,
    key: str,
    height: int = 560,
    server_image: np.ndarray | None = None,
    reset: int = 0,
    present: bool = False,
) -> dict[str, Any] | None:
    """Draw the pad; returns the last point the browser sent, or None before any.

    - ``decoder_url``: stem from ``publish_decoder``; None decodes on the server: the
      page passes ``server_image`` [H, W, C] (probabilities at the marker) and the pad
      shows it, sending every move (``"final": False``) as well as the release.
    - ``z_init`` [J]: where the marker starts. The pad varies z[0] and z[1] only, so
      for J > 2 the other entries are the values held fixed. A new ``z_init`` moves
      the marker; sending back the point the pad sent does not.
    - ``extent``: ``[x_min, x_max, y_min, y_max]`` of the plane, widened in the
      browser to keep one unit the same length on both axes.
    - ``manifold_range``: ``[lo, hi]`` of the Manifold page's grid, drawn dashed.
    - ``reset``: a counter; when it changes, the marker moves to ``z_init`` even if the
      pad once sent that very point (e.g. "Back to the origin" after a drag through 0).
    - ``present``: presentation mode: the plane as tall as the browser window (``height``
      is then only the fallback) and the figures printed large.

    The value is ``{"z": [z1, ..., zJ], "seq": int}`` on release (pointer up, or
    300 ms after the last arrow key); ``seq`` differs on every release, so the page
    can tell a new one from the last. In server mode, moves during a drag send
    ``{"z", "seq", "final": False}`` and the release ``"final": True``.
    """
    image = None
    if server_image is not None:
        probs = np.asarray(server_image, np.float32)
        image = {"shape": list(probs.shape), "data": np.round(probs.ravel(), 5).tolist()}
    # Tuples, not lists: Streamlit asks of every list argument whether it is a data frame,
    # and the asking imports pandas (seconds on a first visit); a tuple it passes as JSON
    # at once, as the same array.
    return _component(
        decoder_url=decoder_url,
        points_url=points_url,
        class_names=tuple(class_names),
        palette=tuple(palette),
        z_init=tuple(float(v) for v in z_init),
        reset=int(reset),
        extent=tuple(float(v) for v in extent),
        manifold_range=None if manifold_range is None else tuple(float(v) for v in manifold_range),
        height=height,
        present=bool(present),
        server_image=image,
        key=key,
        default=None,
    )
