"""Interrupted training resumes to exactly the uninterrupted weights.

A real child process is killed with SIGKILL halfway through writing a checkpoint; a run
is cancelled or gets Ctrl-C mid-epoch. The previous checkpoint still loads, leftovers
go at the next start, and the resumed run equals the straight one bit for bit.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import weights_of
from page_sandbox import ROOT, TIMEOUT
from safetensors.numpy import load

from vae.checkpoint import WEIGHTS_FILE, load_checkpoint
from vae.train import train

# Importing TensorFlow and training two epochs can be slow on a busy machine.
CHILD_DEADLINE = 300


def resume_config(**changes):
    """test_train's tiny model with a cosine schedule: the step count matters too."""
    from test_train import tiny_config as train_config

    return train_config(epochs=3, lr_schedule="cosine", **changes)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted 3-epoch run every resumed run must equal exactly."""
    from test_train import blob_data

    x_train, x_test = blob_data()
    out = tmp_path_factory.mktemp("straight")
    return train(resume_config(), x_train, x_test, out_dir=out)


def assert_same_run(resumed, straight) -> None:
    got, want = weights_of(resumed.model), weights_of(straight.model)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    terms = lambda r: [(h["epoch"], h["train"], h["test"]) for h in r.history]  # noqa: E731
    assert terms(resumed) == terms(straight)


# The child trains for real; when it has written half of the ``nth`` temporary file of
# ``target`` (weights or optimizer), it says so and waits to be killed.
CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    out, target, nth, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    real_fsync, count = os.fsync, [0]

    def fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(f"{target}.safetensors.tmp-"):
            count[0] += 1
            if count[0] == nth:
                os.ftruncate(fd, os.fstat(fd).st_size // 2)  # half of it reached the disk
                print("WRITING", name, flush=True)
                time.sleep(600)
        return real_fsync(fd)

    os.fsync = fsync
    from test_train import blob_data
    from vae.config import VAEConfig
    from vae.train import train
    x_train, x_test = blob_data()
    train(VAEConfig.from_dict(json.loads(config)), x_train, x_test, out_dir=out)
    print("FINISHED", flush=True)
    """
)


def run_until_writing(out: Path, target: str, nth: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), target, str(nth), resume_config().to_json()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([proc.stdout], [], [], CHILD_DEADLINE)
    line = proc.stdout.readline() if ready else ""  # the child prints whole lines only
    if not line.startswith("WRITING "):
        proc.kill()
        raise AssertionError(
            f"waited {CHILD_DEADLINE} s for the child to be mid-way through writing "
            f"{target} file {nth}; it printed {line!r} {proc.communicate()}"
        )
    return proc, line.split()[1]


@pytest.mark.parametrize("target", ["weights", "optimizer"])
@pytest.mark.slow
def test_sigkill_mid_write_keeps_the_previous_checkpoint_and_resumes_exactly(
    tmp_path, straight, target
):
    from test_train import blob_data

    out = tmp_path / "run"
    # Writes 1, 2, 3 of a file are epochs 0, 1, 2: the kill hits epoch 2's checkpoint.
    proc, leftover = run_until_writing(out, target, nth=3)
    try:
        previous = load((out / WEIGHTS_FILE).read_bytes())  # epoch 1's weights, in place
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    names = {p.name for p in out.iterdir()}
    assert leftover in names and ".lock" in names  # half a file and a dead process's lock

    # The previous checkpoint still loads (on a copy: loading also cleans up).
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    ckpt = load_checkpoint(copy)
    assert ckpt.epoch == 1 and [h["epoch"] for h in ckpt.history] == [1]
    for key, value in previous.items():
        np.testing.assert_array_equal(weights_of(ckpt.model)[key], value, err_msg=key)
    assert leftover not in {p.name for p in copy.iterdir()}

    # The next start takes over the dead lock, removes the leftover and resumes exactly.
    x_train, x_test = blob_data()
    resumed = train(resume_config(), x_train, x_test, out_dir=out, resume=True)
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name or p.name == ".lock"]
    assert_same_run(resumed, straight)
    assert load_checkpoint(out).epoch == 3


@pytest.mark.parametrize("how", ["cancel", "ctrl-c"])
@pytest.mark.slow
def test_resume_after_a_cancel_or_ctrl_c_mid_epoch_is_exact(tmp_path, straight, how):
    from test_train import blob_data

    x_train, x_test = blob_data()
    stop = threading.Event()

    def progress(p):
        if (p.kind, p.epoch, p.batch) == ("batch", 2, 4):  # mid-epoch
            if how == "ctrl-c":
                raise KeyboardInterrupt
            stop.set()

    first = train(
        resume_config(),
        x_train,
        x_test,
        out_dir=tmp_path,
        progress=progress,
        should_stop=stop.is_set,
    )
    assert first.cancelled and first.epochs_done == 1
    resumed = train(resume_config(), x_train, x_test, out_dir=tmp_path, resume=True)
    assert resumed.epochs_done == 3 and not resumed.cancelled
    assert_same_run(resumed, straight)
