"""Drag pad: drag a point through the latent plane; the image follows the pointer.

The decoder runs in the browser (components/drag_pad), so a drag costs no rerun; the
page hears only the release and then shows what needs the server: the nearest test
digits and the prior and posterior figures at that point.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from components.drag_pad import drag_pad, publish_decoder, publish_export, publish_points
from ui import presentation, share, state, url_state, watch_it_form
from vae import images, latent_plane, manifold

PAD_KEY = "drag_pad.pad"  # the component's key; its value is the browser's last point
LIVE = "drag_pad.live"  # (model path, [J floats]): the marker, as far as the server knows
RELEASED = "drag_pad.released"  # (model path, [J floats]): the point the details describe
SEEN = "drag_pad.seen"  # seq of the last component value applied
RESETS = "drag_pad.resets"  # counts "Back to the origin": the pad then moves even onto a z it sent
ON_SERVER = "drag_pad.on_server"  # toggle: decode on the server, to feel the difference
SWITCHES = (url_state.Switch(ON_SERVER, "server", url_state.flag, url_state.show_flag),)
NEIGHBOURS = 8
PAD_HEIGHT = 600  # px: the largest plane outside presentation mode, which fills the window
THUMB_SCALE = 2  # 28 px -> 56 px neighbours: eight of them fit beside the pad


@st.cache_data(show_spinner="Sending the decoder to the browser…", max_entries=8)
def _decoder(key: state.Key) -> tuple[str | None, str | None]:
    """(URL stem of the exported decoder, None) or (None, why it cannot run in a browser).

    The export stored beside the weights is served as it is; only without one is the
    model built (TensorFlow) to export it.
    """
    if (kept := state.stored_export(key)) is not None:
        return publish_export(*kept), None
    problems: list[str] = []
    url = publish_decoder(state.checkpoint_at(key), lambda exc: problems.append(str(exc)))
    return url, (problems[0] if problems else None)


def _points(plane: state.Plane, reach: float) -> tuple[str, list[float]]:
    """(URL of the plane's points, the plane's extent): z_mean's first two dims by class.

    Not cached: a hash of 90 kB and a file that is already there cost a millisecond,
    and a cached call would replay a warning the encodings gave once more.
    """
    xy = plane.z_mean[:, :2]
    url = publish_points(xy, plane.y_test)
    return url, latent_plane.plane_extent(xy, min_extent=max(3.5, reach))


def _manifold_range() -> list[float]:
    """[lo, hi] of the Manifold page's grid: its current settings, or its defaults."""
    axis = manifold.grid_axis(*state.manifold_settings())
    return [float(axis.min()), float(axis.max())]


def _point(name: str, model: str, j: int) -> list[float]:
    saved = st.session_state.get(name)
    if saved and saved[0] == model and len(saved[1]) == j:
        return list(saved[1])
    return [0.0] * j


def _take(value, model: str, j: int) -> bool:
    """Apply a new value from the pad; True if it was a release (not a live move)."""
    if not isinstance(value, dict) or value.get("seq") == st.session_state.get(SEEN):
        return False
    st.session_state[SEEN] = value.get("seq")
    z = value.get("z")
    if not isinstance(z, list) or len(z) != j:  # e.g. sent for the previous model
        return False
    z = [float(v) for v in z]
    if not all(math.isfinite(v) for v in z):
        return False
    st.session_state[LIVE] = (model, z)
    if value.get("final", True):
        st.session_state[RELEASED] = (model, z)
        return True
    return False


def _to_origin(model: str, j: int) -> None:
    st.session_state[LIVE] = st.session_state[RELEASED] = (model, [0.0] * j)
    st.session_state[RESETS] = st.session_state.get(RESETS, 0) + 1


@st.fragment
def _server_pad(pad_args: dict, model: str, j: int) -> None:
    """The pad when the browser cannot decode: each move reruns only this fragment."""
    if _take(st.session_state.get(PAD_KEY), model, j):
        st.rerun()  # a release: the whole page, so the details below follow
    from vae import evaluate  # TensorFlow: only a pad that decodes on the server needs it

    z = _point(LIVE, model, j)
    image = evaluate.decode(state.load(model).model, np.asarray([z], np.float32))[0]
    drag_pad(**pad_args, decoder_url=None, z_init=z, server_image=image, key=PAD_KEY)


def _fmt(v: float) -> str:
    return f"{v:.2f}".replace("-", "−")


def _ratio(log_ratio: float) -> str:
    r = math.exp(log_ratio) if log_ratio < 700 else math.inf
    return f"{r:.2f}" if 0.01 <= r < 1000 else f"{r:.1e}".replace("-", "−")


def how_to_read(j: int) -> None:
    """What the plane shows, for a first look; the pad itself says how to move the marker."""
    inside = [latent_plane.prior_mass_within(r, j) for r in (1, 2, 3)]
    # The tail beyond 3σ in closed form, for J = 2 only: 1 − CDF = e^(−r²/2), KaTeX-rendered.
    tail = r" ($e^{-4.5}$)" if j == 2 else ""
    st.markdown(
        f"""
- **Each dot** is a test digit at the mean of its code q(z|x), coloured by class.
- **The image** is the decoder's mean at the marker: each pixel's probability of ink,
  not a random sample.
- **Near the origin** the decodings are typical digits: the prior N(0, I) puts most
  of its mass there.
- **Far outside 3σ**, the outer dotted circle, the prior gives almost no mass: only
  {1 - inside[2]:.1%} of it lies beyond{tail}. No digit was encoded there, so the
  decodings there mean little.
- The circles hold {inside[0]:.0%}, {inside[1]:.0%} and {inside[2]:.1%} of the prior
  (J = {j}); the dashed square is the Manifold page's grid.
"""
    )


def details(
    z: list[float], z_mean, z_log_var, x_test, y_test, names, present: bool = False
) -> None:
    """The figures at z and its nearest test digits: what needs the server.

    ``present``: presentation mode, where they must fit beside the pad in the window's
    height: the figures' footnote goes and the digits' captions are one short line.
    """
    s = latent_plane.describe_point(np.asarray(z), z_mean, z_log_var, k=NEIGHBOURS)
    shown = ", ".join(_fmt(v) for v in z[:4]) + (", …" if len(z) > 4 else "")
    st.subheader(f"At z = ({shown})")
    # Two by two: the column beside the pad is narrow, and a phone stacks them anyway.
    top, bottom = st.columns(2), st.columns(2)
    c1, c2, c3, c4 = *top, *bottom
    c1.metric(
        "log p(z)",
        f"{s.log_prior:.2f}",
        help="The prior N(0, I) at z, in nats. The pad shows p(z) itself.",
    )
    c2.metric(
        "Prior mass closer to 0",
        f"{s.prior_mass_within:.1%}",
        help=f"Share of the prior within |z| = {s.radius:.2f}σ of the origin: the chi-square "
        f"CDF with J = {len(z)} degrees of freedom. Near 100%: few codes are this far out.",
    )
    c3.metric(
        "q(z) / p(z)",
        _ratio(s.log_ratio),
        help="The aggregate posterior q(z), the mean of every test digit's q(z|x), over the "
        "prior. Above 1 the encoder crowds codes here; far below 1 is a region it leaves "
        "empty, where the decoder saw little in training.",
    )
    c4.metric(
        "Nearest digit's q(z|x)",
        f"{s.neighbour_sigmas[0]:.1f} σ",
        help="How many of its own posterior's standard deviations z lies from the nearest "
        "test digit's z_mean (the Mahalanobis distance).",
    )
    if not present:
        st.caption(
            f"log q(z) = {s.log_aggregate:.2f} nats, log p(z) = {s.log_prior:.2f} nats, "
            f"|z| = {s.radius:.2f}σ."
        )
    why = "" if present else " (distance from z to their z_mean)"
    st.markdown(f"**The {NEIGHBOURS} nearest test digits**{why}")
    st.image(
        [images.png_bytes(x_test[i], scale=THUMB_SCALE) for i in s.neighbours],
        caption=[
            f"{names[y_test[i]]} · {d:.2f}" if present else f"{names[y_test[i]]} · d {d:.2f} · #{i}"
            for i, d in zip(s.neighbours, s.distances, strict=True)
        ],
        width=28 * THUMB_SCALE,
    )


# --- page -----------------------------------------------------------------------------
present = presentation.is_on()
if not present:  # a projector gives every pixel to the plane
    st.title("Drag through the latent space")
plane = state.active_plane("the pad")
key, j = plane.key, plane.config.latent_dim
path = key[0]
x_test, y_test, names = plane.x_test, plane.y_test, plane.names
z_mean, z_log_var = plane.z_mean, plane.z_log_var
share.share_bar(plane)  # its name and config: no model needs building to say them
linked = url_state.read(url_state.Z, url_state.latent(j))  # a shared link's marker
if linked is not None:
    st.session_state[LIVE] = st.session_state[RELEASED] = (path, linked)
url_state.restore(SWITCHES)

decoder_url, problem = _decoder(key)
manifold_range = _manifold_range()
points_url, extent = _points(plane, manifold_range[1])
_take(st.session_state.get(PAD_KEY), path, j)  # the browser's last point, before drawing
pad_args = {
    "points_url": points_url,
    "class_names": list(names),
    "palette": list(state.CLASS_PALETTE),
    "extent": extent,
    "manifold_range": manifold_range,
    "height": PAD_HEIGHT,
    "reset": st.session_state.get(RESETS, 0),
    "present": present,
}

# The details sit beside the pad, so a release shows them without scrolling; on a phone
# Streamlit stacks the columns and they follow the pad.
pad_col, detail_col = st.columns([3, 1], gap="small")
with pad_col:
    if decoder_url is None:
        st.warning(
            f"Decoding on the server: this decoder cannot run in the browser — {problem} "
            "Each move costs a round trip to Python, so the image lags the pointer."
        )
        _server_pad(pad_args, path, j)
    elif st.session_state.get(ON_SERVER):
        st.info(
            "Decoding on the server, for comparison: every move now goes to Python and "
            "back, as it would in an app without this pad. Feel the image lag the pointer."
        )
        _server_pad(pad_args, path, j)
    else:
        drag_pad(**pad_args, decoder_url=decoder_url, z_init=_point(LIVE, path, j), key=PAD_KEY)
    if j > 2:
        st.caption(
            f"This model has J = {j} latent dimensions. The pad moves z₁ and z₂ and holds "
            "the others at 0, the prior's mean; the dots are the test set's first two "
            "coordinates of z_mean."
        )
    back, server = st.columns([1, 3], vertical_alignment="center")
    back.button("Back to the origin", on_click=_to_origin, args=(path, j))
    server.toggle(
        "Decode on the server",
        key=ON_SERVER,
        disabled=decoder_url is None,
        help="Send every move to Python and back instead of decoding in the browser: "
        "the way a plain Streamlit app would do it, for comparison.",
    )
    url_state.record(SWITCHES)
    with st.expander("How to read this", expanded=not present):
        how_to_read(j)
    if not present:
        with st.expander("Watch the codes form over training"):
            watch_it_form.section(key, "drag_pad.playback")
with detail_col:
    st.html(presentation.WHOLE_METRIC_LABELS)
    details(_point(RELEASED, path, j), z_mean, z_log_var, x_test, y_test, names, present)
# Changes only on a release: a drag costs the server nothing, the link follows the marker.
url_state.write(url_state.Z, url_state.show_latent(_point(RELEASED, path, j)))
state.warm_up(path)  # drawn without the model: build it now for the next page
