"""How long a training has left: a rate that leaves out the first batch, and the ETA.

The first batch of a run traces and compiles the training step, which takes as long
as hundreds of later batches; a rate that counts it predicts a 2.5-minute run to take
half an hour. Until a second batch has been timed there is no rate, and the caller
says so ("measuring…") instead of guessing.
"""

from __future__ import annotations

import math

# A test-set evaluation runs the forward pass only, about a third of a training step's
# work per image; the estimate of its time until the first one has been timed.
FORWARD_SHARE = 1.0 / 3.0


class RateMeter:
    """Seconds per training batch, measured after the run's first batch."""

    def __init__(self) -> None:
        self._first: tuple[float, int] | None = None  # (training clock, batches) after batch 1
        self._last: tuple[float, int] | None = None

    def batch_done(self, clock: float, batches: int) -> None:
        """Record the training clock (s) and the batches this run has trained so far."""
        if self._first is None:
            self._first = (clock, batches)
        self._last = (clock, batches)

    @property
    def seconds_per_batch(self) -> float | None:
        """None until a batch after the first has been timed."""
        if self._first is None or self._last is None or self._last[1] <= self._first[1]:
            return None
        seconds = self._last[0] - self._first[0]
        return max(seconds, 0.0) / (self._last[1] - self._first[1])


def eta_seconds(
    batches_left: int,
    seconds_per_batch: float | None,
    tests_left: int,
    seconds_per_test: float | None,
    test_images: int = 0,
    batch_size: int = 1,
) -> float:
    """Seconds until training ends: the batches left and the per-epoch test evaluations left.

    inf while no rate is known. An evaluation not timed yet is estimated from the
    training rate: ``test_images`` forward passes at FORWARD_SHARE of a training step.
    """
    if seconds_per_batch is None:
        return math.inf
    if seconds_per_test is None:
        seconds_per_test = test_images * FORWARD_SHARE * seconds_per_batch / max(1, batch_size)
    return max(0, batches_left) * seconds_per_batch + max(0, tests_left) * seconds_per_test
