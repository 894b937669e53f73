"""Tests for vae.checkpoint: round trips, every refusal, leftovers, exact resume.

Models are tiny (8x8 images, a few filters) so each test builds in well under a second.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import shlex
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import fixed_inputs, perturb_weights, tiny_config, weights_of
from safetensors.numpy import load_file, save_file

from vae import checkpoint
from vae.checkpoint import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    OPTIMIZER_FILE,
    WEIGHTS_FILE,
    load_checkpoint,
    load_optimizer_state,
    save_checkpoint,
)
from vae.errors import (
    CheckpointMismatchError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    NonFiniteWeightsError,
    UnsafeFileError,
)
from vae.model import build_vae

CONFIGS = [
    pytest.param(tiny_config(latent_dim=1), id="J1-bernoulli"),
    pytest.param(tiny_config(latent_dim=2, decoder="gaussian"), id="J2-gaussian"),
    pytest.param(
        tiny_config(latent_dim=3, estimator="sgvb-a", n_samples=2, seed=7), id="J3-bernoulli"
    ),
]


def history_of(epochs: int) -> list[dict]:
    return [
        {"epoch": e, "train": {"neg_elbo": 100.0 - e}, "test": {"neg_elbo": 101.0 - e}}
        for e in range(1, epochs + 1)
    ]


def outputs(model, config) -> dict[str, np.ndarray]:
    """Decoder probabilities and encodings on fixed inputs."""
    x, z = fixed_inputs(config, seed=123)
    z_mean, z_log_var = model.encode_fn(x)
    return {
        "decoded": model.decode_fn(z).numpy(),
        "z_mean": z_mean.numpy(),
        "z_log_var": z_log_var.numpy(),
    }


def save_tiny(directory: Path, seed: int = 1, epoch: int = 1, **config_changes) -> Path:
    """A checkpoint of a tiny model with perturbed weights and ``epoch`` history entries."""
    model = build_vae(tiny_config(**config_changes))
    perturb_weights(model, seed)
    return save_checkpoint(directory, model, epoch=epoch, history=history_of(epoch))


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return save_tiny(tmp_path / "good")


def rewrite_weights(directory: Path, change) -> None:
    """Apply ``change(tensors)`` to the weights file, keeping vae's metadata."""
    from safetensors import safe_open

    path = directory / WEIGHTS_FILE
    with safe_open(path, "np") as f:
        meta = f.metadata()
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path, metadata=meta)


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("config", CONFIGS)
def test_round_trip_restores_weights_outputs_and_records(tmp_path: Path, config) -> None:
    model = build_vae(config)
    perturb_weights(model, seed=1)
    fresh = weights_of(build_vae(config))  # what a load that ignored the file would give
    history = history_of(3)
    metrics = {"neg_elbo": 97.5, "log_px": None, "iw_log_px": -96.0}

    save_checkpoint(tmp_path / "ck", model, epoch=3, history=history, metrics=metrics)
    ck = load_checkpoint(tmp_path / "ck")

    assert ck.config == config
    assert ck.model.config == config
    assert ck.epoch == 3
    assert ck.history == history
    assert ck.metrics == metrics
    saved, loaded = weights_of(model), weights_of(ck.model)
    assert saved.keys() == loaded.keys()
    for key in saved:
        np.testing.assert_array_equal(loaded[key], saved[key], err_msg=key)
    assert any(not np.array_equal(fresh[k], saved[k]) for k in saved)
    want, got = outputs(model, config), outputs(ck.model, config)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    # A model that was never compiled has no optimizer state to write; nothing else is left.
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == sorted(
        [CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE, METRICS_FILE]
    )


def test_config_json_is_plain_data_enough_to_rebuild(good: Path) -> None:
    data = json.loads((good / CONFIG_FILE).read_text())
    assert data["latent_dim"] == 2
    assert data["conv_filters"] == [4, 8]
    assert load_checkpoint(good).config == tiny_config()


# --------------------------------------------------------------------------- config errors


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint folder"):
        load_checkpoint(tmp_path / "nowhere")


def test_missing_config(good: Path) -> None:
    (good / CONFIG_FILE).unlink()
    with pytest.raises(CheckpointNotFoundError, match=re.escape("config.json is missing")):
        load_checkpoint(good)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        pytest.param('{"latent_dim": 2,', "not valid JSON", id="truncated-json"),
        pytest.param("\xff\xfe binary", "not valid JSON", id="not-utf8"),
        pytest.param("[1, 2]", "must be a JSON object", id="list-not-object"),
    ],
)
def test_malformed_config(good: Path, text: str, phrase: str) -> None:
    (good / CONFIG_FILE).write_bytes(text.encode("latin-1"))
    with pytest.raises(CorruptCheckpointError, match=re.escape(phrase)):
        load_checkpoint(good)


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        pytest.param({"hidden_units": 5}, "unknown keys ['hidden_units']", id="unknown-key"),
        pytest.param({"latent_dim": 0}, "latent_dim = 0 is out of range", id="latent-0"),
        pytest.param({"latent_dim": 10_000}, "latent_dim = 10000 is out of range", id="huge"),
        pytest.param({"latent_dim": "2"}, "latent_dim must be an integer", id="wrong-type"),
        pytest.param({"decoder": "poisson"}, "decoder = 'poisson' is not one of", id="decoder"),
        pytest.param({"format_version": 99}, "format_version 99 is not supported", id="version"),
    ],
)
def test_invalid_config_values(good: Path, change: dict, phrase: str) -> None:
    data = json.loads((good / CONFIG_FILE).read_text())
    (good / CONFIG_FILE).write_text(json.dumps({**data, **change}))
    with pytest.raises(CorruptCheckpointError, match=re.escape(phrase)) as info:
        load_checkpoint(good)
    assert CONFIG_FILE in str(info.value)


# --------------------------------------------------------------------------- weights errors


def test_missing_weights(good: Path) -> None:
    (good / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointNotFoundError, match=re.escape(f"{WEIGHTS_FILE} is missing")):
        load_checkpoint(good)


def test_zero_byte_weights(good: Path) -> None:
    (good / WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(CorruptCheckpointError, match=re.escape("empty (0 bytes)")):
        load_checkpoint(good)


@pytest.mark.parametrize("cut", ["half", "last-byte", "inside-header"])
def test_truncated_weights(good: Path, cut: str) -> None:
    data = (good / WEIGHTS_FILE).read_bytes()
    keep = {"half": len(data) // 2, "last-byte": len(data) - 1, "inside-header": 12}[cut]
    (good / WEIGHTS_FILE).write_bytes(data[:keep])
    with pytest.raises(CorruptCheckpointError, match="truncated or corrupt"):
        load_checkpoint(good)


def test_garbage_weights(good: Path) -> None:
    garbage = bytearray(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    garbage[0] = ord("G")  # no magic number of a known format: the parser must refuse it
    (good / WEIGHTS_FILE).write_bytes(bytes(garbage))
    with pytest.raises(CorruptCheckpointError, match="truncated or corrupt"):
        load_checkpoint(good)


def test_weights_for_another_latent_size(tmp_path: Path) -> None:
    directory = save_tiny(tmp_path / "ck", latent_dim=3)
    (directory / CONFIG_FILE).write_text(tiny_config(latent_dim=2).to_json())
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(directory)
    message = str(info.value)
    assert "latent_dim 3" in message
    assert "latent_dim 2" in message


def test_weights_for_another_architecture(tmp_path: Path) -> None:
    directory = save_tiny(tmp_path / "ck", conv_filters=(4, 16))
    (directory / CONFIG_FILE).write_text(tiny_config(conv_filters=(4, 8)).to_json())
    with pytest.raises(CheckpointMismatchError, match="conv2/kernel") as info:
        load_checkpoint(directory)
    assert "(3, 3, 4, 16)" in str(info.value)  # the shape found is named too


def test_weights_missing_a_tensor(good: Path) -> None:
    rewrite_weights(good, lambda t: t.pop("x_logits/bias"))
    with pytest.raises(CheckpointMismatchError, match=re.escape("missing ['x_logits/bias']")):
        load_checkpoint(good)


def test_weights_of_wrong_dtype(good: Path) -> None:
    def to_float64(t):
        t["dense/bias"] = t["dense/bias"].astype(np.float64)

    rewrite_weights(good, to_float64)
    with pytest.raises(CheckpointMismatchError, match="dense/bias is float64"):
        load_checkpoint(good)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_weights(tmp_path: Path, bad: float) -> None:
    model = build_vae(tiny_config())
    perturb_weights(model, seed=1)
    kernel = next(v for v in model.weights if v.path == "deconv1/kernel")
    values = kernel.numpy()
    values[0, 0, 0, :2] = bad
    kernel.assign(values)
    save_checkpoint(tmp_path / "ck", model, epoch=1)
    with pytest.raises(NonFiniteWeightsError, match="NaN or Inf") as info:
        load_checkpoint(tmp_path / "ck")
    assert "deconv1/kernel holds 2" in str(info.value)


@pytest.mark.parametrize(
    "metadata", [{"format": "pt"}, None], ids=["other-format-tag", "no-metadata"]
)
def test_safetensors_not_written_by_vae(good: Path, metadata) -> None:
    tensors = load_file(good / WEIGHTS_FILE)  # the right tensors, but not our file
    save_file(tensors, good / WEIGHTS_FILE, metadata=metadata)
    with pytest.raises(CorruptCheckpointError, match="not written by vae"):
        load_checkpoint(good)


def test_malformed_epoch_tag(good: Path) -> None:
    tensors = load_file(good / WEIGHTS_FILE)
    save_file(
        tensors, good / WEIGHTS_FILE, metadata={"format": checkpoint.FORMAT_TAG, "epoch": "x"}
    )
    with pytest.raises(CorruptCheckpointError, match="malformed epoch tag"):
        load_checkpoint(good)


# --------------------------------------------------------------------------- unsafe files


class _RunsShell:
    """Unpickling this runs a shell command (here: create a marker file)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


class _OpensFile:
    """Unpickling this calls builtins.open(marker, "w"), which creates the file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def pickle_payload(tmp_path: Path, protocol: int = pickle.HIGHEST_PROTOCOL) -> bytes:
    markers = (tmp_path / "pwned-by-system", tmp_path / "pwned-by-open")
    return pickle.dumps([_RunsShell(markers[0]), _OpensFile(markers[1])], protocol=protocol)


def assert_no_code_ran(tmp_path: Path) -> None:
    assert not (tmp_path / "pwned-by-system").exists()
    assert not (tmp_path / "pwned-by-open").exists()


def test_pickle_payload_is_live(tmp_path: Path) -> None:
    """Control: a plain pickle.loads of the payload does create the markers."""
    handles = pickle.loads(pickle_payload(tmp_path))
    handles[1].close()
    assert (tmp_path / "pwned-by-system").exists()
    assert (tmp_path / "pwned-by-open").exists()


def foreign_bytes(kind: str, tmp_path: Path) -> bytes:
    buf = io.BytesIO()
    if kind == "keras":
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("config.json", '{"class_name": "Functional"}')
            zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    elif kind == "h5":
        buf.write(b"\x89HDF\r\n\x1a\n" + bytes(504))
    elif kind == "pickle":
        buf.write(pickle_payload(tmp_path))
    elif kind == "npz":
        np.savez(buf, x_train=np.zeros((2, 28, 28), np.uint8))
    elif kind == "npy":
        np.save(buf, np.zeros(3, np.float32))
    return buf.getvalue()


FOREIGN = [
    pytest.param("keras", ".keras", "zip archive", id="keras-zip"),
    pytest.param("h5", ".h5", "HDF5", id="h5"),
    pytest.param("pickle", ".pkl", "pickle", id="pickle"),
    pytest.param("npz", ".npz", "zip archive", id="npz"),
    pytest.param("npy", ".npy", "NumPy", id="npy"),
]


@pytest.mark.parametrize(("kind", "suffix", "what"), FOREIGN)
def test_foreign_file_as_weights_is_refused(good: Path, tmp_path, kind, suffix, what) -> None:
    (good / WEIGHTS_FILE).write_bytes(foreign_bytes(kind, tmp_path))
    with pytest.raises(UnsafeFileError, match=what) as info:
        load_checkpoint(good)
    assert "never loaded" in str(info.value)
    assert_no_code_ran(tmp_path)


@pytest.mark.parametrize(("kind", "suffix", "what"), FOREIGN)
def test_foreign_file_as_checkpoint_path_is_refused(tmp_path: Path, kind, suffix, what) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_bytes(foreign_bytes(kind, tmp_path))
    with pytest.raises(UnsafeFileError, match=re.escape(suffix)) as info:
        load_checkpoint(path)
    assert "never loaded" in str(info.value)
    assert_no_code_ran(tmp_path)


@pytest.mark.parametrize(("kind", "suffix", "what"), FOREIGN)
def test_foreign_file_under_a_neutral_name_is_refused(tmp_path: Path, kind, suffix, what) -> None:
    path = tmp_path / "model.bin"  # the suffix gives nothing away: the magic number must
    path.write_bytes(foreign_bytes(kind, tmp_path))
    with pytest.raises(UnsafeFileError, match=what):
        load_checkpoint(path)
    assert_no_code_ran(tmp_path)


def test_protocol_0_pickle_as_weights_is_never_unpickled(good: Path, tmp_path: Path) -> None:
    # Protocol 0 has no magic byte; the safetensors parser rejects it as corrupt.
    (good / WEIGHTS_FILE).write_bytes(pickle_payload(tmp_path, protocol=0))
    with pytest.raises(CorruptCheckpointError, match="truncated or corrupt"):
        load_checkpoint(good)
    assert_no_code_ran(tmp_path)


def test_folder_with_only_a_keras_model_names_it(tmp_path: Path) -> None:
    directory = tmp_path / "ck"
    directory.mkdir()
    (directory / CONFIG_FILE).write_text(tiny_config().to_json())
    (directory / "model.keras").write_bytes(foreign_bytes("keras", tmp_path))
    with pytest.raises(CheckpointNotFoundError, match="model.keras") as info:
        load_checkpoint(directory)
    assert f"{WEIGHTS_FILE} is missing" in str(info.value)


def test_plain_file_as_checkpoint_path(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"{}")
    with pytest.raises(CorruptCheckpointError, match="is a file; a checkpoint is a folder"):
        load_checkpoint(path)


# --------------------------------------------------------------------------- failed loads


def test_failed_load_leaves_the_loaded_model_unchanged(good: Path, tmp_path: Path) -> None:
    first = load_checkpoint(good)
    before_weights = weights_of(first.model)
    before_outputs = outputs(first.model, first.config)

    bad_nan = tmp_path / "bad_nan"
    shutil.copytree(good, bad_nan)

    def poison(t):
        t["conv1/kernel"] = np.full_like(t["conv1/kernel"], np.nan)

    rewrite_weights(bad_nan, poison)
    bad_shape = save_tiny(tmp_path / "bad_shape", latent_dim=3)
    (bad_shape / CONFIG_FILE).write_text(tiny_config(latent_dim=2).to_json())
    with pytest.raises(NonFiniteWeightsError):
        load_checkpoint(bad_nan)
    with pytest.raises(CheckpointMismatchError):
        load_checkpoint(bad_shape)

    after_weights = weights_of(first.model)
    for key, value in before_weights.items():
        np.testing.assert_array_equal(after_weights[key], value, err_msg=key)
    after_outputs = outputs(first.model, first.config)
    for key, value in before_outputs.items():
        np.testing.assert_array_equal(after_outputs[key], value, err_msg=key)


# --------------------------------------------------------------------------- leftovers


def test_load_with_a_leftover_temporary_removes_it(good: Path) -> None:
    leftover = good / "weights.safetensors.tmp-k1ll3d"
    leftover.write_bytes(b"half a file")
    ck = load_checkpoint(good)
    assert ck.epoch == 1
    assert not leftover.exists()
    assert (good / WEIGHTS_FILE).is_file()


def test_history_longer_than_weights_epoch_is_trimmed(good: Path) -> None:
    # A crash after history.json of epoch 3 was written but before the weights were.
    save_tiny(good, epoch=2)
    checkpoint.write_json_atomic(good / HISTORY_FILE, history_of(3))
    ck = load_checkpoint(good)
    assert ck.epoch == 2
    assert ck.history == history_of(2)


# --------------------------------------------------------------------------- metrics


def watch_metrics_as_weights_land(folder: Path, monkeypatch) -> list[bool]:
    """Whether metrics.json existed at each moment new weights were written to ``folder``."""
    seen: list[bool] = []
    real_write = checkpoint.write_bytes_atomic

    def write(path, data):
        if Path(path).name == WEIGHTS_FILE:
            seen.append((folder / METRICS_FILE).exists())
        real_write(path, data)

    monkeypatch.setattr(checkpoint, "write_bytes_atomic", write)
    return seen


def test_new_weights_never_sit_beside_older_metrics(good: Path, monkeypatch) -> None:
    checkpoint.save_metrics(good, {"neg_elbo": 90.0})
    assert load_checkpoint(good).metrics == {"neg_elbo": 90.0}
    present_while_weights_land = watch_metrics_as_weights_land(good, monkeypatch)
    save_tiny(good, seed=2, epoch=2)  # a new epoch, saved without evaluating it
    assert present_while_weights_land == [False]  # gone before the new weights, not after
    assert not (good / METRICS_FILE).exists()
    assert load_checkpoint(good).metrics == {}


def test_metrics_saved_with_new_weights_land_after_them(good: Path, monkeypatch) -> None:
    checkpoint.save_metrics(good, {"neg_elbo": 90.0})
    present_while_weights_land = watch_metrics_as_weights_land(good, monkeypatch)
    model = build_vae(tiny_config())
    perturb_weights(model, 3)
    save_checkpoint(good, model, epoch=2, history=history_of(2), metrics={"neg_elbo": 80.0})
    assert present_while_weights_land == [False]
    assert load_checkpoint(good).metrics == {"neg_elbo": 80.0}


# --------------------------------------------------------------------------- optimizer


def compiled(config):
    model = build_vae(config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return model


def test_optimizer_state_restores_adam_exactly(tmp_path: Path) -> None:
    config = tiny_config(batch_size=8, learning_rate=1e-2)
    x, _ = fixed_inputs(config, n=16)
    model = compiled(config)
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)  # two Adam steps
    save_checkpoint(tmp_path / "ck", model, epoch=1)
    assert (tmp_path / "ck" / OPTIMIZER_FILE).is_file()

    other = compiled(config)
    other.optimizer.build(other.trainable_variables)
    assert int(other.optimizer.iterations.numpy()) == 0
    assert load_optimizer_state(tmp_path / "ck", other) is True

    assert int(other.optimizer.iterations.numpy()) == 2
    saved_vars, loaded_vars = model.optimizer.variables, other.optimizer.variables
    assert len(saved_vars) == len(loaded_vars) > 2
    for a, b in zip(saved_vars, loaded_vars, strict=True):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)
    assert any(np.any(v.numpy() != 0) for v in loaded_vars if "momentum" in v.path)

    # Weights plus optimizer state make the next step identical to the uninterrupted run.
    for v in other.weights:
        v.assign(weights_of(model)[v.path])
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    other.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    continued, resumed = weights_of(model), weights_of(other)
    for key in continued:
        np.testing.assert_allclose(resumed[key], continued[key], rtol=0, atol=1e-6, err_msg=key)


def test_no_optimizer_file_means_nothing_to_restore(good: Path) -> None:
    model = compiled(tiny_config())
    assert load_optimizer_state(good, model) is False


def test_non_finite_optimizer_state_is_refused(tmp_path: Path) -> None:
    config = tiny_config(batch_size=8)
    x, _ = fixed_inputs(config, n=8)
    model = compiled(config)
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    save_checkpoint(tmp_path / "ck", model, epoch=1)
    path = tmp_path / "ck" / OPTIMIZER_FILE
    tensors = load_file(path)
    key = next(k for k in tensors if k.endswith("momentum"))
    tensors[key] = np.full_like(tensors[key], np.nan)
    save_file(tensors, path, metadata={"format": checkpoint.FORMAT_TAG, "epoch": "1"})
    with pytest.raises(CheckpointMismatchError, match=re.escape(key)):
        load_optimizer_state(tmp_path / "ck", compiled(config))
