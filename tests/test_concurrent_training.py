"""Two trainings started at the same moment: one runs, one is refused, viewers are untouched.

Checked at the job manager, at one run folder below it, and with two Train page sessions
while a third session views the Manifold page.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from helpers import weights_of
from job_fixtures import Gate, blobs, wait_until
from job_fixtures import config as job_config
from page_sandbox import (
    TIMEOUT,
    active_model,  # noqa: F401 (fixture)
    button,
    errors_of,
    number,
    open_train_page,
    runs_folder,  # noqa: F401 (fixture)
    tiny_mnist,  # noqa: F401 (fixture)
)

from tests.app_pages import MediaRecorder, open_page, page_images
from ui import state
from vae.checkpoint import load_checkpoint
from vae.errors import CheckpointError
from vae.jobs import JobManager, TrainingBusyError
from vae.train import train

pytestmark = pytest.mark.slow  # threads that train, and Train page sessions


def _join_all(threads: list[threading.Thread], what: str) -> None:
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), f"waited {TIMEOUT} s for {what} to finish"


def _start_together(jobs: JobManager, config) -> dict[str, object]:
    """Two sessions call ``jobs.start`` at the same moment: owner -> job or the refusal."""
    barrier, results = threading.Barrier(2, timeout=TIMEOUT), {}

    def start(owner):
        barrier.wait()
        try:
            results[owner] = jobs.start(config, owner=owner)
        except TrainingBusyError as exc:
            results[owner] = exc

    threads = [threading.Thread(target=start, args=(o,)) for o in ("alice", "bob")]
    for t in threads:
        t.start()
    _join_all(threads, "both JobManager.start calls")
    return results


def test_two_starts_at_the_same_moment_run_one_and_refuse_the_other(tmp_path):
    gates: list[Gate] = []
    jobs = JobManager(tmp_path / "runs", lambda c: gates[-1](c), iw_samples=4, grid_size=8)
    for round_ in range(10):
        gates.append(Gate(blobs()))
        results = _start_together(jobs, job_config(seed=round_))
        started = [r for r in results.values() if not isinstance(r, Exception)]
        refused = [r for r in results.values() if isinstance(r, TrainingBusyError)]
        assert len(started) == 1 and len(refused) == 1, results
        assert "already running" in str(refused[0])
        job = started[0]
        if round_ < 9:  # stop before training; the last round trains for real
            job.cancel()
        gates[-1].opened.set()
        assert job.join(TIMEOUT), f"waited {TIMEOUT} s for round {round_}'s job to end"
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [job.snapshot().out_dir.name]
    assert load_checkpoint(job.snapshot().out_dir).epoch == 2

    # The same moment on one folder, below the job manager: the folder lock refuses one.
    x_train, x_test = blobs()
    barrier, outcome = threading.Barrier(2, timeout=TIMEOUT), []

    def direct():
        barrier.wait()
        try:
            train(job_config(), x_train, x_test, out_dir=tmp_path / "same")
            outcome.append("finished")
        except CheckpointError as exc:
            outcome.append(str(exc))

    threads = [threading.Thread(target=direct) for _ in range(2)]
    for t in threads:
        t.start()
    _join_all(threads, "both train() calls on one folder")
    assert len(outcome) == 2 and outcome.count("finished") == 1, outcome
    refusal = next(o for o in outcome if o != "finished")
    assert "being written by another training run" in refusal or "already holds a" in refusal
    assert load_checkpoint(tmp_path / "same").epoch == 2


def test_two_train_page_sessions_at_once_leave_the_viewer_untouched(
    runs, active, tiny_data, monkeypatch
):
    media = MediaRecorder(monkeypatch)
    viewer = open_page("manifold", active)
    pictures = {k: np.asarray(v) for k, v in page_images(viewer, media).items()}
    model = state.load(active).model
    weights = weights_of(model)
    z = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    decoded = model.decode_fn(z).numpy()

    sessions = [open_train_page() for _ in range(2)]
    for at in sessions:
        number(at, "Epochs").set_value(2)
        number(at, "Batch size").set_value(32)
    # Both sessions reach JobManager.start and go on from there at the same moment.
    barrier, real_start = threading.Barrier(2, timeout=TIMEOUT), JobManager.start

    def start_together(self, config, owner, **settings):
        barrier.wait()
        return real_start(self, config, owner, **settings)

    monkeypatch.setattr(JobManager, "start", start_together)
    threads = [
        threading.Thread(target=lambda at=at: button(at, "Start training").click().run())
        for at in sessions
    ]
    # AppTest loses a click when two page runs begin at once, so the second run begins
    # only once the first is waiting inside JobManager.start.
    threads[0].start()
    wait_until(lambda: barrier.n_waiting == 1, "the first session to reach JobManager.start")
    threads[1].start()
    _join_all(threads, "both Train page runs")
    monkeypatch.setattr(JobManager, "start", real_start)
    assert not any(at.exception for at in sessions)
    winners = [at for at in sessions if "train_job" in at.session_state]
    losers = [at for at in sessions if "train_job" not in at.session_state]
    assert len(winners) == 1 and len(losers) == 1
    assert errors_of(losers[0]).startswith("Not started: a training is already running")

    deadline = time.monotonic() + TIMEOUT
    while not any(b.label == "Use this model" for b in winners[0].button):
        assert time.monotonic() < deadline, (
            f"waited {TIMEOUT} s for the winning session to finish and offer 'Use this model'"
        )
        viewer.run()  # the viewer keeps working while the job trains
        assert not viewer.exception
        time.sleep(0.3)  # lets the training thread have the CPU between reruns
        winners[0].run()
    assert len(list(runs.iterdir())) == 1 and "Finished 2 epochs" in winners[0].success[0].value

    viewer.run()
    assert state.load(active).model is model
    for key, value in weights.items():
        np.testing.assert_array_equal(weights_of(model)[key], value, err_msg=key)
    np.testing.assert_array_equal(model.decode_fn(z).numpy(), decoded)
    after = {k: np.asarray(v) for k, v in page_images(viewer, media).items()}
    assert after.keys() == pictures.keys()
    assert all(np.array_equal(after[k], pictures[k]) for k in pictures)
