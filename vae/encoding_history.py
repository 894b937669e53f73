"""The latent space as it formed: a fixed subset of test codes after every epoch.

Training appends one row per finished epoch to ``encodings_history.safetensors`` beside
the weights: μ and log σ² of the same ``N_CODES`` test images (a fixed random subset),
in float16, with the epoch each row belongs to. The pages play the rows back.

The file is rewritten whole and atomically at each epoch (at most a few hundred kB), so
a kill leaves the previous version. Rows are keyed by epoch: a resumed run first drops
any row of an epoch it is about to train again, and ``read`` ignores rows past the
checkpoint's own epoch, so the file never shows a state newer than the weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae.atomic import write_bytes_atomic
from vae.eval_budget import subset
from vae.precompute import CorruptPrecomputeError, parse_tagged

FILE = "encodings_history.safetensors"
FORMAT_TAG = "vae-latent-explorer/encodings-history"
N_CODES = 1000  # test images followed through training: enough to see the classes form
MAX_EPOCHS = 10_000  # the config's own bound on epochs
MAX_BYTES = 48 * 1024 * 1024  # 1,000 codes x J = 2 x 2 arrays x 2 bytes x 10,000 epochs + slack


@dataclass(frozen=True)
class EncodingHistory:
    epochs: np.ndarray  # int32 [E], increasing: the epoch each row was recorded after
    indices: np.ndarray  # int32 [N]: which test images
    z_mean: np.ndarray  # float16 [E, N, J]
    z_log_var: np.ndarray  # float16 [E, N, J]


def indices(n_test: int) -> np.ndarray:
    """The test images the history follows: a fixed random subset of ``N_CODES``."""
    return subset(n_test, N_CODES).astype(np.int32)


def record(
    directory: str | os.PathLike, epoch: int, z_mean: np.ndarray, z_log_var: np.ndarray, n_test: int
) -> Path:
    """Add the codes [N, J] of ``indices(n_test)`` after ``epoch`` to the history in
    ``directory``, replacing any row of that epoch or later; the file's path."""
    path = Path(directory) / FILE
    idx = indices(n_test)
    if z_mean.shape != (len(idx), z_mean.shape[-1]) or z_log_var.shape != z_mean.shape:
        raise ValueError(f"codes of shape {z_mean.shape} are not one row of {len(idx)} codes")
    try:
        old = _load(path, n_test) if path.is_file() else None
    except CorruptPrecomputeError:
        old = None  # a damaged history is started afresh rather than stopping a training
    if old is None or old.indices.shape != idx.shape or old.z_mean.shape[2:] != z_mean.shape[1:]:
        # None yet, or one of another subset or latent size: it belongs to another run.
        old = EncodingHistory(
            epochs=np.zeros(0, np.int32),
            indices=idx,
            z_mean=np.zeros((0, *z_mean.shape), np.float16),
            z_log_var=np.zeros((0, *z_mean.shape), np.float16),
        )
    keep = old.epochs < epoch

    def add(rows: np.ndarray, row: np.ndarray) -> np.ndarray:
        return np.concatenate([rows[keep], row[None].astype(np.float16)])

    _save(
        path,
        EncodingHistory(
            epochs=np.append(old.epochs[keep], epoch).astype(np.int32),
            indices=idx,
            z_mean=add(old.z_mean, z_mean),
            z_log_var=add(old.z_log_var, z_log_var),
        ),
        n_test,
    )
    return path


def read(directory: str | os.PathLike, *, n_test: int, epoch: int) -> EncodingHistory | None:
    """The history in ``directory`` up to the checkpoint's ``epoch``; None if there is
    none, or none for this test set. Raises CorruptPrecomputeError if it is damaged."""
    path = Path(directory) / FILE
    if not path.is_file():
        return None
    history = _load(path, n_test)
    if history is None:
        return None
    keep = history.epochs <= epoch  # rows newer than the weights are not shown
    if not keep.any():
        return None
    return EncodingHistory(
        epochs=history.epochs[keep],
        indices=history.indices,
        z_mean=history.z_mean[keep],
        z_log_var=history.z_log_var[keep],
    )


def _save(path: Path, history: EncodingHistory, n_test: int) -> None:
    from safetensors.numpy import save

    arrays = {
        "epochs": history.epochs,
        "indices": history.indices,
        "z_mean": history.z_mean,
        "z_log_var": history.z_log_var,
    }
    meta = json.dumps({"n_test": int(n_test)})
    data = save(
        {k: np.ascontiguousarray(v) for k, v in arrays.items()},
        metadata={"format": FORMAT_TAG, "meta": meta},
    )
    write_bytes_atomic(path, data)


def _load(path: Path, n_test: int) -> EncodingHistory | None:
    tensors, meta = parse_tagged(path, FORMAT_TAG, MAX_BYTES)
    if meta.get("n_test") != n_test:
        return None  # recorded on another test set
    epochs, idx = tensors.get("epochs"), tensors.get("indices")
    z_mean, z_log_var = tensors.get("z_mean"), tensors.get("z_log_var")
    problem = None
    if any(a is None for a in (epochs, idx, z_mean, z_log_var)):
        problem = "an array is missing"
    elif epochs.dtype != np.int32 or idx.dtype != np.int32 or epochs.ndim != 1 or idx.ndim != 1:
        problem = "epochs and indices must be 1-D int32"
    elif z_mean.dtype != np.float16 or z_log_var.dtype != np.float16 or z_mean.ndim != 3:
        problem = "the codes must be float16 [epochs, codes, J]"
    elif z_mean.shape != z_log_var.shape or z_mean.shape[:2] != (len(epochs), len(idx)):
        problem = "the arrays' shapes do not agree"
    elif len(epochs) and (
        epochs.min() < 1 or epochs.max() > MAX_EPOCHS or np.any(np.diff(epochs) <= 0)
    ):
        problem = "the epochs are not increasing numbers from 1"
    elif len(idx) and (idx.min() < 0 or idx.max() >= n_test):
        problem = "an index lies outside the test set"
    elif not (np.all(np.isfinite(z_mean)) and np.all(np.isfinite(z_log_var))):
        problem = "the codes hold NaN or Inf"
    if problem:
        raise CorruptPrecomputeError(
            f"{path.name}: {problem}; it was not written by vae. Delete it: the next "
            "training records a new one."
        )
    for a in (epochs, idx, z_mean, z_log_var):
        a.flags.writeable = False
    return EncodingHistory(epochs=epochs, indices=idx, z_mean=z_mean, z_log_var=z_log_var)
