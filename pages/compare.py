"""Compare: two models' latent planes side by side, one marker on both.

Dragging on either plane moves both markers, and each model's decoder, running in the
browser (components/compare_pad), redraws its image; the page hears only the release.
Under each plane, the prior mass its test codes leave empty (vae/prior_holes.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from components.compare_pad import compare_pad
from components.drag_pad import publish_decoder, publish_points
from ui import presentation, share, state, url_state
from vae import latent_plane, prior_holes
from vae.errors import VAEError

# A plain autoencoder (β = 0) beside the shipped VAE: the holes the prior fills.
DEFAULTS = ("mnist-2d-ae", "mnist-2d")
CHOICES = ("compare.a", "compare.b")  # session_state keys of the two model pickers
PARAMS = ("a", "b")  # their URL parameters
LABELS = ("Left model", "Right model")
PAD_KEY = "compare.pad"  # the component's key; its value is the browser's last release
MARKER = "compare.z"  # [z1, z2]: the shared marker, as far as the server knows
SEEN = "compare.seen"  # seq of the last release applied
PICKER_HELP = "A shipped model, a run trained here, or an upload."
PAD_HEIGHT = 520  # px: the planes' height outside presentation mode
SERVER_ONLY = ("ckpt", "inside")  # what a plane's dict holds for the page, not the pad


@st.cache_data(show_spinner="Sending the decoder to the browser…", max_entries=8)
def _decoder(key: state.Key) -> tuple[str | None, str | None]:
    """(URL stem of the exported decoder, None) or (None, why it cannot run in a browser)."""
    problems: list[str] = []
    url = publish_decoder(state.checkpoint_at(key), lambda exc: problems.append(str(exc)))
    return url, (problems[0] if problems else None)


@st.cache_data(show_spinner=False, max_entries=8)
def _plane(key: state.Key) -> tuple[str, list[float], float, float]:
    """(URL of the plane's points, its extent, its empty prior mass, its share of codes
    inside the prior's 2σ circle) from the test codes."""
    z_mean, _ = state.encodings(key)
    _, y_test, _ = state.test_set(state.checkpoint_at(key).config.dataset)
    xy = z_mean[:, :2]
    url = publish_points(xy, y_test)
    empty, inside = prior_holes.empty_prior_mass(xy), prior_holes.share_inside(xy)
    return url, latent_plane.plane_extent(xy), empty, inside


def _defaults(names: list[str]) -> tuple[str, str]:
    """The lesson's pair when both are listed, else the first two models the app lists."""
    if all(d in names for d in DEFAULTS):
        return DEFAULTS
    return names[0], names[min(1, len(names) - 1)]


def _choose(models: dict[str, Path]) -> list[str]:
    """The two pickers, seeded by the link's ``a`` and ``b`` once; their names."""
    names = list(models)
    for key, param, default in zip(CHOICES, PARAMS, _defaults(names), strict=True):
        linked = url_state.read(param, url_state.choice(names))
        if linked is not None:
            st.session_state[key] = linked
        elif st.session_state.get(key) not in names:  # first visit, or its run was deleted
            st.session_state[key] = default
    cols = st.columns(2)
    for col, key, label in zip(cols, CHOICES, LABELS, strict=True):
        col.selectbox(label, names, key=key, help=PICKER_HELP)
    picked = [st.session_state[key] for key in CHOICES]
    for param, name in zip(PARAMS, picked, strict=True):
        url_state.write(param, name)  # a link reopens this pair
    return picked


def _plane_of(name: str, path: Path) -> dict | None:
    """What the pad needs of one model, or None after saying why it cannot be shown."""
    try:
        ckpt = state.load(path)
        key = state.key_of(path)
        if ckpt.config.latent_dim < 2:
            st.error(f"`{name}` has one latent dimension; a plane needs J ≥ 2. Choose another.")
            return None
        decoder_url, problem = _decoder(key)
        points_url, extent, empty, inside = _plane(key)
    except VAEError as exc:
        st.error(f"`{name}` could not be loaded: {exc} Choose another model.")
        return None
    if decoder_url is None:
        st.error(
            f"`{name}`'s decoder cannot run in the browser ({problem}); the Compare page "
            "decodes both models there. The Drag pad can show it, decoding on the server."
        )
        return None
    return {
        "name": name,
        "decoder_url": decoder_url,
        "points_url": points_url,
        "extent": extent,
        "palette": list(state.CLASS_PALETTE),
        "empty_prior_mass": empty,
        "ckpt": ckpt,
        "inside": inside,
    }


def _take(value) -> None:
    """Keep the browser's last release as the marker (ignoring its echo and bad values)."""
    if not isinstance(value, dict) or value.get("seq") == st.session_state.get(SEEN):
        return
    st.session_state[SEEN] = value.get("seq")
    z = value.get("z")
    numbers = isinstance(z, list) and len(z) == 2 and all(isinstance(v, int | float) for v in z)
    if numbers and all(math.isfinite(v) and abs(v) <= url_state.Z_LIMIT for v in z):
        st.session_state[MARKER] = [float(v) for v in z]


def _explain() -> None:
    st.caption(
        f"**Empty prior mass**, under each image: the share of the prior N(0, I) lying in cells "
        f"{prior_holes.CELL:g}σ wide (over ±{prior_holes.HALF_WIDTH:g}σ) whose centre is "
        f"farther than {prior_holes.RADIUS:g}σ from every test code: where a sample from "
        "the prior lands on a point the decoder never saw a digit encoded near."
    )


# --- page -----------------------------------------------------------------------------
present = presentation.is_on()
if not present:
    st.title("Compare two models")
models = state.listed_models()
if not models:
    st.error("The app lists no models yet: train one on the Train page or upload one.")
    st.stop()
picked = _choose(models)
linked = url_state.read(url_state.Z, url_state.latent(2))  # a shared link's marker
if linked is not None:
    st.session_state[MARKER] = linked
_take(st.session_state.get(PAD_KEY))
marker = st.session_state.get(MARKER, [0.0, 0.0])

planes = [_plane_of(name, models[name]) for name in picked]
for col, plane in zip(st.columns(2), planes, strict=True):
    if plane is not None:
        col.markdown(share.model_line(plane["ckpt"]))
        col.caption(
            f"{plane['inside']:.0%} of its test codes lie inside the prior's "
            f"{prior_holes.INSIDE_SIGMA:g}σ circle, where N(0, I) puts "
            f"{prior_holes.prior_inside():.0%} of its mass."
        )
if all(planes):
    compare_pad(
        planes=[{k: v for k, v in p.items() if k not in SERVER_ONLY} for p in planes],
        z_init=marker,
        height=PAD_HEIGHT,
        present=present,
        key=PAD_KEY,
    )
    _explain()
    if any(p["ckpt"].config.latent_dim > 2 for p in planes):
        st.caption(
            "A model with J > 2 is shown in its first two latent dimensions; the marker "
            "holds the others at 0, the prior's mean."
        )
_, button = st.columns([3, 1])
with button:
    share.copy_link_button()
# Changes only on a release: a drag costs the server nothing, the link follows the marker.
url_state.write(url_state.Z, url_state.show_latent(marker))
