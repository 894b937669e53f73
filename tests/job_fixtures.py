"""Tiny learnable data, tiny configs and a gated loader for tests that run training jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from deadline import DEADLINE_S
from helpers import tiny_config

from vae.jobs import JobManager

TIMEOUT = DEADLINE_S  # seconds a test waits for a job's thread or state before failing


def blobs(n_train: int = 96, n_test: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """8x8 binary images: two blocks of pixels with 10% noise, so there is something to learn."""
    rng = np.random.default_rng(0)
    x = np.zeros((n_train + n_test, 8, 8, 1), np.float32)
    x[::2, :4] = 1.0
    x[1::2, 4:] = 1.0
    x = np.where(rng.random(x.shape) < 0.1, 1.0 - x, x).astype(np.float32)
    return x[:n_train], x[n_train:]


def config(**changes):
    return tiny_config(**{"epochs": 2, "batch_size": 16, "learning_rate": 1e-2, **changes})


def manager(tmp_path, loader=None, **options) -> JobManager:
    loader = loader or (lambda c: blobs())
    return JobManager(tmp_path / "runs", loader, iw_samples=4, grid_size=8, **options)


class Gate:
    """A data loader that waits until the test opens it, so a job stays running on demand."""

    def __init__(self, data):
        self.data = data
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, config):
        self.entered.set()
        assert self.opened.wait(TIMEOUT), "the test never opened the gate"
        return self.data


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail after TIMEOUT naming ``what`` was awaited."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"waited {TIMEOUT} s for {what}"
        time.sleep(0.02)
