"""Stroke-to-update latency of the Your digit page's drawing pad in headless Chromium.

A Streamlit server runs the app; Chromium opens Your digit, chooses Draw and draws one
long stroke of ``--moves`` pointer moves (at least 200) as real input (CDP
``Input.dispatchMouseEvent``), waiting two animation frames after each, so every frame
answers one move. The page measures with ``performance.now()``
(``components/draw_pad/frontend/draw.js``, ``window.drawStats``):

- ``latency``: from the pointer event's timeStamp to the end of the frame that drew its
  update (prepared input, q(z|x) on the plane, the reconstruction), the wait for that
  animation frame included;
- ``update``: the update's own work (prepare + encode + decode + draw);
- ``prep``, ``encode``, ``decode``: its steps. ``decode`` is the reference, measured in
  the same run: the decoder-only time that the drag pad pays on every move.

Printed: p50/p95 of each, ``latency_over_decode`` and ``update_over_decode`` (ratios of
medians), and how much of the machine other processes took meanwhile.

    .venv/bin/python bench/draw_latency.py [--moves 200]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser import chrome, mouse, streamlit_server  # noqa: E402
from machine import cpu_share_or_none, machine, start_cpu_share  # noqa: E402
from test_browser_draw import DRAW, open_drawing, page_point  # noqa: E402

MIN_MOVES = 200
TWO_FRAMES = "requestAnimationFrame(() => requestAnimationFrame(arguments[0]));"
STATS = (
    "const s = window.drawStats; return {latency: s.latencies, update: s.updateMs,"
    " prep: s.prepMs, encode: s.encodeMs, decode: s.decodeMs, moves: window.drawState.updates};"
)


def _path(n: int) -> list[tuple[float, float]]:
    """A spiral inside the drawing area: every move adds ink, so every update is new work."""
    return [
        (0.5 + (0.1 + 0.3 * i / n) * math.cos(6 * math.pi * i / n),
         0.5 + (0.1 + 0.3 * i / n) * math.sin(6 * math.pi * i / n))
        for i in range(n)
    ]  # fmt: skip


def _p50_p95(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=20, method="inclusive")
    return {"p50": round(statistics.median(ms), 2), "p95": round(cuts[18], 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--moves", type=int, default=MIN_MOVES, help=f"pointer moves (>= {MIN_MOVES})")
    args = p.parse_args()
    if args.moves < MIN_MOVES:
        p.error(f"--moves must be at least {MIN_MOVES}")

    from selenium.webdriver.common.by import By

    with streamlit_server() as url:
        driver = chrome(1280, 900)
        try:
            print("Opening Your digit and loading the networks…", file=sys.stderr)
            open_drawing(driver, url)
            points = [page_point(driver, *xy) for xy in _path(args.moves + 1)]
            share = start_cpu_share()
            driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, DRAW))
            mouse(driver, "mousePressed", points[0], True)
            driver.execute_async_script(TWO_FRAMES)
            driver.execute_script(
                "for (const k in window.drawStats) window.drawStats[k].length = 0;"
            )
            for i, xy in enumerate(points[1:], 1):
                mouse(driver, "mouseMoved", xy, True)
                driver.execute_async_script(TWO_FRAMES)
                if i % 50 == 0:
                    print(f"  {i}/{args.moves} moves", file=sys.stderr)
            stats = driver.execute_script(STATS)
            mouse(driver, "mouseReleased", points[-1], False)
            driver.switch_to.default_content()
        finally:
            driver.quit()

    out = {k: _p50_p95(stats[k]) for k in ("latency", "update", "prep", "encode", "decode")}
    decode = out["decode"]["p50"]
    print(
        json.dumps(
            {
                "bench": "draw_latency",
                "moves": args.moves,
                "frames_measured": len(stats["latency"]),
                **{f"{k}_{q}_ms": v[q] for k, v in out.items() for q in ("p50", "p95")},
                "latency_over_decode": round(out["latency"]["p50"] / decode, 1) if decode else None,
                "update_over_decode": round(out["update"]["p50"] / decode, 1) if decode else None,
                "goal_p95_ms": 16,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                **cpu_share_or_none(share),
                **machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
