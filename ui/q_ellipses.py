"""q(z|x) on a Plotly latent plane: its 1σ and 2σ ellipses at their true size.

One drawing and one colour for every page that shows a digit's q(z|x), so a student
who learns the red rings on How a VAE works reads them the same way on Your digit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae import latent_plane

Q_COLOUR = "#e15759"  # q(z|x)'s ellipses and μ
RINGS = ((1, "solid"), (2, "dash"))  # k-sigma contours and their dash
RING_POINTS = 100  # enough for a smooth ring on a 900 px plane


def add_q_ellipses(
    fig: go.Figure,
    z_mean: np.ndarray,
    z_std: np.ndarray,
    width: float,
    *,
    name: str = "q(z|x) {k}σ",
    show_legend: bool = True,
) -> None:
    """Add the 1σ and 2σ rings of N(z_mean, diag z_std²) (z_mean, z_std: [2]) to ``fig``.

    ``name`` is formatted with ``k``; rings of the same k share a legend group, so a
    figure drawn in two panels toggles both together.
    """
    for k, dash in RINGS:
        ring = latent_plane.ellipse(z_mean, z_std, k, RING_POINTS)
        fig.add_trace(
            go.Scatter(
                x=ring[:, 0],
                y=ring[:, 1],
                mode="lines",
                line={"color": Q_COLOUR, "width": width, "dash": dash},
                name=name.format(k=k),
                legendgroup=f"{k}σ",
                showlegend=show_legend,
                hoverinfo="skip",
            )
        )
