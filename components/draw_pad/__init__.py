"""The drawing pad: draw a digit; the browser encodes and decodes it on every stroke.

A Streamlit v1 custom component without a build step, like ``drag_pad``. While a
person draws, ``frontend/draw.js`` prepares the drawing as MNIST digits were
(``prepare.js``, the JavaScript twin of ``vae.digit.prepare_digit``), runs the
exported encoder, draws q(z|x)'s mean and 1σ/2σ ellipses on the latent plane and
decodes the mean, all in the page. Python hears only the release: the prepared 28x28
image, once per stroke, so the page's server-side figures follow the drawing.

Shared code, one copy: the plane, the network interpreter, the protocol and the theme
are the drag pad's modules. Streamlit serves each v1 component's folder at
``component/<name>/`` on the same origin and refuses paths that leave it, so the
drawing pad's modules import them from the sibling URL ``../<drag pad's name>/``
(``SHARED``; ``tests/test_browser_draw.py`` checks the JavaScript says the same).
Importing ``components.drag_pad`` here registers that component, so its files are
served whenever this one is. The decoder and the points are published into the drag
pad's folder by its own functions; only the encoder is written here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

from components import drag_pad
from vae import digit, export
from vae.errors import UnsupportedArchitectureError

FRONTEND = Path(__file__).resolve().parent / "frontend"
SHARED = f"../{drag_pad._component.name}/"  # the drag pad's folder, relative to this one's
DRAW_SIDE = 280  # px of the drawing's own pixels: ten for each of the 28x28 cells
BRUSH = 22  # px at DRAW_SIDE: as thick, after the 20x20 box, as MNIST's pen strokes

_component = components.declare_component("draw_pad", path=str(FRONTEND))


def publish_encoder(
    ckpt: Any,
    on_unsupported: Callable[[UnsupportedArchitectureError], None] | None = None,
) -> str | None:
    """Export ``ckpt``'s encoder into this component's folder; its URL stem, or None.

    ``"models/<digest>"`` names ``<stem>.json`` (spec) and ``<stem>.bin`` (weights),
    written once. None (the error handed to ``on_unsupported``) if a layer cannot run
    in JavaScript.
    """
    model = ckpt.model
    try:
        spec, weights = export.export_encoder(
            model.encoder, model.config.min_std, model.config.sigma
        )
    except UnsupportedArchitectureError as exc:
        if on_unsupported is not None:
            on_unsupported(exc)
        return None
    stem = f"models/{export.network_digest(spec, weights)}"
    json_path, bin_path = FRONTEND / f"{stem}.json", FRONTEND / f"{stem}.bin"
    if not (json_path.exists() and bin_path.exists()):
        export.write_export(spec, weights, json_path.parent, json_path.stem)
    return stem


def draw_pad(
    *,
    encoder_url: str,
    decoder_url: str,
    points_url: str,
    model_input: str,
    class_names: Sequence[str],
    palette: Sequence[str],
    extent: Sequence[float],
    q_color: str,
    key: str,
) -> dict[str, Any] | None:
    """Draw the pad; returns the browser's last release, or None before any.

    - ``encoder_url``: stem from ``publish_encoder``; ``decoder_url`` and ``points_url``
      from ``drag_pad.publish_decoder`` / ``publish_points`` (relative to the drag pad's
      folder).
    - ``model_input``: the model's decoder, ``"bernoulli"`` or ``"gaussian"``: how
      pixels become the encoder's input (``vae.data.to_model_input``).
    - ``extent``: ``[x_min, x_max, y_min, y_max]`` of the plane.
    - ``q_color``: the colour of q(z|x)'s mean and ellipses.

    The value is ``{"image": [784 ints] | None, "seq": int}``: the prepared digit at
    the end of a stroke (None once cleared, or when the strokes hold no digit); ``seq``
    differs on every release.
    """
    return _component(
        encoder_url=encoder_url,
        decoder_url=SHARED + decoder_url,
        points_url=SHARED + points_url,
        model_input=model_input,
        class_names=list(class_names),
        palette=list(palette),
        extent=[float(v) for v in extent],
        prep=digit.browser_constants(),
        draw_side=DRAW_SIDE,
        brush=BRUSH,
        q_color=q_color,
        key=key,
        default=None,
    )
