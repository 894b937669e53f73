"""AppTest of the Your digit page: a good upload is encoded and placed; bad ones are handled."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.app_pages import ROOT, MediaRecorder, copy_default, open_page, page_images, values
from ui import state
from vae import evaluate
from vae.checkpoint import load_checkpoint, save_checkpoint
from vae.config import VAEConfig
from vae.data import load_dataset, to_model_input
from vae.digit import browser_constants, prepare_digit
from vae.model import build_vae


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return copy_default(tmp_path_factory.mktemp("ckpt"))


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def upload(at, name: str, data: bytes):
    at.file_uploader(key="digit_upload").upload(name, data, "image/png")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_uploaded_photo_shows_input_reconstruction_and_the_point(checkpoint, monkeypatch):
    media = MediaRecorder(monkeypatch)
    digit = load_dataset("mnist").x_test[0]  # a 7
    photo = 255 - np.kron(digit, np.ones((6, 6), np.uint8))  # dark ink on white, 168 px
    at = upload(open_page("digit", checkpoint), "seven.png", png(photo))
    assert not at.error
    pictures = page_images(at, media)
    prepared = np.asarray(pictures["Prepared 28×28 input"])[::8, ::8]
    np.testing.assert_array_equal(prepared, prepare_digit(png(photo)))
    recon = np.asarray(pictures["Reconstruction: decoded at z_mean"])
    assert recon.shape == (224, 224) and recon.max() > 128

    model = load_checkpoint(checkpoint).model
    z_mean, z_log_var = evaluate.encode(model, to_model_input(prepared[None], "bernoulli"))
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {t["name"]: t for t in spec["data"]}
    assert sum(len(values(traces[str(c)]["x"])) for c in range(10)) == 10_000  # every test encoding
    star = traces["your digit (μ)"]
    np.testing.assert_allclose([values(star["x"])[0], values(star["y"])[0]], z_mean[0], atol=1e-4)
    ring = np.array([values(traces["1σ of q(z|x)"][axis]) for axis in "xy"])
    half_width = (ring[0].max() - ring[0].min()) / 2
    np.testing.assert_allclose(half_width, np.exp(0.5 * z_log_var[0, 0]), rtol=1e-3)
    metrics = {m.label: m.value for m in at.metric}
    terms = evaluate.per_example_terms(model, to_model_input(prepared[None], "bernoulli"))
    assert metrics["KL(q(z|x) ‖ p(z))"] == f"{terms['kl'][0]:.2f}"
    assert metrics["−ELBO (nats)"] == f"{terms['neg_elbo'][0]:.1f}"
    assert metrics["Nearest test digits"] == "7"


def test_bad_uploads_show_a_message_or_are_converted(checkpoint):
    at = open_page("digit", checkpoint)
    upload(at, "notes.png", b"just some text, renamed to .png")
    assert "not an image" in at.error[0].value
    assert not at.get("plotly_chart")

    upload(at, "dot.png", png(np.zeros((1, 1), np.uint8)))
    assert "No digit found" in at.error[0].value

    noise = np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)
    upload(at, "half.png", png(noise)[:2000])
    assert "corrupt or truncated" in at.error[0].value

    bar = np.zeros((80, 60), np.uint8)
    bar[10:70, 25:35] = 255
    rgba = np.zeros((80, 60, 4), np.uint8)
    rgba[..., 3] = bar  # black ink on transparency: converted on a white background
    upload(at, "ink.png", png(rgba))
    assert not at.error and at.get("plotly_chart")

    wide = Image.fromarray(bar.astype(np.uint16) * 257)  # 16-bit grayscale: converted
    buf = io.BytesIO()
    wide.save(buf, format="PNG")
    upload(at, "deep.png", buf.getvalue())
    assert not at.error and at.get("plotly_chart")


DRAW_KEY = "digit_draw"  # the drawing pad's key in pages/digit.py


def draw_args(at) -> dict:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)


def test_draw_mode_shows_the_live_pad_and_waits_for_a_digit(checkpoint):
    at = open_page("digit", checkpoint)
    at.radio(key="digit_source").set_value("Draw").run()
    assert not at.exception and not at.error
    assert any("draw one" in i.value.lower() for i in at.info)
    args = draw_args(at)
    # The encoder and decoder are files the browser fetches, not arguments of every rerun.
    encoder = ROOT / "components" / "draw_pad" / "frontend" / f"{args['encoder_url']}.json"
    assert json.loads(encoder.read_text())["head"]["type"] == "gaussian"
    assert args["decoder_url"].startswith("../components.drag_pad.drag_pad/models/")
    assert args["prep"] == browser_constants() and args["model_input"] == "bernoulli"


@pytest.mark.slow
def test_a_stroke_sent_by_the_pad_gets_the_servers_figures(checkpoint):
    at = open_page("digit", checkpoint)
    at.radio(key="digit_source").set_value("Draw").run()
    seven = prepare_digit(load_dataset("mnist").x_test[0])
    at.session_state[DRAW_KEY] = {"image": seven.ravel().tolist(), "seq": 1}  # a release
    at.run()
    assert not at.exception and not at.error
    model = load_checkpoint(checkpoint).model
    x = to_model_input(seven[None], "bernoulli")
    z_mean, z_log_var = evaluate.encode(model, x)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Nearest test digits"] == "7"
    terms = evaluate.per_example_terms(model, x)
    assert metrics["KL(q(z|x) ‖ p(z))"] == f"{terms['kl'][0]:.2f}"
    assert f"μ = ({z_mean[0, 0]:.4f}, {z_mean[0, 1]:.4f})" in at.caption[-1].value
    assert len(at.get("component_instance")) == 1  # the pad stays; no second plane

    at.session_state[DRAW_KEY] = {"image": [0, 1, 2], "seq": 2}  # garbled
    at.run()
    assert not at.exception and "784" in at.error[0].value
    at.session_state[DRAW_KEY] = {"image": None, "seq": 3}  # cleared
    at.run()
    assert not at.exception and not at.error and not at.metric


def test_a_one_dimensional_model_shows_its_numbers_and_says_why_there_is_no_map(tmp_path):
    save_checkpoint(tmp_path / "j1", build_vae(VAEConfig(latent_dim=1, seed=2)), epoch=0)
    seven = load_dataset("mnist").x_test[0]
    at = upload(open_page("digit", tmp_path / "j1"), "seven.png", png(seven))
    assert not at.error and not at.get("plotly_chart")
    assert any("2 or more dimensions" in i.value for i in at.info)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Nearest test digits"] in [str(c) for c in range(10)]
    assert float(metrics["−ELBO (nats)"]) > 0


def contrast_on_white(colour: str, opacity: float) -> float:
    """WCAG contrast ratio against white of ``colour`` drawn at ``opacity`` on white."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    rgb = opacity * rgb + (1 - opacity)
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return 1.05 / (float(linear @ [0.2126, 0.7152, 0.0722]) + 0.05)


def test_map_has_every_pages_class_colours_and_a_true_size_zoom_on_sigma(checkpoint):
    seven = load_dataset("mnist").x_test[0]
    at = upload(open_page("digit", checkpoint), "seven.png", png(seven))
    whole, zoomed = (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    classes = {t["name"]: t for t in whole["data"] if t["name"] in [str(c) for c in range(10)]}
    for c in range(10):
        marker = classes[str(c)]["marker"]
        assert marker["color"] == state.CLASS_PALETTE[c]  # 1 is orange here as elsewhere
        # Plain to see on a white background, the yellow 5 included.
        assert contrast_on_white(marker["color"], marker["opacity"]) >= 1.5, c

    # σ is a few hundredths: the zoom's axes are a few σ wide, so the 2σ ring fills a
    # good part of them, with the same units on both axes (nothing exaggerated).
    ring = {t["name"]: t for t in zoomed["data"]}["2σ of q(z|x)"]
    width = np.ptp(values(ring["x"]))
    x_range = zoomed["layout"]["xaxis"]["range"]
    assert width / (x_range[1] - x_range[0]) > 0.25
    assert zoomed["layout"]["yaxis"]["scaleanchor"] == "x"
    assert "true size" in at.caption[-1].value


def test_a_model_without_a_plane_draws_on_the_server_canvas_with_a_clear_button(tmp_path):
    save_checkpoint(tmp_path / "j1", build_vae(VAEConfig(latent_dim=1, seed=2)), epoch=0)
    at = open_page("digit", tmp_path / "j1")
    at.radio(key="digit_source").set_value("Draw").run()
    assert any("2 or more latent dimensions" in i.value for i in at.info)

    def canvas_id() -> str:
        (canvas,) = [e for e in at.main if "drawable_canvas" in str(getattr(e, "proto", ""))]
        return canvas.proto.id

    before = canvas_id()
    at.button(key="digit_clear").click().run()
    assert not at.exception
    assert canvas_id() != before  # a new key: the drawing is gone
