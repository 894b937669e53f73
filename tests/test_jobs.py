"""JobManager: training runs in the background, one at a time, each in its own folder."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from job_fixtures import TIMEOUT, Gate, blobs, config, manager, wait_until

from vae import checkpoint
from vae.jobs import CANCELLED, FAILED, FINISHED, TrainingBusyError


def test_job_trains_in_the_background_and_saves_checkpoint_and_metrics(tmp_path):
    jobs = manager(tmp_path, eval_images=20)
    job = jobs.start(config(), owner="session-a")
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == FINISHED, snap.error
    assert snap.epochs_done == 2 and [h["epoch"] for h in snap.history] == [1, 2]
    assert snap.progress.kind == "finish" and snap.progress.epoch == 2
    assert snap.out_dir.parent == tmp_path / "runs"
    assert (
        snap.out_dir.name.endswith(tuple("0123456789abcdef")) and "-mnist-j2-" in snap.out_dir.name
    )
    ckpt = checkpoint.load_checkpoint(snap.out_dir)
    assert ckpt.epoch == 2 and len(ckpt.history) == 2
    # The final evaluation ran and was written beside the weights.
    saved = json.loads((snap.out_dir / checkpoint.METRICS_FILE).read_text())
    assert saved == ckpt.metrics == snap.metrics
    # -ELBO on all 32 test images; log p(x) on a subset of 20, as asked, with its error.
    assert saved["n_images"] == 32 and saved["iw_samples"] == 4
    assert saved["log_px_images"] == saved["iw_images"] == 20
    assert np.isfinite(saved["log_px"]) and saved["log_px_se"] > 0.0
    assert snap.evaluation is None and not snap.eval_skipped
    assert not (snap.out_dir / ".lock").exists()  # the RunDirLock was released
    assert snap.usable


def test_start_returns_at_once_while_the_job_loads_and_trains(tmp_path):
    gate = Gate(blobs())
    jobs = manager(tmp_path, gate)
    job = jobs.start(config(), owner="session-a")
    # The loader blocks until the gate opens, so a start that waited would find the job ended.
    assert job.alive  # the caller (a page) never waits for training
    assert gate.entered.wait(TIMEOUT), "the job thread never called the loader"
    assert job.snapshot().running and job.snapshot().phase == "loading the data"
    gate.opened.set()
    assert job.join(TIMEOUT) and job.snapshot().status == FINISHED


def test_second_start_while_one_runs_is_refused_naming_the_first(tmp_path):
    gate = Gate(blobs())
    jobs = manager(tmp_path, gate)
    first = jobs.start(config(), owner="alice-session")
    assert gate.entered.wait(TIMEOUT)
    with pytest.raises(TrainingBusyError) as err:
        jobs.start(config(seed=1), owner="bob-session")
    message = str(err.value)
    assert "already running" in message and "alice-se" in message
    assert time.strftime("%H:%M", time.localtime(first.snapshot().started_at)) in message
    assert jobs.running() is first
    gate.opened.set()
    assert first.join(TIMEOUT)
    # Once it has ended, the next start is accepted and gets its own folder.
    second = jobs.start(config(seed=1), owner="bob-session")
    assert second.join(TIMEOUT) and second.snapshot().status == FINISHED
    dirs = {first.snapshot().out_dir, second.snapshot().out_dir}
    assert len(dirs) == 2 and all(checkpoint.load_checkpoint(d).epoch == 2 for d in dirs)


def test_cancel_keeps_the_last_finished_epoch(tmp_path):
    jobs = manager(tmp_path)
    job = jobs.start(config(epochs=50), owner="a")
    wait_until(lambda: job.snapshot().epochs_done >= 1, "the first finished epoch")
    job.cancel()
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == CANCELLED and snap.error is None
    assert snap.epochs_done >= 1 and snap.epochs_done < 50
    ckpt = checkpoint.load_checkpoint(snap.out_dir)
    assert ckpt.epoch == snap.epochs_done and len(ckpt.history) == snap.epochs_done
    assert snap.usable


def test_cancel_before_the_first_epoch_leaves_no_folder(tmp_path):
    gate = Gate(blobs())
    jobs = manager(tmp_path, gate)
    job = jobs.start(config(), owner="a")
    assert gate.entered.wait(TIMEOUT)
    job.cancel()
    gate.opened.set()
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == CANCELLED and not snap.usable
    assert not snap.out_dir.exists()


def test_nan_data_is_reported_as_failed_with_the_message(tmp_path):
    x_train, x_test = blobs()
    x_train = x_train.copy()
    x_train[:] = np.nan
    jobs = manager(tmp_path, lambda c: (x_train, x_test))
    job = jobs.start(config(), owner="a")
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == FAILED
    assert "NaN or Inf" in snap.error and "learning rate" in snap.error
    assert not snap.usable and not snap.out_dir.exists()  # nothing trained, nothing kept
    assert jobs.running() is None  # a failed job does not block the next one


def test_a_loader_error_is_reported_as_failed(tmp_path):
    def broken(config):
        raise RuntimeError("disk on fire")

    job = manager(tmp_path, broken).start(config(), owner="a")
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == FAILED and snap.error == "RuntimeError: disk on fire"


def test_full_evaluation_on_request_uses_every_test_image(tmp_path):
    jobs = manager(tmp_path, eval_images=20)
    job = jobs.start(config(epochs=1), owner="session-a", full_eval=True)
    assert job.join(TIMEOUT)
    metrics = job.snapshot().metrics
    assert metrics["log_px_images"] == metrics["iw_images"] == 32
    assert metrics["log_px_se"] == metrics["iw_log_px_se"] == 0.0


def test_skipping_the_evaluation_keeps_the_trained_checkpoint(tmp_path):
    gate = Gate(blobs())
    jobs = manager(tmp_path, gate)
    job = jobs.start(config(), owner="session-a")
    job.skip_evaluation()  # asked while loading: training runs on, log p(x) is skipped
    gate.opened.set()
    assert job.join(TIMEOUT)
    snap = job.snapshot()
    assert snap.status == FINISHED and snap.eval_skipped and snap.metrics is None
    assert snap.epochs_done == 2 and snap.usable
    assert checkpoint.load_checkpoint(snap.out_dir).epoch == 2
    assert not (snap.out_dir / checkpoint.METRICS_FILE).exists()
