"""Your digit: upload or draw a digit, see what the model makes of it and where it lands."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import state
from vae import digit, evaluate, images, latent_plane
from vae.data import to_model_input
from vae.upload import MAX_UPLOAD_BYTES

VIEW_SCALE = 8  # 28 px -> 224 px, crisp
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
NEIGHBOURS = 25  # test encodings nearest to mu that vote on "looks like"
ELLIPSE_POINTS = 100
INVERT_LABELS = {
    "auto": "Detect from the border",
    "yes": "Dark digit on light background",
    "no": "Light digit on dark background",
}

st.title("Your digit")
ckpt = state.active()
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
    result = st_canvas(
        stroke_width=22,
        stroke_color="#FFFFFF",
        background_color="#000000",
        width=280,
        height=280,
        drawing_mode="freedraw",
        return_image_data=True,
        key="digit_canvas",
    )
    st.caption(
        "Draw one digit with the mouse or a finger, as large as the box; the bin icon clears."
    )
    return result.image_bytes


source_col, options_col = st.columns([3, 2])
source = source_col.radio(
    "Source", ["Upload", "Draw"], horizontal=True, key="digit_source", label_visibility="collapsed"
)
invert = options_col.selectbox(
    "Polarity", list(INVERT_LABELS), format_func=INVERT_LABELS.get, key="digit_invert"
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
if j < 2:
    st.info(
        "The map of the latent plane needs a latent space of 2 or more dimensions; this "
        f"model has one. Your digit lands at μ = {z_mean[0]:.2f} with σ = {z_std[0]:.3f}."
    )
    st.stop()
fig = go.Figure()
for c, name in enumerate(class_names):
    sel = y_test == c
    fig.add_trace(
        go.Scattergl(
            x=z_mean_all[sel, 0],
            y=z_mean_all[sel, 1],
            mode="markers",
            marker={"size": 3, "opacity": 0.35},
            name=name,
            hoverinfo="skip",
        )
    )
for k, dash in ((1, "solid"), (2, "dash")):
    curve = latent_plane.ellipse(z_mean[:2], z_std[:2], k, ELLIPSE_POINTS)
    fig.add_trace(
        go.Scatter(
            x=curve[:, 0],
            y=curve[:, 1],
            mode="lines",
            line={"color": "#ff2b2b", "width": 2, "dash": dash},
            name=f"{k}σ of q(z|x)",
            hoverinfo="skip",
        )
    )
fig.add_trace(
    go.Scatter(
        x=[z_mean[0]],
        y=[z_mean[1]],
        mode="markers",
        marker={"symbol": "star", "size": 16, "color": "#ff2b2b", "line": {"width": 1}},
        name="your digit (μ)",
        hovertemplate="μ = (%{x:.2f}, %{y:.2f})<extra></extra>",
    )
)
fig.update_layout(
    height=520, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend_itemsizing="constant"
)
fig.update_xaxes(title="z1")
fig.update_yaxes(title="z2", scaleanchor="x")
if j > 2:
    fig.update_layout(title=f"First two of {j} latent dimensions (the others are not shown)")
st.plotly_chart(fig, theme="streamlit", key="digit_map")
st.caption(
    f"Your digit lands at μ = ({z_mean[0]:.2f}, {z_mean[1]:.2f}) with σ = "
    f"({z_std[0]:.3f}, {z_std[1]:.3f}); the ellipses are 1σ and 2σ of the encoder's Gaussian "
    "q(z|x), drawn over the z_mean of every test image."
)
