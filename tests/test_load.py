"""Issue case 11, many viewers: ten headless Chromiums drag on Explore and switch pages on
one server for a minute (bench/load_test.py); about 2.5 minutes.

The thresholds come from the runs in bench/README.md ("load_test.py").
"""

from __future__ import annotations

import json
import sys

import pytest
from browser import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from load_test import run  # noqa: E402

pytestmark = pytest.mark.browser

SESSIONS = 10
RSS_LIMIT_MB = 2048  # the "under 2 GB"
IDLE_SLACK_MS = 100  # drags may cost this much server CPU over idle, in 15 s
PAGE_FACTOR = 3.0  # probe's page time under load vs alone (measured: at most 1.8x)
PAGE_SLACK_MS = 200  # plus this, for a 100 ms page on a shared 2-core machine


@pytest.fixture(scope="module")
def result() -> dict:
    r = run(sessions=SESSIONS, seconds=60)
    print(json.dumps(r))
    return r


def test_no_errors(result):
    assert result["errors"] == []
    assert result["page_switches_min"] >= 2, "a crowd session never left Explore and came back"


def test_server_memory_stays_under_2_gb(result):
    assert result["server_rss_max_mb"] < RSS_LIMIT_MB


def test_the_server_does_no_work_per_pointer_move(result):
    # The drags cost what idling costs (measured: 40-80 ms against 60-90 ms idle). With
    # at least 600 moves (measured: 1,200-2,100, fewer when others use the machine), a
    # server cost of 0.17 ms a move, under 1 % of a rerun, would already break this.
    assert result["moves"] >= 600
    assert result["server_cpu_ms_drag"] <= result["server_cpu_ms_idle"] + IDLE_SLACK_MS
    # ...and far less than a rerun per move: a move costs under 1 % of a release's rerun
    # (measured: 0.03-0.05 ms a move, idle included, against 21-26 ms a rerun).
    per_move = result["server_cpu_ms_per_1000_moves"] / 1000
    assert per_move < 0.01 * result["server_cpu_ms_per_release"]


@pytest.mark.parametrize(
    "page",
    ["drag_pad", "model", "train", "latent_map", "manifold", "samples", "digit", "estimators"],
)
def test_every_page_answers_in_its_usual_time(result, page):
    p = result["pages"][page]
    assert p["n"] >= 2, f"the probe visited {page} {p['n']} times under load"
    limit = PAGE_FACTOR * p["baseline_ms_p50"] + PAGE_SLACK_MS
    assert p["load_ms_p50"] <= limit, p
