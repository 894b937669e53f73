"""What the pages show of a checkpoint, computed once and stored beside its weights.

Encoding the test set, its per-example ELBO, the estimators' gradient variance and the
default digits' log p(x) by quadrature take a minute on two cores; a page that did them
on its first visit would keep a lecture waiting. ``write`` computes them once, when a
checkpoint is finished or from the command line (``python -m vae precompute FOLDER``),
and stores them in one file, ``precomputed.safetensors``::

    arrays     z_mean, z_log_var [N, J]; recon, kl, neg_elbo [N];
               gap_neg_elbo, gap_neg_log_px [len(GAP_INDICES)]
    metadata   "format": FORMAT_TAG, "meta": JSON (the weights' sha256, the data set,
               the settings below, the gradient variance and the quadrature's note)

Beside it, ``decoder_export.safetensors`` holds the decoder as the browser runs it
(vae/export.py's spec and float32 weights), so the Drag pad is served without
TensorFlow: its first draw need not wait for the model to be built::

    arrays     weights [n] float32: export_decoder's weights, as they are sent
    metadata   "format": EXPORT_FORMAT_TAG, "meta": JSON (the weights' sha256, the
               export's spec and its digest)

safetensors holds only numbers and a JSON header, so reading it runs no code.
``read`` and ``read_export`` trust nothing: the file is size-capped, parsed, shape- and
finiteness-checked, and used only if it was computed from the very weights now on
disk (with today's settings).
A stale file is ignored (the pages compute instead); a damaged one raises a
``CorruptPrecomputeError`` that says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vae import checkpoint
from vae.atomic import write_bytes_atomic
from vae.errors import CorruptCheckpointError

FILE = "precomputed.safetensors"
FORMAT_TAG = "vae-latent-explorer/precomputed"
VERSION = 1
EXPORT_FILE = "decoder_export.safetensors"
EXPORT_FORMAT_TAG = "vae-latent-explorer/decoder-export"
# A 2-D model's file is about 0.4 MB; 32 MB leaves room for J = 64 and refuses worse.
MAX_BYTES = 32 * 1024 * 1024

# Settings of what is stored: the Estimators page uses the same, so its stored and
# computed figures agree. Changing one makes every stored file stale.
GV_BATCH = 100  # the first 100 test images: one fixed minibatch for both estimators
GV_REPEATS = 30  # noise draws per estimator; the variance is over these
GV_SEED = 0
GAP_INDICES = (0, 1, 2, 3, 4)  # the test images whose gap is shown before any choice
ELBO_SAMPLES = 500  # draws of z per image, so the ELBO's own noise is well under the gap
GAP_BATCH = 8  # images per call of the gap's estimators: bounds their memory
TERMS_SEED = 0  # the noise of the whole test set's per-example ELBO
SETTINGS = {
    "gv_batch": GV_BATCH,
    "gv_repeats": GV_REPEATS,
    "gv_seed": GV_SEED,
    "gap_indices": list(GAP_INDICES),
    "elbo_samples": ELBO_SAMPLES,
    "terms_seed": TERMS_SEED,
}
TERMS = ("recon", "kl", "neg_elbo")


class CorruptPrecomputeError(CorruptCheckpointError):
    """The stored figures cannot be used as they are; the pages compute them instead."""


@dataclass(frozen=True)
class Stored:
    """What ``read`` returns: the stored figures of one set of weights (arrays read-only)."""

    z_mean: np.ndarray  # [N, J] float32
    z_log_var: np.ndarray  # [N, J] float32
    terms: dict[str, np.ndarray]  # recon, kl, neg_elbo [N] float32 (seed TERMS_SEED)
    gradient_variance: dict[str, dict[str, dict[str, float]]]  # as evaluate.gradient_variance
    gap_neg_elbo: np.ndarray  # [len(GAP_INDICES)]
    gap_neg_log_px: np.ndarray  # [len(GAP_INDICES)]
    gap_how: str  # how log p(x) was computed, for the page's caption


def weights_digest(directory: str | os.PathLike) -> str:
    """sha256 of the checkpoint's weights file: what ties stored figures to their weights."""
    path = Path(directory) / checkpoint.WEIGHTS_FILE
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# --- computing ------------------------------------------------------------------------
def gradient_variance(model, x: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
    """The Estimators page's gradient variance: the first GV_BATCH images of ``x``."""
    from vae import evaluate

    return evaluate.gradient_variance(model, x[:GV_BATCH], n_repeats=GV_REPEATS, seed=GV_SEED)


def gap(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(-ELBO [n], -log p(x) [n], how log p(x) was computed) of images x [n, H, W, C]."""
    from vae import evaluate

    budget = evaluate.FEW_DIGITS
    terms = evaluate.per_example_terms(model, x, n_samples=ELBO_SAMPLES, batch_size=GAP_BATCH)
    if evaluate.has_quadrature(model.config.latent_dim):
        grid = evaluate.model_grid_log_px(model, x, grid_size=budget.grid_size)
        how = (
            f"log p(x) by quadrature on a {budget.grid_size}×{budget.grid_size} grid over "
            f"[−{grid.z_range:g}, {grid.z_range:g}]² "
            f"(error estimate {grid.error_estimate:.2f} nats)"
        )
        return terms["neg_elbo"], -grid.log_px, how
    k = budget.iw_samples
    log_px = evaluate.iw_log_px(model, x, k=k, batch_size=GAP_BATCH)
    how = f"log p(x) by importance sampling with K = {k} (a lower bound, tight for large K)"
    return terms["neg_elbo"], -log_px, how


def compute(model, x: np.ndarray) -> Stored:
    """Everything ``Stored`` holds, for ``model`` and its test inputs x [N, H, W, C]."""
    from vae import evaluate

    z_mean, z_log_var = evaluate.encode(model, x)
    terms = evaluate.per_example_terms(model, x, seed=TERMS_SEED)
    neg_elbo, neg_log_px, how = gap(model, x[list(GAP_INDICES)])
    return Stored(
        z_mean=np.asarray(z_mean, np.float32),
        z_log_var=np.asarray(z_log_var, np.float32),
        terms={t: np.asarray(terms[t], np.float32) for t in TERMS},
        gradient_variance=gradient_variance(model, x),
        gap_neg_elbo=np.asarray(neg_elbo, np.float32),
        gap_neg_log_px=np.asarray(neg_log_px, np.float32),
        gap_how=how,
    )


# --- storing --------------------------------------------------------------------------
def save(directory: str | os.PathLike, stored: Stored, *, dataset: str) -> Path:
    """Write ``stored`` beside the weights in ``directory``, atomically; its path."""
    from safetensors.numpy import save as save_tensors

    directory = Path(directory)
    arrays = {
        "z_mean": stored.z_mean,
        "z_log_var": stored.z_log_var,
        **{t: stored.terms[t] for t in TERMS},
        "gap_neg_elbo": stored.gap_neg_elbo,
        "gap_neg_log_px": stored.gap_neg_log_px,
    }
    meta = {
        "version": VERSION,
        "weights_sha256": weights_digest(directory),
        "dataset": dataset,
        "n": int(stored.z_mean.shape[0]),
        "settings": SETTINGS,
        "gradient_variance": stored.gradient_variance,
        "gap_how": stored.gap_how,
    }
    data = save_tensors(
        {k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()},
        metadata={"format": FORMAT_TAG, "meta": json.dumps(meta, allow_nan=False)},
    )
    path = directory / FILE
    write_bytes_atomic(path, data)
    return path


def write(directory: str | os.PathLike, model=None, x: np.ndarray | None = None) -> Path | None:
    """Compute and store the figures of the checkpoint in ``directory``; the file's path.

    ``model`` and its test inputs ``x`` [N, H, W, C] are passed by a caller that holds
    them (a training run that just saved its checkpoint); otherwise the checkpoint and
    its data set's test set are loaded. The decoder's browser export is stored too
    (``write_export``). Fewer test images than the gradient-variance batch (a trial run
    on a slice) store no figures: None.
    """
    from vae.data import load_dataset, to_model_input

    if model is None:
        model = checkpoint.load_checkpoint(directory).model
    write_export(directory, model)
    config = model.config
    if x is None:
        x = to_model_input(load_dataset(config.dataset).x_test, config.decoder)
    if len(x) < GV_BATCH:
        return None
    return save(directory, compute(model, x), dataset=config.dataset)


# --- reading --------------------------------------------------------------------------
def read(
    directory: str | os.PathLike, *, dataset: str, latent_dim: int, n_test: int
) -> Stored | None:
    """The stored figures of the weights now in ``directory``; None if none fit them.

    None when there is no file, or when it was computed from other weights, another
    data set (or another count of its ``n_test`` test images) or other settings
    (stale: the caller computes). Raises
    CorruptPrecomputeError when the file is there but damaged or not what vae writes.
    """
    path = Path(directory) / FILE
    if not path.is_file():
        return None
    tensors, meta = parse_tagged(path, FORMAT_TAG, MAX_BYTES)
    if (
        meta.get("version") != VERSION
        or meta.get("settings") != SETTINGS
        or meta.get("dataset") != dataset
        or meta.get("n") != n_test
        or meta.get("weights_sha256") != weights_digest(directory)
    ):
        return None
    n = n_test
    shapes = {
        "z_mean": (n, latent_dim),
        "z_log_var": (n, latent_dim),
        **{t: (n,) for t in TERMS},
        "gap_neg_elbo": (len(GAP_INDICES),),
        "gap_neg_log_px": (len(GAP_INDICES),),
    }
    for name, shape in shapes.items():
        arr = tensors.get(name)
        if arr is None or arr.shape != shape or arr.dtype != np.float32:
            raise CorruptPrecomputeError(
                f"{FILE}: {name} is missing or not float32 of shape {shape}; the file was "
                f"not written for this model. {_REWRITE}"
            )
        if not np.all(np.isfinite(arr)):
            raise CorruptPrecomputeError(f"{FILE}: {name} holds NaN or Inf. {_REWRITE}")
        arr.flags.writeable = False
    gv = _gradient_variance(meta.get("gradient_variance"))
    how = meta.get("gap_how")
    if not isinstance(how, str) or len(how) > 500:
        raise CorruptPrecomputeError(f"{FILE}: the note on log p(x) is not a short text.")
    return Stored(
        z_mean=tensors["z_mean"],
        z_log_var=tensors["z_log_var"],
        terms={t: tensors[t] for t in TERMS},
        gradient_variance=gv,
        gap_neg_elbo=tensors["gap_neg_elbo"],
        gap_neg_log_px=tensors["gap_neg_log_px"],
        gap_how=how,
    )


def _rewrite(name: str) -> str:
    return f"Rewrite it with `python -m vae precompute FOLDER`, or delete {name}."


_REWRITE = _rewrite(FILE)


def parse_tagged(path: Path, tag: str, cap: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and metadata of a safetensors file of at most ``cap`` bytes whose format tag
    is ``tag``, or a clear error."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    rewrite = _rewrite(path.name)
    with path.open("rb") as f:
        data = f.read(cap + 1)  # the size on disk may change after a stat; this cannot
    if len(data) > cap:
        raise CorruptPrecomputeError(
            f"{path.name} is larger than {cap // 2**20} MiB, far more than what is stored "
            f"there needs; it is not read. {rewrite}"
        )
    try:
        n = int.from_bytes(data[:8], "little")
        if not 0 < n <= len(data) - 8:
            raise ValueError("no header")
        header = json.loads(data[8 : 8 + n])
        metadata = header.get("__metadata__") if isinstance(header, dict) else None
        if not isinstance(metadata, dict) or metadata.get("format") != tag:
            raise ValueError("not the format vae writes")
        meta = json.loads(metadata.get("meta", ""), parse_constant=_refuse_constant)
        if not isinstance(meta, dict):
            raise ValueError("its metadata is not a JSON object")
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CorruptPrecomputeError(
            f"{path.name} is damaged or not written by vae ({exc}). {rewrite}"
        ) from exc
    return tensors, meta


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _gradient_variance(value: Any) -> dict[str, dict[str, dict[str, float]]]:
    from vae.config import ESTIMATORS

    groups, fields = ("encoder", "decoder", "all"), ("variance", "mean_sq_norm")
    try:
        out = {
            e: {g: {f: float(value[e][g][f]) for f in fields} for g in groups} for e in ESTIMATORS
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptPrecomputeError(
            f"{FILE}: the stored gradient variance is incomplete ({exc!r}). {_REWRITE}"
        ) from exc
    if not all(math.isfinite(v) and v >= 0 for d in out.values() for g in d.values()
               for v in g.values()):  # fmt: skip
        raise CorruptPrecomputeError(f"{FILE}: a stored gradient variance is not a number ≥ 0.")
    return out


# --- the decoder's browser export -----------------------------------------------------
# The export is a part of the weights: the weights' own cap bounds it.
EXPORT_MAX_BYTES = checkpoint.MAX_WEIGHTS_BYTES


def write_export(directory: str | os.PathLike, model) -> Path | None:
    """Store ``model``'s decoder as the browser runs it beside its weights; the file's path.

    None if the browser cannot run it (the pad then decodes on the server): nothing is
    stored, and an export of earlier weights stays stale, so it is never used.
    """
    from vae import export
    from vae.errors import UnsupportedArchitectureError

    try:
        spec, weights = export.export_decoder(model.decoder)
    except UnsupportedArchitectureError:
        return None
    return save_export(directory, spec, weights)


def save_export(directory: str | os.PathLike, spec: dict[str, Any], weights: bytes) -> Path:
    """Write a decoder export (vae/export.py's spec and weights) beside the weights, atomically."""
    from safetensors.numpy import save as save_tensors

    from vae import export

    directory = Path(directory)
    meta = {
        "weights_sha256": weights_digest(directory),
        "digest": export.network_digest(spec, weights),
        "spec": spec,
    }
    data = save_tensors(
        {"weights": np.frombuffer(weights, dtype="<f4")},
        metadata={"format": EXPORT_FORMAT_TAG, "meta": json.dumps(meta, allow_nan=False)},
    )
    path = directory / EXPORT_FILE
    write_bytes_atomic(path, data)
    return path


def read_export(directory: str | os.PathLike) -> tuple[dict[str, Any], bytes] | None:
    """(spec, weights) of the stored decoder export, exactly as export_decoder makes them.

    None when there is none, or it was exported from other weights than those now on
    disk (stale: the caller exports the model itself). Raises CorruptPrecomputeError
    when the file is there but damaged: too large, not vae's format, its tensors outside
    the weights, or its bytes not those its digest names.
    """
    from vae import export

    path = Path(directory) / EXPORT_FILE
    if not path.is_file():
        return None
    tensors, meta = parse_tagged(path, EXPORT_FORMAT_TAG, EXPORT_MAX_BYTES)
    if meta.get("weights_sha256") != weights_digest(directory):
        return None
    rewrite = _rewrite(EXPORT_FILE)
    arr, spec = tensors.get("weights"), meta.get("spec")
    if arr is None or arr.ndim != 1 or arr.dtype != np.float32:
        raise CorruptPrecomputeError(f"{EXPORT_FILE}: no float32 weights. {rewrite}")
    if not isinstance(spec, dict) or spec.get("format") != export.FORMAT:
        raise CorruptPrecomputeError(
            f"{EXPORT_FILE}: its spec is not a {export.FORMAT} network. {rewrite}"
        )
    _check_refs(spec, arr.size, rewrite)
    weights = arr.astype("<f4", copy=False).tobytes()
    if meta.get("digest") != export.network_digest(spec, weights):
        raise CorruptPrecomputeError(
            f"{EXPORT_FILE}: its spec and weights are not the ones it was written with. {rewrite}"
        )
    if not np.all(np.isfinite(arr)):
        raise CorruptPrecomputeError(f"{EXPORT_FILE}: its weights hold NaN or Inf. {rewrite}")
    return spec, weights


def _check_refs(spec: dict[str, Any], n_floats: int, rewrite: str) -> None:
    """Every tensor a layer names lies inside the ``n_floats`` weights: the browser reads
    them by offset, so one outside would read garbage or fail there."""
    layers = spec.get("layers")
    if not isinstance(layers, list):
        raise CorruptPrecomputeError(f"{EXPORT_FILE}: its spec lists no layers. {rewrite}")
    for layer in layers:
        if not isinstance(layer, dict):
            raise CorruptPrecomputeError(f"{EXPORT_FILE}: a layer is not an object. {rewrite}")
        for name, ref in layer.items():
            if not (isinstance(ref, dict) and "offset" in ref):
                continue
            offset, shape = ref.get("offset"), ref.get("shape")
            ok = (
                isinstance(offset, int)
                and isinstance(shape, list)
                and all(isinstance(d, int) and d > 0 for d in shape)
                and offset >= 0
                and offset + math.prod(shape) <= n_floats
            )
            if not ok:
                raise CorruptPrecomputeError(
                    f"{EXPORT_FILE}: {layer.get('name')!r}'s {name} lies outside its weights. "
                    f"{rewrite}"
                )
