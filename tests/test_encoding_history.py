"""The codes kept after every epoch (vae/encoding_history.py): written by training,
replaced on resume, never newer than the weights, and refused when damaged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_train import blob_data, tiny_config

from vae import encoding_history as eh
from vae import evaluate
from vae.checkpoint import load_checkpoint
from vae.precompute import CorruptPrecomputeError
from vae.train import train


def codes(n: int, value: float, j: int = 2) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, j), value, np.float32), np.full((n, j), -value, np.float32)


def test_rows_are_kept_by_epoch_and_a_resume_replaces_what_it_trains_again(tmp_path):
    n_test = 3000
    n = len(eh.indices(n_test))
    assert n == eh.N_CODES and np.all(np.diff(eh.indices(n_test)) > 0)
    for epoch in (1, 2, 3):
        eh.record(tmp_path, epoch, *codes(n, epoch), n_test)
    got = eh.read(tmp_path, n_test=n_test, epoch=3)
    assert got.epochs.tolist() == [1, 2, 3] and got.z_mean.dtype == np.float16
    assert got.z_mean[:, 0, 0].tolist() == [1, 2, 3] and got.z_log_var[2, 0, 0] == -3
    # The weights are at epoch 2 (a kill before epoch 3's weights): epoch 3 is not shown.
    assert eh.read(tmp_path, n_test=n_test, epoch=2).epochs.tolist() == [1, 2]
    # A resume from epoch 1 trains epoch 2 again: its row and every later one go.
    eh.record(tmp_path, 2, *codes(n, 20), n_test)
    got = eh.read(tmp_path, n_test=n_test, epoch=9)
    assert got.epochs.tolist() == [1, 2] and got.z_mean[:, 0, 0].tolist() == [1, 20]
    # Another test set, or none yet: nothing to show.
    assert eh.read(tmp_path, n_test=n_test + 1, epoch=9) is None
    assert eh.read(tmp_path / "none", n_test=n_test, epoch=9) is None
    with pytest.raises(ValueError, match="not one row"):
        eh.record(tmp_path, 3, *codes(n - 1, 1), n_test)


def test_training_records_each_epochs_codes_of_the_followed_images(tmp_path):
    x_train, x_test = blob_data()
    out = tmp_path / "run"
    train(tiny_config(epochs=2), x_train, x_test, out_dir=out)
    got = eh.read(out, n_test=len(x_test), epoch=2)
    assert got.epochs.tolist() == [1, 2]
    assert got.indices.tolist() == list(range(len(x_test)))  # 40 images: all of them
    z_mean, z_log_var = evaluate.encode(load_checkpoint(out).model, x_test[got.indices])
    np.testing.assert_allclose(got.z_mean[-1], z_mean, rtol=2e-3, atol=2e-3)  # float16
    np.testing.assert_allclose(got.z_log_var[-1], z_log_var, rtol=2e-3, atol=2e-3)
    assert not np.allclose(got.z_mean[0], got.z_mean[1], atol=1e-3)  # the codes moved
    # A resume adds the next epoch to the same file.
    train(tiny_config(epochs=3), x_train, x_test, out_dir=out, resume=True)
    assert eh.read(out, n_test=len(x_test), epoch=3).epochs.tolist() == [1, 2, 3]


def _write(path, tensors: dict, n_test: int = 50) -> None:
    from safetensors.numpy import save

    meta = {"format": eh.FORMAT_TAG, "meta": json.dumps({"n_test": n_test})}
    path.write_bytes(save(tensors, metadata=meta))


def _good(e: int = 2, n: int = 5) -> dict:
    return {
        "epochs": np.arange(1, e + 1, dtype=np.int32),
        "indices": np.arange(n, dtype=np.int32),
        "z_mean": np.zeros((e, n, 2), np.float16),
        "z_log_var": np.zeros((e, n, 2), np.float16),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"z_mean": np.zeros((2, 5, 2), np.float32)}, "must be float16"),
        ({"z_log_var": np.full((2, 5, 2), np.nan, np.float16)}, "NaN or Inf"),
        ({"indices": np.array([0, 1, 2, 3, 50], np.int32)}, "outside the test set"),
        ({"epochs": np.array([2, 1], np.int32)}, "not increasing"),
        ({"epochs": np.array([1, 2, 3], np.int32)}, "shapes do not agree"),
        ({"indices": np.arange(5, dtype=np.int64)}, "1-D int32"),
    ],
)
def test_a_damaged_history_is_refused_with_what_is_wrong(tmp_path, change, message):
    _write(tmp_path / eh.FILE, {**_good(), **change})
    with pytest.raises(CorruptPrecomputeError, match=message):
        eh.read(tmp_path, n_test=50, epoch=9)
    # A training writes a fresh history over a damaged one rather than stop.
    eh.record(tmp_path, 1, *codes(50, 1), 50)
    assert eh.read(tmp_path, n_test=50, epoch=9).epochs.tolist() == [1]


def test_an_oversized_or_foreign_file_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(eh, "MAX_BYTES", 4096)
    _write(tmp_path / eh.FILE, _good(e=100, n=20))
    with pytest.raises(CorruptPrecomputeError, match="larger than"):
        eh.read(tmp_path, n_test=50, epoch=9)
    (tmp_path / eh.FILE).write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(CorruptPrecomputeError, match="damaged or not written by vae"):
        eh.read(tmp_path, n_test=50, epoch=9)
