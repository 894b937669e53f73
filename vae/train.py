"""One ``train`` function for the CLI and the app.

It runs ``keras.Model.fit`` on the VAE (whose ``train_step`` calls the pure
losses), reports progress through a callback, saves a checkpoint atomically after
every finished epoch, can be cancelled between batches, resumes exactly, and
stops with a clear error at the first non-finite loss.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from vae import atomic, checkpoint, encoding_history, evaluate, precompute
from vae.config import STRATEGIES, VAEConfig
from vae.errors import CheckpointMismatchError, ConfigError, NonFiniteLossError
from vae.eta import RateMeter, eta_seconds
from vae.model import VAE, build_vae
from vae.run_folder import RunDirLock, check_run_folder


@dataclass
class Progress:
    """What the progress callback receives, after every batch and every epoch."""

    # "batch" after a batch, "test" when an epoch's test evaluation starts, "epoch" when the
    # epoch is saved, "finish" when the pages' figures of the finished run are computed.
    kind: str
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    loss: float  # running mean of -ELBO over this epoch's batches
    recon: float
    kl: float
    images_per_s: float  # 0 until measured: the first batch (tracing) is left out
    elapsed_s: float
    eta_s: float  # training left, with the per-epoch test evaluations; inf until measured
    history: list[dict[str, Any]] = field(default_factory=list)  # finished epochs

    @property
    def measured(self) -> bool:
        """Whether the rate and the ETA are known yet."""
        return math.isfinite(self.eta_s)

    @property
    def fraction(self) -> float:
        done = (self.epoch - 1) * self.batches + self.batch
        return min(1.0, done / max(1, self.epochs * self.batches))


@dataclass
class TrainResult:
    model: VAE
    history: list[dict[str, Any]]
    out_dir: Path | None
    seconds: float  # wall time of the training loop, test evaluation excluded
    images_per_s: float
    epochs_done: int
    cancelled: bool = False
    replicas: int = 1
    first_epoch: int = 0  # epochs already saved when the run began; more only if it trained
    precompute_seconds: float = 0.0  # storing the pages' figures after the last epoch

    @property
    def epochs_trained(self) -> int:
        return self.epochs_done - self.first_epoch


def make_strategy(name: str) -> tf.distribute.Strategy:
    """ "default" is the one-device strategy; "mirrored" copies the model to every device."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    raise ConfigError(f"strategy {name!r} is not one of {', '.join(STRATEGIES)}.")


def learning_rate(config: VAEConfig, steps_per_epoch: int):
    """The optimizer's learning rate: a constant, or a schedule of the step count."""
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.01
        )
    return config.learning_rate


def compiled_vae(config: VAEConfig, n_train: int) -> VAE:
    """A fresh, seeded model with its Adam optimizer built, for ``n_train`` training images."""
    model = build_vae(config)
    steps = n_train // min(config.batch_size, n_train)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(config, steps)))
    model.optimizer.build(model.trainable_variables)
    return model


def make_train_dataset(
    x: np.ndarray, batch_size: int, seed: int, first_epoch: int, last_epoch: int
) -> tuple[tf.data.Dataset, int]:
    """Batches for epochs [first_epoch, last_epoch), and the batches per epoch.

    Each epoch's order is a stateless shuffle keyed by (seed, epoch), so a resumed
    run sees exactly the batches the uninterrupted run would have seen. The images
    stay in one in-memory tensor; a batch is a gather, prefetched in parallel so
    the training step never waits on data.
    """
    n = len(x)
    batch_size = min(batch_size, n)
    x_all = tf.constant(x)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    ds = tf.data.Dataset.range(first_epoch, last_epoch).flat_map(epoch_batches)
    ds = ds.map(lambda idx: tf.gather(x_all, idx), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE), n // batch_size


class _Loop(keras.callbacks.Callback):
    """Progress, cancellation, NaN stop, per-epoch test terms and checkpoints."""

    def __init__(self, run: _Run):
        super().__init__()
        self.run = run

    def on_epoch_begin(self, epoch, logs=None):
        self.run.begin_epoch(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.run.end_batch(batch, logs or {})
        if self.run.stop_reason:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.run.end_epoch(epoch, logs or {})


class _Run:
    """The state of one training run, kept out of the Keras callback for clarity."""

    def __init__(
        self, model, config, x_test, out_dir, history, batches, start_epoch, progress, should_stop
    ):
        self.model = model
        self.config = config
        self.x_test = x_test
        self.out_dir = out_dir
        self.history = history
        self.batches = batches
        self.start_epoch = start_epoch
        self.progress = progress
        self.should_stop = should_stop
        self.stop_reason: str | None = None
        self.bad_step: tuple[int, int] | None = None
        self.epochs_done = start_epoch
        self.train_seconds = 0.0
        self.images = 0
        self.last_good = checkpoint.model_tensors(model)
        self.epoch_start = 0.0
        self.batches_done = 0
        self.meter = RateMeter()
        self.batches_trained = 0  # in this run, over all its epochs
        self.test_seconds: float | None = None  # the last per-epoch test evaluation

    def begin_epoch(self, epoch: int) -> None:
        self.epoch_start = time.perf_counter()
        self.batches_done = 0

    def end_batch(self, batch: int, logs: dict) -> None:
        self.batches_done = batch + 1
        self.batches_trained += 1
        self.meter.batch_done(self._clock(), self.batches_trained)
        values = {k: float(np.asarray(logs[k])) for k in ("loss", "recon", "kl") if k in logs}
        if not all(math.isfinite(v) for v in values.values()):
            self.stop_reason = "nan"
            self.bad_step = (self.epochs_done + 1, batch + 1)
            return
        if self.should_stop is not None and self.should_stop():
            self.stop_reason = "cancelled"
        if self.progress is not None:
            self.progress(self._progress("batch", values))

    def _clock(self) -> float:
        """Seconds of training so far in this run, test evaluations left out."""
        return self.train_seconds + (time.perf_counter() - self.epoch_start)

    def _progress(self, kind: str, values: dict) -> Progress:
        elapsed = self._clock() if kind == "batch" else self.train_seconds
        per_batch = self.meter.seconds_per_batch
        rate = self.config.batch_size / per_batch if per_batch else 0.0
        in_epoch = self.batches_done if kind == "batch" else 0
        remaining = (self.config.epochs - self.epochs_done) * self.batches - in_epoch
        tests_left = self.config.epochs - self.epochs_done + (kind == "test")
        tests_left = tests_left if len(self.x_test) else 0
        return Progress(
            kind=kind,
            epoch=self.epochs_done + 1 if kind == "batch" else self.epochs_done,
            epochs=self.config.epochs,
            batch=self.batches_done if kind == "batch" else self.batches,
            batches=self.batches,
            loss=values.get("loss", float("nan")),
            recon=values.get("recon", float("nan")),
            kl=values.get("kl", float("nan")),
            images_per_s=rate,
            elapsed_s=elapsed,
            eta_s=eta_seconds(
                remaining,
                per_batch,
                tests_left,
                self.test_seconds,
                test_images=len(self.x_test),
                batch_size=self.config.batch_size,
            ),
            history=list(self.history),
        )

    def end_epoch(self, epoch: int, logs: dict) -> None:
        seconds = time.perf_counter() - self.epoch_start
        if self.stop_reason or self.batches_done < self.batches:
            return  # an unfinished epoch is never recorded or saved
        self.train_seconds += seconds
        self.images += self.batches * self.config.batch_size
        self.epochs_done = epoch + 1
        train_terms = {k: float(np.asarray(logs[k])) for k in ("loss", "recon", "kl")}
        if self.progress is not None and len(self.x_test):
            self.progress(self._progress("test", train_terms))
        test_start = time.perf_counter()
        test_terms = evaluate.elbo_summary(self.model, self.x_test) if len(self.x_test) else {}
        self.test_seconds = time.perf_counter() - test_start
        record = {
            "epoch": self.epochs_done,
            "train": {
                "neg_elbo": train_terms["loss"],
                "recon": train_terms["recon"],
                "kl": train_terms["kl"],
            },
            "test": test_terms,
            "seconds": round(seconds, 3),
            "images_per_s": round(self.batches * self.config.batch_size / seconds, 1),
        }
        if not all(math.isfinite(v) for v in [*train_terms.values(), *test_terms.values()]):
            self.stop_reason = "nan"
            self.bad_step = (self.epochs_done, self.batches)
            self.model.stop_training = True
            return
        self.history.append(record)
        self.last_good = checkpoint.model_tensors(self.model)
        if self.out_dir is not None:
            checkpoint.save_checkpoint(
                self.out_dir, self.model, epoch=self.epochs_done, history=self.history
            )
            if len(self.x_test):
                self._record_codes()
        if self.progress is not None:
            self.progress(self._progress("epoch", {**train_terms}))

    def _record_codes(self) -> None:
        """This epoch's codes of the followed test images, for the pages' playback."""
        n_test = len(self.x_test)
        z_mean, z_log_var = evaluate.encode(
            self.model, self.x_test[encoding_history.indices(n_test)]
        )
        encoding_history.record(self.out_dir, self.epochs_done, z_mean, z_log_var, n_test)

    def restore_last_good(self) -> None:
        for v in self.model.weights:
            v.assign(self.last_good[v.path])


def train(
    config: VAEConfig,
    x_train: np.ndarray,
    x_test: np.ndarray,
    *,
    out_dir: str | os.PathLike | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
    strategy: str = "default",
) -> TrainResult:
    """Train a VAE on model inputs ``x_train`` [N, H, W, C] and report on ``x_test``.

    Saves to ``out_dir`` after every finished epoch. With ``resume`` it continues
    the checkpoint there, which must exist (the same seed gives the same weights as
    an uninterrupted run). ``should_stop`` is polled after every batch; a stop, or
    a KeyboardInterrupt, keeps the last finished epoch. Raises NonFiniteLossError at
    the first NaN or Inf.
    """
    config.validate()
    if x_train.ndim != 4 or tuple(x_train.shape[1:]) != tuple(config.image_shape):
        raise ConfigError(
            f"training images have shape {x_train.shape[1:]}; "
            f"the config expects {config.image_shape}."
        )
    if len(x_train) == 0:
        raise ConfigError("there are no training images.")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and resume:
        check_run_folder(out, resume=True)  # before the lock, which would create the folder
    with RunDirLock(out) if out is not None else contextlib.nullcontext():
        return _train_locked(config, x_train, x_test, out, progress, should_stop, resume, strategy)


def _train_locked(
    config, x_train, x_test, out, progress, should_stop, resume, strategy_name
) -> TrainResult:
    history: list[dict[str, Any]] = []
    start_epoch = 0
    saved = None
    if out is not None:
        atomic.clean_temporaries(out)
        check_run_folder(out, resume=resume)  # again, now that the folder is ours
        if resume:
            saved = checkpoint.load_checkpoint(out)
            if saved.config.architecture != config.architecture or any(
                getattr(saved.config, f) != getattr(config, f)
                for f in (
                    "decoder",
                    "estimator",
                    "n_samples",
                    "beta",
                    "dataset",
                    "seed",
                    "batch_size",
                )
            ):
                raise CheckpointMismatchError(
                    f"{out} was trained with a different config; resume with its own settings "
                    "(only epochs may change)."
                )
            history, start_epoch = saved.history, saved.epoch

    strategy = make_strategy(strategy_name)
    with strategy.scope():
        model = compiled_vae(config, len(x_train))
        if saved is not None:
            for v in model.weights:
                v.assign(checkpoint.model_tensors(saved.model)[v.path])
            checkpoint.load_optimizer_state(out, model)

    result = TrainResult(
        model,
        history,
        out,
        0.0,
        0.0,
        start_epoch,
        replicas=strategy.num_replicas_in_sync,
        first_epoch=start_epoch,
    )
    if start_epoch >= config.epochs:
        return result
    if out is not None and saved is None:
        checkpoint.save_checkpoint(out, model, epoch=0, history=[])  # config visible from the start

    ds, batches = make_train_dataset(
        x_train, config.batch_size, config.seed, start_epoch, config.epochs
    )
    run = _Run(model, config, x_test, out, history, batches, start_epoch, progress, should_stop)
    interrupted = False
    try:
        model.fit(
            ds,
            epochs=config.epochs,
            initial_epoch=start_epoch,
            steps_per_epoch=batches,
            callbacks=[_Loop(run)],
            shuffle=False,  # the dataset shuffles itself, keyed by (seed, epoch)
            verbose=0,
        )
    except KeyboardInterrupt:
        interrupted = True
    if run.stop_reason == "nan":
        run.restore_last_good()
        epoch, batch = run.bad_step
        where = (
            f"saved in {out} (epoch {run.epochs_done})"
            if out and run.epochs_done
            else "kept in memory"
        )
        raise NonFiniteLossError(
            f"the loss became NaN or Inf at epoch {epoch}, batch {batch}; training stopped. "
            f"The last good weights are {where}. Lower the learning rate (now "
            f"{config.learning_rate:g}) or beta and try again."
        )
    cancelled = interrupted or run.stop_reason == "cancelled"
    if cancelled:
        run.restore_last_good()
    result.history = history
    result.seconds = run.train_seconds
    result.images_per_s = run.images / run.train_seconds if run.train_seconds else 0.0
    result.epochs_done = run.epochs_done
    result.cancelled = cancelled
    if out is not None and not cancelled:
        if progress is not None:
            progress(run._progress("finish", {}))
        finish_start = time.perf_counter()
        # The pages' figures of the finished weights, so the app opens them at once.
        precompute.write(out, model, x_test)
        result.precompute_seconds = time.perf_counter() - finish_start
    return result
