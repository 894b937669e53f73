"""100 reruns of every page leave memory and traces flat.

Every page that ``app.py`` lists is opened with AppTest on a private copy of the shipped
model, rerun ``WARMUP`` times to fill its caches, then rerun 100 times more, measuring:

* the process's resident memory (VmRSS, after a full collection and ``malloc_trim``),
  at the start, half-way and at the end. Each reading is the lower of two consecutive
  reruns, since the previous run's output is still alive on every other one;
* the objects Python's collector tracks (dicts, lists, class instances...) and the
  memory blocks Python has allocated (``sys.getallocatedblocks``: every object, arrays'
  headers included). A leak of one tracked object, or of five objects of any kind, per
  rerun fails the test;
* how often the model's ``tf.function``s (encode, decode and every function
  ``vae.evaluate`` compiled for it) were traced, and how many there are.

RSS moves in steps of tens of MB either way as TensorFlow's and glibc's allocators
settle, so its bounds are loose: a leak of 1 MB per rerun fails the second-half bound.
Run with ``pytest -s`` to see the figures.
"""

from __future__ import annotations

import ctypes
import gc
import re
import sys
import time
from pathlib import Path

import pytest

from tests.app_pages import copy_default, open_page
from ui import state

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 30  # one-time lazy imports and cache fills settle within about 25 reruns
RERUNS = 100
HALF_BOUND_MB = 50.0  # RSS growth over the last 50 reruns of a page (noise: up to ±40 MB)
STEP_BOUND_MB = 200.0  # over all 100: allocator steps of up to ~150 MB were seen, then flat
BLOCKS_BOUND = 500  # Python memory blocks gained over 100 reruns (noise: -350 to +30)
OBJECTS_BOUND = 50  # tracked objects gained over 100 reruns (noise: +2)
_LIBC = ctypes.CDLL("libc.so.6")


def app_pages() -> list[str]:
    """The page files ``app.py`` lists, in its order (read from the file, so none is missed)."""
    return re.findall(r'st\.Page\(\s*"pages/(\w+)\.py"', (ROOT / "app.py").read_text())


def rss_mb() -> float:
    """Resident memory after a full collection, with freed heap handed back to the system.

    Without malloc_trim, glibc keeps freed memory in per-thread arenas (every rerun runs
    in a new thread), and RSS swings by hundreds of MB either way between two reruns.
    """
    gc.collect()
    _LIBC.malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def traces(model) -> dict[str, int]:
    """Times each tf.function of ``model`` was traced, by name."""
    functions = model.traced_functions
    return {name: fn.experimental_get_tracing_count() for name, fn in functions.items()}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return copy_default(tmp_path_factory.mktemp("flat"))


def test_every_page_is_listed():
    pages = app_pages()
    assert {"model", "train", "latent_map", "manifold", "samples", "digit", "estimators"} <= set(
        pages
    )
    assert all((ROOT / "pages" / f"{p}.py").is_file() for p in pages)


def measure(page: str, checkpoint: Path) -> dict:
    at = open_page(page, checkpoint)
    model = state.load(checkpoint).model  # the cached model every page uses
    readings = []
    for _ in range(WARMUP - 2):
        at.run()
    for _ in range(2):
        at.run()
        readings.append(rss_mb())
    start = {
        "rss": min(readings),
        "blocks": sys.getallocatedblocks(),
        "objects": len(gc.get_objects()),
        "traces": traces(model),
    }
    seconds, half, readings = 0.0, None, []
    for i in range(1, RERUNS + 1):
        t0 = time.perf_counter()
        at.run()
        seconds += time.perf_counter() - t0
        if i in (RERUNS // 2 - 1, RERUNS // 2, RERUNS - 1, RERUNS):
            readings.append(rss_mb())
        if i == RERUNS // 2:
            half = min(readings)
    assert not at.exception, (page, at.exception)
    return {
        "page": page,
        "rss": (start["rss"], half, min(readings[2:])),
        "blocks": (start["blocks"], sys.getallocatedblocks()),
        "objects": (start["objects"], len(gc.get_objects())),
        "traces": (start["traces"], traces(model)),
        "ms": seconds / RERUNS * 1000,
    }


@pytest.mark.slow
def test_reruns_keep_memory_and_traces_flat(checkpoint, monkeypatch, tmp_path):
    monkeypatch.setattr(state, "RUNS_DIR", tmp_path / "runs")  # the Model and Train pages list it
    first = rss_mb()
    rows = [measure(page, checkpoint) for page in app_pages()]

    print(f"\n{RERUNS} reruns of each page after {WARMUP} to warm up; RSS in MB:")
    print(f"{'page':<11} {'RSS start':>9} {'at 50':>7} {'at 100':>7} {'growth':>7} {'2nd half':>8} "
          f"{'blocks':>7} {'objects':>7} {'ms/rerun':>8}  tf.function traces")  # fmt: skip
    for r in rows:
        rss0, rss50, rss100 = r["rss"]
        (b0, b1), (o0, o1), (tr0, tr1) = r["blocks"], r["objects"], r["traces"]
        traced = ", ".join(f"{k} {tr0.get(k, 0)}->{v}" for k, v in sorted(tr1.items()))
        print(f"{r['page']:<11} {rss0:>9.1f} {rss50:>7.1f} {rss100:>7.1f} {rss100 - rss0:>+7.1f} "
              f"{rss100 - rss50:>+8.1f} {b1 - b0:>+7} {o1 - o0:>+7} {r['ms']:>8.1f}  "
              f"{traced}")  # fmt: skip
    print(f"whole test: RSS {first:.1f} -> {rss_mb():.1f} MB (opening every page included)")

    for r in rows:
        rss0, rss50, rss100 = r["rss"]
        (b0, b1), (obj0, obj1), (tr0, tr1) = r["blocks"], r["objects"], r["traces"]
        assert rss100 - rss50 < HALF_BOUND_MB, f"{r['page']}: RSS grew {rss100 - rss50:.1f} MB"
        assert rss100 - rss0 < STEP_BOUND_MB, f"{r['page']}: RSS grew {rss100 - rss0:.1f} MB"
        assert b1 - b0 < BLOCKS_BOUND, f"{r['page']}: {b1 - b0} more memory blocks"
        assert obj1 - obj0 < OBJECTS_BOUND, f"{r['page']}: {obj1 - obj0} more tracked objects"
        assert tr1 == tr0, f"{r['page']}: tf.functions retraced or multiplied"
