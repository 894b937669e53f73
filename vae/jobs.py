"""Background training for the app: one job at a time per server, each in its own folder.

A ``JobManager`` is created once per server process and shared by every browser
session. ``start`` runs ``vae.train.train`` in a daemon thread, so the sessions'
script threads never wait on it; a second start while a job runs is refused with a
``TrainingBusyError`` that says who started the running job and when. Every job
writes to a fresh ``<runs>/<timestamp>-<dataset>-j<J>-<shortid>/`` folder, locked
by ``vae.run_folder.RunDirLock``. Sessions read a job through ``snapshot()``, an immutable
copy taken under a lock, and stop it with ``cancel()``, which train polls after
every batch and which keeps the last finished epoch.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vae import checkpoint, eval_budget
from vae.config import VAEConfig
from vae.errors import VAEError

log = logging.getLogger(__name__)

# Final evaluation after training: eval_budget.AFTER_TRAINING's budget (seconds, log p(x) on
# a subset with its standard error), or eval_budget.FULL's when the form asks for it.
# metrics.json records how many images each estimate used.
KEEP_JOBS = 20  # finished jobs remembered so their sessions can still show the result

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"

DataLoader = Callable[[VAEConfig], tuple[np.ndarray, np.ndarray]]


class TrainingBusyError(VAEError):
    """A training job is already running on this server; only one runs at a time."""


def load_model_inputs(config: VAEConfig) -> tuple[np.ndarray, np.ndarray]:
    """(x_train, x_test) of ``config.dataset`` as the model sees them [N, 28, 28, 1]."""
    from vae.data import load_dataset, to_model_input

    ds = load_dataset(config.dataset)
    return to_model_input(ds.x_train, config.decoder), to_model_input(ds.x_test, config.decoder)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of one job's state, safe to read from any thread."""

    job_id: str
    owner: str  # an opaque id of the session that started the job
    started_at: float  # time.time()
    config: VAEConfig
    out_dir: Path
    status: str  # running, finished, cancelled or failed
    phase: str  # what the job is doing now, in words
    progress: Any  # the latest vae.train.Progress, or None before the first batch
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    metrics: dict[str, Any] | None = None
    ended_at: float | None = None
    evaluation: tuple[str, float] | None = None  # (what, fraction done) while evaluating
    eval_skipped: bool = False  # log p(x) was skipped on request; the checkpoint is complete

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def usable(self) -> bool:
        """True when the folder holds a checkpoint with at least one finished epoch."""
        return not self.running and self.epochs_done > 0 and self.out_dir.is_dir()

    def describe(self) -> str:
        c = self.config
        started = time.strftime("%H:%M:%S", time.localtime(self.started_at))
        return (
            f"{c.dataset}, J = {c.latent_dim}, {c.epochs} epochs, started at {started} "
            f"by session {self.owner[:8]}"
        )


class _Cancelled(Exception):
    """Raised inside the job thread to leave the final evaluation early."""


class _EvalSkipped(Exception):
    """Raised inside the job thread when only the final evaluation is to be skipped."""


class TrainingJob:
    """One training run in a background thread; read it with ``snapshot()``."""

    def __init__(
        self,
        config: VAEConfig,
        out_dir: Path,
        owner: str,
        loader: DataLoader,
        eval_options: dict[str, Any],
        strategy: str = "default",
    ):
        self.job_id = uuid.uuid4().hex[:8]
        self._config = config
        self._out_dir = out_dir
        self._owner = owner
        self._loader = loader
        self._eval_options = eval_options
        self._strategy = strategy
        self._started_at = time.time()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._skip_eval = threading.Event()
        self._state: dict[str, Any] = {
            "status": RUNNING,
            "phase": "loading the data",
            "progress": None,
            "history": [],
            "error": None,
            "metrics": None,
            "ended_at": None,
            "evaluation": None,
            "eval_skipped": False,
        }
        self._thread = threading.Thread(target=self._run, name=f"train-{self.job_id}", daemon=True)

    # --- what sessions call ---
    def snapshot(self) -> JobSnapshot:
        with self._lock:
            # The state's keys are JobSnapshot's fields; the history list is copied.
            s = {**self._state, "history": list(self._state["history"])}
        return JobSnapshot(
            self.job_id, self._owner, self._started_at, self._config, self._out_dir, **s
        )

    def cancel(self) -> None:
        """Ask the job to stop after the current batch; the last finished epoch is kept."""
        self._cancel.set()
        self._update(phase="cancelling after this batch")

    def skip_evaluation(self) -> None:
        """Stop the final log p(x) evaluation only; the trained checkpoint is kept as it is."""
        self._skip_eval.set()
        self._update(phase="skipping the evaluation")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True if it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the thread ---
    def start(self) -> None:
        self._thread.start()

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._state.update(changes)

    def _on_progress(self, p) -> None:
        changes: dict[str, Any] = {"progress": p, "history": p.history}
        if not self._cancel.is_set():
            changes["phase"] = {
                "test": f"training: test −ELBO of epoch {p.epoch}",
                "finish": "storing the pages' figures of the finished model",
            }.get(p.kind, f"training: epoch {p.epoch} of {p.epochs}")
        self._update(**changes)

    def _run(self) -> None:
        from vae.train import train

        status, error = FINISHED, None
        try:
            x_train, x_test = self._loader(self._config)
            if self._cancel.is_set():
                raise _Cancelled
            self._update(phase="training: building the model")
            result = train(
                self._config,
                x_train,
                x_test,
                out_dir=self._out_dir,
                progress=self._on_progress,
                should_stop=self._cancel.is_set,
                strategy=self._strategy,
            )
            self._update(history=list(result.history))
            if result.cancelled:
                status = CANCELLED
            if result.epochs_done > 0 and not self._cancel.is_set():
                self._evaluate(result.model, x_test, result.history[-1]["test"])
        except _Cancelled:
            status = CANCELLED
        except VAEError as exc:
            status, error = FAILED, str(exc)
        except Exception as exc:  # the thread must report every failure, never die silently
            log.exception("training job %s failed", self.job_id)
            status, error = FAILED, f"{type(exc).__name__}: {exc}"
        self._discard_if_untrained()
        self._update(
            status=status,
            phase={FINISHED: "done", CANCELLED: "cancelled", FAILED: "failed"}[status],
            error=error,
            ended_at=time.time(),
        )

    def _evaluate(self, model, x_test, last_test: dict | None) -> None:
        self._update(phase="evaluating log p(x)", evaluation=("starting", 0.0))
        try:
            from vae import evaluate  # TensorFlow: imported by the job, not the page

            metrics = evaluate.evaluate(
                model,
                x_test,
                progress=self._eval_progress,
                elbo=last_test or None,  # the last epoch's test terms, same noise
                **self._eval_options,
            )
        except _EvalSkipped:
            self._update(eval_skipped=True, evaluation=None)
            return
        checkpoint.save_metrics(self._out_dir, metrics)
        self._update(metrics=metrics, evaluation=None)

    def _eval_progress(self, what: str, fraction: float) -> None:
        if self._cancel.is_set():
            raise _Cancelled  # the checkpoint is complete; only metrics.json is skipped
        if self._skip_eval.is_set():
            raise _EvalSkipped
        self._update(phase=f"evaluating: {what}", evaluation=(what, fraction))

    def _discard_if_untrained(self) -> None:
        """A run stopped before its first epoch holds only random weights: remove it."""
        with self._lock:
            trained = bool(self._state["history"])
        if not trained and self._out_dir.is_dir():
            shutil.rmtree(self._out_dir, ignore_errors=True)


class JobManager:
    """Starts training jobs one at a time and remembers recent ones.

    ``loader`` turns a config into (x_train, x_test) model inputs inside the job
    thread; tests pass a function that returns tiny arrays.
    """

    def __init__(
        self,
        runs_dir: str | os.PathLike,
        loader: DataLoader = load_model_inputs,
        *,
        iw_samples: int | None = None,
        grid_size: int | None = None,
        eval_images: int | None = None,
    ):
        """``iw_samples``, ``grid_size`` and ``eval_images`` override the budgets' own."""
        self.runs_dir = Path(runs_dir)
        self._loader = loader
        k, g, n = iw_samples, grid_size, eval_images
        self._budgets = {
            False: eval_budget.AFTER_TRAINING.with_overrides(
                iw_samples=k, grid_size=g, grid_images=n, iw_images=n
            ),
            True: eval_budget.FULL.with_overrides(iw_samples=k, grid_size=g),
        }
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}

    def start(
        self, config: VAEConfig, owner: str, *, full_eval: bool = False, strategy: str = "default"
    ) -> TrainingJob:
        """Start training ``config`` in the background; refuses while another job runs.

        ``full_eval`` measures log p(x) on every test image afterwards (minutes), not on
        the quick subset; ``strategy`` is vae.train's distribution strategy.
        """
        config.validate()
        with self._lock:
            running = self._running()
            if running is not None:
                snap = running.snapshot()
                where = ""
                if snap.progress is not None:
                    where = f", now at epoch {snap.progress.epoch} of {snap.progress.epochs}"
                raise TrainingBusyError(
                    f"a training is already running ({snap.describe()}{where}). This server "
                    "trains one model at a time: wait for it to finish, or cancel it."
                )
            job = TrainingJob(
                config,
                self._new_run_dir(config),
                owner,
                self._loader,
                eval_budget.budget_options(self._budgets[full_eval]),
                strategy,
            )
            self._jobs[job.job_id] = job
            self._forget_old()
            job.start()
        return job

    def get(self, job_id: str | None) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def running(self) -> TrainingJob | None:
        with self._lock:
            return self._running()

    def _running(self) -> TrainingJob | None:
        return next((j for j in self._jobs.values() if j.alive), None)

    def _new_run_dir(self, config: VAEConfig) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        # The short id keeps two servers (or two quick starts) apart within one second.
        name = f"{stamp}-{config.dataset.replace('_', '-')}-j{config.latent_dim}"
        return self.runs_dir / f"{name}-{uuid.uuid4().hex[:6]}"

    def _forget_old(self) -> None:
        done = [k for k, j in self._jobs.items() if not j.alive]
        for k in done[: max(0, len(done) - KEEP_JOBS)]:
            del self._jobs[k]
