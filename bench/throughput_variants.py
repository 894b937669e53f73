"""The variants the throughput benchmark trains, and the ``--ours`` syntax for more."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from vae.config import VAEConfig

# The tutorial's settings, on the default network.
REFERENCE_CONFIG = VAEConfig(batch_size=32, learning_rate=1e-4, estimator="sgvb-a")
# The fastest route to 155.9 nats found on a 2-core EPYC (figures in bench/README.md).
BEST_CONFIG = VAEConfig(batch_size=64, learning_rate=3e-3)


@dataclass(frozen=True)
class Variant:
    name: str
    config: VAEConfig  # for the reference: the network and the tutorial's settings
    compile_args: dict[str, Any] = field(default_factory=dict)

    @property
    def is_reference(self) -> bool:
        return self.name == "reference"


def default_variants() -> dict[str, Variant]:
    return {
        "reference": Variant("reference", REFERENCE_CONFIG),
        "ours-default": Variant("ours-default", VAEConfig()),
        "ours-best": Variant("ours-best", BEST_CONFIG),
    }


def parse_ours(spec: str) -> Variant:
    """'NAME:batch_size=256,learning_rate=2e-3,compile.steps_per_execution=8' -> Variant."""
    name, _, body = spec.partition(":")
    if not name or name in default_variants():
        raise argparse.ArgumentTypeError(f"--ours needs a new NAME before ':', got {spec!r}")
    changes: dict[str, Any] = {}
    compile_args: dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, sep, raw = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--ours: {item!r} is not key=value")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw  # a bare string such as mixed_bfloat16
        if key.startswith("compile."):
            compile_args[key.removeprefix("compile.")] = value
        else:
            changes[key] = value
    try:
        config = VAEConfig().replace(**changes)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"--ours {spec!r}: {exc}") from exc
    return Variant(name, config, compile_args)


def describe(variant: Variant) -> dict[str, Any]:
    c = variant.config
    out = {
        "batch_size": c.batch_size,
        "learning_rate": c.learning_rate,
        "estimator": c.estimator,
        "precision": c.precision,
    }
    if variant.compile_args:
        out["compile"] = variant.compile_args
    return out
