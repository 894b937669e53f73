"""AppTest of the Latent map page: the scatter, the overlays, a selection, and J > 2."""

from __future__ import annotations

import json
from pathlib import Path

import no_tensorflow
import numpy as np
import pytest
from deadline import DEADLINE_S
from streamlit.testing.v1 import AppTest

from tests.app_pages import copy_default, plotly_spec, values
from ui import presentation
from vae import evaluate
from vae.checkpoint import load_checkpoint, save_checkpoint
from vae.config import VAEConfig
from vae.data import load_dataset, to_model_input
from vae.model import build_vae

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/latent_map.py"
ACTIVE = "active_checkpoint"  # ui.state.ACTIVE
MAP_KEY = "latent_map"  # the component's key in pages/latent_map.py


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


@pytest.fixture(scope="module")
def default_copy(tmp_path_factory) -> Path:
    """A frozen copy of the shipped model: a training job may rewrite the original."""
    ckpt = load_checkpoint(ROOT / "checkpoints" / "mnist-2d")
    out = tmp_path_factory.mktemp("ckpt") / "mnist-2d"
    save_checkpoint(
        out, ckpt.model, epoch=ckpt.epoch, history=ckpt.history, include_optimizer=False
    )
    return out


@pytest.fixture(scope="module")
def reference(default_copy, mnist):
    """What the engine says about the copy: encodings and per-example ELBO terms."""
    model = load_checkpoint(default_copy).model
    x = to_model_input(mnist.x_test, model.config.decoder)
    z_mean, z_log_var = evaluate.encode(model, x)
    return {"z_mean": z_mean, "z_log_var": z_log_var, **evaluate.per_example_terms(model, x)}


def _open(checkpoint: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    at.session_state[ACTIVE] = str(checkpoint)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _figure(at: AppTest) -> dict:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)["figure"]


def _traces(at: AppTest, kind: str | None = None) -> list[dict]:
    return [t for t in _figure(at)["data"] if kind is None or t["type"] == kind]


def _metrics(at: AppTest) -> dict[str, float]:
    return {m.label: float(m.value) for m in at.metric}


@pytest.mark.slow
def test_map_holds_every_test_encoding_by_class(default_copy, reference, mnist):
    at = _open(default_copy)
    classes = [t for t in _traces(at, "scattergl") if t.get("customdata")]
    assert [t["name"] for t in classes] == list(mnist.class_names)
    idx = np.concatenate([t["customdata"] for t in classes])
    assert len(idx) == 10_000 and np.array_equal(np.sort(idx), np.arange(10_000))
    for c, t in enumerate(classes):
        assert (mnist.y_test[t["customdata"]] == c).all()
        xy = np.stack([t["x"], t["y"]], axis=1)
        np.testing.assert_allclose(xy, reference["z_mean"][t["customdata"]], atol=2e-4)
    assert "z_mean" in _figure(at)["layout"]["title"]["text"]
    # The hover thumbnails: one sprite sheet of all 10,000 digits, served beside the page.
    sprite = json.loads(at.get("component_instance")[0].proto.json_args)["sprite"]
    assert (sprite["cols"], sprite["width"], sprite["height"]) == (100, 2800, 2800)
    assert (ROOT / "components" / "latent_map" / "frontend" / sprite["url"]).is_file()
    assert (ROOT / "components" / "latent_map" / "frontend" / "plotly.min.js").is_file()


def test_overlays_switch_on_and_off(default_copy):
    at = _open(default_copy)
    prior = [t for t in _traces(at) if t["name"].startswith("prior")]
    assert [t["name"] for t in prior] == ["prior 1σ", "prior 2σ", "prior 3σ"]
    for r, t in zip((1, 2, 3), prior, strict=True):
        np.testing.assert_allclose(np.hypot(t["x"], t["y"]), r, atol=1e-3)
    at.toggle[0].set_value(False).run()
    assert not [t for t in _traces(at) if t["name"].startswith("prior")]
    assert not _traces(at, "contour") and not at.get("plotly_chart")

    at.toggle[2].set_value(True).run()
    assert not at.exception
    (contour,) = _traces(at, "contour")
    q = np.array(contour["z"])
    h = (contour["x"][1] - contour["x"][0]) * (contour["y"][1] - contour["y"][0])
    assert q.shape == (80, 80) and q.sum() * h == pytest.approx(1.0, abs=0.02)
    panels = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert [p["type"] for p in panels] == ["heatmap", "heatmap"]
    at.toggle[2].set_value(False).run()
    assert not _traces(at, "contour") and not at.get("plotly_chart")


def test_selecting_points_shows_images_and_their_elbo_terms(default_copy, reference):
    at = _open(default_copy)
    assert not at.metric
    i = 1234
    at.session_state[MAP_KEY] = {"indices": [i], "seq": 1}  # what the browser sends
    at.run()
    assert not at.exception
    assert [h.value for h in at.subheader][-1].startswith(f"Test image #{i}")  # the side column
    assert [im.captions[0] for im in at.image] == ["original", "reconstruction, decoded at μ"]
    got = _metrics(at)
    assert got["KL"] == pytest.approx(reference["kl"][i], abs=1e-3)
    assert got["Reconstruction"] == pytest.approx(reference["recon"][i], abs=1e-3)
    assert got["ELBO"] == pytest.approx(-reference["neg_elbo"][i], abs=1e-3)
    table = at.dataframe[0].value
    sigma = np.exp(0.5 * reference["z_log_var"][i])
    np.testing.assert_allclose(table["μ"], reference["z_mean"][i], rtol=1e-5)
    np.testing.assert_allclose(table["σ"], sigma, rtol=1e-5)
    # its posterior ellipses sit at Mahalanobis radius 1 and 2 around μ
    for k in (1, 2):
        (t,) = [t for t in _traces(at) if t["name"] == f"q(z|x) {k}σ"]
        xy = np.array([t["x"], t["y"]], dtype=float).T
        xy = xy[~np.isnan(xy).any(axis=1)]
        r = np.hypot(*((xy - reference["z_mean"][i]) / sigma).T)
        np.testing.assert_allclose(r, k, rtol=2e-2)
    at.toggle[1].set_value(False).run()
    assert not [t for t in _traces(at) if t["name"].startswith("q(z|x)")]

    many = list(range(100, 140))
    at.session_state[MAP_KEY] = {"indices": many, "seq": 2}
    at.run()
    assert [h.value for h in at.subheader][-1] == "40 test images selected"
    captions = [im.captions[0] for im in at.image]  # galleries of originals and reconstructions
    assert captions == ["originals (first 32)", "reconstructions, decoded at μ"]
    got = _metrics(at)
    assert got["Mean KL"] == pytest.approx(reference["kl"][many].mean(), abs=1e-3)
    assert got["Mean ELBO"] == pytest.approx(-reference["neg_elbo"][many].mean(), abs=1e-3)
    (selected,) = [t for t in _traces(at) if t["name"] == "selected"]
    assert len(selected["x"]) == 40

    at.number_input(key="latent_map.index").set_value(7).run()
    assert [h.value for h in at.subheader][-1].startswith("Test image #7")
    at.button[0].click().run()  # Clear selection
    assert not at.metric and not [t for t in _traces(at) if t["name"] == "selected"]


@pytest.mark.slow
def test_five_dimensional_model_offers_a_projection_and_states_it(tmp_path, mnist):
    model = build_vae(VAEConfig(latent_dim=5, seed=3))
    save_checkpoint(tmp_path / "j5", model, epoch=0, include_optimizer=False)
    at = _open(tmp_path / "j5")
    assert at.radio[0].label == "Plane" and at.radio[0].value == "PCA of z_mean"
    layout = _figure(at)["layout"]
    assert "PCA of z_mean (J = 5)" in layout["title"]["text"]
    assert layout["xaxis"]["title"]["text"].startswith("PC 1 of z_mean")

    at.radio[0].set_value("Two dimensions").run()
    at.selectbox[0].set_value(2).run()
    at.selectbox[1].set_value(4).run()
    assert not at.exception
    layout = _figure(at)["layout"]
    assert "dimensions 3 and 5 of z_mean" in layout["title"]["text"]
    assert (layout["xaxis"]["title"]["text"], layout["yaxis"]["title"]["text"]) == ("μ₃", "μ₅")
    z_mean, _ = evaluate.encode(model, to_model_input(mnist.x_test, model.config.decoder))
    t = next(t for t in _traces(at, "scattergl") if t["name"] == mnist.class_names[0])
    np.testing.assert_allclose(t["x"], z_mean[t["customdata"], 2], atol=2e-4)
    np.testing.assert_allclose(t["y"], z_mean[t["customdata"], 4], atol=2e-4)


def test_presentation_mode_gives_the_map_the_window_and_large_text(default_copy):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    at.session_state[ACTIVE] = str(default_copy)
    at.query_params["present"] = "1"  # a link opened on the projector
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[presentation.KEY] is True  # the sidebar's switch, on
    assert not at.title  # every pixel for the map
    args = json.loads(at.get("component_instance")[0].proto.json_args)
    assert args["fill"] is True  # as tall as the window
    layout = args["figure"]["layout"]
    assert layout["font"]["size"] == presentation.CHART_PX >= 20
    assert layout["title"]["font"]["size"] == presentation.CHART_PX

    at.session_state[presentation.KEY] = False  # the switch turned off
    at.run()
    assert not at.exception
    assert at.title[0].value == "Latent map"
    args = json.loads(at.get("component_instance")[0].proto.json_args)
    assert args["fill"] is False and "font" not in args["figure"]["layout"]


def test_the_how_to_line_has_mouse_words_and_touch_words(default_copy):
    at = _open(default_copy)
    (hint,) = [h.proto.body for h in at.get("html") if "input-hint" in h.proto.body]
    mouse = hint.split('class="hint-mouse">')[1].split("</span>")[0]
    touch = hint.split('class="hint-touch">')[1].split("</span>")[0]
    assert "Hover" in mouse and "lasso" in mouse
    # A finger cannot hover or draw a lasso here: it taps, and its swipe scrolls the page.
    assert "Tap" in touch and "scroll" in touch
    assert "hover" not in touch.lower() and "lasso" not in touch and "click" not in touch.lower()
    assert "(hover: none) and (pointer: coarse)" in hint  # the touch words on a touch screen


def _playback(at) -> dict | None:
    return plotly_spec(at, "latent_map.playback")


def test_a_run_that_kept_its_codes_plays_back_epoch_by_epoch(default_copy, reference, mnist):
    from vae import encoding_history

    at = _open(default_copy)
    assert _playback(at) is None  # the copy kept no codes per epoch, and says so
    assert any("kept no codes per epoch" in c.value for c in at.caption)

    n_test = len(mnist.y_test)
    idx = encoding_history.indices(n_test)
    z, lv = reference["z_mean"][idx], reference["z_log_var"][idx]
    for epoch, scale in ((1, 0.1), (2, 0.5), (3, 1.0)):  # the codes spread out
        encoding_history.record(default_copy, epoch, z * scale, lv, n_test)
    at = _open(default_copy)
    spec = _playback(at)
    frames = spec["frames"]
    assert [f["name"] for f in frames] == ["1", "2", "3"]
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == ["1", "2", "3"]
    labels = mnist.y_test[idx]
    assert [t["name"] for t in frames[0]["data"]] == [str(c) for c in sorted(set(labels))]
    # Each frame holds that epoch's codes, class by class.
    for frame, scale in zip(frames, (0.1, 0.5, 1.0), strict=True):
        xs = np.concatenate([values(t["x"]) for t in frame["data"]])
        want = np.concatenate([z[labels == c, 0] * scale for c in sorted(set(labels))])
        np.testing.assert_allclose(xs, want, atol=2e-3)
    # The title names each epoch's test figures, from history.json.
    epoch_1 = json.loads((default_copy / "history.json").read_text())[0]["test"]
    assert f"test −ELBO {epoch_1['neg_elbo']:.1f}" in frames[0]["layout"]["title"]["text"]
    assert len(spec["layout"]["updatemenus"][0]["buttons"]) == 2  # play and pause


MAP_WITHOUT_TENSORFLOW = no_tensorflow.page_script(
    "latent_map",
    r"""
maps = at.get("component_instance")
figure = json.loads(maps[0].proto.json_args)["figure"] if maps else {"data": []}
print(json.dumps({
    "exceptions": [str(e.value) for e in at.exception],
    "points": sum(len(t["x"]) for t in figure["data"] if "customdata" in t),  # the codes
    "tried": tried,
}))
""",
)


def test_the_map_is_drawn_from_what_is_stored_without_tensorflow(tmp_path, mnist):
    folder = copy_default(tmp_path)  # with the figures stored beside its weights
    seen = no_tensorflow.run(MAP_WITHOUT_TENSORFLOW, str(ROOT), str(folder), str(DEADLINE_S))
    assert seen["exceptions"] == [] and seen["tried"] == []
    assert seen["points"] == len(mnist.y_test)  # every test code, by class
