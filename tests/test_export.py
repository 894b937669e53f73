"""vae.export: the decoder spec the browser runs, and its parity with Keras in Chromium."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import perturb_weights, tiny_config

from vae import checkpoint, evaluate, export
from vae.cli import main as cli_main
from vae.errors import UnsupportedArchitectureError
from vae.model import build_vae

DECODER_JS = Path(__file__).resolve().parents[1] / "components/drag_pad/frontend/decoder.js"
SHIPPED = DECODER_JS.parents[3] / "checkpoints" / "mnist-2d"


def _tensor(spec_ref: dict, blob: bytes) -> np.ndarray:
    flat = np.frombuffer(blob, "<f4")
    n = int(np.prod(spec_ref["shape"]))
    return flat[spec_ref["offset"] : spec_ref["offset"] + n].reshape(spec_ref["shape"])


def test_spec_lists_the_decoder_layers_and_every_weight_once():
    model = build_vae(tiny_config(latent_dim=3))
    perturb_weights(model, seed=1)
    spec, blob = export.export_decoder(model.decoder)
    assert spec["format"] == export.FORMAT
    assert spec["latent_dim"] == 3
    assert spec["output_shape"] == [8, 8, 1]
    assert [layer["type"] for layer in spec["layers"]] == [
        "dense", "reshape", "conv2d_transpose", "conv2d_transpose", "conv2d_transpose"
    ]  # fmt: skip
    assert [layer["activation"] for layer in spec["layers"] if "activation" in layer] == [
        "relu", "relu", "relu", "linear"
    ]  # fmt: skip
    n_params = sum(int(np.prod(v.shape)) for v in model.decoder.weights)
    assert len(blob) == 4 * n_params
    # Each tensor in the blob is exactly the Keras variable it names.
    by_layer = {layer.name: layer for layer in model.decoder.layers}
    for entry in spec["layers"]:
        if "kernel" in entry:
            layer = by_layer[entry["name"]]
            np.testing.assert_array_equal(_tensor(entry["kernel"], blob), layer.kernel.numpy())
            np.testing.assert_array_equal(_tensor(entry["bias"], blob), layer.bias.numpy())
    last = spec["layers"][-1]
    assert last["strides"] == [1, 1] and last["pad_before"] == [1, 1]
    assert spec["layers"][2]["strides"] == [2, 2] and spec["layers"][2]["pad_before"] == [0, 0]
    json.dumps(spec)  # JSON-able as is


def _decoder(*layers, latent_dim=2) -> keras.Model:
    z = keras.Input(shape=(latent_dim,))
    h = z
    for layer in layers:
        h = layer(h)
    return keras.Model(z, h)


@pytest.mark.parametrize(
    ("layers", "named"),
    [
        (
            [keras.layers.Dense(16), keras.layers.Reshape((4, 4, 1)),
             keras.layers.Conv2D(1, 3, padding="same", name="plain_conv")],
            "plain_conv",
        ),
        (
            [keras.layers.Dense(16, activation="tanh", name="tanh_dense"),
             keras.layers.Reshape((4, 4, 1))],
            "tanh",
        ),
        (
            [keras.layers.Dense(16), keras.layers.Reshape((4, 4, 1)),
             keras.layers.Conv2DTranspose(1, 3, dilation_rate=2, padding="same", name="dilated")],
            "dilation",
        ),
        (
            [keras.layers.Dense(16), keras.layers.Reshape((4, 4, 1)),
             keras.layers.BatchNormalization(name="bn")],
            "BatchNormalization",
        ),
    ],
    ids=["conv2d", "tanh", "dilation", "batchnorm"],
)  # fmt: skip
def test_layers_the_browser_cannot_run_are_refused_by_name(layers, named):
    with pytest.raises(UnsupportedArchitectureError, match=named):
        export.export_decoder(_decoder(*layers))


def test_bfloat16_decoder_is_refused_because_it_would_not_match():
    model = build_vae(tiny_config(precision="mixed_bfloat16"))
    try:
        with pytest.raises(UnsupportedArchitectureError, match="bfloat16"):
            export.export_decoder(model.decoder)
    finally:
        keras.config.set_dtype_policy("float32")


def test_non_finite_weights_are_refused():
    model = build_vae(tiny_config())
    kernel = model.decoder.get_layer("deconv1").kernel
    kernel.assign(np.where(np.arange(kernel.shape[-1]) == 0, np.nan, kernel.numpy()))
    with pytest.raises(UnsupportedArchitectureError, match="NaN"):
        export.export_decoder(model.decoder)


def test_write_decoder_writes_both_files_whole_and_digest_follows_the_weights(tmp_path):
    model = build_vae(tiny_config())
    json_path, bin_path = export.write_decoder(model.decoder, tmp_path / "out", stem="d")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["d.bin", "d.json"]
    spec = json.loads(json_path.read_text())
    assert bin_path.read_bytes() == export.export_decoder(model.decoder)[1]
    digest = export.decoder_digest(spec, bin_path.read_bytes())
    assert len(digest) == 16
    perturb_weights(model, seed=3)
    assert export.decoder_digest(*export.export_decoder(model.decoder)) != digest


def test_cli_export_writes_the_decoder_and_fails_cleanly(tmp_path, capsys):
    model = build_vae(tiny_config())
    checkpoint.save_checkpoint(tmp_path / "ckpt", model, epoch=1)
    assert cli_main(["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "web")]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["bytes"] == (tmp_path / "web" / "decoder.bin").stat().st_size > 0
    assert cli_main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 1
    assert "no checkpoint folder" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --- parity in a real browser --------------------------------------------------------
PARITY = 1e-4


@pytest.fixture(scope="module")
def page():
    from browser import chrome

    driver = chrome(800, 600)
    try:
        driver.get("data:text/html,<!doctype html><title>decoder parity</title>")
        # decoder.js is an ES module: import the shipped file's text from a blob URL.
        loaded = driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const url = URL.createObjectURL(new Blob([arguments[0]], {type: "text/javascript"}));
            import(url).then(
              (m) => { window.VAEDecoder = m; done("loaded"); },
              (e) => done(String(e)),
            );
            """,
            DECODER_JS.read_text(),
        )
        assert loaded == "loaded", f"decoder.js did not load as a module: {loaded}"
        yield driver
    finally:
        driver.quit()


def _browser_decode(driver, decoder: keras.Model, z: np.ndarray) -> np.ndarray:
    spec, blob = export.export_decoder(decoder)
    out = driver.execute_script(
        """
        const bytes = Uint8Array.from(atob(arguments[1]), (c) => c.charCodeAt(0));
        const dec = VAEDecoder.fromSpec(arguments[0], bytes.buffer);
        return arguments[2].map((z) => Array.from(dec.decode(z)));
        """,
        spec,
        base64.b64encode(blob).decode(),
        z.tolist(),
    )
    return np.array(out, np.float64)


@pytest.mark.browser
def test_browser_decoder_matches_keras_on_the_shipped_model(page):
    model = checkpoint.load_checkpoint(SHIPPED).model
    rng = np.random.default_rng(0)
    # 100 points: most inside the prior's 3σ, some far outside it.
    z = np.concatenate([rng.normal(size=(90, 2)), rng.uniform(-6, 6, size=(10, 2))])
    z = z.astype(np.float32)
    expected = evaluate.decode(model, z).reshape(100, -1)
    got = _browser_decode(page, model.decoder, z)
    assert got.shape == expected.shape
    assert np.ptp(expected, axis=0).max() > 0.5  # the points decode to different images
    err = np.abs(got - expected).max()
    assert err <= PARITY, f"max abs error {err:.2e} > {PARITY}"


@pytest.mark.browser
def test_browser_decoder_runs_any_supported_architecture(page):
    """Another latent size, valid padding, odd strides and kernels, two channels."""
    keras.utils.set_random_seed(7)
    decoder = _decoder(
        keras.layers.Dense(5 * 4 * 6, activation="relu"),
        keras.layers.Reshape((5, 4, 6)),
        keras.layers.Conv2DTranspose(8, 5, strides=3, padding="valid", activation="relu"),
        keras.layers.Conv2DTranspose(4, (4, 3), strides=(2, 1), padding="same"),
        keras.layers.Activation("relu"),
        keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same", activation="sigmoid"),
        latent_dim=3,
    )
    spec, _ = export.export_decoder(decoder)
    assert spec["latent_dim"] == 3 and spec["output_shape"][2] == 2
    z = np.random.default_rng(1).normal(size=(100, 3)).astype(np.float32)
    expected = np.asarray(keras.ops.sigmoid(decoder(z))).reshape(100, -1)
    got = _browser_decode(page, decoder, z)
    err = np.abs(got - expected).max()
    assert err <= PARITY, f"max abs error {err:.2e} > {PARITY}"
