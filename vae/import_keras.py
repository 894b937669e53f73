"""Turn the weights of a VAE trained in Keras into a checkpoint of this app.

Two models are known, by where students meet them:

- ``tf-tutorial``: the TensorFlow CVAE tutorial's ``CVAE(tf.keras.Model)``, whose
  ``encoder`` and ``decoder`` are Sequentials: Conv2D(32, 3, 2) -> Conv2D(64, 3, 2) ->
  Flatten -> Dense(2J) (the means, then log sigma^2); Dense(7*7*32, relu) -> Reshape ->
  Conv2DTranspose(64) -> Conv2DTranspose(32) -> Conv2DTranspose(1) (logits).
- ``keras-example``: the Keras VAE example's functional ``encoder`` and ``decoder``:
  convolutions with ``padding="same"``, a Dense(16, relu), the heads ``z_mean`` and
  ``z_log_var`` (one Dense(2J) with their kernels side by side computes both) and a
  ``Sampling`` layer without weights; the decoder ends in a sigmoid, which is this
  app's logits followed by the sigmoid it applies to decode, so the pre-activation is
  stored as logits.

The file is what ``model.save_weights("….weights.h5")`` writes (Keras 3): groups
``encoder/layers/<layer kind>[_<n>]/vars/<i>`` in layer order. It is read by
``vae.hdf5_reader`` (numeric arrays only); the architecture is rebuilt from a
validated config inferred from the arrays' shapes, and only weights are assigned.
Nothing in the file is deserialised.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from vae.config import VAEConfig
from vae.errors import CheckpointMismatchError, ConfigError, NonFiniteWeightsError
from vae.hdf5_reader import read_numeric_arrays

ORIGINS = ("tf-tutorial", "keras-example")
DEFAULT_SIGMA = "log_var"  # both examples train their second head as log sigma^2
STAGING_PREFIX = ".import-"

_ENC = "encoder/layers/"
_DEC = "decoder/layers/"
# Our layer -> the file's layer(s), per origin. Keras names a layer's group by its kind
# and its rank among layers of that kind, whatever name the user gave the layer.
_DECODER = {
    "dense": (_DEC + "dense",),
    "deconv1": (_DEC + "conv2d_transpose",),
    "deconv2": (_DEC + "conv2d_transpose_1",),
    "x_logits": (_DEC + "conv2d_transpose_2",),
}
LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    "tf-tutorial": {
        "conv1": (_ENC + "conv2d",),
        "conv2": (_ENC + "conv2d_1",),
        "z_params": (_ENC + "dense",),
        **_DECODER,
    },
    "keras-example": {
        "conv1": (_ENC + "conv2d",),
        "conv2": (_ENC + "conv2d_1",),
        "hidden": (_ENC + "dense",),
        "z_params": (_ENC + "dense_1", _ENC + "dense_2"),  # z_mean, then z_log_var
        **_DECODER,
    },
}
PADDING = {"tf-tutorial": "valid", "keras-example": "same"}
_VARS = ("kernel", "bias")  # Keras stores a layer's variables as vars/0, vars/1


class KerasImportError(CheckpointMismatchError):
    """The weights file is safe to read but is not the model named by ``origin``."""


def read_keras_weights(
    source: str | Path | bytes, origin: str, name: str | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """The file's weights, as ``{our layer: {"kernel": [...], "bias": [...]}}``.

    Raises UnsafeFileError (via vae.hdf5_reader) for anything but numeric arrays,
    and KerasImportError when the arrays are not the layout of ``origin``.
    """
    _check_origin(origin)
    if name is None:
        name = "the upload" if isinstance(source, bytes) else Path(source).name
    arrays = read_numeric_arrays(source, name)
    layout = LAYOUTS[origin]
    wanted = {f"{g}/vars/{i}" for groups in layout.values() for g in groups for i in range(2)}
    missing = sorted(wanted - set(arrays))
    extra = sorted(set(arrays) - wanted)
    if missing or extra:
        other = [o for o in ORIGINS if o != origin and _fits(arrays, o)]
        hint = f" It fits --from {other[0]}." if other else ""
        raise KerasImportError(
            f"{name} is not the weights of the {origin} model: "
            + (f"missing {_list(missing)}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unexpected {_list(extra)}" if extra else "")
            + f".{hint} Save them with model.save_weights('model.weights.h5') from the "
            f"{origin} model, unchanged in its layers."
        )
    out: dict[str, dict[str, np.ndarray]] = {}
    for ours, groups in layout.items():
        parts = [[_float32(arrays[f"{g}/vars/{i}"], f"{g}/vars/{i}", name) for g in groups]
                 for i in range(2)]  # fmt: skip
        for i, var in enumerate(_VARS):
            if len(parts[i]) == 1:
                out.setdefault(ours, {})[var] = parts[i][0]
            else:
                if len({p.shape for p in parts[i]}) != 1:
                    raise KerasImportError(
                        f"{name}: the z_mean and z_log_var heads differ in shape "
                        f"({', '.join(str(p.shape) for p in parts[i])}); they must match."
                    )
                out.setdefault(ours, {})[var] = np.concatenate(parts[i], axis=-1)
    return out


def infer_config(
    weights: dict[str, dict[str, np.ndarray]],
    origin: str,
    latent_dim: int,
    sigma: str = DEFAULT_SIGMA,
    **settings: Any,
) -> VAEConfig:
    """The config whose model these weights fit, from their shapes alone.

    ``latent_dim`` is what the user says the model has; the file must agree.
    ``settings`` are other config fields (``min_std``, ``dataset``, ...).
    """
    conv1 = _shape(weights, "conv1", 4)
    conv2 = _shape(weights, "conv2", 4)
    dense = _shape(weights, "dense", 2)
    deconv1 = _shape(weights, "deconv1", 4)
    j, d = dense
    if j != latent_dim:
        raise KerasImportError(
            f"the file's decoder takes {j} latent numbers, not --latent-dim {latent_dim}; "
            f"import it with --latent-dim {j}."
        )
    base = deconv1[3]
    cells = d // base if d % base == 0 else 0
    side = int(round(cells**0.5))
    if side < 1 or side * side != cells:
        raise KerasImportError(
            f"the decoder's Dense layer has {d} units, which is not a square grid of "
            f"{base}-channel cells; only square images are imported."
        )
    hidden = _shape(weights, "hidden", 2)[1] if "hidden" in weights else 0
    try:
        config = VAEConfig(
            latent_dim=j,
            image_shape=(4 * side, 4 * side, int(conv1[2])),
            conv_filters=(int(conv1[3]), int(conv2[3])),
            decoder_base_channels=int(base),
            encoder_padding=PADDING[origin],
            encoder_hidden=int(hidden),
            sigma=sigma,
            **settings,
        )
    except ConfigError as exc:
        raise KerasImportError(f"the weights describe a model this app cannot run: {exc}") from exc
    return config


def build_imported(
    source: str | Path | bytes,
    origin: str,
    latent_dim: int,
    sigma: str = DEFAULT_SIGMA,
    name: str | None = None,
    **settings: Any,
):
    """A ``vae.model.VAE`` holding the file's weights; every shape is checked first."""
    from vae.model import build_vae

    weights = read_keras_weights(source, origin, name)
    config = infer_config(weights, origin, latent_dim, sigma, **settings)
    model = build_vae(config)
    for v in model.weights:
        layer, var = v.path.split("/")
        array = weights.get(layer, {}).get(var)
        if array is None or tuple(array.shape) != tuple(v.shape):
            found = None if array is None else tuple(array.shape)
            raise KerasImportError(
                f"the file's {layer} {var} has shape {found}, but a model with the file's "
                f"other layers needs {tuple(v.shape)}: the decoder must mirror the encoder "
                "as in the example."
            )
        v.assign(array)
    return model


def import_keras(
    source: str | Path | bytes,
    origin: str,
    latent_dim: int,
    out: str | os.PathLike,
    sigma: str = DEFAULT_SIGMA,
    name: str | None = None,
    **settings: Any,
) -> Path:
    """Write the imported model as a checkpoint folder ``out``, which must not exist.

    The folder appears only once the checkpoint loads back; a failure leaves nothing.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose a new folder for the import.")
    model = build_imported(source, origin, latent_dim, sigma, name, **settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out.parent))
    try:
        write_imported(model, staging)
        os.rename(staging, out)
        os.chmod(out, 0o755)  # mkdtemp makes 0700; the app's server process may read it
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def write_imported(model, folder: str | os.PathLike) -> None:
    """Save ``model`` as a checkpoint in ``folder`` and check that it loads back."""
    from vae.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(folder, model, epoch=0, history=[], include_optimizer=False)
    load_checkpoint(folder)


# --- internals -------------------------------------------------------------------
def _check_origin(origin: str) -> None:
    if origin not in ORIGINS:
        raise ConfigError(f"--from {origin!r} is not one of {', '.join(ORIGINS)}.")


def _fits(arrays: dict[str, np.ndarray], origin: str) -> bool:
    groups = {g for gs in LAYOUTS[origin].values() for g in gs}
    return {p.rsplit("/vars/", 1)[0] for p in arrays} == groups


def _float32(array: np.ndarray, path: str, name: str) -> np.ndarray:
    if array.dtype.kind != "f":
        raise KerasImportError(f"{name}: {path} holds {array.dtype} numbers, not floats.")
    if not np.all(np.isfinite(array)):
        raise NonFiniteWeightsError(
            f"{name}: {path} holds NaN or Inf values; the model diverged before it was saved."
        )
    return array.astype(np.float32)


def _shape(weights: dict[str, dict[str, np.ndarray]], layer: str, rank: int) -> tuple[int, ...]:
    kernel = weights[layer]["kernel"]
    if kernel.ndim != rank:
        raise KerasImportError(
            f"the file's {layer} kernel has shape {kernel.shape}; the example's has {rank} axes."
        )
    return tuple(int(n) for n in kernel.shape)


def _list(items: list[str]) -> str:
    return ", ".join(items[:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")
