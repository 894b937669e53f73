"""A config.json may not cost more than a cap: every sizing setting, alone and together.

Hostile sizes are refused by arithmetic on the config before anything is built or read,
through every way a config arrives: ``load_checkpoint``, the CLI, an upload, the Model
page, and the training entry points. Cheapness is asserted without a clock: the model
builders and Keras layers raise if called, and traced memory stays small.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import keras
import pytest
from deadline import DEADLINE_S
from page_sandbox import (
    active_model,  # noqa: F401 (fixture)
    button,
    errors_of,
    runs_folder,  # noqa: F401 (fixture)
)

import vae.model
from tests.app_pages import DEFAULT, open_page
from ui import state
from vae import checkpoint, config, losses, model_cost, upload
from vae.checkpoint import CONFIG_FILE, HISTORY_FILE, WEIGHTS_FILE, load_checkpoint
from vae.config import VAEConfig
from vae.errors import CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = DEADLINE_S  # only bounds a hang; cheapness is proven by the spies
MAX_PEAK_BYTES = 4 * 2**20  # traced memory while refusing; a built model needs far more
SHIPPED = json.loads((DEFAULT / CONFIG_FILE).read_text())

# One hostile value per sizing setting: refused by its own range.
ALONE = {
    "latent_dim": ({"latent_dim": 10**6}, "latent_dim = 1000000 is out of range"),
    "image-height": (
        {"image_shape": [100_000, 28, 1]},
        "image_shape height = 100000 is out of range",
    ),
    "image-width": (
        {"image_shape": [28, 100_000, 1]},
        "image_shape width = 100000 is out of range",
    ),
    "image-channels": (
        {"image_shape": [28, 28, 100_000]},
        "image_shape channels = 100000 is out of range",
    ),
    "image-rank": ({"image_shape": [28] * 10_000}, "image_shape must be 3 integers, got (28, 28"),
    "conv_filters-first": (
        {"conv_filters": [10**6, 64]},
        "conv_filters[0] = 1000000 is out of range",
    ),
    "conv_filters-second": (
        {"conv_filters": [32, 10**6]},
        "conv_filters[1] = 1000000 is out of range",
    ),
    "conv_filters-count": ({"conv_filters": [32] * 10_000}, "conv_filters must be 2 integers"),
    "decoder_base_channels": (
        {"decoder_base_channels": 10**6},
        "decoder_base_channels = 1000000 is out of range",
    ),
    "encoder_hidden": ({"encoder_hidden": 10**6}, "encoder_hidden = 1000000 is out of range"),
    "batch_size": ({"batch_size": 10**9}, "batch_size = 1000000000 is out of range"),
    "epochs": ({"epochs": 10**9}, "epochs = 1000000000 is out of range"),
    "n_samples": ({"n_samples": 10**9}, "n_samples = 1000000000 is out of range"),
}

# Each setting is within its range; together they are over a cap, and each is named.
TOGETHER = {
    "parameters": (
        {"latent_dim": 64, "decoder_base_channels": 1024, "image_shape": [256, 256, 1]},
        "together would make a model of 306 million parameters (1.22 GB); "
        "the limit is 16 million parameters.",
    ),
    "conv-parameters": (
        {"conv_filters": [1024, 1024]},
        "conv_filters = (1024, 1024) would make a model of 19.3 million parameters",
    ),
    "time-to-build": (
        {"image_shape": [256, 256, 1], "conv_filters": [512, 512]},
        "together would make a model taking about 49.7 seconds to build; the limit is about 30",
    ),
    "time-per-image": (
        {"image_shape": [64, 64, 1], "conv_filters": [512, 512]},
        "per image on a slow core; the limit is about 1 second per image",
    ),
    "hidden-parameters": (
        {"encoder_hidden": 1024, "image_shape": [128, 128, 1]},
        "encoder_hidden = 1024 and image_shape = (128, 128, 1) together would make a model "
        "of 63.1 million parameters",
    ),
    "step-memory": (
        {"batch_size": 4096, "n_samples": 8},
        "together would make a training step needing 10.8 GB of memory; the limit is 8 GB",
    ),
    "step-time": (
        {"conv_filters": [512, 512], "batch_size": 512},
        "together would make a training step taking about 14.3 minutes on a slow core",
    ),
}
HOSTILE = {**ALONE, **TOGETHER}


def config_text(changes: dict) -> str:
    return json.dumps({**SHIPPED, **changes})


# Hostile as JSON text: what a parser must refuse before any value reaches VAEConfig.
RAW = {
    "huge-integer": (
        config_text({}).replace('"latent_dim": 2', '"latent_dim": ' + "9" * 60_000),
        "config.json is not valid JSON (an integer of 60000 digits is out of any range",
    ),
    "deep-nesting": (
        config_text({}).replace('"latent_dim": 2', '"latent_dim": ' + "[" * 30_000 + "]" * 30_000),
        "config.json is nested too deeply",
    ),
    "huge-float": (
        config_text({}).replace('"beta": 1.0', '"beta": 1e999999'),
        "beta = inf is out of range",
    ),
}


@pytest.fixture(scope="module")
def weights() -> bytes:
    return (DEFAULT / WEIGHTS_FILE).read_bytes()


def hostile_folder(root: Path, name: str, text: str, weights: bytes) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / CONFIG_FILE).write_text(text)
    (folder / WEIGHTS_FILE).write_bytes(weights)
    return folder


def no_building(monkeypatch) -> None:
    """Make any model or layer construction fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model or layer was built for a config that must be refused")

    for name in ("build_vae", "build_encoder", "build_decoder"):
        monkeypatch.setattr(vae.model, name, refuse)
    monkeypatch.setattr(keras.layers.Layer, "__init__", refuse)


def refused_cheaply(
    action, monkeypatch, error=CheckpointError, max_peak: int = MAX_PEAK_BYTES
) -> str:
    """Run ``action``, which must raise ``error`` within the deadline and in little memory."""
    no_building(monkeypatch)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(error) as info:
            action()
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < DEADLINE, f"the refusal took {elapsed:.1f} s, over the {DEADLINE} s deadline"
    assert peak < max_peak, f"refusing allocated {peak:,} bytes, over {max_peak:,}"
    return str(info.value)


# --- the caps admit every real model and its estimates are exact ------------------------
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"dataset": "fashion_mnist", "decoder": "gaussian"},
        {"image_shape": (8, 8, 1), "conv_filters": (4, 8), "decoder_base_channels": 4},
        {"latent_dim": 64, "conv_filters": (256, 512), "decoder_base_channels": 256},
        {"image_shape": (64, 64, 3), "conv_filters": (128, 256), "decoder_base_channels": 128},
        {"batch_size": config.MAX_BATCH_SIZE},
        {"epochs": config.MAX_EPOCHS},
        {"n_samples": config.MAX_SAMPLES, "batch_size": 8},
        {"n_samples": 100},
        {"encoder_padding": "same", "encoder_hidden": 16, "decoder_base_channels": 64},
        {"sigma": "log_var"},
    ],
    ids=[
        "default",
        "fashion",
        "tiny",
        "J64-wide",
        "rgb-64",
        "max-batch",
        "max-epochs",
        "max-L",
        "L100",
        "keras-example",
        "log-var",
    ],
)
def test_real_models_are_within_every_cap(changes):
    VAEConfig(**changes).validate()


def test_the_shipped_checkpoints_and_the_test_fixture_load(tmp_path):
    from helpers import TINY_ARCHITECTURE

    for folder in sorted((ROOT / "checkpoints").iterdir()):
        if (folder / CONFIG_FILE).is_file():
            assert checkpoint.load_config(folder).conv_filters == (32, 64)
    VAEConfig(**TINY_ARCHITECTURE).validate()


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"latent_dim": 5, "image_shape": (12, 16, 3), "conv_filters": (6, 10)},
        {"image_shape": (8, 8, 1), "conv_filters": (4, 8), "decoder_base_channels": 4},
        {"encoder_padding": "same", "encoder_hidden": 16, "decoder_base_channels": 64},
        {
            "latent_dim": 3,
            "image_shape": (12, 20, 2),
            "encoder_padding": "same",
            "encoder_hidden": 5,
        },
    ],  # fmt: skip
    ids=["default", "odd-shapes", "tiny", "keras-example", "same-odd-shapes"],
)
def test_the_parameter_estimate_is_exact(changes):
    cfg = VAEConfig(**changes)
    sizes = {f: getattr(cfg, f) for f in model_cost.SIZING_FIELDS}
    built = vae.model.build_vae(cfg)
    assert model_cost.parameter_count(sizes) == built.count_params()
    # The activation estimate counts each layer's real output, one example's worth.
    real = {
        layer.name: math.prod(layer.output.shape[1:])
        for part in (built.encoder, built.decoder)
        for layer in part.layers[1:]
    }
    for layer in model_cost.layers(sizes):
        assert layer.outputs == real[layer.name], layer.name


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"sigma": "log-var"}, "sigma = 'log-var' is not one of softplus, log_var."),
        ({"encoder_padding": "full"}, "encoder_padding = 'full' is not one of valid, same."),
        ({"encoder_hidden": -1}, "encoder_hidden = -1 is out of range; choose 0 to 1024."),
        ({"encoder_hidden": 1.5}, "encoder_hidden must be an integer, got 1.5."),
    ],
)
def test_the_keras_variant_settings_are_checked(changes, phrase):
    with pytest.raises(ConfigError) as info:
        VAEConfig(**changes)
    assert str(info.value) == phrase


def test_estimator_names_have_one_source():
    assert isinstance(config.ESTIMATORS, tuple)
    assert tuple(losses.ESTIMATOR_FUNCTIONS) == config.ESTIMATORS
    assert not hasattr(losses, "ESTIMATORS")


# --- (a) load_checkpoint ------------------------------------------------------------------
@pytest.mark.parametrize("case", HOSTILE)
def test_load_checkpoint_refuses_a_costly_config_before_building(
    case, tmp_path, weights, monkeypatch
):
    changes, phrase = HOSTILE[case]
    folder = hostile_folder(tmp_path, case, config_text(changes), weights)
    message = refused_cheaply(lambda: load_checkpoint(folder), monkeypatch)
    assert message.startswith("config.json is invalid: ") and phrase in message, message
    for name in changes:
        assert name in message, (name, message)
    if case in TOGETHER:  # the advice names every setting to lower
        advice = message.rsplit(" Lower ", 1)[-1]
        assert all(name in advice for name in changes), message


@pytest.mark.parametrize("case", TOGETHER)
def test_each_setting_of_a_costly_combination_is_fine_alone(case):
    changes, _ = TOGETHER[case]
    if len(changes) == 1:  # one setting of two numbers, each within its range
        ((_, value),) = changes.items()
        assert all(1 <= v <= config.MAX_FILTERS for v in value)
    else:
        for name, value in changes.items():
            VAEConfig(**{name: value})


@pytest.mark.parametrize("case", RAW)
def test_hostile_json_is_refused_before_it_reaches_the_config(case, tmp_path, weights, monkeypatch):
    text, phrase = RAW[case]
    assert len(text) <= checkpoint.MAX_CONFIG_BYTES  # so it is the parser that refuses
    folder = hostile_folder(tmp_path, case, text, weights)
    message = refused_cheaply(lambda: load_checkpoint(folder), monkeypatch)
    assert phrase in message, message


@pytest.mark.parametrize("name", [CONFIG_FILE, HISTORY_FILE])
def test_a_ten_gigabyte_json_file_is_refused_after_reading_its_cap(
    name, tmp_path, weights, monkeypatch
):
    folder = hostile_folder(tmp_path, "big", config_text({}), weights)
    with (folder / name).open("wb") as f:
        f.truncate(10 * 2**30)  # sparse: 10 GB that take no disk
    # Reading it whole would take 10 GB; the cap plus one byte is all that may be read.
    max_peak = checkpoint.MAX_JSON_BYTES + MAX_PEAK_BYTES
    message = refused_cheaply(lambda: load_checkpoint(folder), monkeypatch, max_peak=max_peak)
    assert f"{name} is larger than " in message, message


# --- (b) the CLI --------------------------------------------------------------------------
# Imported by every CLI child: refusing a config must not need TensorFlow or Keras.
NO_TENSORFLOW = """
import sys

class _Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError(name + " was imported while refusing a config")

sys.meta_path.insert(0, _Refuse())
"""


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("site")
    (site / "sitecustomize.py").write_text(NO_TENSORFLOW)
    empty = tmp_path_factory.mktemp("no-data")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        "VAE_DATA_DIR": str(empty),  # a command that reached the data would fail differently
        "VAE_DEBUG": "",
    }


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, list[str], float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "vae", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,  # a hung child fails the test instead of blocking the suite
    )
    return proc.returncode, proc.stderr.splitlines(), time.perf_counter() - start


def test_the_cli_guard_blocks_tensorflow(cli_env, tmp_path):
    code, lines, _ = run_cli(["sample", str(DEFAULT), "--out", "x.png"], cli_env, tmp_path)
    assert code == 1 and "tensorflow was imported while refusing a config" in lines[-1], lines


@pytest.mark.parametrize(
    ("case", "command"),
    [(c, "evaluate") for c in HOSTILE]
    + [(c, "sample") for c in TOGETHER]
    + [(c, "sample") for c in RAW],
)
def test_the_cli_refuses_in_one_line_before_tensorflow(case, command, cli_env, tmp_path, weights):
    text, phrase = RAW[case] if case in RAW else (config_text(HOSTILE[case][0]), HOSTILE[case][1])
    folder = hostile_folder(tmp_path, case, text, weights)
    args = [command, str(folder)] + (["--out", "x.png"] if command == "sample" else [])
    code, lines, elapsed = run_cli(args, cli_env, tmp_path)
    assert code == 1, (code, lines)
    assert len(lines) == 1 and lines[0].startswith("error: config.json is"), lines
    assert phrase in lines[0], lines
    assert elapsed < DEADLINE, f"the CLI took {elapsed:.1f} s to refuse, over {DEADLINE} s"
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--batch-size", "4096", "--samples", "8"], ["batch_size", "n_samples"]),
        (["--batch-size", str(10**9)], ["batch_size"]),
        (["--samples", str(10**9)], ["n_samples"]),
        (["--epochs", str(10**9)], ["epochs"]),
        (["--latent-dim", str(10**6)], ["latent_dim"]),
    ],
    ids=["L-and-batch", "batch", "L", "epochs", "J"],
)
def test_cli_train_refuses_before_reading_data(flags, names, cli_env, tmp_path):
    out = tmp_path / "run"
    code, lines, elapsed = run_cli(["train", "--out", str(out), *flags], cli_env, tmp_path)
    assert code == 1 and len(lines) == 1, (code, lines)
    assert all(n in lines[0] for n in names), lines
    assert elapsed < DEADLINE, f"the CLI took {elapsed:.1f} s to refuse, over {DEADLINE} s"
    assert not out.exists()


# --- training entry points ----------------------------------------------------------------
class Untouchable:
    """Training data that fails the test if anything looks at it."""

    def __getattr__(self, name):
        raise AssertionError(f"training data was read ({name}) for a config that must be refused")

    def __len__(self):
        raise AssertionError("training data was read (len) for a config that must be refused")


def forced(changes: dict) -> VAEConfig:
    """A config holding hostile values, as a caller could make by bypassing the constructor."""
    cfg = VAEConfig()
    for name, value in changes.items():
        object.__setattr__(cfg, name, tuple(value) if isinstance(value, list) else value)
    return cfg


@pytest.mark.parametrize("case", HOSTILE)
def test_validate_refuses_before_training_reads_data(case, tmp_path, monkeypatch):
    from vae.jobs import JobManager
    from vae.train import train

    changes, phrase = HOSTILE[case]
    with pytest.raises(ConfigError) as info:
        VAEConfig(**changes)
    assert phrase in str(info.value)
    cfg = forced(changes)
    message = refused_cheaply(
        lambda: train(cfg, Untouchable(), Untouchable(), out_dir=tmp_path / "run"),
        monkeypatch,
        ConfigError,
    )
    assert phrase in message and not (tmp_path / "run").exists()
    jobs = JobManager(tmp_path / "runs", loader=lambda c: Untouchable().data)
    assert phrase in refused_cheaply(lambda: jobs.start(cfg, owner="t"), monkeypatch, ConfigError)


# --- (c) uploads and the Model page -------------------------------------------------------
def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(f"ckpt/{name}", data)
    return buf.getvalue()


@pytest.mark.parametrize("case", [*HOSTILE, *RAW])
def test_an_upload_is_refused_cheaply_and_leaves_nothing(case, tmp_path, weights, monkeypatch):
    text, phrase = RAW[case] if case in RAW else (config_text(HOSTILE[case][0]), HOSTILE[case][1])
    files = {CONFIG_FILE: text.encode(), WEIGHTS_FILE: weights}
    uploads = tmp_path / "uploads"
    for offered in (list(files.items()), [("ckpt.zip", zipped(files))]):
        message = refused_cheaply(
            lambda offered=offered: upload.save_upload(offered, uploads), monkeypatch
        )
        assert phrase in message, message
        assert list(uploads.iterdir()) == [], "a refused upload left a folder"


def test_the_model_page_refuses_costly_uploads_and_keeps_the_active_model(
    runs, active, weights, monkeypatch
):
    built = []
    real_build = vae.model.build_vae
    monkeypatch.setattr(vae.model, "build_vae", lambda c: built.append(c) or real_build(c))
    at = open_page("model", active)
    at.radio(key="model_source").set_value("upload").run()
    cases = {
        "latent_dim": (config_text(ALONE["latent_dim"][0]), ALONE["latent_dim"][1]),
        "parameters": (config_text(TOGETHER["parameters"][0]), TOGETHER["parameters"][1]),
        "step-memory": (config_text(TOGETHER["step-memory"][0]), TOGETHER["step-memory"][1]),
        "huge-integer": RAW["huge-integer"],
    }
    for case, (text, phrase) in cases.items():
        uploader = at.file_uploader(key="model_upload").clear()
        uploader.upload(CONFIG_FILE, text.encode())
        uploader.upload(WEIGHTS_FILE, weights)
        at.run()
        start = time.perf_counter()
        button(at, "Check and use this upload").click().run()
        elapsed = time.perf_counter() - start
        assert not at.exception, (case, at.exception)
        message = errors_of(at)
        assert message.startswith("The upload was refused: ") and phrase in message, message
        assert "The previous model stays active." in message, message
        assert at.session_state[state.ACTIVE] == str(active), case
        assert elapsed < DEADLINE, f"{case}: the page took {elapsed:.1f} s to refuse"
    assert all(c.architecture == VAEConfig(**SHIPPED).architecture for c in built), built
    uploads = runs / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
