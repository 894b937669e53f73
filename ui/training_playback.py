"""The latent space forming over training, as one Plotly figure that plays in the browser.

One frame per recorded epoch (vae/encoding_history.py): the followed test codes by
class, over the prior's 1σ, 2σ and 3σ circles, with that epoch's test −ELBO and KL
in the title. Play, pause and the epoch slider run in the browser: no rerun per frame.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae.encoding_history import EncodingHistory

FRAME_MS = 400  # per epoch while playing: 80 epochs in about half a minute
RADII = (1.0, 2.0, 3.0)


def _title(epoch: int, record: dict | None) -> str:
    test = (record or {}).get("test") or {}
    if "neg_elbo" in test and "kl" in test:
        return f"epoch {epoch} · test −ELBO {test['neg_elbo']:.1f} · KL {test['kl']:.2f} nats"
    return f"epoch {epoch}"


def extent(history: EncodingHistory) -> float:
    """Half the width of a square view holding the prior's 3σ and nearly every code of
    every epoch (the farthest 0.2% of codes are left out, so one outlier cannot shrink
    the rest)."""
    xy = np.abs(history.z_mean[..., :2].astype(np.float32))
    return float(max(3.2, np.quantile(xy, 0.998) * 1.05))


def figure(
    history: EncodingHistory,
    labels: np.ndarray,
    names: list[str],
    palette: list[str],
    records: list[dict],
    height: int = 560,
    playable: bool = True,
) -> go.Figure:
    """The playback figure; ``labels`` [N] are the followed images' classes and
    ``records`` the checkpoint's history.json, for each epoch's figures. Not
    ``playable``: the last epoch alone, as a training shows it while it runs."""
    by_epoch = {r.get("epoch"): r for r in records}
    classes = [c for c in range(len(names)) if np.any(labels == c)]

    def traces(row: int) -> list[go.Scatter]:
        xy = history.z_mean[row, :, :2].astype(np.float32)
        return [
            go.Scatter(
                x=np.round(xy[labels == c, 0], 3),
                y=np.round(xy[labels == c, 1], 3),
                mode="markers",
                name=str(names[c]),
                marker={"size": 5, "color": palette[c % len(palette)], "opacity": 0.8},
                hoverinfo="name",
            )
            for c in classes
        ]

    epochs = [int(e) for e in history.epochs]
    last = len(epochs) - 1
    fig = go.Figure(
        data=traces(last),  # the end state first: what a still picture should show
        frames=[
            go.Frame(
                data=traces(i),
                name=str(e),
                layout={"title": {"text": _title(e, by_epoch.get(e))}},
            )
            for i, e in enumerate(epochs)
        ]
        if playable
        else None,
    )
    r = extent(history)
    for k in RADII:
        fig.add_shape(
            type="circle",
            x0=-k,
            y0=-k,
            x1=k,
            y1=k,
            line={"color": "rgba(128,128,128,0.7)", "dash": "dot", "width": 1},
            layer="below",
        )
    play = {
        "frame": {"duration": FRAME_MS, "redraw": False},
        "transition": {"duration": 0},
        "fromcurrent": True,
    }
    view = {
        "height": height,
        "title": {"text": _title(epochs[last], by_epoch.get(epochs[last])), "x": 0.01},
        "xaxis": {"range": [-r, r], "title": {"text": "z₁"}, "zeroline": False},
        "yaxis": {
            "range": [-r, r],
            "title": {"text": "z₂"},
            "zeroline": False,
            "scaleanchor": "x",
            "scaleratio": 1,
        },
        "legend": {"itemsizing": "constant"},
        "margin": {"l": 50, "r": 10, "t": 50, "b": 170 if playable else 40},
    }
    fig.update_layout(**view)
    if not playable:
        return fig
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.12,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"r": 10, "t": 0},
                "buttons": [
                    {"label": "▶ Play", "method": "animate", "args": [None, play]},
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}],
                    },
                ],
            }
        ],
        sliders=[
            {
                # A row of its own under the buttons: beside them, in a narrow column,
                # the buttons covered the slider's first epochs.
                "active": last,
                "x": 0.0,
                "len": 1.0,
                "y": -0.24,
                "yanchor": "top",
                "currentvalue": {"prefix": "epoch "},
                "pad": {"t": 0},
                "steps": [
                    {
                        "label": str(e),
                        "method": "animate",
                        "args": [
                            [str(e)],
                            {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"},
                        ],
                    }
                    for e in epochs
                ],
            }
        ],
    )
    return fig
