"""Import of Keras-trained weights: the imported model computes what Keras computed.

Each model is built here with Keras exactly as the TensorFlow CVAE tutorial or the
Keras VAE example builds it, given random but non-trivial weights (biases too),
saved with ``save_weights`` and imported; decodings of 100 random z and encodings
(mean and sigma) of random images must agree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from keras_examples import saved_keras_model

from vae import hdf5_reader, import_keras
from vae.checkpoint import load_checkpoint
from vae.cli import main
from vae.config import VAEConfig
from vae.errors import CorruptCheckpointError, UnsafeFileError
from vae.import_keras import KerasImportError

TOLERANCE = 1e-5


@pytest.mark.parametrize("sigma", ["log_var", "softplus"])
@pytest.mark.parametrize(("origin", "latent_dim"), [("tf-tutorial", 2), ("keras-example", 3)])
def test_imported_model_decodes_and_encodes_like_keras(tmp_path, origin, latent_dim, sigma):
    keras_model, path = saved_keras_model(tmp_path, origin, latent_dim, sigma)
    out = import_keras.import_keras(path, origin, latent_dim, tmp_path / "ckpt", sigma=sigma)
    ckpt = load_checkpoint(out)
    assert ckpt.config.sigma == sigma and ckpt.config.latent_dim == latent_dim
    rng = np.random.default_rng(1)

    z = rng.normal(size=(100, latent_dim)).astype(np.float32)
    expected = keras_model.decode(z).numpy()
    assert expected.std() > 0.05, "the decodings are trivial, so the test would prove little"
    got = ckpt.model.decode_fn(z).numpy()
    assert got.shape == expected.shape == (100, 28, 28, 1)
    assert np.abs(got - expected).max() <= TOLERANCE

    x = rng.uniform(size=(16, 28, 28, 1)).astype(np.float32)
    mean_k, std_k = (t.numpy() for t in keras_model.encode(x))
    mean, log_var = (t.numpy() for t in ckpt.model.encode_fn(x))
    assert mean_k.std() > 0.01 and std_k.std() > 0.001
    assert np.abs(mean - mean_k).max() <= TOLERANCE
    np.testing.assert_allclose(np.exp(0.5 * log_var), std_k, rtol=TOLERANCE, atol=1e-6)


def test_cli_imports_and_says_what_the_file_holds(tmp_path, capsys):
    _, path = saved_keras_model(tmp_path, "keras-example", 2, "log_var")
    argv = ["import-keras", str(path), "--from", "keras-example", "--out"]
    assert main([*argv, str(tmp_path / "a"), "--latent-dim", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(tmp_path / "a")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["encoder_padding"] == "same" and config["encoder_hidden"] == 16

    assert main([*argv, str(tmp_path / "b"), "--latent-dim", "3"]) == 1
    assert "takes 2 latent numbers, not --latent-dim 3" in capsys.readouterr().err
    tutorial = ["import-keras", str(path), "--from", "tf-tutorial", "--latent-dim", "2"]
    assert main([*tutorial, "--out", str(tmp_path / "c")]) == 1
    assert "It fits --from keras-example." in capsys.readouterr().err
    assert main([*argv, str(tmp_path / "a"), "--latent-dim", "2"]) == 1  # never overwrites
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "model.weights.h5"]


def test_old_configs_keep_todays_architecture():
    """A config written before these settings existed rebuilds the same model."""
    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / "mnist-2d"
    saved = json.loads((shipped / "config.json").read_text())
    assert not {"sigma", "encoder_padding", "encoder_hidden"} & set(saved)
    config = VAEConfig.from_dict(saved)
    assert (config.sigma, config.encoder_padding, config.encoder_hidden) == ("softplus", "valid", 0)
    ckpt = load_checkpoint(shipped)
    names = [layer.name for layer in ckpt.model.encoder.layers]
    assert "hidden" not in names and ckpt.model.encoder.get_layer("conv1").padding == "valid"


# --------------------------------------------------------------------- refusals


@pytest.fixture(scope="module")
def tutorial_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tutorial")
    return saved_keras_model(folder, "tf-tutorial", 2, "log_var")[1]


def _hostile(kind: str, good: Path, folder: Path) -> Path:
    """A copy of a good weights file, changed to hold one thing that must not be read."""
    path = folder / f"{kind}.weights.h5"
    shutil.copy(good, path)
    secret = folder / "secret.h5"
    with h5py.File(path, "a") as f:
        conv = f["encoder/layers/conv2d/vars"]
        if kind == "model-config":
            layer = {"class_name": "Lambda", "config": {"function": ["4wEAAAAA", None, None]}}
            f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "layers": [layer]})
        elif kind == "string":
            conv.create_dataset("2", data=["import os"], dtype=h5py.string_dtype())
        elif kind == "object":
            data = np.empty(1, dtype=h5py.vlen_dtype(np.float32))
            data[0] = np.ones(3, np.float32)
            conv.create_dataset("2", data=data)
        elif kind == "reference":
            conv.create_dataset("2", data=[f["decoder"].ref], dtype=h5py.ref_dtype)
        elif kind == "compound":
            conv.create_dataset("2", data=np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]))
        elif kind == "external-link":
            shutil.copy(good, secret)
            del f["decoder"]
            f["decoder"] = h5py.ExternalLink(str(secret), "/decoder")
        elif kind == "soft-link":
            del f["decoder/layers/dense"]
            f["decoder/layers/dense"] = h5py.SoftLink("/encoder/layers/dense")
        elif kind == "external-storage":
            raw = folder / "raw.bin"
            raw.write_bytes(np.zeros(32, np.float32).tobytes())
            del conv["1"]
            conv.create_dataset("1", shape=(32,), dtype="f4", external=[(str(raw), 0, 128)])
    return path


HOSTILE = {
    "model-config": "holds a whole Keras model (model_config",
    "string": "holds string data; only numeric arrays are read",
    "object": "holds variable-length data; only numeric arrays are read",
    "reference": "holds reference data; only numeric arrays are read",
    "compound": "holds compound data; only numeric arrays are read",
    "external-link": "is an external link to",
    "soft-link": "is a soft link",
    "external-storage": "stores its data in the external file",
}
DESERIALIZERS = [
    (keras.saving, "load_model"),
    (keras.models, "load_model"),
    (keras.models, "model_from_json"),
    (keras.saving, "deserialize_keras_object"),
    (keras.layers, "deserialize"),
    (keras.Model, "load_weights"),
    (keras.src.utils.python_utils, "func_load"),  # a Lambda layer's marshalled code
]


def spy_on_deserializers(monkeypatch) -> list[str]:
    calls: list[str] = []
    for owner, name in DESERIALIZERS:

        def refuse(*args, _what=f"{owner.__name__}.{name}", **kwargs):
            calls.append(_what)
            raise AssertionError(f"{_what} was called on an untrusted file")

        monkeypatch.setattr(owner, name, refuse)
    return calls


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_hdf5_is_refused_without_deserializing(tutorial_file, tmp_path, kind, monkeypatch):
    path = _hostile(kind, tutorial_file, tmp_path)
    calls = spy_on_deserializers(monkeypatch)
    with pytest.raises(UnsafeFileError) as info:
        import_keras.import_keras(path, "tf-tutorial", 2, tmp_path / "out")
    assert HOSTILE[kind] in str(info.value)
    assert str(info.value).startswith(path.name)
    assert calls == []
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(import_keras.STAGING_PREFIX)]


def test_the_good_file_is_accepted_by_the_same_reader(tutorial_file):
    """Control for the refusals: the unchanged file reads as 14 float32 arrays."""
    arrays = hdf5_reader.read_numeric_arrays(tutorial_file, "model.weights.h5")
    assert len(arrays) == 14 and all(a.dtype == np.float32 for a in arrays.values())


def test_not_hdf5_empty_and_oversized_files_are_refused(tutorial_file, tmp_path, monkeypatch):
    text = tmp_path / "notes.weights.h5"
    text.write_text("not weights")
    with pytest.raises(CorruptCheckpointError, match="is not an HDF5 file"):
        import_keras.import_keras(text, "tf-tutorial", 2, tmp_path / "out")
    with pytest.raises(CorruptCheckpointError, match="is empty"):
        import_keras.build_imported(b"", "tf-tutorial", 2, name="empty.weights.h5")
    monkeypatch.setattr(hdf5_reader, "MAX_FILE_BYTES", tutorial_file.stat().st_size - 1)
    with pytest.raises(CorruptCheckpointError, match="over the 0 MiB limit"):
        import_keras.import_keras(tutorial_file, "tf-tutorial", 2, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_weights_of_another_shape_are_refused_by_name(tutorial_file, tmp_path):
    path = tmp_path / "changed.weights.h5"
    shutil.copy(tutorial_file, path)
    with h5py.File(path, "a") as f:  # a decoder that no longer mirrors the encoder
        del f["decoder/layers/conv2d_transpose_1/vars/0"]
        f["decoder/layers/conv2d_transpose_1/vars/0"] = np.zeros((3, 3, 16, 64), np.float32)
    with pytest.raises(KerasImportError, match="deconv2 kernel has shape"):
        import_keras.import_keras(path, "tf-tutorial", 2, tmp_path / "out")
    assert not (tmp_path / "out").exists()
