"""What a config will cost, worked out by arithmetic before anything is built.

A ``config.json`` comes from users, so the sizes in it are estimated here (parameters,
memory and time of building the model, time per image, memory and time of one training
step) and refused above a cap, with a message naming the settings that make them large.
Nothing here imports TensorFlow or allocates more than a few numbers.

The layer shapes mirror ``vae.model``: two 3x3 stride-2 convolutions ("valid" or
"same"), an optional ReLU dense layer, a dense layer to 2J; a dense layer to (H/4, W/4,
base), two 3x3 stride-2 "same" transposed convolutions and a 3x3 stride-1 one back to
the image's channels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vae.errors import ConfigError

# The settings that size the model, and with the batch those that size a training step;
# the others (rates, seeds, choices) cost the same at any value.
_MODEL_FIELDS = (
    "latent_dim",
    "image_shape",
    "conv_filters",
    "decoder_base_channels",
    "encoder_padding",
    "encoder_hidden",
)
SIZING_FIELDS = (*_MODEL_FIELDS, "batch_size", "n_samples")
KERNEL = 3  # every convolution in vae.model is 3x3
BYTES_PER_FLOAT = 4  # variables are float32 even under mixed precision

# Caps. The shipped 2-D model has 70 thousand parameters and builds in a second.
MAX_PARAMETERS = 16_000_000  # 64 MB of float32: what fits the weights file's size cap
MAX_BUILD_BYTES = 1_000_000_000  # a page loads models on a server shared by many viewers
MAX_STEP_BYTES = 8_000_000_000  # one training step's activations, gradients and Adam moments
# A slow core, so the estimate errs towards refusing: real builds run faster.
ASSUMED_FLOPS_PER_SECOND = 2e9
ASSUMED_PARAMETERS_PER_SECOND = 20e6  # random initialisation of the weights
MAX_BUILD_SECONDS = 30.0
# The app decodes grids of a thousand images at a time; the default model needs 11 MFLOP.
MAX_SECONDS_PER_IMAGE = 1.0
# Stop and cancel are honoured between batches, so one batch must stay short.
MAX_STEP_SECONDS = 600.0
BACKWARD_FACTOR = 3  # forward + backward is about three forward passes

Sizes = Mapping[str, Any]


@dataclass(frozen=True)
class Layer:
    """One layer's parameters, output elements and floating-point operations (two per
    multiply-add) for one example."""

    name: str
    part: str  # "encoder" or "decoder"
    parameters: int
    outputs: int
    flops: int


def _conv_out(n: int, padding: str) -> int:
    if padding == "same":
        return -(-n // 2)  # stride 2: ceil(n / 2)
    return (n - KERNEL) // 2 + 1  # stride 2, no padding


def layers(s: Sizes) -> list[Layer]:
    """The layers of the VAE that ``s`` (a config's sizing fields) describes."""
    h, w, c = s["image_shape"]
    f1, f2 = s["conv_filters"]
    j, base = s["latent_dim"], s["decoder_base_channels"]
    pad, hidden = s["encoder_padding"], s["encoder_hidden"]
    k2 = KERNEL * KERNEL
    h1, w1 = _conv_out(h, pad), _conv_out(w, pad)
    h2, w2 = _conv_out(h1, pad), _conv_out(w1, pad)
    flat = max(h2, 0) * max(w2, 0) * f2
    head_in = hidden or flat
    d = (h // 4) * (w // 4) * base
    encoder = [
        Layer("conv1", "encoder", k2 * c * f1 + f1, h1 * w1 * f1, 2 * k2 * c * f1 * h1 * w1),
        Layer("conv2", "encoder", k2 * f1 * f2 + f2, flat, 2 * k2 * f1 * f2 * h2 * w2),
    ]
    if hidden:
        encoder.append(
            Layer("hidden", "encoder", flat * hidden + hidden, hidden, 2 * flat * hidden)
        )
    return [
        *encoder,
        Layer("z_params", "encoder", head_in * 2 * j + 2 * j, 2 * j, 2 * head_in * 2 * j),
        Layer("dense", "decoder", j * d + d, d, 2 * j * d),
        # A transposed convolution costs what the convolution it inverts costs.
        Layer("deconv1", "decoder", k2 * base * f2 + f2, (h // 2) * (w // 2) * f2, 2 * k2 * d * f2),
        Layer(
            "deconv2",
            "decoder",
            k2 * f2 * f1 + f1,
            h * w * f1,
            2 * k2 * f2 * f1 * (h // 2) * (w // 2),
        ),
        Layer("x_logits", "decoder", k2 * f1 * c + c, h * w * c, 2 * k2 * f1 * c * h * w),
    ]


def _sum(s: Sizes, attr: str, part: str | None = None) -> int:
    return sum(getattr(x, attr) for x in layers(s) if part in (None, x.part))


def parameter_count(s: Sizes) -> int:
    return _sum(s, "parameters")


def build_bytes(s: Sizes) -> int:
    """Variables, their initial values, and one example's activations (the build call)."""
    h, w, c = s["image_shape"]
    return BYTES_PER_FLOAT * (2 * parameter_count(s) + h * w * c + _sum(s, "outputs"))


def build_seconds(s: Sizes) -> float:
    flops = _sum(s, "flops")
    return parameter_count(s) / ASSUMED_PARAMETERS_PER_SECOND + flops / ASSUMED_FLOPS_PER_SECOND


def image_seconds(s: Sizes) -> float:
    """Encoding and decoding one image, as the app and the evaluation do in bulk."""
    return _sum(s, "flops") / ASSUMED_FLOPS_PER_SECOND


def step_bytes(s: Sizes) -> int:
    """One training step: weights, gradients, two Adam moments, and every activation
    kept for the backward pass and its gradient, for a batch of L samples each."""
    h, w, c = s["image_shape"]
    per_example = (
        h * w * c + _sum(s, "outputs", "encoder") + s["n_samples"] * _sum(s, "outputs", "decoder")
    )
    return BYTES_PER_FLOAT * (4 * parameter_count(s) + 2 * s["batch_size"] * per_example)


def step_seconds(s: Sizes) -> float:
    per_example = _sum(s, "flops", "encoder") + s["n_samples"] * _sum(s, "flops", "decoder")
    return BACKWARD_FACTOR * s["batch_size"] * per_example / ASSUMED_FLOPS_PER_SECOND


def _join(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def _show_value(v: Any) -> str:
    return f"({', '.join(str(x) for x in v)})" if isinstance(v, tuple | list) else str(v)


def _parameters(n: float) -> str:
    for size, word in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if n >= size:
            return f"{n / size:.3g} {word} parameters"
    return f"{n:.0f} parameters"


def _bytes(b: float) -> str:
    for size, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} bytes"


def _seconds(t: float) -> str:
    for size, unit in ((86400, "days"), (3600, "hours"), (60, "minutes")):
        if t >= size:
            return f"about {t / size:.3g} {unit}"
    return f"about {t:.3g} second{'' if t == 1 else 's'}"


@dataclass(frozen=True)
class Cap:
    """One estimate, its limit and how to say both."""

    what: str  # completes "... would make {what} of ..."
    estimate: Callable[[Sizes], float]
    limit: float
    show: Callable[[float], str]
    fields: tuple[str, ...]  # the settings the estimate depends on


CAPS = (
    Cap("a model of", parameter_count, MAX_PARAMETERS, _parameters, _MODEL_FIELDS),
    Cap(
        "a model needing",
        build_bytes,
        MAX_BUILD_BYTES,
        lambda b: f"{_bytes(b)} of memory to build",
        _MODEL_FIELDS,
    ),
    Cap(
        "a model taking",
        build_seconds,
        MAX_BUILD_SECONDS,
        lambda t: f"{_seconds(t)} to build",
        _MODEL_FIELDS,
    ),
    Cap(
        "a model taking",
        image_seconds,
        MAX_SECONDS_PER_IMAGE,
        lambda t: f"{_seconds(t)} per image on a slow core",
        _MODEL_FIELDS,
    ),
    Cap(
        "a training step needing",
        step_bytes,
        MAX_STEP_BYTES,
        lambda b: f"{_bytes(b)} of memory",
        SIZING_FIELDS,
    ),
    Cap(
        "a training step taking",
        step_seconds,
        MAX_STEP_SECONDS,
        lambda t: f"{_seconds(t)} on a slow core",
        SIZING_FIELDS,
    ),
)


def check_cost(s: Sizes, defaults: Sizes) -> None:
    """Raise ConfigError if any estimate is over its cap, naming the settings to lower.

    ``s`` and ``defaults`` map every name in SIZING_FIELDS to a value already checked
    to be in range; a setting is named when putting it back to its default would at
    least halve the estimate.
    """
    for cap in CAPS:
        value = cap.estimate(s)
        if value <= cap.limit:
            continue
        culprits = _culprits(cap, s, defaults, value)
        settings = _join([f"{f} = {_show_value(s[f])}" for f in culprits], "and")
        together = " together" if len(culprits) > 1 else ""
        shown = cap.show(value)
        limit = cap.show(cap.limit)
        if cap.estimate is parameter_count:
            shown += f" ({_bytes(BYTES_PER_FLOAT * value)})"
        raise ConfigError(
            f"{settings}{together} would make {cap.what} {shown}; the limit is {limit}. "
            f"Lower {_join(list(culprits), 'or')}."
        )


def _culprits(cap: Cap, s: Sizes, defaults: Sizes, value: float) -> tuple[str, ...]:
    gains = {}
    for name in cap.fields:
        if s[name] == defaults[name]:
            continue
        reset = cap.estimate({**s, name: defaults[name]})
        gains[name] = value / reset if reset > 0 else float("inf")
    named = [n for n, g in sorted(gains.items(), key=lambda kv: -kv[1]) if g >= 2.0]
    if not named and gains:
        named = [max(gains, key=gains.get)]
    # The defaults are within every cap, so this fallback only guards a change of caps.
    return tuple(named) or cap.fields
