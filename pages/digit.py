"""Your digit: upload or draw a digit, see what the model makes of it and where it lands.

A drawing is encoded in the browser on every stroke (components/draw_pad); the server
hears each stroke's end and adds what needs it: the ELBO's terms and the nearest digits.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components.drag_pad import publish_decoder, publish_points
from components.draw_pad import draw_pad, publish_encoder
from ui import share, state
from ui.q_ellipses import Q_COLOUR, add_q_ellipses
from vae import digit, evaluate, images, latent_plane, tour
from vae.data import to_model_input
from vae.upload import MAX_UPLOAD_BYTES

VIEW_SCALE = 8  # 28 px -> 224 px, crisp
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
NEIGHBOURS = 25  # test encodings nearest to mu that vote on "looks like"
MAP_HEIGHT = 520
# Opaque enough that every class colour, even the yellow, stands out on white.
POINT_SIZE, POINT_OPACITY = 4, 0.9
DRAW_KEY = "digit_draw"  # the drawing pad's key; its value is the last stroke's digit
CANVAS = "digit_canvas"
CANVAS_CLEARS = "digit_canvas_clears"  # session_state: bumped to give the canvas a new key
INVERT_LABELS = {
    "auto": "Detect from the border",
    "yes": "Dark digit on light background",
    "no": "Light digit on dark background",
}

st.title("Your digit")
ckpt = state.active()
share.share_bar(ckpt)
key = state.active_key()


@st.cache_data(max_entries=16, show_spinner=False)
def prepared(data: bytes, invert: str) -> np.ndarray:
    """uint8 [28, 28] from file bytes; raises digit.ImageError (cached per file and choice)."""
    return digit.prepare_digit(data, invert=invert)


@st.cache_data(max_entries=32, show_spinner=False)
def analyse(key: state.Key, image: np.ndarray) -> dict[str, np.ndarray | float]:
    """The model's view of one digit: input, z_mean, z_log_var, reconstruction, ELBO terms."""
    model = state.checkpoint_at(key).model
    x = to_model_input(image[None], model.config.decoder)
    z_mean, z_log_var = evaluate.encode(model, x)
    terms = evaluate.per_example_terms(model, x, seed=0)
    return {
        "x": x[0, ..., 0],
        "z_mean": z_mean[0],
        "z_log_var": z_log_var[0],
        "reconstruction": evaluate.decode(model, z_mean)[0, ..., 0],
        **{k: float(v[0]) for k, v in terms.items()},
    }


@st.cache_data(show_spinner="Sending the model to the browser…", max_entries=8)
def browser_model(key: state.Key) -> tuple[dict[str, str] | None, str | None]:
    """(URLs of the exported encoder, decoder and test codes, None) or (None, why not)."""
    ckpt = state.checkpoint_at(key)
    if ckpt.config.latent_dim < 2:
        return None, "the latent plane needs 2 or more latent dimensions"
    problems: list[str] = []
    encoder = publish_encoder(ckpt, lambda exc: problems.append(str(exc)))
    decoder = publish_decoder(ckpt, lambda exc: problems.append(str(exc)))
    if problems:
        return None, problems[0]
    z_mean, _ = state.encodings(key)
    _, y_test, _ = state.test_set(ckpt.config.dataset)
    xy = z_mean[:, :2]
    return {
        "encoder_url": encoder,
        "decoder_url": decoder,
        "points_url": publish_points(xy, y_test),
        "extent": latent_plane.plane_extent(xy, min_extent=3.5),
    }, None


def read_drawing(urls: dict) -> np.ndarray | None:
    """The live drawing pad; the digit of its last stroke (uint8 [28, 28]), or None."""
    _, _, class_names = state.test_set(ckpt.config.dataset)
    value = draw_pad(
        **urls,
        model_input=ckpt.config.decoder,
        class_names=class_names,
        palette=state.CLASS_PALETTE,
        q_color=Q_COLOUR,
        key=DRAW_KEY,
    )
    st.caption(
        "Draw one digit, as large as the box. With every stroke your browser prepares it "
        "as MNIST digits were (cropped, scaled into 20×20, centred by its centre of mass), "
        "encodes it and draws q(z|x) on the plane: μ, and the 1σ and 2σ ellipses at their "
        "true size. σ is often so small that they hide under μ's dot, so the inset shows "
        "them magnified, by the factor it names. The figures below follow when you lift "
        "the pen."
    )
    if not isinstance(value, dict) or value.get("image") is None:
        return None
    return digit.drawn_digit(value["image"])


def read_upload() -> bytes | None:
    upload = st.file_uploader(
        "A picture of one digit",
        type=UPLOAD_TYPES,
        max_upload_size=MAX_UPLOAD_BYTES // 2**20,
        key="digit_upload",
        help="Any photo or scan works: it is cropped to the digit, scaled into a 20×20 box "
        "and centred by its centre of mass in 28×28, as MNIST was made.",
    )
    return None if upload is None else upload.getvalue()


def read_canvas() -> bytes | None:
    try:
        from streamlit_drawable_canvas import st_canvas
    except ImportError:
        st.info("Drawing needs the `streamlit-drawable-canvas` package; upload a picture instead.")
        return None
    clears = st.session_state.get(CANVAS_CLEARS, 0)
    result = st_canvas(
        stroke_width=22,
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=280,
        height=280,
        drawing_mode="freedraw",
        return_image_data=True,
        # A new key is a new, empty canvas: the canvas's own bin icon is too small to
        # hit with a finger, so the button below clears it.
        key=f"{CANVAS}_{clears}",
    )
    st.button(
        "Clear the drawing",
        icon=":material/delete:",
        on_click=clear_canvas,
        key="digit_clear",
        width=280,
    )
    st.caption("Draw one digit with the mouse or a finger, as large as the box.")
    return result.image_bytes


def clear_canvas() -> None:
    st.session_state[CANVAS_CLEARS] = st.session_state.get(CANVAS_CLEARS, 0) + 1


source_col, options_col = st.columns([3, 2])
source = source_col.radio(
    "Source", ["Upload", "Draw"], horizontal=True, key="digit_source", label_visibility="collapsed"
)
live, why_not = browser_model(key) if source == "Draw" else (None, None)
if live is not None:
    try:
        image = read_drawing(live)
    except digit.ImageError as exc:
        st.error(str(exc))
        st.stop()
    if image is None:
        st.info("Draw one digit in the black box to see how the model encodes it.")
        st.stop()
else:
    if why_not:
        st.info(f"Drawing is encoded on the server after each stroke: {why_not}.")
    invert = (
        options_col.selectbox(
            "Polarity", list(INVERT_LABELS), format_func=INVERT_LABELS.get, key="digit_invert"
        )
        if source == "Upload"
        else "auto"
    )
    data = read_upload() if source == "Upload" else read_canvas()
    if not data:
        st.info("Upload a picture of a digit or draw one to see how the model encodes it.")
        st.stop()
    try:
        image = prepared(data, invert)
    except digit.NoDigitError as exc:
        (st.info if source == "Draw" else st.error)(str(exc))
        st.stop()
    except digit.ImageError as exc:
        st.error(str(exc))
        st.stop()

result = analyse(key, image)
z_mean, z_std = result["z_mean"], np.exp(0.5 * result["z_log_var"])

if live is None:  # the drawing pad shows these live
    cols = st.columns(3)
    cols[0].image(
        images.png_bytes(image, VIEW_SCALE), caption="Prepared 28×28 input", output_format="PNG"
    )
    if ckpt.config.decoder == "bernoulli":
        cols[1].image(
            images.png_bytes(images.to_uint8(result["x"]), VIEW_SCALE),
            caption="Binarized, as the Bernoulli model sees it",
            output_format="PNG",
        )
    cols[2].image(
        images.png_bytes(images.to_uint8(result["reconstruction"]), VIEW_SCALE),
        caption="Reconstruction: decoded at z_mean",
        output_format="PNG",
    )

z_mean_all, _ = state.active_encodings()
x_test, y_test, class_names = state.test_set(ckpt.config.dataset)
looks_like = class_names[latent_plane.nearest_class(z_mean, z_mean_all, y_test, NEIGHBOURS)]

m = st.columns(4)
m[0].metric("−ELBO (nats)", f"{result['neg_elbo']:.1f}")
m[1].metric("Reconstruction", f"{result['recon']:.1f}")
m[2].metric("KL(q(z|x) ‖ p(z))", f"{result['kl']:.2f}")
m[3].metric(
    "Nearest test digits",
    looks_like,
    help=f"Most common class of the {NEIGHBOURS} test encodings nearest to this digit's z_mean.",
)

j = ckpt.config.latent_dim
if live is not None:
    st.caption(
        f"On the server, from the last stroke: μ = ({z_mean[0]:.4f}, {z_mean[1]:.4f}), "
        f"σ = ({z_std[0]:.4f}, {z_std[1]:.4f})"
        + (f", and {j - 2} more dimensions not drawn." if j > 2 else ".")
    )
    st.stop()
if j < 2:
    st.info(
        "The map of the latent plane needs a latent space of 2 or more dimensions; this "
        f"model has one. Your digit lands at μ = {z_mean[0]:.2f} with σ = {z_std[0]:.3f}."
    )
    st.stop()


def class_points(fig: go.Figure, sel: np.ndarray | None = None) -> None:
    """The test set's z_mean, one trace per class in the colours of every other page."""
    for c, name in enumerate(class_names):
        mask = y_test == c if sel is None else (y_test == c) & sel
        fig.add_trace(
            go.Scattergl(
                x=z_mean_all[mask, 0],
                y=z_mean_all[mask, 1],
                mode="markers",
                marker={
                    "size": POINT_SIZE,
                    "opacity": POINT_OPACITY,
                    "color": state.CLASS_PALETTE[c % len(state.CLASS_PALETTE)],
                },
                name=name,
                legendgroup=name,
                showlegend=sel is None,
                hoverinfo="skip",
            )
        )


def your_digit(fig: go.Figure, line_width: float) -> None:
    """q(z|x)'s 1σ and 2σ ellipses at their true size, and μ."""
    add_q_ellipses(
        fig, z_mean[:2], z_std[:2], line_width, name="{k}σ of q(z|x)", show_legend=line_width < 3
    )
    fig.add_trace(
        go.Scatter(
            x=[z_mean[0]],
            y=[z_mean[1]],
            mode="markers",
            marker={"symbol": "star", "size": 16, "color": Q_COLOUR, "line": {"width": 1}},
            name="your digit (μ)",
            legendgroup="mu",
            showlegend=line_width < 3,
            hovertemplate="μ = (%{x:.3f}, %{y:.3f})<extra></extra>",
        )
    )


def square(fig: go.Figure, extent: list[float] | None = None) -> None:
    names = ("z1", "z2") if j == 2 else (f"z1 (of {j})", "z2")
    fig.update_layout(
        height=MAP_HEIGHT,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "x": 0, "y": -0.12, "yanchor": "top"},
        legend_itemsizing="constant",
    )
    fig.update_xaxes(title=names[0], range=None if extent is None else extent[:2])
    fig.update_yaxes(
        title=names[1],
        range=None if extent is None else extent[2:],
        scaleanchor="x",
        scaleratio=1,
    )


whole, zoomed = st.columns([3, 2], gap="medium")
fig = go.Figure()
class_points(fig)
your_digit(fig, line_width=2)
square(fig)
whole.markdown("**The latent plane**: every test digit's z_mean, and yours")
whole.plotly_chart(fig, theme="streamlit", key="digit_map")

zoom = tour.zoom_box(z_mean, z_std, np.zeros((0, 2)))
near = (
    (z_mean_all[:, 0] >= zoom[0]) & (z_mean_all[:, 0] <= zoom[1])
    & (z_mean_all[:, 1] >= zoom[2]) & (z_mean_all[:, 1] <= zoom[3])
)  # fmt: skip
close = go.Figure()
class_points(close, near)
your_digit(close, line_width=3)
square(close, zoom)
close.update_layout(showlegend=False)
zoomed.markdown("**Zoomed around μ**, true size")
zoomed.plotly_chart(close, theme="streamlit", key="digit_zoom")
st.caption(
    f"Your digit lands at μ = ({z_mean[0]:.2f}, {z_mean[1]:.2f}) with σ = "
    f"({z_std[0]:.3f}, {z_std[1]:.3f}). The ellipses are 1σ and 2σ of the encoder's Gaussian "
    "q(z|x) at their true size: on the whole plane they shrink to a dot under the star; the "
    f"zoomed plot spans μ ± {tour.ZOOM_REACH * 1.1:g} σ, with the same units on both axes."
)
