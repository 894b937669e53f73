"""A broken, mismatched or poisoned checkpoint is refused by name, and the active model stays.

Each bad checkpoint is chosen as a run on the Model page and sent as an upload.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_config, weights_of
from page_sandbox import (
    active_model,  # noqa: F401 (fixture)
    button,
    contents,
    errors_of,
    runs_folder,  # noqa: F401 (fixture)
    save_tiny,
)
from safetensors.numpy import load_file, save_file

from tests.app_pages import open_page
from ui import state
from vae.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_checkpoint
from vae.errors import CheckpointMismatchError, NonFiniteWeightsError


def _cut_weights(folder: Path, size) -> None:
    data_ = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(data_[: size(len(data_))])


def _poison(folder: Path, value: float) -> None:
    path = folder / WEIGHTS_FILE
    meta = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    tensors = load_file(path)
    tensors["deconv1/kernel"][0, 0, 0, :3] = value
    save_file(tensors, path, metadata=meta["__metadata__"])


def _config(folder: Path, **changes) -> None:
    (folder / CONFIG_FILE).write_text(tiny_config(**changes).to_json())


BAD = {
    # case: (make it bad, phrase of the run's error, phrase of the upload's error)
    "zero-byte-weights": (
        lambda f: (f / WEIGHTS_FILE).write_bytes(b""),
        "weights.safetensors is empty (0 bytes)",
        None,
    ),
    "truncated-weights": (
        lambda f: _cut_weights(f, lambda n: n // 2),
        "weights.safetensors is truncated or corrupt",
        None,
    ),
    "truncated-header": (
        lambda f: _cut_weights(f, lambda n: 20),
        "weights.safetensors is truncated or corrupt",
        None,
    ),
    "config-missing": (
        lambda f: (f / CONFIG_FILE).unlink(),
        "config.json is missing",
        "lacks config.json",
    ),
    "config-malformed": (
        lambda f: (f / CONFIG_FILE).write_text('{"latent_dim": 2, "conv_filters": [4,'),
        "config.json is not valid JSON",
        None,
    ),
    "config-invalid": (
        lambda f: (f / CONFIG_FILE).write_text(
            json.dumps({**tiny_config().to_dict(), "latent_dim": 0})
        ),
        "config.json is invalid: latent_dim = 0 is out of range",
        None,
    ),
    "other-architecture": (
        lambda f: _config(f, conv_filters=(4, 16)),
        "conv2/kernel has shape (3, 3, 4, 8), the config expects (3, 3, 4, 16)",
        None,
    ),
    "other-latent-size": (
        lambda f: _config(f, latent_dim=3),
        "The weights are for latent_dim 2, but config.json says latent_dim 3",
        None,
    ),
    "nan": (lambda f: _poison(f, np.nan), "deconv1/kernel holds 3 NaN or Inf values", None),
    "inf": (lambda f: _poison(f, -np.inf), "deconv1/kernel holds 3 NaN or Inf values", None),
}


@pytest.mark.parametrize("source", ["run", "upload"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_checkpoint_is_refused_and_the_active_model_stays(runs, active, source, case):
    bad = save_tiny(runs / f"20250101-000000-mnist-j2-{case}")
    make_bad, run_phrase, upload_phrase = BAD[case]
    make_bad(bad)
    at = open_page("model", active)
    model = state.load(active).model
    before = weights_of(model)
    shown = {m.label: m.value for m in at.metric}

    at.radio(key="model_source").set_value(source).run()
    if source == "run":
        at.selectbox(key="model_run").set_value(str(bad)).run()
        button(at, "Use this run").click().run()
    else:
        uploader = at.file_uploader(key="model_upload")
        for p in sorted(bad.iterdir()):
            uploader.upload(p.name, p.read_bytes())
        at.run()
        button(at, "Check and use this upload").click().run()

    assert not at.exception, at.exception
    message = errors_of(at)
    phrase = upload_phrase if source == "upload" and upload_phrase else run_phrase
    assert phrase in message, message
    assert "The previous model stays active." in message
    assert at.session_state[state.ACTIVE] == str(active)
    assert active.name in at.subheader[0].value and {m.label: m.value for m in at.metric} == shown
    # The viewer's cached model is the same object with the same weights.
    assert state.load(active).model is model
    assert all(np.array_equal(v, weights_of(model)[k]) for k, v in before.items())
    if source == "upload":  # a refused upload leaves no folder behind
        assert contents(runs / "uploads") == []
    if case in ("other-architecture", "other-latent-size", "nan", "inf"):
        with pytest.raises((CheckpointMismatchError, NonFiniteWeightsError)):
            load_checkpoint(bad)
