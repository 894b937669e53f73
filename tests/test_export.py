"""vae.export: the network specs the browser runs, and their parity with Keras in Chromium."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from helpers import perturb_weights, tiny_config
from keras_examples import saved_keras_model

from vae import checkpoint, evaluate, export, import_keras
from vae.cli import main as cli_main
from vae.errors import UnsupportedArchitectureError
from vae.model import VAE, build_vae

NETWORK_JS = Path(__file__).resolve().parents[1] / "components/drag_pad/frontend/network.js"
SHIPPED = NETWORK_JS.parents[3] / "checkpoints" / "mnist-2d"


def _tensor(spec_ref: dict, blob: bytes) -> np.ndarray:
    flat = np.frombuffer(blob, "<f4")
    n = int(np.prod(spec_ref["shape"]))
    return flat[spec_ref["offset"] : spec_ref["offset"] + n].reshape(spec_ref["shape"])


def _assert_blob_holds_every_weight_once(network: keras.Model, spec: dict, blob: bytes) -> None:
    n_params = sum(int(np.prod(v.shape)) for v in network.weights)
    assert len(blob) == 4 * n_params
    by_layer = {layer.name: layer for layer in network.layers}
    for entry in spec["layers"]:
        if "kernel" in entry:
            layer = by_layer[entry["name"]]
            np.testing.assert_array_equal(_tensor(entry["kernel"], blob), layer.kernel.numpy())
            np.testing.assert_array_equal(_tensor(entry["bias"], blob), layer.bias.numpy())
    json.dumps(spec)  # JSON-able as is


def test_decoder_spec_lists_its_layers_and_every_weight_once():
    model = build_vae(tiny_config(latent_dim=3))
    perturb_weights(model, seed=1)
    spec, blob = export.export_decoder(model.decoder)
    assert spec["format"] == export.FORMAT and spec["network"] == "decoder"
    assert spec["latent_dim"] == 3 and spec["input_shape"] == [3]
    assert spec["output_shape"] == [8, 8, 1]
    assert spec["head"] == {"type": "sigmoid"}
    assert [layer["type"] for layer in spec["layers"]] == [
        "dense", "reshape", "conv2d_transpose", "conv2d_transpose", "conv2d_transpose"
    ]  # fmt: skip
    assert [layer["activation"] for layer in spec["layers"] if "activation" in layer] == [
        "relu", "relu", "relu", "linear"
    ]  # fmt: skip
    _assert_blob_holds_every_weight_once(model.decoder, spec, blob)
    last = spec["layers"][-1]
    assert last["strides"] == [1, 1] and last["pad_before"] == [1, 1]
    assert spec["layers"][2]["strides"] == [2, 2] and spec["layers"][2]["pad_before"] == [0, 0]


def test_encoder_spec_lists_its_layers_its_head_and_every_weight_once():
    model = build_vae(tiny_config(latent_dim=3, min_std=0.01))
    perturb_weights(model, seed=2)
    spec, blob = export.export_model(model)["encoder"]
    assert spec["format"] == export.FORMAT and spec["network"] == "encoder"
    assert spec["input_shape"] == [8, 8, 1] and spec["output_shape"] == [6]
    assert spec["latent_dim"] == 3
    assert spec["head"] == {"type": "gaussian", "min_std": 0.01}
    assert [layer["type"] for layer in spec["layers"]] == ["conv2d", "conv2d", "reshape", "dense"]
    conv1, conv2 = spec["layers"][:2]
    # The model's convolutions are VALID with stride 2: 8 -> 3 -> 1, nothing padded.
    assert conv1["output_shape"] == [3, 3] and conv2["output_shape"] == [1, 1]
    assert conv1["pad_before"] == conv2["pad_before"] == [0, 0]
    assert conv1["kernel"]["shape"] == [3, 3, 1, 4]  # Keras' [kh, kw, in, out]
    assert spec["layers"][2]["target_shape"] == [-1]
    _assert_blob_holds_every_weight_once(model.encoder, spec, blob)


def _network(input_shape, *layers, name="decoder") -> keras.Model:
    x = keras.Input(shape=input_shape)
    h = x
    for layer in layers:
        h = layer(h)
    return keras.Model(x, h, name=name)


def _two_headed_encoder() -> keras.Model:
    # The Keras VAE example's shape: z_mean and z_log_var from two Dense layers.
    x = keras.Input(shape=(8, 8, 1))
    h = keras.layers.Flatten()(x)
    z_mean = keras.layers.Dense(2, name="z_mean")(h)
    z_log_var = keras.layers.Dense(2, name="z_log_var")(h)
    return keras.Model(x, keras.layers.Concatenate()([z_mean, z_log_var]), name="encoder")


L = keras.layers
UNSUPPORTED_DECODERS = {
    "tanh": ([L.Dense(16, activation="tanh"), L.Reshape((4, 4, 1))], "tanh"),
    "dilation": (
        [L.Dense(16), L.Reshape((4, 4, 1)),
         L.Conv2DTranspose(1, 3, dilation_rate=2, padding="same", name="dilated")],
        "dilated.*dilation",
    ),
    "batchnorm": (
        [L.Dense(16), L.Reshape((4, 4, 1)), L.BatchNormalization(name="bn")],
        "'bn' is a BatchNormalization",
    ),
}  # fmt: skip
UNSUPPORTED_ENCODERS = {
    "dilation": (
        [L.Conv2D(2, 3, dilation_rate=2, name="wide"), L.Flatten(), L.Dense(4)],
        "'wide'.*dilation",
    ),
    "groups": (
        [L.Conv2D(2, 1), L.Conv2D(4, 3, groups=2, name="grouped"), L.Flatten(), L.Dense(4)],
        "'grouped'.*groups=2",
    ),
    "pooling": ([L.MaxPooling2D(name="pool"), L.Flatten(), L.Dense(4)], "'pool' is a MaxPooling2D"),
    "depthwise": (
        [L.DepthwiseConv2D(3, name="dw"), L.Flatten(), L.Dense(4)],
        "'dw' is a DepthwiseConv2D",
    ),
    "elu": ([L.Conv2D(2, 3, activation="elu"), L.Flatten(), L.Dense(4)], "'elu'"),
    "dense_on_image": ([L.Dense(4, name="pixelwise"), L.Flatten(), L.Dense(4)], "'pixelwise'"),
}  # fmt: skip


@pytest.mark.parametrize("case", UNSUPPORTED_DECODERS, ids=str)
def test_decoders_the_browser_cannot_run_are_refused_by_name(case):
    layers, named = UNSUPPORTED_DECODERS[case]
    with pytest.raises(UnsupportedArchitectureError, match=named):
        export.export_decoder(_network((2,), *layers))


@pytest.mark.parametrize("case", UNSUPPORTED_ENCODERS, ids=str)
def test_encoders_the_browser_cannot_run_are_refused_by_name(case):
    layers, named = UNSUPPORTED_ENCODERS[case]
    with pytest.raises(UnsupportedArchitectureError, match=named):
        export.export_encoder(_network((8, 8, 1), *layers, name="encoder"), min_std=1e-4)


def test_an_encoder_that_branches_is_refused_as_not_one_chain():
    with pytest.raises(UnsupportedArchitectureError, match="not one chain.*'z_log_var'"):
        export.export_encoder(_two_headed_encoder(), min_std=1e-4)


def test_an_encoder_with_an_odd_output_has_no_gaussian_head():
    encoder = _network((8, 8, 1), L.Flatten(), L.Dense(5), name="encoder")
    with pytest.raises(UnsupportedArchitectureError, match=r"\[2J\]"):
        export.export_encoder(encoder, min_std=1e-4)


def test_bfloat16_networks_are_refused_because_they_would_not_match(tmp_path):
    model = build_vae(tiny_config(precision="mixed_bfloat16"))
    try:
        with pytest.raises(UnsupportedArchitectureError, match="'conv1' computes in bfloat16"):
            export.export_encoder(model.encoder, model.config.min_std)
        with pytest.raises(UnsupportedArchitectureError, match="'dense' computes in bfloat16"):
            export.export_decoder(model.decoder)
        with pytest.raises(UnsupportedArchitectureError):
            export.write_model(model, tmp_path / "out")
        assert not (tmp_path / "out").exists()  # nothing half written
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(("network", "layer"), [("encoder", "conv2"), ("decoder", "deconv1")])
def test_non_finite_weights_are_refused(network, layer):
    model = build_vae(tiny_config())
    kernel = getattr(model, network).get_layer(layer).kernel
    kernel.assign(np.where(np.arange(kernel.shape[-1]) == 0, np.nan, kernel.numpy()))
    with pytest.raises(UnsupportedArchitectureError, match=f"the {network}'s weights hold NaN"):
        export.export_model(model)


def test_write_model_writes_both_networks_whole_and_digests_follow_the_weights(tmp_path):
    model = build_vae(tiny_config())
    written = export.write_model(model, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "decoder.bin", "decoder.json", "encoder.bin", "encoder.json"
    ]  # fmt: skip
    exports = export.export_model(model)
    digests = {}
    for stem, (json_path, bin_path) in written.items():
        spec = json.loads(json_path.read_text())
        assert spec["network"] == stem
        assert bin_path.read_bytes() == exports[stem][1]
        digests[stem] = export.network_digest(spec, bin_path.read_bytes())
        assert len(digests[stem]) == 16
    assert digests["encoder"] != digests["decoder"]
    perturb_weights(model, seed=3)
    for stem, (spec, weights) in export.export_model(model).items():
        assert export.network_digest(spec, weights) != digests[stem]


def test_cli_export_writes_both_networks_and_fails_cleanly(tmp_path, capsys):
    model = build_vae(tiny_config())
    checkpoint.save_checkpoint(tmp_path / "ckpt", model, epoch=1)
    assert cli_main(["export", str(tmp_path / "ckpt"), "--out", str(tmp_path / "web")]) == 0
    line = json.loads(capsys.readouterr().out)
    for stem in ("encoder", "decoder"):
        assert line[stem]["bytes"] == (tmp_path / "web" / f"{stem}.bin").stat().st_size > 0
        assert json.loads(Path(line[stem]["spec"]).read_text())["network"] == stem
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
        driver.get("data:text/html,<!doctype html><title>network parity</title>")
        # network.js is an ES module: import the shipped file's text from a blob URL.
        loaded = driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const url = URL.createObjectURL(new Blob([arguments[0]], {type: "text/javascript"}));
            import(url).then(
              (m) => { window.VAENetwork = m; done("loaded"); },
              (e) => done(String(e)),
            );
            """,
            NETWORK_JS.read_text(),
        )
        assert loaded == "loaded", f"network.js did not load as a module: {loaded}"
        yield driver
    finally:
        driver.quit()


def _browser_run(driver, exported: tuple[dict, bytes], inputs: np.ndarray) -> np.ndarray:
    """Each input through the exported network in the page: decode() or encode()."""
    spec, blob = exported
    out = driver.execute_script(
        """
        const bytes = Uint8Array.from(atob(arguments[1]), (c) => c.charCodeAt(0));
        const net = VAENetwork.fromSpec(arguments[0], bytes.buffer);
        return arguments[2].map((x) => {
          if (net.decode) return Array.from(net.decode(x));
          const { zMean, zLogVar } = net.encode(x);
          return Array.from(zMean).concat(Array.from(zLogVar));
        });
        """,
        spec,
        base64.b64encode(blob).decode(),
        inputs.reshape(len(inputs), -1).tolist(),
    )
    return np.array(out, np.float64)


def _assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    err = np.abs(got - expected).max()
    assert err <= PARITY, f"max abs error {err:.2e} > {PARITY}"


@pytest.mark.browser
def test_browser_decoder_matches_keras_on_the_shipped_model(page):
    model = checkpoint.load_checkpoint(SHIPPED).model
    rng = np.random.default_rng(0)
    # 100 points: most inside the prior's 3σ, some far outside it.
    z = np.concatenate([rng.normal(size=(90, 2)), rng.uniform(-6, 6, size=(10, 2))])
    z = z.astype(np.float32)
    expected = evaluate.decode(model, z).reshape(100, -1)
    assert np.ptp(expected, axis=0).max() > 0.5  # the points decode to different images
    _assert_close(_browser_run(page, export.export_decoder(model.decoder), z), expected)


@pytest.mark.browser
def test_browser_decoder_runs_any_supported_architecture(page):
    """Another latent size, valid padding, odd strides and kernels, two channels."""
    keras.utils.set_random_seed(7)
    decoder = _network(
        (3,),
        L.Dense(5 * 4 * 6, activation="relu"),
        L.Reshape((5, 4, 6)),
        L.Conv2DTranspose(8, 5, strides=3, padding="valid", activation="relu"),
        L.Conv2DTranspose(4, (4, 3), strides=(2, 1), padding="same"),
        L.Activation("relu"),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"),
        L.Conv2D(2, (2, 3), padding="valid", activation="sigmoid"),
    )
    spec, blob = export.export_decoder(decoder)
    assert spec["latent_dim"] == 3 and spec["output_shape"][2] == 2
    z = np.random.default_rng(1).normal(size=(100, 3)).astype(np.float32)
    expected = np.asarray(keras.ops.sigmoid(decoder(z))).reshape(100, -1)
    _assert_close(_browser_run(page, (spec, blob), z), expected)


def _encodings(z_mean, z_log_var) -> np.ndarray:
    return np.concatenate([np.asarray(z_mean), np.asarray(z_log_var)], axis=1)


@pytest.mark.browser
def test_browser_encoder_matches_keras_on_the_shipped_model(page):
    model = checkpoint.load_checkpoint(SHIPPED).model
    rng = np.random.default_rng(2)
    # 80 random binary images of every ink density, and 20 digits the model itself
    # draws (its decoded prior samples), which land where real digits do.
    density = rng.uniform(0.02, 0.6, size=(80, 1, 1, 1))
    noise = (rng.random((80, 28, 28, 1)) < density).astype(np.float32)
    digits = model.sample(20, seed=3)
    x = np.concatenate([noise, digits]).astype(np.float32)
    expected = _encodings(*evaluate.encode(model, x))
    assert np.ptp(expected[:, :2], axis=0).min() > 0.5  # the images encode apart
    got = _browser_run(page, export.export_model(model)["encoder"], x)
    _assert_close(got, expected)


@pytest.mark.browser
def test_browser_encoder_runs_any_supported_architecture(page):
    """Three input channels, odd kernels and strides, valid and same padding, J = 3."""
    keras.utils.set_random_seed(11)
    encoder = _network(
        (23, 19, 3),
        L.Conv2D(6, 5, strides=3, padding="valid", activation="relu"),
        L.Conv2D(4, (4, 3), strides=(2, 1), padding="same"),
        L.ReLU(),
        L.Flatten(),
        L.Dense(6),
        name="encoder",
    )
    min_std = 0.05
    spec, blob = export.export_encoder(encoder, min_std)
    same = spec["layers"][1]
    # Keras' SAME at stride 2 on 7 rows: 4 out, (4 - 1) * 2 + 4 - 7 = 3 padded, 1 before.
    assert same["input_shape"] == [7, 5] and same["output_shape"] == [4, 5]
    assert same["pad_before"] == [1, 1]
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.random((50, 23, 19, 3)), (rng.random((50, 23, 19, 3)) < 0.3)]).astype(
        np.float32
    )
    # The reference is VAE.encode's own code, run on this encoder.
    stand_in = SimpleNamespace(
        encoder=encoder, config=SimpleNamespace(min_std=min_std, sigma="softplus")
    )
    expected = _encodings(*VAE.encode(stand_in, x))
    assert np.ptp(expected, axis=0).min() > 0.01
    _assert_close(_browser_run(page, (spec, blob), x), expected)


@pytest.mark.browser
def test_browser_runs_an_imported_keras_example_like_keras(page, tmp_path):
    """Same padding, a hidden Dense, log-variance heads: decodings and encodings match."""
    keras_model, path = saved_keras_model(tmp_path, "keras-example", 2, "log_var")
    model = import_keras.build_imported(path, "keras-example", 2)
    exports = export.export_model(model)
    assert exports["encoder"][0]["head"]["sigma"] == "log_var"
    assert [layer["type"] for layer in exports["encoder"][0]["layers"]] == [
        "conv2d", "conv2d", "reshape", "dense", "dense"
    ]  # fmt: skip
    rng = np.random.default_rng(5)
    z = rng.normal(size=(100, 2)).astype(np.float32)
    expected = np.asarray(keras_model.decode(z)).reshape(100, -1)
    assert expected.std() > 0.05  # the weights make distinct images
    _assert_close(_browser_run(page, exports["decoder"], z), expected)

    x = (rng.random((40, 28, 28, 1)) < rng.uniform(0.05, 0.5, (40, 1, 1, 1))).astype(np.float32)
    z_mean, z_log_var, _ = keras_model.encoder(x)
    expected = _encodings(z_mean, z_log_var)
    assert np.ptp(expected, axis=0).min() > 0.01
    _assert_close(_browser_run(page, exports["encoder"], x), expected)
