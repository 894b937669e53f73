"""Manifold: decoded images on a grid of latent points (Kingma & Welling, Fig. 4)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import manifold_picture, presentation, share, state, url_state
from vae import images, manifold

SIZES = (5, 30)  # the grid size slider's range
SPANS = (0.5, 6.0, 0.5)  # the linear grid's range slider: min, max, step
SWITCHES = (
    url_state.Switch(state.MANIFOLD_MODE, "grid", url_state.choice(manifold.GRID_MODES)),
    url_state.Switch(state.MANIFOLD_SIZE, "n", url_state.integer(*SIZES)),
    url_state.Switch(state.MANIFOLD_SPAN, "span", url_state.number(*SPANS[:2]), "{:g}".format),
)

present = presentation.is_on()
if not present:  # a projector gives every pixel to the grid
    st.title("The learned manifold")
ckpt = state.active()
share.share_bar(ckpt)
url_state.restore(SWITCHES)
j = ckpt.config.latent_dim
side = ckpt.config.image_shape[0]


@st.cache_data(max_entries=64, show_spinner=False)
def manifold_png(
    key: state.Key, n: int, mode: str, span: float, dims: tuple[int, int]
) -> tuple[bytes, np.ndarray, int]:
    """(PNG bytes of the crisp grid, axis values [n], pixel scale); one batched decode."""
    grid = manifold.manifold(state.checkpoint_at(key).model, n=n, mode=mode, span=span, dims=dims)
    scale = manifold.picture_scale(n, side)
    picture = manifold.grid_picture(grid)
    return images.png_bytes(picture, scale=scale), manifold.grid_axis(n, mode, span), scale


# In presentation mode the grid comes first and its settings fold away beside it.
if present:
    view, side_col = st.columns([3, 1], gap="medium")
    controls = side_col.expander("Grid settings", expanded=False)
else:
    controls, view = st.columns([1, 3], gap="large")
    side_col = view
with controls:
    mode = st.radio(
        "Grid",
        manifold.GRID_MODES,
        index=manifold.GRID_MODES.index(manifold.DEFAULT_MODE),
        format_func={"prior": "Equal prior mass (inverse CDF)", "linear": "Linear"}.get,
        key=state.MANIFOLD_MODE,
        help="Equal prior mass is the paper's Fig. 4: each cell holds the same share of "
        "N(0, I), so the grid is dense near 0 and sparse in the tails.",
    )
    n = st.slider("Grid size (n × n)", *SIZES, manifold.DEFAULT_SIZE, key=state.MANIFOLD_SIZE)
    span = st.slider(
        "Range ±",
        *SPANS[:2],
        manifold.DEFAULT_SPAN,
        SPANS[2],
        key=state.MANIFOLD_SPAN,
        disabled=mode != "linear",
        help="Linear grid only: z runs from −range to +range on both axes.",
    )
    if j == 2:
        dims = (0, 1)
    else:
        st.caption(
            f"This model has {j} latent dimensions. The grid spans the two you pick; "
            "every other dimension is held at 0, the prior's mean."
        )
        d1 = st.selectbox("Horizontal dimension", range(j), index=0, key="manifold_d1")
        d2 = st.selectbox("Vertical dimension", range(j), index=1, key="manifold_d2")
        if d1 == d2:
            st.error("Choose two different dimensions.")
            st.stop()
        dims = (d1, d2)

url_state.record(SWITCHES)
png, axis, scale = manifold_png(state.active_key(), n, mode, span, dims)
cell = side * scale  # pixels per decoded image in the picture


with view:
    st.html(manifold_picture.picture_html(png, axis, dims, present=present))
with side_col:
    if mode == "prior":
        st.caption(
            f"{n} × {n} latent points at the prior's inverse CDF of (i + ½)/{n}: each cell holds "
            f"1/{n * n} of the prior's mass, and z runs from {axis[0]:.2f} to {axis[-1]:.2f}. "
            "The outer rows are where the prior's tails are, so rare shapes appear there."
        )
    else:
        st.caption(
            f"{n} × {n} latent points evenly spaced from {axis[0]:.2f} to {axis[-1]:.2f}. "
            "Beyond ±2 the prior (and so the training data) is thin, and the decoder guesses."
        )
    px = n * cell
    st.download_button(
        f"Download PNG ({px} × {px} px)",
        png,
        file_name=f"manifold-{mode}-{n}x{n}.png",
        mime="image/png",
        key="manifold_download",
        on_click="ignore",
    )
