"""Checkpoints: a folder of plain data that is enough to rebuild a model safely.

Layout::

    config.json            VAEConfig, validated before anything else is read
    weights.safetensors    model weights (safetensors: a JSON header plus raw tensors)
    optimizer.safetensors  optimizer state, for resuming (optional)
    optimizer.previous.safetensors  the epoch before's, kept until the new weights land
    history.json           per-epoch train and test terms
    metrics.json           test-set evaluation of these weights (optional)

Loading rebuilds the architecture from the config and assigns weights only. It
never calls ``load_model``, never unpickles, and never runs code from a file.
Every file is written under a temporary name and moved into place with
``os.replace``, so a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vae.atomic import clean_temporaries, write_bytes_atomic, write_json_atomic
from vae.config import VAEConfig
from vae.errors import (
    CheckpointMismatchError,
    CheckpointNotFoundError,
    ConfigError,
    CorruptCheckpointError,
    NonFiniteWeightsError,
    UnsafeFileError,
)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
PREVIOUS_OPTIMIZER_FILE = "optimizer.previous.safetensors"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
FORMAT_TAG = "vae-latent-explorer"

# Far above what a 2-D model needs (about 0.3 MB) and far below what hurts a server.
MAX_WEIGHTS_BYTES = 64 * 1024 * 1024
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 64 * 1024  # a config is under 1 kB; the cap bounds what a parser sees
MAX_INT_DIGITS = 20  # every integer a checkpoint's JSON holds fits in 64 bits

# Leading bytes of formats that can carry code or pickles, to name them in errors.
_FOREIGN_MAGIC = {
    b"PK\x03\x04": "a zip archive (a .keras model file?)",
    b"\x89HDF": "an HDF5 file (a Keras .h5 model?)",
    b"\x80": "a Python pickle",
    b"\x93NUMPY": "a NumPy .npy file",
}
_FOREIGN_SUFFIXES = {".keras", ".h5", ".hdf5", ".pkl", ".pickle", ".pt", ".pth", ".npz", ".npy"}


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns: a ready model and its records."""

    path: Path
    config: VAEConfig
    model: Any  # vae.model.VAE; typed loosely so importing this module stays light
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0


# --- tensors <-> safetensors ----------------------------------------------------
def _save_tensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    write_bytes_atomic(path, save(arrays, metadata=metadata))


def _load_tensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import SafetensorError
    from safetensors.numpy import load

    _refuse_foreign(path)
    size = path.stat().st_size
    if size == 0:
        raise CorruptCheckpointError(f"{path.name} is empty (0 bytes): the file was cut off.")
    if size > MAX_WEIGHTS_BYTES:
        raise CorruptCheckpointError(
            f"{path.name} is {size / 2**20:.0f} MiB, over the {MAX_WEIGHTS_BYTES // 2**20} MiB "
            "limit for a model of this kind."
        )
    data = path.read_bytes()
    try:
        tensors = load(data)
        metadata = _read_safetensors_metadata(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as exc:
        raise CorruptCheckpointError(
            f"{path.name} is truncated or corrupt and cannot be read ({exc}). "
            "Re-download or retrain the checkpoint."
        ) from exc
    return tensors, metadata


def _read_safetensors_metadata(data: bytes) -> dict[str, str]:
    # The header is a little-endian u64 length, then JSON; "__metadata__" holds strings.
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError("metadata is not a JSON object")
    return meta


def refuse_by_name(path: Path) -> None:
    """Refuse a file whose suffix names a format that can carry code; it is never opened."""
    if path.suffix.lower() in _FOREIGN_SUFFIXES:
        raise UnsafeFileError(
            f"{path.name}: {path.suffix} files can hold code or pickles and are never loaded. "
            f"Offer a checkpoint folder written by vae ({CONFIG_FILE} + {WEIGHTS_FILE})."
        )


def _header_bytes(path: Path) -> bytes:
    """The length prefix and JSON header of a safetensors file, without its tensors."""
    with path.open("rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        if not 0 < n <= MAX_JSON_BYTES:
            raise CorruptCheckpointError(f"{path.name} has no readable header.")
        return head + f.read(n)


def _refuse_foreign(path: Path) -> None:
    """Name formats that could run code, by suffix and by leading bytes, before any parser."""
    refuse_by_name(path)
    with path.open("rb") as f:
        head = f.read(8)
    for magic, what in _FOREIGN_MAGIC.items():
        if head.startswith(magic):
            raise UnsafeFileError(
                f"{path.name} is {what}, not safetensors; such files can hold code and are "
                "never loaded. Offer a checkpoint written by vae."
            )


# --- save ----------------------------------------------------------------------
def model_tensors(model) -> dict[str, np.ndarray]:
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def save_checkpoint(
    directory: str | os.PathLike,
    model,
    *,
    epoch: int,
    history: list[dict[str, Any]] | None = None,
    metrics: dict[str, Any] | None = None,
    include_optimizer: bool = True,
) -> Path:
    """Write ``model`` and its records to ``directory``; every file atomically.

    The weights go last and carry their epoch, so a process killed between files
    leaves whole files whose epoch the loader can check against the history. The
    optimizer state that matches the weights on disk is moved aside, not overwritten,
    until the new weights are in place: a resume after a kill at any moment finds
    the optimizer state of the weights it loads. ``metrics.json`` describes the old
    weights, so it is removed before the new ones land; ``metrics`` are written after.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config: VAEConfig = model.config
    write_bytes_atomic(directory / CONFIG_FILE, (config.to_json() + "\n").encode())
    if history is not None:
        write_json_atomic(directory / HISTORY_FILE, history)
    (directory / METRICS_FILE).unlink(missing_ok=True)  # a kill now loses metrics, never lies
    meta = {
        "format": FORMAT_TAG,
        "epoch": str(epoch),
        "architecture": json.dumps(config.architecture),
    }
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None and optimizer.built:
        tensors = {_optimizer_key(v): np.asarray(v.numpy()) for v in optimizer.variables}
        if (directory / OPTIMIZER_FILE).is_file():
            os.replace(directory / OPTIMIZER_FILE, directory / PREVIOUS_OPTIMIZER_FILE)
        _save_tensors(directory / OPTIMIZER_FILE, tensors, meta)
    _save_tensors(directory / WEIGHTS_FILE, model_tensors(model), meta)
    # The new weights landed, so the previous epoch's moments are no longer needed.
    (directory / PREVIOUS_OPTIMIZER_FILE).unlink(missing_ok=True)
    if metrics is not None:
        write_json_atomic(directory / METRICS_FILE, metrics)
    return directory


def save_metrics(directory: str | os.PathLike, metrics: dict[str, Any]) -> None:
    """Write the evaluation of the weights now in ``directory``."""
    write_json_atomic(Path(directory) / METRICS_FILE, metrics)


# --- load ----------------------------------------------------------------------
def _read_json(path: Path, what: str, cap: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file of at most ``cap`` bytes; more is refused after reading cap + 1."""
    if not path.is_file():  # also refuses FIFOs and devices, which may never end
        raise CheckpointNotFoundError(f"{path.parent.name}/{path.name} is missing: {what}.")
    with path.open("rb") as f:
        data = f.read(cap + 1)  # the size on disk may change after a stat; this cannot
    if len(data) > cap:
        raise CorruptCheckpointError(
            f"{path.name} is larger than {cap:,} bytes; a checkpoint's {path.name} is far smaller."
        )
    try:
        return json.loads(data.decode("utf-8"), parse_int=_bounded_int)
    except RecursionError as exc:
        raise CorruptCheckpointError(
            f"{path.name} is nested too deeply to be JSON vae wrote."
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise CorruptCheckpointError(f"{path.name} is not valid JSON ({exc}).") from exc


def _bounded_int(text: str) -> int:
    # Python refuses only past 4300 digits, and then with a ValueError naming no file.
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits is out of any range")
    return int(text)


def read_json(path: str | os.PathLike) -> Any:
    """One JSON file of a checkpoint, read under the same size cap and errors as a load."""
    return _read_json(Path(path), "a checkpoint's JSON file")


def load_config(directory: str | os.PathLike) -> VAEConfig:
    """Read and validate ``config.json`` only."""
    directory = _checkpoint_dir(directory)
    data = _read_json(
        directory / CONFIG_FILE, "it describes the architecture to rebuild", MAX_CONFIG_BYTES
    )
    try:
        return VAEConfig.from_dict(data)
    except ConfigError as exc:
        raise CorruptCheckpointError(f"{CONFIG_FILE} is invalid: {exc}") from exc


def _checkpoint_dir(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    if directory.is_file():
        _refuse_foreign(directory)
        raise CorruptCheckpointError(
            f"{directory.name} is a file; a checkpoint is a folder holding {CONFIG_FILE} "
            f"and {WEIGHTS_FILE}."
        )
    if not directory.is_dir():
        raise CheckpointNotFoundError(f"no checkpoint folder at {directory}.")
    return directory


def _check_tensors(
    found: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]], config: VAEConfig, name: str
) -> None:
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise CheckpointMismatchError(
            f"{name} does not fit this architecture: missing {missing or 'none'}, "
            f"unexpected {extra or 'none'}. It was written for a different model."
        )
    for key, shape in expected.items():
        arr = found[key]
        if tuple(arr.shape) != tuple(shape):
            hint = ""
            if key == "z_params/kernel" and arr.ndim == 2 and arr.shape[1] % 2 == 0:
                hint = (
                    f" The weights are for latent_dim {arr.shape[1] // 2}, "
                    f"but config.json says latent_dim {config.latent_dim}."
                )
            raise CheckpointMismatchError(
                f"{name}: {key} has shape {tuple(arr.shape)}, the config expects "
                f"{tuple(shape)}.{hint}"
            )
        if arr.dtype != np.float32:
            raise CheckpointMismatchError(f"{name}: {key} is {arr.dtype}, expected float32.")
        if not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise NonFiniteWeightsError(
                f"{name}: {key} holds {bad} NaN or Inf values; the model diverged before it "
                "was saved. Load an earlier checkpoint or retrain with a lower learning rate."
            )


def read_weights(directory: str | os.PathLike) -> tuple[dict[str, np.ndarray], int]:
    """Read ``weights.safetensors`` and check that vae wrote it; shapes are checked later."""
    directory = _checkpoint_dir(directory)
    path = directory / WEIGHTS_FILE
    if not path.is_file():
        foreign = sorted(
            p.name for p in directory.iterdir() if p.suffix.lower() in _FOREIGN_SUFFIXES
        )
        extra = (
            f" It holds {foreign}, which are never loaded because they can carry code."
            if foreign
            else ""
        )
        raise CheckpointNotFoundError(f"{directory.name}/{WEIGHTS_FILE} is missing.{extra}")
    tensors, meta = _load_tensors(path)
    if meta.get("format") != FORMAT_TAG:
        raise CorruptCheckpointError(
            f"{WEIGHTS_FILE} was not written by vae (format tag {meta.get('format')!r})."
        )
    try:
        epoch = int(meta.get("epoch", "0"))
    except ValueError as exc:
        raise CorruptCheckpointError(f"{WEIGHTS_FILE} has a malformed epoch tag.") from exc
    return tensors, epoch


def load_checkpoint(directory: str | os.PathLike) -> Checkpoint:
    """Rebuild the model from ``config.json`` and load ``weights.safetensors`` into it.

    A bad checkpoint raises a specific CheckpointError before the new model is
    returned, so whatever model the caller holds stays as it is.
    """
    from vae.model import build_vae
    from vae.run_folder import is_being_written

    directory = _checkpoint_dir(directory)
    if not is_being_written(directory):  # else the leftovers are a live run's writes
        clean_temporaries(directory)
    config = load_config(directory)
    tensors, epoch = read_weights(directory)
    history, metrics = _load_history(directory, epoch), _load_metrics(directory)
    model = build_vae(config)
    _check_tensors(tensors, {v.path: tuple(v.shape) for v in model.weights}, config, WEIGHTS_FILE)
    for v in model.weights:
        v.assign(tensors[v.path])
    return Checkpoint(directory, config, model, history, metrics, epoch)


def load_records(directory: str | os.PathLike) -> Checkpoint:
    """A checkpoint's config, epoch, history and metrics, with ``model`` None.

    Builds nothing and never imports TensorFlow, so a page that only shows these opens
    at once. The weights file is read for its epoch, but its tensors are checked
    against the architecture only by ``load_checkpoint``.
    """
    directory = _checkpoint_dir(directory)
    config = load_config(directory)
    _, epoch = read_weights(directory)
    return Checkpoint(
        directory, config, None, _load_history(directory, epoch), _load_metrics(directory), epoch
    )


def _load_metrics(directory: Path) -> dict[str, Any]:
    path = directory / METRICS_FILE
    metrics = _read_json(path, "") if path.is_file() else {}
    if not isinstance(metrics, dict):
        raise CorruptCheckpointError(f"{METRICS_FILE} must hold a JSON object.")
    return metrics


def _load_history(directory: Path, epoch: int) -> list[dict[str, Any]]:
    path = directory / HISTORY_FILE
    if not path.is_file():
        return []
    history = _read_json(path, "")
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise CorruptCheckpointError(f"{HISTORY_FILE} must hold a list of per-epoch objects.")
    # A crash between the history and weights writes leaves a longer history: trim it.
    return history[:epoch]


def load_optimizer_state(directory: str | os.PathLike, model) -> bool:
    """Restore the optimizer's variables for an exact resume; False if none were saved.

    Of ``optimizer.safetensors`` and the previous epoch's copy, the one written with
    the weights on disk is used.
    """
    candidates = [Path(directory) / n for n in (OPTIMIZER_FILE, PREVIOUS_OPTIMIZER_FILE)]
    candidates = [p for p in candidates if p.is_file()]
    if not candidates:
        return False
    weights_meta = _read_safetensors_metadata(_header_bytes(Path(directory) / WEIGHTS_FILE))
    weights_epoch = weights_meta.get("epoch")
    loaded = [_load_tensors(p) for p in candidates]
    matching = [
        t for t, m in loaded if m.get("format") == FORMAT_TAG and m.get("epoch") == weights_epoch
    ]
    if not matching:
        # These moments belong to another epoch (a folder written before the previous
        # epoch's state was kept, or edited by hand): resuming from them is not exact.
        meta = loaded[0][1]
        raise CheckpointMismatchError(
            f"{OPTIMIZER_FILE} is from epoch {meta.get('epoch')} but the weights are from "
            f"epoch {weights_epoch}; the run was interrupted while saving. Resume cannot "
            "be exact; start a new run in another folder."
        )
    tensors = matching[0]
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    expected = {_optimizer_key(v): tuple(v.shape) for v in optimizer.variables}
    for key, shape in expected.items():
        arr = tensors.get(key)
        if arr is not None and arr.size == int(np.prod(shape)):
            arr = tensors[key] = arr.reshape(shape)  # safetensors stores scalars as [1]
        if arr is None or tuple(arr.shape) != shape or not np.all(np.isfinite(arr)):
            raise CheckpointMismatchError(
                f"{OPTIMIZER_FILE}: {key} is missing, misshapen or non-finite; resume "
                "needs the optimizer state written with these weights."
            )
    for v in optimizer.variables:
        v.assign(tensors[_optimizer_key(v)].astype(v.dtype))
    return True


def _optimizer_key(variable) -> str:
    # Keras names optimizers "adam", "adam_1", ... per process; drop that prefix.
    return variable.path.split("/", 1)[-1]
