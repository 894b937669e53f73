"""The training ETA: the first batch (tracing) is left out; unknown until measured."""

from __future__ import annotations

import math

import pytest

from vae.eta import FORWARD_SHARE, RateMeter, eta_seconds


def test_the_first_batch_is_left_out_of_the_rate():
    meter = RateMeter()
    assert meter.seconds_per_batch is None
    meter.batch_done(clock=30.0, batches=1)  # tracing: as long as hundreds of batches
    assert meter.seconds_per_batch is None  # one batch gives no rate
    meter.batch_done(clock=30.1, batches=2)
    meter.batch_done(clock=30.5, batches=6)
    assert meter.seconds_per_batch == pytest.approx(0.1)  # (30.5 - 30.0) / 5, not 30.5 / 6


def test_a_2_5_minute_run_is_predicted_as_such_after_a_slow_first_batch():
    # 469 batches of 0.3 s = 2.3 min after a 20 s first batch: counting that batch in
    # the rate predicted about 33 minutes.
    meter = RateMeter()
    meter.batch_done(clock=20.0, batches=1)
    meter.batch_done(clock=20.3, batches=2)
    eta = eta_seconds(467, meter.seconds_per_batch, 0, None)
    assert eta == pytest.approx(467 * 0.3)
    assert 20.3 / 2 * 467 > 30 * 60  # what the old rate (all batches) would have said


def test_eta_is_unknown_until_there_is_a_rate():
    assert math.isinf(eta_seconds(100, None, 3, 2.0))


def test_eta_adds_the_test_evaluations_left_measured_or_estimated():
    assert eta_seconds(10, 0.5, 2, 3.0) == pytest.approx(10 * 0.5 + 2 * 3.0)
    # Not timed yet: the test images' forward passes at a third of a training step each.
    estimate = eta_seconds(10, 0.5, 2, None, test_images=1000, batch_size=100)
    assert estimate == pytest.approx(10 * 0.5 + 2 * 1000 * FORWARD_SHARE * 0.5 / 100)
    assert eta_seconds(-3, 0.5, -1, 3.0) == 0.0  # never negative
