"""Latent map: the test set's z_mean by class; hover shows the digit, selecting inspects it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from components.latent_map import latent_map, publish_sprite
from ui import input_hint, presentation, share, state, url_state, watch_it_form
from vae import images, latent_plane, sprite

MAP_KEY = "latent_map"  # the component's key; its value is the browser's last selection
SELECTION = "latent_map.selection"  # list[int]: the selected test indices
INDEX = "latent_map.index"  # the number input's value
SEEN = "latent_map.seen"  # seq of the last component value applied to SELECTION
GALLERY = 32  # images shown for a many-point selection
ELLIPSES = 64  # selected points that get σ ellipses
PALETTE = state.CLASS_PALETTE
# The overlays' toggles: (session_state key, URL parameter).
PRIOR, SHOW_ELLIPSES, DENSITY = "latent_map.prior", "latent_map.ellipses", "latent_map.density"
SWITCHES = tuple(
    url_state.Switch(k, name, url_state.flag, url_state.show_flag)
    for k, name in ((PRIOR, "prior"), (SHOW_ELLIPSES, "ellipses"), (DENSITY, "density"))
)


@st.cache_data(show_spinner="Drawing the thumbnails…", max_entries=2)
def _sprite(dataset: str) -> tuple[str, sprite.SpriteLayout]:
    x_test, _, _ = state.test_set(dataset)
    return publish_sprite(x_test)


@st.cache_data(max_entries=16)
def _plane(key: state.Key, dims: tuple[int, int] | str) -> latent_plane.Projection:
    z_mean, _ = state.encodings(key)
    return latent_plane.project(z_mean, dims)


# The class traces are the heavy part of the figure and never change for a plane, so
# they are built once; cache_resource hands out the same read-only dicts without a copy.
@st.cache_resource(max_entries=16)
def _class_traces(key: state.Key, dims: tuple[int, int] | str) -> list[dict]:
    z_mean, _ = state.encodings(key)
    _, y_test, class_names = state.test_set(state.config_at(key).dataset)
    xy = _plane(key, dims).apply(z_mean).astype(np.float32)
    traces = []
    for c, name in enumerate(class_names):
        idx = np.flatnonzero(y_test == c)
        trace = go.Scattergl(
            x=np.round(xy[idx, 0], 4).tolist(),
            y=np.round(xy[idx, 1], 4).tolist(),
            customdata=idx.tolist(),  # test-set index, read by the browser on hover/select
            mode="markers",
            name=name,
            hoverinfo="none",  # the component draws its own card with the thumbnail
            marker={"size": 4, "color": PALETTE[c % len(PALETTE)], "opacity": 0.75},
        )
        traces.append(trace.to_plotly_json())
    return traces


@st.cache_data(show_spinner="Computing the aggregate posterior…", max_entries=8)
def _densities(key: state.Key, dims: tuple[int, int] | str) -> tuple[np.ndarray, ...]:
    """(xs, ys, q(z), p(z)) on one grid in the drawn plane."""
    z_mean, z_log_var = state.encodings(key)
    proj = _plane(key, dims)
    xs, ys = latent_plane.density_grid(proj.apply(z_mean))
    q = latent_plane.aggregate_posterior_density(z_mean, z_log_var, xs, ys, proj)
    return xs, ys, q, latent_plane.prior_density(xs, ys)


@st.cache_data(max_entries=64)
def _reconstructions(key: state.Key, indices: tuple[int, ...]) -> np.ndarray:
    """Images [n, H, W, C] decoded at z_mean: the deterministic reconstruction, one batch."""
    from vae import evaluate  # TensorFlow: only once points are selected

    z_mean, _ = state.encodings(key)
    return evaluate.decode(state.checkpoint_at(key).model, z_mean[list(indices)])


def _line(xy: np.ndarray, name: str, color: str, dash: str = "solid", group: str = "") -> dict:
    # NaN separators break the polyline between ellipses; JSON has no NaN, so use None.
    # WebGL, like the points: Plotly paints WebGL above SVG, so SVG lines would be hidden.
    def to_list(v: np.ndarray) -> list[float | None]:
        return [None if np.isnan(a) else round(float(a), 4) for a in v]

    return {
        "type": "scattergl",
        "mode": "lines",
        "x": to_list(xy[:, 0]),
        "y": to_list(xy[:, 1]),
        "name": name,
        "legendgroup": group or name,
        "hoverinfo": "skip",
        "line": {"color": color, "width": 1.2, "dash": dash},
    }


def _overlays(
    proj: latent_plane.Projection,
    z_mean: np.ndarray,
    z_log_var: np.ndarray,
    selected: list[int],
    show: dict[str, bool],
    density: tuple[np.ndarray, ...] | None,
) -> list[dict]:
    traces: list[dict] = []
    if show["prior"]:
        for r, circle in latent_plane.prior_contours():
            traces.append(_line(circle, f"prior {r:g}σ", "theme:text", "dot", "prior"))
    if density is not None:
        xs, ys, q, _ = density
        traces.append(
            {
                "type": "contour",
                "x": xs.round(4).tolist(),
                "y": ys.round(4).tolist(),
                "z": q.astype(np.float32).tolist(),
                "name": "aggregate posterior q(z)",
                "showlegend": True,
                "showscale": False,
                "hoverinfo": "skip",
                "contours": {"coloring": "lines"},
                "ncontours": 8,
                "colorscale": "Viridis",
                "line": {"width": 1},
            }
        )
    if selected:
        sel = np.asarray(selected)
        xy = proj.apply(z_mean[sel])
        if show["ellipses"]:
            shown = sel[:ELLIPSES]
            covs = proj.covariances(z_log_var[shown])
            for k in (1, 2):
                curve = latent_plane.ellipses(xy[: len(shown)], covs, k)
                dash = "solid" if k == 1 else "dash"
                traces.append(_line(curve, f"q(z|x) {k}σ", "theme:primary", dash, "posterior"))
        traces.append(
            {
                "type": "scattergl",
                "mode": "markers",
                "name": "selected",
                "x": xy[:, 0].round(4).tolist(),
                "y": xy[:, 1].round(4).tolist(),
                "hoverinfo": "skip",
                "marker": {
                    "size": 9,
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 1.5, "color": "theme:text"},
                },
            }
        )
    return traces


def _select(indices: list[int]) -> None:
    st.session_state[SELECTION] = [int(i) for i in indices]


def _plane_choice(j: int) -> tuple[int, int] | str:
    if j == 2:
        return (0, 1)
    method = st.radio(
        "Plane",
        ["PCA of z_mean", "Two dimensions"],
        horizontal=True,
        help=f"The model has J = {j} latent dimensions; the map shows a plane.",
    )
    if method.startswith("PCA"):
        return "pca"
    dims = list(range(j))
    a, b = st.columns(2)
    dx = a.selectbox("x axis: dimension", dims, index=0, format_func=lambda d: f"z{d + 1}")
    dy = b.selectbox("y axis: dimension", dims, index=1, format_func=lambda d: f"z{d + 1}")
    if dx == dy:
        st.warning("Choose two different dimensions; showing PCA meanwhile.")
        return "pca"
    return (dx, dy)


def _details(selected: list[int], recon, z_mean, z_log_var, terms, x_test, y_test, names) -> None:
    """The selection's images, reconstructions [<= GALLERY, H, W, C] and ELBO terms."""
    sel = np.asarray(selected)
    if len(sel) == 1:
        i = int(sel[0])
        st.subheader(f"Test image #{i} · class {names[y_test[i]]}")
        a, b = st.columns(2)
        a.image(images.png_bytes(x_test[i], scale=4), caption="original", width=112)
        b.image(
            images.png_bytes(images.to_uint8(recon[0, ..., 0]), scale=4),
            caption="reconstruction, decoded at μ",
            width=112,
        )
        sigma = np.exp(0.5 * z_log_var[i])
        c1, c2, c3 = st.columns(3)  # all in nats
        c1.metric("KL", f"{terms['kl'][i]:.3f}")
        c2.metric(
            "Reconstruction",
            f"{terms['recon'][i]:.3f}",
            help="−log p(x|z) for one z drawn from q(z|x)",
        )
        c3.metric("ELBO", f"{-terms['neg_elbo'][i]:.3f}", help="−(reconstruction + KL)")
        st.caption("KL, reconstruction and ELBO in nats.")
        st.dataframe(
            pd.DataFrame(
                {"μ": z_mean[i], "σ": sigma}, index=[f"z{d + 1}" for d in range(len(sigma))]
            ),
            width="stretch",
        )
        return
    st.subheader(f"{len(sel)} test images selected")
    c1, c2, c3 = st.columns(3)
    c1.metric("Mean KL", f"{terms['kl'][sel].mean():.3f}")
    c2.metric("Mean reconstruction", f"{terms['recon'][sel].mean():.3f}")
    c3.metric("Mean ELBO", f"{-terms['neg_elbo'][sel].mean():.3f}")
    shown = sel[:GALLERY]
    cols = min(8, len(shown))
    st.image(
        images.png_bytes(images.tile(x_test[shown] / 255.0, cols=cols), scale=2),
        caption=f"originals (first {len(shown)})",
    )
    st.image(
        images.png_bytes(images.tile(recon, cols=cols), scale=2),
        caption="reconstructions, decoded at μ",
    )
    counts = np.bincount(y_test[sel], minlength=len(names))
    sigma = np.exp(0.5 * z_log_var[sel])
    stats = pd.DataFrame(
        {
            "mean": [*z_mean[sel].mean(0), *sigma.mean(0)],
            "std": [*z_mean[sel].std(0), *sigma.std(0)],
        },
        index=[f"{s}{d + 1}" for s in "μσ" for d in range(sigma.shape[1])],
    )
    st.dataframe(stats, width="stretch")
    st.bar_chart(pd.Series(counts, index=list(names), name="images"), height=180)


# --- page -----------------------------------------------------------------------------
present = presentation.is_on()
if not present:  # a projector gives every pixel to the map
    st.title("Latent map")
plane = state.active_plane("the map")
key, j = plane.key, plane.config.latent_dim  # no model is built for the map itself
x_test, y_test, names = plane.x_test, plane.y_test, plane.names
z_mean, z_log_var = plane.z_mean, plane.z_log_var
share.share_bar(plane)
url_state.restore(SWITCHES)

st.session_state.setdefault(SELECTION, [])
st.session_state.setdefault(SEEN, None)
# The browser's last selection is read before drawing, so the figure already shows it.
# Its value stays set across reruns; only a new seq replaces the current selection.
browser = st.session_state.get(MAP_KEY)
if browser and browser.get("seq") != st.session_state[SEEN]:
    st.session_state[SEEN] = browser.get("seq")
    _select(browser.get("indices", []))

# In presentation mode the map takes three quarters of the width and the window's height;
# its switches move to the side column, above the selection.
controls, side = st.columns([3, 1] if present else [3, 2], gap="medium")
with side if present else controls:
    dims = _plane_choice(j)
    # Each switch as wide as its label, side by side while they fit: equal columns cut
    # the labels short.
    o1 = o2 = o3 = st.container(horizontal=not present, gap="medium")
    show = {
        "prior": o1.toggle(
            "Prior 1σ, 2σ, 3σ",
            value=True,
            key=PRIOR,
            help="Contours of p(z) = N(0, I) at Mahalanobis radius 1, 2 and 3",
        ),
        "ellipses": o2.toggle(
            "Posterior σ ellipses",
            value=True,
            key=SHOW_ELLIPSES,
            help="1σ and 2σ contours of q(z|x) for the selected points",
        ),
        "density": o3.toggle(
            "Aggregate posterior",
            value=False,
            key=DENSITY,
            help="q(z), the mixture of every test image's q(z|x), next to p(z)",
        ),
    }

url_state.record(SWITCHES)
proj = _plane(key, dims)
sprite_url, layout = _sprite(plane.config.dataset)
density = _densities(key, dims) if show["density"] else None
selected = [i for i in st.session_state[SELECTION] if 0 <= i < len(z_mean)]
title = f"{len(z_mean):,} test images at z_mean · {proj.description}"
classes = _class_traces(key, dims)
if density is not None:  # fade the points so the contours (SVG, painted below WebGL) show
    classes = [{**t, "marker": {**t["marker"], "opacity": 0.25}} for t in classes]
figure = {
    "data": [
        *classes,
        *_overlays(proj, z_mean, z_log_var, selected, show, density),
    ],
    "layout": {
        "title": {
            "text": title,
            "font": {"size": presentation.CHART_PX if present else 13},
            "x": 0.01,
            "xanchor": "left",
        },
        **({"font": {"size": presentation.CHART_PX}} if present else {}),
        "xaxis": {"title": {"text": proj.axis_titles[0]}, "zeroline": False},
        "yaxis": {
            "title": {"text": proj.axis_titles[1]},
            "zeroline": False,
            "scaleanchor": "x",
            "scaleratio": 1,
        },
        "dragmode": "lasso",
        "hovermode": "closest",
        "margin": {"l": 50, "r": 10, "t": 60, "b": 45},
        "legend": {"itemsizing": "constant"},
        # Keep zoom and legend while only the overlays change.
        "uirevision": f"{key[0]}|{key[1]}|{dims}",
    },
}
with controls:
    latent_map(figure, sprite_url, layout, key=MAP_KEY, fill=present)
    input_hint.device_hint(
        mouse="Hover for the digit. Click a point, or drag a lasso or box (toolbar) to "
        "select; double-click to clear. Click a legend entry to hide a class.",
        touch="Tap a point to select it and see its digit; swipe to scroll the page. "
        "Tap a legend entry to hide a class.",
    )

if density is not None:
    xs, ys, q, p = density
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("aggregate posterior q(z)", "prior p(z) = N(0, I)"),
    )
    zmax = float(max(q.max(), p.max()))
    for col, z in ((1, q), (2, p)):
        fig.add_trace(
            go.Heatmap(
                x=xs,
                y=ys,
                z=z,
                zmin=0,
                zmax=zmax,
                colorscale="Viridis",
                showscale=col == 2,
                hovertemplate="%{z:.3f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(title_text=proj.axis_titles[0])
    fig.update_yaxes(title_text=proj.axis_titles[1], col=1)
    fig.update_layout(height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    with controls:
        st.plotly_chart(fig, theme="streamlit", key="latent_map.densities")

with side:
    st.number_input(
        "Select test image #",
        0,
        len(z_mean) - 1,
        value=None,
        step=1,
        placeholder=f"index, 0 – {len(z_mean) - 1}",
        key=INDEX,
        on_change=lambda: _select(
            [] if st.session_state[INDEX] is None else [st.session_state[INDEX]]
        ),
    )
    # After the map is on screen: the whole test set's ELBO takes a few seconds, once.
    terms = state.test_terms(key)
    if selected:
        st.button("Clear selection", on_click=_select, args=([],))
        recon = _reconstructions(key, tuple(selected[:GALLERY]))
        _details(selected, recon, z_mean, z_log_var, terms, x_test, y_test, names)
    else:
        st.info("Select points on the map to see their images, μ, σ, KL and ELBO.")

if not present:
    with controls:
        st.subheader("Watch it form")
        watch_it_form.section(key, "latent_map.playback")
