"""Manifold: decoded images on a grid of latent points (Kingma & Welling, Fig. 4)."""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import state
from vae import images, manifold

st.title("The learned manifold")
ckpt = state.active()
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


controls, view = st.columns([1, 3], gap="large")
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
    n = st.slider("Grid size (n × n)", 5, 30, manifold.DEFAULT_SIZE, key=state.MANIFOLD_SIZE)
    span = st.slider(
        "Range ±",
        0.5,
        6.0,
        manifold.DEFAULT_SPAN,
        0.5,
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

png, axis, scale = manifold_png(state.active_key(), n, mode, span, dims)
cell = side * scale  # pixels per decoded image in the picture


def ticks(values: np.ndarray) -> tuple[list[float], list[str]]:
    """Tick at every k-th cell centre (in picture pixels), at most ~11 labels."""
    k = max(1, int(np.ceil(len(values) / 11)))
    idx = list(range(0, len(values), k))
    return [(i + 0.5) * cell for i in idx], [f"{values[i]:.2f}" for i in idx]


fig = go.Figure(
    go.Image(source="data:image/png;base64," + base64.b64encode(png).decode(), hoverinfo="skip")
)
# Invisible markers at the cell centres carry the hover text: the z of each cell.
cx, cy = np.meshgrid((np.arange(n) + 0.5) * cell, (np.arange(n) + 0.5) * cell)
z1, z2 = np.meshgrid(axis, axis[::-1])
fig.add_trace(
    go.Scatter(
        x=cx.ravel(),
        y=cy.ravel(),
        mode="markers",
        marker={"size": max(4, 600 // n), "opacity": 0},
        customdata=np.stack([z1.ravel(), z2.ravel()], axis=1),
        hovertemplate=f"z{dims[0] + 1} = %{{customdata[0]:.2f}}<br>"
        f"z{dims[1] + 1} = %{{customdata[1]:.2f}}<extra></extra>",
        showlegend=False,
    )
)
xt, yt = ticks(axis), ticks(axis[::-1])
fig.update_xaxes(
    tickvals=xt[0], ticktext=xt[1], title=f"z{dims[0] + 1}", showgrid=False, zeroline=False
)
fig.update_yaxes(
    tickvals=yt[0],
    ticktext=yt[1],
    title=f"z{dims[1] + 1}",
    showgrid=False,
    zeroline=False,
    scaleanchor="x",
)
fig.update_layout(height=720, margin={"l": 60, "r": 10, "t": 10, "b": 50})

with view:
    st.plotly_chart(fig, theme="streamlit", key="manifold_chart")
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
