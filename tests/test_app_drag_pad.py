"""AppTest of the Drag pad page: the drag pad's inputs, a release, and the server fallback."""

from __future__ import annotations

import json
from pathlib import Path

import no_tensorflow
import numpy as np
import pytest
from deadline import DEADLINE_S
from streamlit.testing.v1 import AppTest

from tests.app_pages import ROOT, copy_default, open_page, plotly_spec, values
from ui import presentation
from vae import evaluate, export, latent_plane, precompute
from vae.checkpoint import load_checkpoint, save_checkpoint
from vae.config import VAEConfig
from vae.data import load_dataset, to_model_input
from vae.model import build_vae

PAD_KEY = "drag_pad.pad"  # the component's key in pages/drag_pad.py
FRONTEND = ROOT / "components" / "drag_pad" / "frontend"

# Opens the Drag pad in a fresh interpreter where importing TensorFlow or Keras raises,
# loading a checkpoint raises, and the background warm-up only records its call; then
# releases the marker. Prints what the page showed, as JSON.
WITHOUT_TENSORFLOW = (
    no_tensorflow.BLOCK
    + r"""

from streamlit.testing.v1 import AppTest
from ui import state
from vae import checkpoint

warmed = []
state.warm_up = lambda path=None: warmed.append(str(path))

def no_model(*args, **kwargs):
    raise AssertionError("the model was loaded for the first draw")

checkpoint.load_checkpoint = no_model

at = AppTest.from_file(sys.argv[1] + "/app.py", default_timeout=300)
at.session_state["active_checkpoint"] = sys.argv[2]
at.switch_page("pages/drag_pad.py")
at.run()
first = [str(e.value) for e in at.exception]
(pad,) = at.get("component_instance")
args = json.loads(pad.proto.json_args)
at.session_state["drag_pad.pad"] = {"z": [1.2, -0.8], "seq": 7}
at.run()
print(json.dumps({
    "exceptions": first + [str(e.value) for e in at.exception],
    "warnings": [w.value for w in at.warning],
    "title": at.title[0].value,
    "decoder_url": args["decoder_url"],
    "points_url": args["points_url"],
    "subheader": at.subheader[0].value,
    "metrics": {m.label: m.value for m in at.metric},
    "neighbours": sum(len(e.proto.imgs) for e in at.get("image")),
    "warmed": warmed,
    "tried": tried,
    "tensorflow_loaded": "tensorflow" in sys.modules or "keras" in sys.modules,
}))
"""
)


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return copy_default(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def encodings(checkpoint, mnist):
    model = load_checkpoint(checkpoint).model
    return evaluate.encode(model, to_model_input(mnist.x_test, model.config.decoder))


def _decoder_stem(checkpoint: Path) -> str:
    """The URL stem of the checkpoint's decoder exported from the model itself."""
    spec, weights = export.export_decoder(load_checkpoint(checkpoint).model.decoder)
    return f"models/{export.network_digest(spec, weights)}"


def _pad(at) -> dict:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _captions(at) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def test_pad_gets_the_decoder_and_points_as_files(checkpoint, encodings, mnist):
    at = open_page("drag_pad", checkpoint)
    assert at.title[0].value == "Drag through the latent space"
    args = _pad(at)
    spec = json.loads((FRONTEND / f"{args['decoder_url']}.json").read_text())
    assert spec["format"] == "vae-network/1" and spec["latent_dim"] == 2
    assert (FRONTEND / f"{args['decoder_url']}.bin").stat().st_size > 100_000
    # The 10,000 points travel as one file: float32 xy, then uint8 labels.
    data = (FRONTEND / args["points_url"]).read_bytes()
    assert len(data) == 10_000 * 9
    xy = np.frombuffer(data[:80_000], "<f4").reshape(-1, 2)
    np.testing.assert_array_equal(xy, encodings[0].astype(np.float32))
    np.testing.assert_array_equal(np.frombuffer(data[80_000:], np.uint8), mnist.y_test)
    x0, x1, y0, y1 = args["extent"]
    assert x0 <= -3.5 and x1 >= 3.5 and y0 <= -3.5 and y1 >= 3.5
    assert args["manifold_range"] == pytest.approx([-1.96, 1.96], abs=1e-3)
    assert args["z_init"] == [0.0, 0.0] and args["server_image"] is None
    assert args["class_names"] == list(mnist.class_names) and len(args["palette"]) == 10
    assert not at.warning  # no fallback for the shipped model
    (how,) = [e for e in at.expander if e.label == "How to read this"]
    note = " ".join(m.value for m in how.markdown)
    assert "Near the origin" in note and "Far outside 3σ" in note and "1.1%" in note
    # The tail's closed form is KaTeX, so it shows as e to the −4.5, not as "e^−4.5".
    assert r"($e^{-4.5}$)" in note and "e^−" not in note
    assert at.subheader[0].value == "At z = (0.00, 0.00)"  # details before any release


def test_release_shows_nearest_digits_and_figures(checkpoint, encodings, mnist):
    at = open_page("drag_pad", checkpoint)
    z = [1.2, -0.8]
    at.session_state[PAD_KEY] = {"z": z, "seq": 7}  # what the browser sends on release
    at.run()
    assert not at.exception
    assert at.subheader[0].value == "At z = (1.20, −0.80)"
    want = latent_plane.describe_point(np.array(z), *encodings, k=8)
    got = _metrics(at)
    assert float(got["log p(z)"]) == pytest.approx(want.log_prior, abs=5e-3)
    assert got["Prior mass closer to 0"] == f"{1 - np.exp(-0.5 * (1.44 + 0.64)):.1%}"
    assert float(got["q(z) / p(z)"]) == pytest.approx(np.exp(want.log_ratio), abs=5e-3)
    assert got["Nearest digit's q(z|x)"] == f"{want.neighbour_sigmas[0]:.1f} σ"
    captions = _captions(at)
    assert len(captions) == 8
    for caption, i, d in zip(captions, want.neighbours, want.distances, strict=True):
        assert caption == f"{mnist.class_names[mnist.y_test[i]]} · d {d:.2f} · #{i}"
    assert _pad(at)["z_init"] == z  # the marker stays where the browser left it

    # A value for another latent size (the previous model's) is ignored.
    at.session_state[PAD_KEY] = {"z": [0.1, 0.2, 0.3], "seq": 8}
    at.run()
    assert not at.exception and at.subheader[0].value == "At z = (1.20, −0.80)"

    assert _pad(at)["reset"] == 0
    at.button[0].click().run()  # Back to the origin
    assert at.subheader[0].value == "At z = (0.00, 0.00)"
    assert _pad(at)["z_init"] == [0.0, 0.0]
    assert _pad(at)["reset"] == 1  # the pad moves even if it once sent (0, 0) itself


def test_the_dashed_square_follows_the_manifold_pages_grid(checkpoint):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    at.session_state["active_checkpoint"] = str(checkpoint)
    at.session_state["manifold_mode"] = "linear"  # as the Manifold page's widgets left them
    at.session_state["manifold_span"] = 2.5
    at.session_state["manifold_n"] = 6
    at.switch_page("pages/drag_pad.py")
    at.run()
    assert not at.exception, at.exception
    assert _pad(at)["manifold_range"] == pytest.approx([-2.5, 2.5])


def test_a_decoder_the_browser_cannot_run_decodes_on_the_server(tmp_path):
    # bfloat16 layers would not match Keras to 1e-4 in JavaScript: the exporter refuses them.
    model = build_vae(VAEConfig(precision="mixed_bfloat16", seed=1))
    save_checkpoint(tmp_path / "bf16", model, epoch=0, include_optimizer=False)
    at = open_page("drag_pad", tmp_path / "bf16")
    (warning,) = at.warning
    assert warning.value.startswith("Decoding on the server")
    assert "bfloat16" in warning.value and "round trip" in warning.value
    args = _pad(at)
    assert args["decoder_url"] is None

    def server_image(args) -> np.ndarray:
        image = args["server_image"]
        assert image["shape"] == [28, 28, 1]
        return np.asarray(image["data"], np.float32).reshape(image["shape"])

    want = evaluate.decode(model, np.zeros((1, 2), np.float32))[0]
    np.testing.assert_allclose(server_image(args), want, atol=1e-4)

    # A move during a drag: the image follows; the details wait for the release.
    at.session_state[PAD_KEY] = {"z": [0.5, -1.5], "seq": 1, "final": False}
    at.run()
    assert not at.exception
    want = evaluate.decode(model, np.array([[0.5, -1.5]], np.float32))[0]
    np.testing.assert_allclose(server_image(_pad(at)), want, atol=1e-4)
    assert at.subheader[0].value == "At z = (0.00, 0.00)"
    at.session_state[PAD_KEY] = {"z": [0.5, -1.5], "seq": 2, "final": True}
    at.run()
    assert at.subheader[0].value == "At z = (0.50, −1.50)" and len(_captions(at)) == 8


def test_more_latent_dimensions_hold_the_others_fixed_and_one_is_refused(tmp_path):
    save_checkpoint(tmp_path / "j4", build_vae(VAEConfig(latent_dim=4, seed=2)), epoch=0)
    at = open_page("drag_pad", tmp_path / "j4")
    args = _pad(at)
    assert args["z_init"] == [0.0] * 4 and args["decoder_url"]
    assert any("J = 4" in c.value and "holds" in c.value for c in at.caption)
    at.session_state[PAD_KEY] = {"z": [1.0, 0.5, 0.0, 0.0], "seq": 3}
    at.run()
    assert at.subheader[0].value == "At z = (1.00, 0.50, 0.00, 0.00)"

    save_checkpoint(tmp_path / "j1", build_vae(VAEConfig(latent_dim=1, seed=2)), epoch=0)
    at = open_page("drag_pad", tmp_path / "j1")
    assert "one-dimensional" in at.info[0].value and not at.get("component_instance")


def test_decode_on_the_server_toggle_switches_the_pad_to_round_trips(checkpoint):
    at = open_page("drag_pad", checkpoint)
    assert _pad(at)["decoder_url"] and _pad(at)["server_image"] is None
    (toggle,) = [t for t in at.toggle if t.label == "Decode on the server"]
    toggle.set_value(True).run()
    assert not at.exception
    args = _pad(at)
    assert args["decoder_url"] is None  # the browser stops decoding
    assert "for comparison" in at.info[0].value
    model = load_checkpoint(checkpoint).model
    at.session_state[PAD_KEY] = {"z": [-1.0, 2.0], "seq": 11, "final": False}
    at.run()
    want = evaluate.decode(model, np.array([[-1.0, 2.0]], np.float32))[0]
    got = np.asarray(_pad(at)["server_image"]["data"], np.float32).reshape(want.shape)
    np.testing.assert_allclose(got, want, atol=1e-4)
    at.toggle[0].set_value(False).run()
    assert _pad(at)["decoder_url"] and not at.info


def test_presentation_mode_from_the_url_folds_the_notes_and_keeps_the_details(checkpoint):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    at.session_state["active_checkpoint"] = str(checkpoint)
    at.query_params["present"] = "1"
    at.switch_page("pages/drag_pad.py")
    at.run()
    assert not at.exception, at.exception
    assert not at.title and _pad(at)["present"] is True
    (how,) = [e for e in at.expander if e.label == "How to read this"]
    assert how.proto.expanded is False  # folded away, one click to open
    at.session_state[PAD_KEY] = {"z": [1.2, -0.8], "seq": 7}
    at.run()
    assert at.subheader[0].value == "At z = (1.20, −0.80)" and len(at.metric) == 4
    # Short captions, so the eight digits fit beside the pad in the window's height.
    captions = _captions(at)
    assert len(captions) == 8 and all(len(c) <= len("0 · 0.00") for c in captions)
    assert "present" in at.query_params  # still in the URL for a copied link

    at.session_state[presentation.KEY] = False  # the sidebar's switch, turned off
    at.run()
    assert at.title[0].value == "Drag through the latent space"
    assert _pad(at)["present"] is False


def _playback(at) -> dict | None:
    return plotly_spec(at, "drag_pad.playback")


def test_the_training_plays_back_beside_the_pad(tmp_path, encodings, mnist):
    from vae import encoding_history

    copy = copy_default(tmp_path)
    at = open_page("drag_pad", copy)
    assert _playback(at) is None and any("kept no codes per epoch" in c.value for c in at.caption)

    n_test = len(mnist.y_test)
    idx = encoding_history.indices(n_test)
    z, lv = encodings[0][idx], encodings[1][idx]
    for epoch, scale in ((1, 0.2), (2, 1.0)):
        encoding_history.record(copy, epoch, z * scale, lv, n_test)
    at = open_page("drag_pad", copy)
    assert not at.exception, at.exception
    (folded,) = [e for e in at.expander if e.label == "Watch the codes form over training"]
    assert folded.proto.expanded is False  # the pad keeps the screen
    spec = _playback(at)
    assert [f["name"] for f in spec["frames"]] == ["1", "2"]
    last = np.concatenate([values(t["x"]) for t in spec["frames"][1]["data"]])
    labels = mnist.y_test[idx]
    want = np.concatenate([z[labels == c, 0] for c in sorted(set(labels))])
    np.testing.assert_allclose(last, want, atol=2e-3)

    at.session_state[presentation.KEY] = True  # presentation mode: the pad alone
    at.run()
    assert not at.exception and _playback(at) is None


def test_the_pad_is_drawn_from_what_is_stored_without_tensorflow(tmp_path, encodings):
    folder = copy_default(tmp_path)
    seen = no_tensorflow.run(WITHOUT_TENSORFLOW, str(ROOT), str(folder))
    assert seen["exceptions"] == [] and seen["warnings"] == []
    assert seen["tried"] == [] and not seen["tensorflow_loaded"]
    assert seen["title"] == "Drag through the latent space"
    # The very decoder the model exports, and the test set's codes, as files.
    assert seen["decoder_url"] == _decoder_stem(folder)
    xy = np.frombuffer((FRONTEND / seen["points_url"]).read_bytes()[:80_000], "<f4")
    np.testing.assert_array_equal(xy.reshape(-1, 2), encodings[0].astype(np.float32))
    # A release: the figures and the nearest digits need no model either.
    assert seen["subheader"] == "At z = (1.20, −0.80)"
    assert len(seen["metrics"]) == 4 and seen["neighbours"] == 8
    assert set(seen["warmed"]) == {str(folder)}  # built once the page is drawn


def test_a_stale_stored_export_is_ignored_and_the_model_exported(tmp_path):
    folder = copy_default(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "weights.safetensors").write_bytes(b"the weights of another training")
    spec, weights = export.export_decoder(build_vae(VAEConfig(seed=9)).decoder)
    precompute.save_export(other, spec, weights)
    (other / precompute.EXPORT_FILE).replace(folder / precompute.EXPORT_FILE)
    at = open_page("drag_pad", folder)
    assert not at.warning  # stale is not damaged: nothing to say
    assert _pad(at)["decoder_url"] == _decoder_stem(folder)
    assert _pad(at)["decoder_url"] != f"models/{export.network_digest(spec, weights)}"


def test_a_damaged_stored_export_is_named_and_the_model_exported(tmp_path):
    folder = copy_default(tmp_path)
    path = folder / precompute.EXPORT_FILE
    path.write_bytes(path.read_bytes()[:5000])
    at = open_page("drag_pad", folder)
    (warning,) = at.warning
    assert precompute.EXPORT_FILE in warning.value and "damaged" in warning.value
    assert "exports the decoder from the model instead" in warning.value
    assert _pad(at)["decoder_url"] == _decoder_stem(folder)
    at.session_state[PAD_KEY] = {"z": [0.5, 0.5], "seq": 1}
    at.run()
    assert not at.exception and at.subheader[0].value == "At z = (0.50, 0.50)"


def test_damaged_stored_figures_are_named_once_and_the_pad_computes_them(tmp_path, encodings):
    folder = copy_default(tmp_path)
    path = folder / precompute.FILE
    path.write_bytes(path.read_bytes()[:5000])
    at = open_page("drag_pad", folder)
    (warning,) = at.warning
    assert precompute.FILE in warning.value and "computes its figures instead" in warning.value
    xy = np.frombuffer((FRONTEND / _pad(at)["points_url"]).read_bytes()[:80_000], "<f4")
    np.testing.assert_allclose(xy.reshape(-1, 2), encodings[0], atol=1e-5)
