"""One frozen dataclass holds the architecture and training settings.

It is saved as ``config.json`` beside the weights and is all that is needed to
rebuild the model, so loading a checkpoint never deserializes code.
"""

from __future__ import annotations

import dataclasses
import json
import math
import reprlib
from dataclasses import dataclass, field
from typing import Any

from vae.data import DATASETS, DECODERS
from vae.errors import ConfigError
from vae.model_cost import SIZING_FIELDS, check_cost

# The one list of estimator names; vae.losses maps each to its function.
ESTIMATORS = ("sgvb-a", "sgvb-b")
PRECISIONS = ("float32", "mixed_bfloat16")
LR_SCHEDULES = ("constant", "cosine")
# How train() spreads a step over devices: "mirrored" copies the model to each one.
STRATEGIES = ("default", "mirrored")
# How the encoder's second half of outputs gives sigma: "softplus" (sigma = softplus(raw)
# + min_std) or "log_var" (raw is log sigma^2, as in the TensorFlow and Keras examples).
SIGMAS = ("softplus", "log_var")
PADDINGS = ("valid", "same")  # the encoder convolutions' padding
FORMAT_VERSION = 1

# Limits that reject absurd settings before any work starts.
MAX_LATENT_DIM = 64  # the app is about small latent spaces; 64 is generous
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 8_192
MAX_SAMPLES = 1_000
MIN_IMAGE_SIDE = 8  # two 3x3 stride-2 "valid" convolutions need at least 8 pixels
MAX_IMAGE_SIDE = 256  # the data sets are 28x28; 256 leaves room for larger images
MAX_CHANNELS = 4  # grey, RGB or RGBA
MAX_FILTERS = 1024  # per layer; vae.model_cost caps what the layers cost together


@dataclass(frozen=True)
class VAEConfig:
    """Architecture and training settings of one model."""

    # --- architecture (what the weights must fit) ---
    latent_dim: int = 2  # J; 2 lets the app draw the latent plane directly
    decoder: str = "bernoulli"  # p(x|z): "bernoulli" for binarized pixels, "gaussian" for [0, 1]
    image_shape: tuple[int, int, int] = (28, 28, 1)  # the conv stack halves 28 twice to 7
    conv_filters: tuple[int, int] = (32, 64)  # encoder convs; the decoder mirrors them
    decoder_base_channels: int = 32  # Dense 7*7*32 before the transposed convs
    encoder_padding: str = "valid"  # "same" keeps 28 -> 14 -> 7, as the Keras example does
    encoder_hidden: int = 0  # units of a ReLU Dense before the z head; 0: none (Keras: 16)
    sigma: str = "softplus"  # softplus keeps sigma > 0 with gradients everywhere
    # --- likelihood and estimator ---
    gaussian_std: float = 0.1  # fixed: a learned variance grows unbounded on near-binary pixels
    min_std: float = 1e-4  # floor on the encoder's sigma keeps log-variance finite
    estimator: str = "sgvb-b"  # "sgvb-b": analytic KL; "sgvb-a": Monte Carlo of the whole ELBO
    n_samples: int = 1  # L; Kingma & Welling: L = 1 suffices for minibatches of about 100
    beta: float = 1.0  # weight of the KL term; 1 is the true ELBO
    # --- training ---
    dataset: str = "mnist"
    epochs: int = 30
    batch_size: int = 128  # larger than the tutorial's 32: better CPU throughput, same ELBO
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # "cosine" decays to 1% over the run: the last nats come late
    seed: int = 0
    precision: str = "float32"  # "mixed_bfloat16" computes in bfloat16 on CPUs that have it
    format_version: int = field(default=FORMAT_VERSION)

    def __post_init__(self) -> None:
        # JSON gives lists; keep tuples so the dataclass stays hashable.
        for name in ("image_shape", "conv_filters"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that is out of range, or the
        settings that together make the model or a training step too costly.

        Arithmetic only: nothing is built or read, so a loader and the training
        entry points call it before any other work."""
        _check_int("latent_dim", self.latent_dim, 1, MAX_LATENT_DIM)
        _check_choice("decoder", self.decoder, DECODERS)
        _check_choice("estimator", self.estimator, ESTIMATORS)
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_choice("encoder_padding", self.encoder_padding, PADDINGS)
        _check_choice("sigma", self.sigma, SIGMAS)
        _check_ints("image_shape", self.image_shape, 3)
        h, w, c = self.image_shape
        _check_int("image_shape height", h, MIN_IMAGE_SIDE, MAX_IMAGE_SIDE)
        _check_int("image_shape width", w, MIN_IMAGE_SIDE, MAX_IMAGE_SIDE)
        _check_int("image_shape channels", c, 1, MAX_CHANNELS)
        if h % 4 or w % 4:
            raise ConfigError(
                f"image_shape {_show(self.image_shape)} does not fit the architecture: height "
                "and width must be multiples of 4 (two stride-2 layers)."
            )
        _check_ints("conv_filters", self.conv_filters, 2)
        for i, f in enumerate(self.conv_filters):
            _check_int(f"conv_filters[{i}]", f, 1, MAX_FILTERS)
        _check_int("decoder_base_channels", self.decoder_base_channels, 1, MAX_FILTERS)
        _check_int("encoder_hidden", self.encoder_hidden, 0, MAX_FILTERS)
        _check_float("gaussian_std", self.gaussian_std, 1e-3, 10.0)
        _check_float("min_std", self.min_std, 1e-8, 1.0)
        _check_int("n_samples", self.n_samples, 1, MAX_SAMPLES)
        _check_float("beta", self.beta, 0.0, 1000.0)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_float("learning_rate", self.learning_rate, 1e-7, 1.0)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        if self.format_version != FORMAT_VERSION:
            raise ConfigError(
                f"config format_version {_show(self.format_version)} is not supported "
                f"(this version reads {FORMAT_VERSION})."
            )
        # Each size is in range; together they may still make a model too costly to build.
        check_cost({f: getattr(self, f) for f in SIZING_FIELDS}, _SIZING_DEFAULTS)

    # --- serialization ---
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> VAEConfig:
        """Build a config from untrusted data: unknown keys and bad types are errors."""
        if not isinstance(data, dict):
            raise ConfigError(f"config must be a JSON object, got {type(data).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"config has unknown keys {_show(unknown)}; it was not written by this version "
                "of vae (expected only " + ", ".join(sorted(known)) + ")."
            )
        try:
            return cls(**data)
        except TypeError as exc:  # e.g. a list where an int belongs
            raise ConfigError(f"config is malformed: {exc}") from exc

    def replace(self, **changes: Any) -> VAEConfig:
        return dataclasses.replace(self, **changes)

    @property
    def architecture(self) -> dict[str, Any]:
        """The fields the weights depend on; two configs with equal ones share weights."""
        return {
            "latent_dim": self.latent_dim,
            "image_shape": list(self.image_shape),
            "conv_filters": list(self.conv_filters),
            "decoder_base_channels": self.decoder_base_channels,
            "encoder_padding": self.encoder_padding,
            "encoder_hidden": self.encoder_hidden,
        }


_SIZING_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(VAEConfig) if f.name in SIZING_FIELDS
}

# A hostile value may be a list of a million items or a number of a million digits.
_REPR = reprlib.Repr()
_REPR.maxlist = _REPR.maxtuple = 8
_REPR.maxstring = _REPR.maxother = 60


def _show(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 256:  # str() of it may take long or fail
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return _REPR.repr(value)


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {_show(value)}.")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} = {_show(value)} is out of range; choose {lo} to {hi}.")


def _check_ints(name: str, value: Any, n: int) -> None:
    if not isinstance(value, tuple) or len(value) != n:
        raise ConfigError(f"{name} must be {n} integers, got {_show(value)}.")


def _check_float(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {_show(value)}.")
    if isinstance(value, int) and value.bit_length() > 1000:  # float() of it overflows
        raise ConfigError(f"{name} = {_show(value)} is out of range; choose {lo:g} to {hi:g}.")
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(f"{name} = {_show(value)} is out of range; choose {lo:g} to {hi:g}.")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} = {_show(value)} is not one of {', '.join(choices)}.")
