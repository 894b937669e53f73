"""SIGINT and SIGTERM stop ``python -m vae train`` after the current batch and keep the
last finished epoch, also when the run was started in the background with SIGINT
ignored (what a non-interactive shell's ``&`` gives a job)."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deadline import DEADLINE_S
from helpers import write_mnist_npz
from test_cli import ROOT, cli_env

from vae.checkpoint import load_checkpoint

EPOCHS = 100  # far more than finish before the signal; the run must stop early
EPOCH_LINE = re.compile(rb"epoch +(\d+):")  # printed once an epoch is saved


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_mnist_npz(folder, n_train=256, n_test=64)
    return folder


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("signum", "background", "exit_code"),
    [
        (signal.SIGINT, False, 130),
        (signal.SIGINT, True, 130),
        (signal.SIGTERM, True, 143),
    ],
    ids=["ctrl-c", "sigint-to-a-background-job", "sigterm-to-a-background-job"],
)
@pytest.mark.slow
def test_a_signal_keeps_finished_epochs(tmp_path, data_dir, signum, background, exit_code):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vae", "train", "--out", str(out), "--data-dir", str(data_dir)]
        + ["--epochs", str(EPOCHS), "--batch-size", "64", "--no-eval"],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=ignore_sigint if background else None,
    )
    seen = b""
    deadline = time.monotonic() + DEADLINE_S
    try:
        while not EPOCH_LINE.search(seen):
            assert proc.poll() is None, seen.decode(errors="replace")
            assert time.monotonic() < deadline, "waited 600 s for the line 'epoch 1: ...'"
            ready, _, _ = select.select([proc.stderr], [], [], 1.0)
            if ready:
                seen += os.read(proc.stderr.fileno(), 4096)
        proc.send_signal(signum)
        stdout, rest = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    stderr = (seen + rest).decode(errors="replace")
    assert proc.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    assert stdout == b""  # no summary: the run did not finish
    lines = [line for line in re.split(r"[\r\n]", stderr) if "interrupted" in line]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("interrupted")
    if signum == signal.SIGTERM:
        assert lines[0].startswith("interrupted (SIGTERM): kept ")
    ck = load_checkpoint(out)
    assert ck.epoch >= 1, "no finished epoch was kept"
    assert ck.epoch < EPOCHS, "the run finished instead of stopping"
    assert f"kept {ck.epoch} finished epoch(s) in {out}" in lines[0]
    assert [h["epoch"] for h in ck.history] == list(range(1, ck.epoch + 1))
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name or p.name == ".lock"]
