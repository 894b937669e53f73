"""Test -ELBO against the training clock for one benchmark variant, and when it stops."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from progress_log import log

from vae import evaluate
from vae.model import VAE


@dataclass
class Tracker:
    """Test -ELBO against the training clock for one variant, and when it stops.

    A training loop calls ``after_step`` after every step (or every execution of
    several steps) with the training clock, which must exclude ``eval_seconds``.
    """

    name: str
    model: VAE
    x_test: np.ndarray
    target: float
    cap_s: float
    eval_every: int
    warmup_steps: int
    curve: list[dict[str, float]] = field(default_factory=list)
    eval_seconds: float = 0.0
    stop: str | None = None  # "target" or "cap"
    seconds_to_target: float | None = None
    images_to_target: int | None = None
    warm: tuple[int, int, float] | None = None  # (step, images, train_s) at warm-up's end
    last: tuple[int, int, float] = (0, 0, 0.0)
    _next_eval: int = 0
    _last_report: float = 0.0

    def __post_init__(self) -> None:
        self._next_eval = self.eval_every

    def after_step(self, step: int, images: int, train_s: float) -> bool:
        """Record a finished step; evaluate when due. True once the variant should stop."""
        if self.stop:
            return True
        self.last = (step, images, train_s)
        if self.warm is None and step >= self.warmup_steps:
            self.warm = self.last
        if images >= self._next_eval:
            self._evaluate(images, train_s)
            while self._next_eval <= images:
                self._next_eval += self.eval_every
            if self.curve[-1]["neg_elbo"] <= self.target:
                self.stop = "target"
                self.seconds_to_target, self.images_to_target = train_s, images
        if not self.stop and train_s >= self.cap_s:
            if not self.curve or self.curve[-1]["images"] != images:
                self._evaluate(images, train_s)
            self.stop = "cap"
        elif time.perf_counter() - self._last_report > 10.0:
            self._last_report = time.perf_counter()
            log(f"  {self.name}: {images:>8} images, {train_s:6.1f} s, {self.rate():6.0f} img/s")
        return self.stop is not None

    def _evaluate(self, images: int, train_s: float) -> None:
        start = time.perf_counter()
        terms = evaluate.elbo_summary(self.model, self.x_test)
        self.eval_seconds += time.perf_counter() - start
        point = {"images": images, "train_s": round(train_s, 3)}
        self.curve.append({**point, "neg_elbo": round(terms["neg_elbo"], 3)})
        log(
            f"  {self.name}: test -ELBO {terms['neg_elbo']:7.2f} after {images / 60000:5.2f} "
            f"epochs, {train_s:6.1f} s of training"
        )

    def rate(self) -> float:
        """Images/s after the warm-up (all steps if the run ended within it)."""
        _, images0, t0 = self.warm if self.warm and self.warm != self.last else (0, 0, 0.0)
        _, images, t = self.last
        return (images - images0) / (t - t0) if t > t0 else 0.0

    def summary(self) -> dict[str, Any]:
        step, images, train_s = self.last
        return {
            "images_per_s": round(self.rate(), 1),
            "seconds_to_target": _round(self.seconds_to_target, 2),
            "epochs_to_target": _round(
                self.images_to_target / 60000 if self.images_to_target else None, 3
            ),
            "reached_target": self.stop == "target",
            "stop": self.stop or "ended",
            "train_seconds": round(train_s, 2),
            "images": images,
            "steps": step,
            "warmup_seconds": round(self.warm[2], 2) if self.warm else None,
            "eval_seconds": round(self.eval_seconds, 2),
            "final_neg_elbo": self.curve[-1]["neg_elbo"] if self.curve else None,
            "curve": self.curve,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
