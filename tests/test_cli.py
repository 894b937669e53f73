"""Tests for ``python -m vae``, run as a real subprocess on a tiny 28x28 npz.

Each run starts TensorFlow (a few seconds), so trained checkpoints are shared by the
module-scoped fixtures and copied before a test changes them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deadline import DEADLINE_S
from helpers import write_mnist_npz
from PIL import Image

from vae.eval_budget import AFTER_TRAINING, DEFAULT

ROOT = Path(__file__).resolve().parents[1]
EVAL_ARGS = ("--iw-samples", "4", "--grid-size", "8")
TRAIN_ARGS = ("--epochs", "1", "--batch-size", "64", *EVAL_ARGS)
METRIC_KEYS = ("neg_elbo", "recon", "kl", "log_px", "iw_log_px")
CHECKPOINT_FILES = {"config.json", "weights.safetensors", "history.json"}


def cli_env() -> dict[str, str]:
    env = {**os.environ, "VAE_NO_DOWNLOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    for name in ("VAE_DEBUG", "VAE_DATA_DIR"):  # the CLI's behaviour must not depend on them
        env.pop(name, None)
    return env


def run_cli(*args, timeout: float = DEADLINE_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vae", *map(str, args)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_json_line(stdout: str) -> dict:
    obj = json.loads(stdout.strip().splitlines()[-1])
    assert isinstance(obj, dict)
    return obj


def assert_one_error_line(proc: subprocess.CompletedProcess, phrase: str) -> str:
    """Non-zero exit, no traceback, exactly one 'error:' line on stderr naming ``phrase``."""
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert phrase in errors[0]
    assert proc.stderr.strip().splitlines()[-1] == errors[0]  # nothing follows it
    return errors[0]


def epochs_in(folder: Path) -> list[int]:
    return [h["epoch"] for h in json.loads((folder / "history.json").read_text())]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_mnist_npz(folder, n_train=256, n_test=64)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """A J = 2 model trained for one epoch, with the final evaluation."""
    out = tmp_path_factory.mktemp("runs") / "j2"
    proc = run_cli("train", "--out", out, "--data-dir", data_dir, *TRAIN_ARGS)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="module")
def trained_j3(tmp_path_factory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "j3"
    proc = run_cli(
        "train", "--out", out, "--data-dir", data_dir, "--latent-dim", "3", *TRAIN_ARGS, "--no-eval"
    )
    assert proc.returncode == 0, proc.stderr
    return out


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ((), ["train", "evaluate", "sample"]),
        (("train",), ["--out", "--latent-dim", "--epochs", "--batch-size", "--lr", "--resume"]),
        (("evaluate",), ["checkpoint", "--iw-samples", "--grid-size", "--data-dir", "--write"]),
        (("sample",), ["checkpoint", "--out", "-n", "--seed"]),
    ],
    ids=["top", "train", "evaluate", "sample"],
)
def test_help(command: tuple[str, ...], options: list[str]) -> None:
    proc = run_cli(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m vae")
    for option in options:
        assert option in proc.stdout


def test_help_shows_the_evaluation_budgets_without_tensorflow() -> None:
    code = (
        "import contextlib, io, json, sys\n"
        "from vae import cli\n"
        "for cmd in ('train', 'evaluate'):\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "        cli.build_parser().parse_args([cmd, '--help'])\n"
        "    print(json.dumps(out.getvalue()))\n"
        "print('tensorflow' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE_S
    )
    assert proc.returncode == 0, proc.stderr
    train_help, evaluate_help, tf_loaded = proc.stdout.strip().splitlines()
    assert tf_loaded == "False"
    flat = " ".join(json.loads(evaluate_help).split())
    assert f"(default {DEFAULT.iw_samples})" in flat and f"(default {DEFAULT.grid_size})" in flat
    assert "--full" in flat
    flat = " ".join(json.loads(train_help).split())
    assert f"(default {AFTER_TRAINING.grid_size})" in flat and "--full-eval" in flat


# --------------------------------------------------------------------------- train


@pytest.mark.slow
def test_train_end_to_end(trained) -> None:
    out, proc = trained
    summary = last_json_line(proc.stdout)
    for key in ("images_per_s", "seconds"):
        assert isinstance(summary[key], int | float) and summary[key] > 0, key
    for key in METRIC_KEYS:
        assert isinstance(summary[key], float) and math.isfinite(summary[key]), key
    assert summary["epochs"] == 1
    assert math.isclose(summary["neg_elbo"], summary["recon"] + summary["kl"], rel_tol=1e-5)
    assert "Traceback" not in proc.stderr
    # Training, evaluation and the pages' figures each have their own clock.
    for key in ("eval_seconds", "precompute_seconds", "wall_seconds"):
        assert isinstance(summary[key], int | float) and summary[key] >= 0, key
    assert summary["wall_seconds"] >= summary["seconds"] + summary["eval_seconds"]
    assert "trained 1 epoch(s) in" in proc.stderr and "evaluated in" in proc.stderr

    names = {p.name for p in out.iterdir()}
    assert CHECKPOINT_FILES | {"metrics.json"} <= names
    assert not [n for n in names if ".tmp-" in n or n == ".lock"]  # nothing left behind
    assert epochs_in(out) == [1]
    config = json.loads((out / "config.json").read_text())
    assert (config["latent_dim"], config["epochs"], config["batch_size"]) == (2, 1, 64)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in METRIC_KEYS:
        assert metrics[key] == summary[key], key


@pytest.mark.slow
def test_evaluate_matches_train_metrics(trained, data_dir: Path) -> None:
    out, _ = trained
    proc = run_cli("evaluate", out, "--data-dir", data_dir, *EVAL_ARGS)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    for key in METRIC_KEYS:
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]), key
    assert math.isclose(metrics["neg_elbo"], metrics["recon"] + metrics["kl"], rel_tol=1e-5)
    saved = json.loads((out / "metrics.json").read_text())
    for key in METRIC_KEYS:  # same weights, data and seed: the same numbers
        assert metrics[key] == pytest.approx(saved[key], abs=1e-4), key


@pytest.mark.slow
def test_evaluate_j3_has_no_quadrature(trained_j3: Path, data_dir: Path) -> None:
    proc = run_cli("evaluate", trained_j3, "--data-dir", data_dir, *EVAL_ARGS)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    assert set(METRIC_KEYS) <= metrics.keys()
    assert metrics["log_px"] is None  # quadrature is for J = 2 only
    assert isinstance(metrics["iw_log_px"], float) and math.isfinite(metrics["iw_log_px"])
    assert math.isclose(metrics["neg_elbo"], metrics["recon"] + metrics["kl"], rel_tol=1e-5)


@pytest.mark.slow
def test_sample_writes_a_png(trained, tmp_path: Path) -> None:
    out, _ = trained
    png = tmp_path / "grid.png"
    proc = run_cli("sample", out, "--out", png, "-n", "9", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert last_json_line(proc.stdout) == {"out": str(png), "n": 9, "seed": 3}
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.mode == "L"
        side = (3 * (28 + 1) + 1) * 2  # 3x3 tiles of 28 px, 1 px borders, scaled 2x
        assert image.size == (side, side)
        low, high = image.getextrema()
        assert low < high  # decoded images, not a blank picture


# --------------------------------------------------------------------------- failures


def test_missing_checkpoint(tmp_path: Path, data_dir: Path) -> None:
    proc = run_cli("evaluate", tmp_path / "nowhere", "--data-dir", data_dir)
    assert_one_error_line(proc, "no checkpoint folder")
    assert proc.stdout == ""


@pytest.mark.parametrize("command", ["evaluate", "sample"])
@pytest.mark.slow
def test_corrupt_weights(trained, tmp_path: Path, data_dir: Path, command: str) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained[0], broken)
    weights = broken / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    args = ["--data-dir", data_dir] if command == "evaluate" else ["--out", tmp_path / "s.png"]
    proc = run_cli(command, broken, *args)
    assert_one_error_line(proc, "truncated or corrupt")
    assert proc.stdout == ""
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize(
    ("option", "value", "phrase"),
    [
        ("--lr", "1e3", "learning_rate = 1000.0 is out of range"),
        ("--epochs", "0", "epochs = 0 is out of range"),
        ("--batch-size", "0", "batch_size = 0 is out of range"),
        ("--latent-dim", "0", "latent_dim = 0 is out of range"),
        ("--latent-dim", "10000", "latent_dim = 10000 is out of range"),
    ],
    ids=["lr-1e3", "epochs-0", "batch-size-0", "latent-dim-0", "latent-dim-10000"],
)
def test_absurd_settings_fail_before_training(
    tmp_path: Path, data_dir: Path, option: str, value: str, phrase: str
) -> None:
    out = tmp_path / "run"
    # argparse keeps the last occurrence, so the absurd value overrides the tiny defaults.
    proc = run_cli("train", "--out", out, "--data-dir", data_dir, *TRAIN_ARGS, option, value)
    line = assert_one_error_line(proc, phrase)
    assert proc.stderr.strip() == line  # not even the data was loaded
    assert proc.stdout == ""
    assert not out.exists()


@pytest.mark.slow
def test_train_refuses_a_folder_holding_a_checkpoint(trained, tmp_path, data_dir) -> None:
    out = tmp_path / "existing"
    shutil.copytree(trained[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = run_cli("train", "--out", out, "--data-dir", data_dir, *TRAIN_ARGS)
    line = assert_one_error_line(proc, "already holds a checkpoint")
    assert proc.stderr.strip() == line  # said before the data set was loaded
    assert proc.stdout == ""
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched, no lock left


@pytest.mark.slow
def test_train_without_data(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "run"
    proc = run_cli("train", "--out", out, "--data-dir", empty, *TRAIN_ARGS)
    line = assert_one_error_line(proc, "holds no mnist data")
    assert proc.stderr.strip() == line
    assert not out.exists()


# --------------------------------------------------------------------------- resume


@pytest.mark.slow
def test_resume_continues_from_the_saved_epoch(trained_j3: Path, tmp_path: Path, data_dir):
    out = tmp_path / "resumed"
    shutil.copytree(trained_j3, out)
    assert epochs_in(out) == [1]
    first_epoch = json.loads((out / "history.json").read_text())[0]
    (out / "metrics.json").write_text('{"neg_elbo": 1.0}')  # as if epoch 1 was evaluated
    args = ["--latent-dim", "3", "--epochs", "2", "--batch-size", "64", "--no-eval", "--resume"]
    proc = run_cli("train", "--out", out, "--data-dir", data_dir, *args)
    assert proc.returncode == 0, proc.stderr
    assert last_json_line(proc.stdout)["epochs"] == 2
    assert not (out / "metrics.json").exists()  # epoch 1's metrics never sit beside epoch 2
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[0] == first_epoch  # the first epoch was kept, not retrained
    assert json.loads((out / "config.json").read_text())["epochs"] == 2


def test_resume_of_a_missing_folder_is_an_error(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "nowhere"
    proc = run_cli("train", "--out", out, "--data-dir", data_dir, *TRAIN_ARGS, "--resume")
    line = assert_one_error_line(proc, f"nothing to resume: {out} does not exist")
    assert proc.stderr.strip() == line  # said before the data set was loaded
    assert proc.stdout == ""
    assert not out.exists()


@pytest.mark.slow
def test_resume_with_no_epochs_left_does_nothing(trained, tmp_path: Path, data_dir: Path):
    out = tmp_path / "done"
    shutil.copytree(trained[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    proc = run_cli("train", "--out", out, "--data-dir", data_dir, *TRAIN_ARGS, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == (
        f"nothing to do: {out} already holds 1 finished epoch(s) and --epochs is 1; "
        "raise --epochs to train further."
    )  # no data loaded, no training, no evaluation
    assert proc.stdout == ""
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --------------------------------------------------------------------------- surprises


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("--he",), "arguments are required"),  # not taken for --help
        (("train", "--out", "{tmp}/run", "--epoch", "1"), "unrecognized arguments: --epoch 1"),
        (("evaluate", "{tmp}/ck", "--iw", "4"), "unrecognized arguments: --iw 4"),
        (("sample", "{tmp}/ck", "--se", "3"), "unrecognized arguments: --se 3"),
        (("export", "{tmp}/ck", "--out", "{tmp}/web", "--ou", "x"), "unrecognized arguments: --ou"),
    ],
    ids=["top", "train", "evaluate", "sample", "export"],
)
def test_abbreviated_options_are_refused(tmp_path: Path, args, phrase: str) -> None:
    proc = run_cli(*(a.format(tmp=tmp_path) for a in args))
    assert proc.returncode == 2, proc.stderr
    assert phrase in proc.stderr
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sample_into_a_missing_folder_names_the_users_path(trained, tmp_path: Path) -> None:
    png = tmp_path / "missing" / "s.png"
    proc = run_cli("sample", trained[0], "--out", png)
    line = assert_one_error_line(proc, f"cannot write {png}: the folder {png.parent} does not")
    assert ".tmp-" not in line
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- posterior


@pytest.mark.slow
def test_posterior_prints_the_identity_and_draws_the_picture(trained, data_dir, tmp_path):
    out, _ = trained
    png = tmp_path / "post.png"
    proc = run_cli("posterior", out, "--index", "3", "--data-dir", data_dir, "--out", png)
    assert proc.returncode == 0, proc.stderr
    result = last_json_line(proc.stdout)
    assert result["index"] == 3
    assert result["kl_q_posterior"] >= 0.0
    assert abs(result["log_px"] - result["elbo"] - result["kl_q_posterior"]) <= 0.05
    assert result["log_px"] >= result["elbo"]
    with Image.open(png) as img:
        assert img.size == (480, 480) and img.mode == "RGB"
        assert len(set(img.get_flattened_data())) > 20  # a heat map, not a blank


@pytest.mark.slow
def test_posterior_refuses_a_bad_index_and_a_model_without_a_plane(trained, trained_j3, data_dir):
    out, _ = trained
    proc = run_cli("posterior", out, "--index", "64", "--data-dir", data_dir)
    assert_one_error_line(proc, "--index 64 is out of range; choose 0 to 63")
    proc = run_cli("posterior", trained_j3, "--index", "0", "--data-dir", data_dir)
    assert_one_error_line(proc, "needs latent_dim 2")
