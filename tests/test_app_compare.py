"""AppTest of the Compare page: two models' planes in one pad, the empty prior mass,
the link's a, b and z, and bad input that leaves the page working."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from compare_fixtures import MIRROR, SHIPPED, make_runs
from deadline import DEADLINE_S
from streamlit.testing.v1 import AppTest

from tests.app_pages import ROOT, clear_caches
from ui import state
from vae import evaluate, prior_holes
from vae.checkpoint import load_checkpoint
from vae.data import to_model_input

PAD_KEY = "compare.pad"  # the component's key in pages/compare.py
FRONTEND = ROOT / "components" / "drag_pad" / "frontend"
A, B = f"runs/{SHIPPED}", f"runs/{MIRROR}"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("compare"))


@pytest.fixture
def app(folders, monkeypatch):
    runs, data = folders
    monkeypatch.setattr(state, "RUNS_DIR", runs)
    monkeypatch.setenv("VAE_DATA_DIR", str(data))
    clear_caches()

    def open_compare(**params) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
        for k, v in params.items():
            at.query_params[k] = v
        at.switch_page("pages/compare.py")
        at.run()
        assert not at.exception, at.exception
        return at

    yield open_compare
    clear_caches()


def _pad(at) -> dict:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)


def test_two_models_each_with_its_decoder_points_and_empty_prior_mass(app, folders):
    runs, data = folders
    at = app(a=A, b=B)
    assert at.title[0].value == "Compare two models"
    assert [s.value for s in at.selectbox] == [A, B]
    args = _pad(at)
    assert args["z_init"] == [0.0, 0.0]
    left, right = args["planes"]
    assert (left["name"], right["name"]) == (A, B)
    # Two decoders, each exported for the browser; the mirror's weights differ.
    assert left["decoder_url"] != right["decoder_url"]
    for plane in (left, right):
        spec = json.loads((FRONTEND / f"{plane['decoder_url']}.json").read_text())
        assert spec["latent_dim"] == 2
    # The mirror keeps the encoder, so both planes hold the same test codes.
    assert left["points_url"] == right["points_url"]
    model = load_checkpoint(runs / SHIPPED).model
    x_test = np.load(data / "mnist.npz")["x_test"]
    z_mean, _ = evaluate.encode(model, to_model_input(x_test, model.config.decoder))
    points = (FRONTEND / left["points_url"]).read_bytes()
    xy = np.frombuffer(points[: 8 * len(x_test)], "<f4").reshape(-1, 2)
    np.testing.assert_allclose(xy, z_mean, atol=1e-5)
    # The empty prior mass is the engine's figure for these codes.
    want = prior_holes.empty_prior_mass(z_mean)
    assert left["empty_prior_mass"] == pytest.approx(want, abs=1e-6)
    assert 0.5 < want < 1  # 32 codes cannot cover the prior
    assert "Empty prior mass" in " ".join(c.value for c in at.caption)
    # The link names both models and the marker.
    assert at.query_params["a"] == A and at.query_params["b"] == B
    assert at.query_params["z"] == "0,0"


def test_a_release_moves_the_marker_into_the_link(app):
    at = app(a=A, b=B)
    at.session_state[PAD_KEY] = {"z": [1.25, -0.5], "seq": 3}  # what the browser sends
    at.run()
    assert not at.exception
    assert _pad(at)["z_init"] == [1.25, -0.5]
    assert at.query_params["z"] == "1.25,-0.5"
    # A value of the wrong shape, or beyond any code, is ignored.
    for bad in ([1.0], [float("nan"), 0.0], [50.0, 0.0], "x"):
        at.session_state[PAD_KEY] = {"z": bad, "seq": 4 + len(str(bad))}
        at.run()
        assert not at.exception and _pad(at)["z_init"] == [1.25, -0.5]


def test_the_link_reopens_the_marker(app):
    at = app(a=B, b=A, z="-1.5,2")
    assert [s.value for s in at.selectbox] == [B, A]
    assert _pad(at)["z_init"] == [-1.5, 2.0]


def test_bad_parameters_are_named_and_the_page_keeps_its_defaults(app):
    at = app(a="../../etc", b=B, z="1,2,3")
    warnings = " ".join(w.value for w in at.warning)
    assert "`a` parameter was ignored" in warnings and "is not one of" in warnings
    assert "`z` parameter was ignored" in warnings
    names = list(state.listed_models())
    # The left default: the lesson's autoencoder when it is listed, else the first model.
    left = "mnist-2d-ae" if {"mnist-2d-ae", "mnist-2d"} <= set(names) else names[0]
    assert at.selectbox[0].value == left
    assert _pad(at)["z_init"] == [0.0, 0.0]
    assert "a" in at.query_params and at.query_params["a"] == left


def test_the_lessons_pair_is_the_default_when_listed(app, folders, tmp_path, monkeypatch):
    runs, _ = folders
    shipped = tmp_path / "checkpoints"
    shipped.mkdir()
    for name, target in (("aaa", SHIPPED), ("mnist-2d", SHIPPED), ("mnist-2d-ae", MIRROR)):
        (shipped / name).symlink_to(runs / target, target_is_directory=True)
    monkeypatch.setattr(state, "SHIPPED_DIR", shipped)
    at = app()
    assert [s.value for s in at.selectbox] == ["mnist-2d-ae", "mnist-2d"]
    assert [p["name"] for p in _pad(at)["planes"]] == ["mnist-2d-ae", "mnist-2d"]


def test_a_model_that_cannot_load_is_named_and_the_other_can_be_chosen(app, tmp_path, monkeypatch):
    shipped = tmp_path / "checkpoints"
    broken = shipped / "broken"
    broken.mkdir(parents=True)
    shutil.copy(ROOT / "checkpoints" / "mnist-2d" / "config.json", broken)
    (broken / "weights.safetensors").write_bytes(b"not a weights file")
    monkeypatch.setattr(state, "SHIPPED_DIR", shipped)
    at = app(a="broken", b=B)
    errors = " ".join(e.value for e in at.error)
    assert "`broken` could not be loaded" in errors and "Choose another model" in errors
    assert not at.get("component_instance")  # no pad with one plane
    at.selectbox[0].select(A).run()
    assert not at.exception and not at.error
    assert [p["name"] for p in _pad(at)["planes"]] == [A, B]
    assert at.query_params["a"] == A
