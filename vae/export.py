"""Export a network for the browser: a JSON spec of its layers plus float32 weights.

The drag pad decodes in JavaScript on every pointer move, and a page can encode a
drawn digit without a round trip, so each network travels to the browser once per
model as ``<stem>.json`` (the architecture: layer types, shapes, strides, padding,
activations and where each tensor sits in the blob) and ``<stem>.bin`` (every tensor
as little-endian float32, concatenated). Encoder and decoder share one format; the
spec's ``head`` says what the last layer's output becomes:

- ``{"type": "sigmoid"}`` (the decoder): pixel probabilities, like ``VAE.decode_fn``;
- ``{"type": "gaussian", "min_std": m}`` (the encoder): the output [2J] splits into
  z_mean and raw, sigma = softplus(raw) + m, and the browser returns
  (z_mean, z_log_var = 2 log sigma), exactly what ``VAE.encode`` returns; with
  ``"sigma": "log_var"`` (a model trained as the Keras examples train theirs) raw is
  z_log_var itself.

The JavaScript (``components/drag_pad/frontend/network.js``) interprets the spec
generically, so a retrained model or another latent size needs no code change. A
layer it cannot run raises ``UnsupportedArchitectureError`` here, before anything
reaches a browser.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from vae.atomic import write_bytes_atomic, write_json_atomic
from vae.config import SIGMAS
from vae.errors import UnsupportedArchitectureError

FORMAT = "vae-network/1"
ACTIVATIONS = ("linear", "relu", "sigmoid")  # what network.js implements
SIGMOID_HEAD: dict[str, Any] = {"type": "sigmoid"}
STEMS = ("encoder", "decoder")  # file stems of a whole model's export


def export_network(network: Any, head: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """(spec, weights) of a Keras network that is one chain of supported layers.

    ``head`` is ``SIGMOID_HEAD`` or ``gaussian_head(min_std)``. Raises
    UnsupportedArchitectureError naming the first thing the browser cannot run.
    """
    what = f"the {network.name}"
    if len(network.inputs) != 1 or len(network.outputs) != 1:
        raise UnsupportedArchitectureError(
            f"{what} has {len(network.inputs)} inputs and {len(network.outputs)} outputs; "
            "the browser runs a network with one of each."
        )
    input_shape = _static_shape(network.inputs[0].shape, f"{what}'s input")
    output_shape = _static_shape(network.outputs[0].shape, f"{what}'s output")
    latent_dim = _check_head(head, input_shape, output_shape, what)
    blob = _Blob(what)
    layers = []
    tensor = network.inputs[0]
    for layer in network.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        # The browser runs the layers in list order, each on the one before's output.
        if layer.input is not tensor:
            raise UnsupportedArchitectureError(
                f"{what} is not one chain of layers: layer {layer.name!r} does not take the "
                "output of the layer before it, which is all the browser can run."
            )
        layers.append(_layer_spec(layer, blob))
        tensor = layer.output
    if network.outputs[0] is not tensor:
        raise UnsupportedArchitectureError(f"{what}'s output is not its last layer's output.")
    spec = {
        "format": FORMAT,
        "network": network.name,
        "latent_dim": latent_dim,
        "input_shape": list(input_shape),
        "output_shape": list(output_shape),
        "layers": layers,
        "head": dict(head),
    }
    return spec, blob.bytes()


def gaussian_head(min_std: float, sigma: str = "softplus") -> dict[str, Any]:
    """The encoder's head: [2J] -> (z_mean, z_log_var) as ``VAE.encode`` computes them."""
    head: dict[str, Any] = {"type": "gaussian", "min_std": float(min_std)}
    if sigma != "softplus":  # absent means softplus, so earlier exports stay valid
        head["sigma"] = sigma
    return head


def export_decoder(decoder: Any) -> tuple[dict[str, Any], bytes]:
    """(spec, weights) of a decoder z: [batch, J] -> x_logits: [batch, H, W, C]."""
    return export_network(decoder, SIGMOID_HEAD)


def export_encoder(
    encoder: Any, min_std: float, sigma: str = "softplus"
) -> tuple[dict[str, Any], bytes]:
    """(spec, weights) of an encoder x: [batch, H, W, C] -> [batch, 2J] (mean, raw sigma)."""
    return export_network(encoder, gaussian_head(min_std, sigma))


def export_model(model: Any) -> dict[str, tuple[dict[str, Any], bytes]]:
    """Both networks of a ``VAE``, keyed by ``STEMS``; refuses if either cannot run."""
    return {
        "encoder": export_encoder(model.encoder, model.config.min_std, model.config.sigma),
        "decoder": export_decoder(model.decoder),
    }


def network_digest(spec: dict[str, Any], weights: bytes) -> str:
    """16 hex characters naming this exact network, for content-addressed file names."""
    h = hashlib.sha256(repr(sorted(spec.items())).encode())
    h.update(weights)
    return h.hexdigest()[:16]


def write_model(model: Any, out_dir: str | Path) -> dict[str, tuple[Path, Path]]:
    """Write ``encoder.json/.bin`` and ``decoder.json/.bin`` into out_dir.

    Both networks are exported before either is written, so a refusal writes nothing.
    """
    exports = export_model(model)
    return {stem: write_export(*exports[stem], out_dir, stem) for stem in STEMS}


def write_export(
    spec: dict[str, Any], weights: bytes, out_dir: str | Path, stem: str
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

    def __init__(self, what: str) -> None:
        self.what = what
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, array: Any) -> dict[str, Any]:
        a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
        if not np.all(np.isfinite(a)):
            raise UnsupportedArchitectureError(f"{self.what}'s weights hold NaN or Inf.")
        ref = {"offset": self.size, "shape": list(a.shape)}
        self.parts.append(a.ravel())
        self.size += a.size
        return ref

    def bytes(self) -> bytes:
        return b"".join(p.tobytes() for p in self.parts)


def _static_shape(shape: Any, what: str) -> tuple[int, ...]:
    dims = tuple(shape)[1:]  # drop the batch axis
    if any(d is None for d in dims):
        raise UnsupportedArchitectureError(f"{what} shape {dims} is not fixed.")
    return tuple(int(d) for d in dims)


def _check_head(
    head: dict[str, Any], input_shape: tuple[int, ...], output_shape: tuple[int, ...], what: str
) -> int:
    """The latent size J that the head implies; refuses shapes the head cannot use."""
    kind = head.get("type")
    if kind == "sigmoid":
        if len(input_shape) != 1:
            raise UnsupportedArchitectureError(
                f"{what}'s input has shape {input_shape}; a decoder needs a flat latent vector."
            )
        if len(output_shape) != 3:
            raise UnsupportedArchitectureError(
                f"{what}'s output has shape {output_shape}; a decoder needs an image [H, W, C]."
            )
        return input_shape[0]
    if kind == "gaussian":
        if head.get("sigma", "softplus") not in SIGMAS:
            raise UnsupportedArchitectureError(
                f"the head's sigma {head.get('sigma')!r} is not one of {', '.join(SIGMAS)}."
            )
        if len(input_shape) != 3:
            raise UnsupportedArchitectureError(
                f"{what}'s input has shape {input_shape}; an encoder needs an image [H, W, C]."
            )
        if len(output_shape) != 1 or output_shape[0] % 2:
            raise UnsupportedArchitectureError(
                f"{what}'s output has shape {output_shape}; an encoder needs [2J] numbers: "
                "the J means, then the J raw standard deviations."
            )
        return output_shape[0] // 2
    raise UnsupportedArchitectureError(f"the head {kind!r} is not one the browser runs.")


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
    policy = getattr(layer, "dtype_policy", None)
    compute = getattr(policy, "compute_dtype", "float32")
    if compute != "float32":
        raise UnsupportedArchitectureError(
            f"layer {layer.name!r} computes in {compute}; the browser computes in float32 "
            "and would not match the server's results."
        )
    if getattr(policy, "quantization_mode", None):
        raise UnsupportedArchitectureError(
            f"layer {layer.name!r} is quantized ({policy.quantization_mode}); the browser "
            "reads float32 weights only."
        )


def _weights(layer: Any, blob: _Blob) -> dict[str, Any]:
    out = {"kernel": blob.add(layer.kernel.numpy())}
    if layer.use_bias:
        out["bias"] = blob.add(layer.bias.numpy())
    return out


def _layer_spec(layer: Any, blob: _Blob) -> dict[str, Any]:
    kind = type(layer).__name__
    _check_float32(layer)
    if kind == "Dense":
        if len(layer.input.shape) != 2:
            raise UnsupportedArchitectureError(
                f"layer {layer.name!r} (Dense) gets an input of shape {tuple(layer.input.shape)}; "
                "the browser runs Dense on flat inputs only: put a Flatten before it."
            )
        return {"type": "dense", "name": layer.name, "units": int(layer.units),
                "activation": _activation(layer), **_weights(layer, blob)}  # fmt: skip
    if kind == "Reshape":
        return {"type": "reshape", "name": layer.name, "target_shape": list(layer.target_shape)}
    if kind == "Flatten":
        # Keras flattens channels_first input in another order; channels_last is row-major.
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise UnsupportedArchitectureError(
                f"layer {layer.name!r} (Flatten) uses data_format {layer.data_format!r}, "
                "which the browser cannot run."
            )
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
    if kind == "Conv2D":
        return _conv_spec(layer, blob)
    if kind == "Conv2DTranspose":
        return _conv_transpose_spec(layer, blob)
    raise UnsupportedArchitectureError(
        f"layer {layer.name!r} is a {kind}; the browser runs Dense, Reshape, Flatten, "
        "Activation, ReLU, Conv2D and Conv2DTranspose layers only."
    )


def _refuse_conv_options(layer: Any, kind: str, extra: str | None = None) -> None:
    refuse = extra
    if layer.data_format != "channels_last":
        refuse = f"data_format {layer.data_format!r}"
    elif tuple(layer.dilation_rate) != (1, 1):
        refuse = f"dilation {tuple(layer.dilation_rate)}"
    elif getattr(layer, "groups", 1) != 1:
        refuse = f"groups={layer.groups}"
    elif layer.padding not in ("same", "valid"):
        refuse = f"padding {layer.padding!r}"
    if refuse:
        raise UnsupportedArchitectureError(
            f"layer {layer.name!r} ({kind}) uses {refuse}, which the browser cannot run."
        )


def _conv_geometry(layer: Any) -> dict[str, Any]:
    h_in, w_in, _ = _static_shape(layer.input.shape, f"layer {layer.name!r}'s input")
    h_out, w_out, _ = _static_shape(layer.output.shape, f"layer {layer.name!r}'s output")
    return {
        "filters": int(layer.filters),
        "kernel_size": [int(k) for k in layer.kernel_size],
        "strides": [int(s) for s in layer.strides],
        "padding": layer.padding,
        "input_shape": [h_in, w_in],
        "output_shape": [h_out, w_out],
    }


def _conv_spec(layer: Any, blob: _Blob) -> dict[str, Any]:
    _refuse_conv_options(layer, "Conv2D")
    geometry = _conv_geometry(layer)
    pad = [0, 0]
    if layer.padding == "same":
        # TensorFlow's SAME: out = ceil(in / s), padded by max((out - 1) s + k - in, 0)
        # in total, the smaller half before.
        sizes = zip(geometry["input_shape"], geometry["output_shape"], geometry["strides"],
                    geometry["kernel_size"], strict=True)  # fmt: skip
        pad = [max((n_out - 1) * s + k - n_in, 0) // 2 for n_in, n_out, s, k in sizes]
    return {"type": "conv2d", "name": layer.name, **geometry, "pad_before": pad,
            "activation": _activation(layer), **_weights(layer, blob)}  # fmt: skip


def _conv_transpose_spec(layer: Any, blob: _Blob) -> dict[str, Any]:
    output_padding = None
    if layer.output_padding is not None:
        output_padding = f"output_padding {layer.output_padding}"
    _refuse_conv_options(layer, "Conv2DTranspose", output_padding)
    geometry = _conv_geometry(layer)
    # TensorFlow's SAME for the conv this transposes pads max(k - s, 0) in total,
    # the smaller half before; VALID pads nothing.
    pad = [0, 0]
    if layer.padding == "same":
        sizes = zip(geometry["kernel_size"], geometry["strides"], strict=True)
        pad = [max(k - s, 0) // 2 for k, s in sizes]
    return {"type": "conv2d_transpose", "name": layer.name, **geometry, "pad_before": pad,
            "activation": _activation(layer), **_weights(layer, blob)}  # fmt: skip
