"""Export a decoder for the browser: a JSON spec of its layers plus float32 weights.

The drag pad decodes in JavaScript on every pointer move, so the decoder travels to
the browser once per model as ``<stem>.json`` (the architecture: layer types, shapes,
strides, padding, activations and where each tensor sits in the blob) and
``<stem>.bin`` (every tensor as little-endian float32, concatenated). The JavaScript
(``components/drag_pad/frontend/decoder.js``) interprets the spec generically, so a
retrained model or another latent size needs no code change. A layer it cannot run
raises ``UnsupportedArchitectureError`` here, before anything reaches a browser.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from vae.atomic import write_bytes_atomic, write_json_atomic
from vae.errors import UnsupportedArchitectureError

FORMAT = "vae-decoder/1"
ACTIVATIONS = ("linear", "relu", "sigmoid")  # what decoder.js implements


def export_decoder(decoder: Any) -> tuple[dict[str, Any], bytes]:
    """(spec, weights) of a Keras decoder z: [batch, J] -> x_logits: [batch, H, W, C].

    The spec's ``output`` says the browser applies a sigmoid after the last layer,
    giving pixel probabilities like ``VAE.decode_fn``. Raises
    UnsupportedArchitectureError naming the first layer the browser cannot run.
    """
    latent_dim = _static_shape(decoder.inputs[0].shape, "input")
    output_shape = _static_shape(decoder.outputs[0].shape, "output")
    if len(latent_dim) != 1:
        raise UnsupportedArchitectureError(
            f"the decoder's input has shape {latent_dim}; the browser needs a flat latent vector."
        )
    if len(output_shape) != 3:
        raise UnsupportedArchitectureError(
            f"the decoder's output has shape {output_shape}; the browser needs an image [H, W, C]."
        )
    blob = _Blob()
    layers = []
    for layer in decoder.layers:
        entry = _layer_spec(layer, blob)
        if entry is not None:
            layers.append(entry)
    spec = {
        "format": FORMAT,
        "latent_dim": latent_dim[0],
        "output_shape": list(output_shape),
        "output": "sigmoid",
        "layers": layers,
    }
    return spec, blob.bytes()


def decoder_digest(spec: dict[str, Any], weights: bytes) -> str:
    """16 hex characters naming this exact decoder, for content-addressed file names."""
    h = hashlib.sha256(repr(sorted(spec.items())).encode())
    h.update(weights)
    return h.hexdigest()[:16]


def write_decoder(decoder: Any, out_dir: str | Path, stem: str = "decoder") -> tuple[Path, Path]:
    """Export ``decoder`` and write ``<stem>.json`` and ``<stem>.bin`` into out_dir."""
    return write_export(*export_decoder(decoder), out_dir, stem)


def write_export(
    spec: dict[str, Any], weights: bytes, out_dir: str | Path, stem: str = "decoder"
) -> tuple[Path, Path]:
    """Write an export, each file atomically.

    The weights go first: a reader that finds the JSON always finds whole weights too.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, bin_path = out / f"{stem}.json", out / f"{stem}.bin"
    write_bytes_atomic(bin_path, weights)
    write_json_atomic(json_path, spec)
    return json_path, bin_path


# --- internals ---------------------------------------------------------------------
class _Blob:
    """Float32 tensors laid end to end; offsets count float32 elements."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, array: Any) -> dict[str, Any]:
        a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
        if not np.all(np.isfinite(a)):
            raise UnsupportedArchitectureError("the decoder's weights hold NaN or Inf.")
        ref = {"offset": self.size, "shape": list(a.shape)}
        self.parts.append(a.ravel())
        self.size += a.size
        return ref

    def bytes(self) -> bytes:
        return b"".join(p.tobytes() for p in self.parts)


def _static_shape(shape: Any, what: str) -> tuple[int, ...]:
    dims = tuple(shape)[1:]  # drop the batch axis
    if any(d is None for d in dims):
        raise UnsupportedArchitectureError(f"the decoder's {what} shape {dims} is not fixed.")
    return tuple(int(d) for d in dims)


def _activation(layer: Any) -> str:
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", "linear") if fn is not None else "linear"
    if name not in ACTIVATIONS:
        raise UnsupportedArchitectureError(
            f"layer {layer.name!r} uses the activation {name!r}; the browser runs only "
            f"{', '.join(ACTIVATIONS)}."
        )
    return name


def _check_float32(layer: Any) -> None:
    # Parity with Keras to 1e-4 needs the same arithmetic: bfloat16 layers round far more.
    policy = getattr(getattr(layer, "dtype_policy", None), "compute_dtype", "float32")
    if policy != "float32":
        raise UnsupportedArchitectureError(
            f"layer {layer.name!r} computes in {policy}; the browser computes in float32 "
            "and would not match the server's images."
        )


def _weights(layer: Any, blob: _Blob) -> dict[str, Any]:
    out = {"kernel": blob.add(layer.kernel.numpy())}
    if layer.use_bias:
        out["bias"] = blob.add(layer.bias.numpy())
    return out


def _layer_spec(layer: Any, blob: _Blob) -> dict[str, Any] | None:
    kind = type(layer).__name__
    if kind == "InputLayer":
        return None
    _check_float32(layer)
    if kind == "Dense":
        return {"type": "dense", "name": layer.name, "units": int(layer.units),
                "activation": _activation(layer), **_weights(layer, blob)}  # fmt: skip
    if kind == "Reshape":
        return {"type": "reshape", "name": layer.name, "target_shape": list(layer.target_shape)}
    if kind == "Flatten":
        return {"type": "reshape", "name": layer.name, "target_shape": [-1]}
    if kind == "Activation":
        return {"type": "activation", "name": layer.name, "activation": _activation(layer)}
    if (
        kind == "ReLU"
        and layer.max_value is None
        and not layer.negative_slope
        and not layer.threshold
    ):
        return {"type": "activation", "name": layer.name, "activation": "relu"}
    if kind == "Conv2DTranspose":
        return _conv_transpose_spec(layer, blob)
    raise UnsupportedArchitectureError(
        f"layer {layer.name!r} is a {kind}; the browser runs Dense, Reshape, Flatten, "
        "Activation and Conv2DTranspose layers only."
    )


def _conv_transpose_spec(layer: Any, blob: _Blob) -> dict[str, Any]:
    refuse = None
    if layer.data_format != "channels_last":
        refuse = f"data_format {layer.data_format!r}"
    elif tuple(layer.dilation_rate) != (1, 1):
        refuse = f"dilation {tuple(layer.dilation_rate)}"
    elif layer.output_padding is not None:
        refuse = f"output_padding {layer.output_padding}"
    elif layer.padding not in ("same", "valid"):
        refuse = f"padding {layer.padding!r}"
    if refuse:
        raise UnsupportedArchitectureError(
            f"layer {layer.name!r} (Conv2DTranspose) uses {refuse}, which the browser cannot run."
        )
    kh, kw = (int(k) for k in layer.kernel_size)
    sh, sw = (int(s) for s in layer.strides)
    h_in, w_in, _ = _static_shape(layer.input.shape, f"{layer.name} input")
    h_out, w_out, _ = _static_shape(layer.output.shape, f"{layer.name} output")
    # TensorFlow's SAME for the conv this transposes pads max(k - s, 0) in total,
    # the smaller half before; VALID pads nothing.
    same = layer.padding == "same"
    pad = [max(kh - sh, 0) // 2, max(kw - sw, 0) // 2] if same else [0, 0]
    return {
        "type": "conv2d_transpose",
        "name": layer.name,
        "filters": int(layer.filters),
        "kernel_size": [kh, kw],
        "strides": [sh, sw],
        "padding": layer.padding,
        "pad_before": pad,
        "input_shape": [h_in, w_in],
        "output_shape": [h_out, w_out],
        "activation": _activation(layer),
        **_weights(layer, blob),
    }
