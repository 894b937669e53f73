"""Samples & interpolation: images drawn through the prior, and paths between two digits."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import share, state, url_state
from vae import images, interpolate

STRIP_SCALE = 3  # enlargement of the sample grid and the strip, crisp pixels
GIF_SCALE = 8  # the animation is shown alone, so it can be large on a projector
COUNTS = (4, 100)  # the "How many" slider's range
SEEDS = (0, 2**31 - 1)
STEPS = (3, 20)  # the interpolation's "Steps" slider's range

st.title("Samples & interpolation")
ckpt = state.active()
x_test, y_test, class_names = state.test_set(ckpt.config.dataset)
key = state.active_key()
share.share_bar(ckpt)
SWITCHES = (
    url_state.Switch("samples_count", "count", url_state.integer(*COUNTS)),
    url_state.Switch("samples_seed", "seed", url_state.integer(*SEEDS)),
    url_state.Switch("interp_a", "a", url_state.integer(0, len(x_test) - 1)),
    url_state.Switch("interp_b", "b", url_state.integer(0, len(x_test) - 1)),
    url_state.Switch("interp_steps", "steps", url_state.integer(*STEPS)),
    url_state.Switch("interp_method", "path", url_state.choice(interpolate.INTERPOLATIONS)),
)
url_state.restore(SWITCHES)


@st.cache_data(max_entries=32, show_spinner=False)
def samples_png(key: state.Key, count: int, seed: int) -> bytes:
    """PNG of ``count`` prior draws decoded in one batched call, tiled with 1 px gaps."""
    drawn = state.checkpoint_at(key).model.sample(count, seed=seed)
    return images.png_bytes(images.tile(drawn, pad=1), STRIP_SCALE)


@st.cache_data(max_entries=32, show_spinner=False)
def interpolation(
    key: state.Key, pair: tuple[int, int], steps: int, method: str
) -> tuple[np.ndarray, bytes, bytes]:
    """(z [steps, J], strip PNG, animated GIF) between test images ``pair``."""
    ckpt = state.checkpoint_at(key)
    x_pair = state.test_inputs(ckpt)[list(pair)]
    z, frames = interpolate.interpolation_frames(ckpt.model, x_pair, steps, method)
    strip = images.png_bytes(images.tile(frames, cols=steps, pad=1), STRIP_SCALE)
    return z, strip, interpolate.gif_bytes(frames, scale=GIF_SCALE)


def random_pair() -> None:
    """Button callback: two different test images, so widgets are set before they draw."""
    a, b = np.random.default_rng().choice(len(x_test), size=2, replace=False)
    st.session_state["interp_a"], st.session_state["interp_b"] = int(a), int(b)


prior_tab, path_tab = st.tabs(["Prior samples", "Interpolation"])

with prior_tab:
    left, right = st.columns([1, 3], gap="large")
    with left:
        count = st.slider("How many", *COUNTS, 36, key="samples_count")
        seed = st.number_input("Seed", *SEEDS, 0, key="samples_seed")
        st.caption(
            "Each image is the decoder's mean for one z drawn from the prior N(0, I). "
            "The same seed always gives the same draws; change it for new ones."
        )
    with right:
        st.image(
            samples_png(key, count, int(seed)),
            caption=f"{count} samples from the prior, seed {seed}",
            output_format="PNG",
        )

with path_tab:
    n_test = len(x_test)
    for name, default in (("interp_a", 0), ("interp_b", 1)):
        if name not in st.session_state:
            st.session_state[name] = default
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
    a = c1.number_input("First test image", 0, n_test - 1, key="interp_a")
    b = c2.number_input("Second test image", 0, n_test - 1, key="interp_b")
    c3.button("Random pair", icon=":material/casino:", on_click=random_pair, key="interp_random")
    steps = c4.slider("Steps", *STEPS, 10, key="interp_steps")
    method = st.radio(
        "Path",
        interpolate.INTERPOLATIONS,
        format_func={"linear": "Straight line", "spherical": "Spherical (slerp)"}.get,
        horizontal=True,
        key="interp_method",
        help="Spherical turns the direction of z along a great circle while its length "
        "changes linearly, so the path avoids the origin's low-norm region that the "
        "straight line cuts through between far-apart codes.",
    )
    url_state.record(SWITCHES)
    z, strip, gif = interpolation(key, (int(a), int(b)), steps, method)

    o1, o2, anim = st.columns([1, 1, 2])
    for col, idx in ((o1, int(a)), (o2, int(b))):
        col.image(
            images.png_bytes(x_test[idx], scale=5),
            caption=f"Test image {idx}: {class_names[y_test[idx]]}",
            output_format="PNG",
        )
    anim.image(gif, caption="The path as a looping animation")
    st.image(strip, caption=f"{steps} decoded points from z_mean of image {a} to that of {b}")
    z_text = " → ".join(f"({', '.join(f'{v:.2f}' for v in z[i][:2])})" for i in (0, -1))
    st.caption(
        f"The strip's ends are the reconstructions of the two originals, decoded at their "
        f"z_mean {z_text}; every frame between is decoded from a point on the "
        f"{'great-circle arc' if method == 'spherical' else 'straight line'} between them."
    )
    d1, d2 = st.columns(2)
    d1.download_button(
        "Download animation (GIF)",
        gif,
        file_name=f"interpolation-{a}-{b}.gif",
        mime="image/gif",
        key="interp_gif_download",
        on_click="ignore",
    )
    d2.download_button(
        "Download strip (PNG)",
        strip,
        file_name=f"interpolation-{a}-{b}.png",
        mime="image/png",
        key="interp_png_download",
        on_click="ignore",
    )
