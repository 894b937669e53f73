"""Drag latency: pointer-to-paint on the Explore page's drag pad, in headless Chromium.

A fresh server and Debian's headless Chromium open the Explore page. Real pointer input
(CDP ``Input.dispatchMouseEvent``, through Chromium's whole input pipeline, coalescing
included) drags the marker along a Lissajous curve: ``--moves`` moves (at least 300)
at ``--mouse-hz`` per second. Like a real mouse, the events come at the device's rate
whether or not the page has finished the last one: they go straight to Chromium's
DevTools socket, unacknowledged. (Selenium's own CDP call waits for each event to be
handled, which locks the moves to just after each frame and adds most of a frame of
waiting that no mouse causes.) 125 Hz is a standard USB mouse; gaming mice send 1,000.

Measured in the page (``window.padStats``, kept by components/drag_pad/frontend/show.js):

- ``p50_ms`` / ``p95_ms``: from each pointer event's ``timeStamp`` to the end of the
  image's draw (decode, putImageData, marker and readout); ``input_wait_p50_ms`` is
  the part before the page's handler starts, which Chromium spends delivering it;
- ``fps``: animation frames during the drag in which a new image was drawn, per second
  (counted by a ``requestAnimationFrame`` loop injected for the run);
- ``server_roundtrip_ms``: the same update through Streamlit. The page's "Decode on the
  server" toggle makes the pad send each move to Python, whose fragment decodes the
  point and sends the image back; the time runs from the pointer event to the arrival
  of Python's image in the page (median of ``--server-moves`` moves, one at a time).

Prints one JSON line. Targets (2-core machine): p95 <= 16 ms, fps >= 50, and
the browser >= 10x faster than the server round trip (their medians).

    .venv/bin/python bench/drag_latency.py [--moves 625] [--mouse-hz 125] [--server-moves 30]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import (
    PAD,
    chrome,
    mouse,
    open_pad,
    pad_mapper,
    pad_script,
    pad_state,
    streamlit_server,
    until,
)

# Counts the animation frames in which the pad drew a new image.
COUNT_FRAMES = """
window.__frames = [];
let seen = window.padStats.paints.length;
function tick(t) {
  const n = window.padStats.paints.length;
  if (n !== seen) { window.__frames.push(t); seen = n; }
  if (!window.__stopFrames) requestAnimationFrame(tick);
}
window.__stopFrames = false;
window.__waits = [];
if (!window.__waitHooked) {
  window.__waitHooked = true;
  const wait = (e) => window.__waits.push(performance.now() - e.timeStamp);
  window.addEventListener('pointermove', wait, true);
}
for (const k of ['latencies', 'paints', 'decodeMs', 'frames']) window.padStats[k].length = 0;
requestAnimationFrame(tick);
"""

# Server mode: when Python's image arrives, note the time and the point it shows.
# Installed once per document: Streamlit may replace the pad's iframe with a new one, and
# ``__hooks`` then changes, so a move whose answer went to the old frame is not counted.
WATCH_RENDERS = """
if (!window.__renders) {
  window.__hooks = Math.random();
  window.__renders = [];
  window.__moves = [];
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (m && m.type === 'streamlit:render' && m.args && m.args.server_image)
      window.__renders.push({t: performance.now(), z: m.args.z_init});
  });
  document.getElementById('plane').addEventListener('pointermove', (e) => {
    window.__moves.push(e.timeStamp);
  }, true);
}
"""


class RawMouse:
    """A mouse on Chromium's DevTools socket: sends events without waiting for them."""

    def __init__(self, driver):
        import websocket  # websocket-client, a Selenium dependency

        address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        with urllib.request.urlopen(f"http://{address}/json") as resp:
            targets = json.load(resp)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(url, suppress_origin=True)
        self.n = 0
        # Replies are read and dropped, so they never fill the socket's buffer.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        try:
            while True:
                self.ws.recv()
        except Exception:  # closed: nothing left to drain
            return

    def send(self, kind: str, xy: tuple[float, float], pressed: bool) -> None:
        self.n += 1
        params = {
            "type": kind,
            "x": xy[0],
            "y": xy[1],
            "button": "left",
            "buttons": 1 if pressed else 0,
            "clickCount": 0 if kind == "mouseMoved" else 1,
        }
        self.ws.send(
            json.dumps({"id": self.n, "method": "Input.dispatchMouseEvent", "params": params})
        )

    def close(self) -> None:
        self.ws.close()


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def lissajous(n: int, start: tuple[float, float]) -> list[tuple[float, float]]:
    """n points from ``start`` over the plane: crosses the prior's bulk and its 2σ ring."""
    out = []
    for i in range(1, n + 1):
        t = i / n
        out.append(
            (
                start[0] * (1 - t) + 2.2 * math.sin(2 * math.pi * 1.5 * t),
                start[1] * (1 - t) + 1.8 * math.sin(2 * math.pi * 2.5 * t),
            )
        )
    return out


def watched(driver, script: str, *args):
    """``script`` in the pad's current frame, with the render hooks installed first."""
    return pad_script(driver, WATCH_RENDERS + script, *args)


def browser_drag(driver, moves: int, hz: float) -> dict:
    to_px = pad_mapper(driver)
    start = tuple(pad_script(driver, "return window.padState.marker"))
    pad_script(driver, COUNT_FRAMES)
    path = lissajous(moves, start)
    device = RawMouse(driver)
    try:
        device.send("mouseMoved", to_px(*start), pressed=False)
        device.send("mousePressed", to_px(*start), pressed=True)
        t0 = time.perf_counter()
        for i, z in enumerate(path):
            device.send("mouseMoved", to_px(*z), pressed=True)
            delay = t0 + (i + 1) / hz - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent_for = time.perf_counter() - t0
        device.send("mouseReleased", to_px(*path[-1]), pressed=False)
        time.sleep(0.5)  # let the last frames land
    finally:
        device.close()
    stats = pad_script(
        driver,
        "window.__stopFrames = true;"
        "return {lat: window.padStats.latencies, dec: window.padStats.decodeMs,"
        " frames: window.__frames, waits: window.__waits};",
    )
    frames = stats["frames"]
    span = (frames[-1] - frames[0]) / 1000 if len(frames) > 1 else float("nan")
    lat = stats["lat"]
    return {
        "p50_ms": round(statistics.median(lat), 2),
        "p95_ms": round(percentile(lat, 95), 2),
        "max_ms": round(max(lat), 2),
        "fps": round((len(frames) - 1) / span, 1),
        "input_wait_p50_ms": round(statistics.median(stats["waits"]), 2),
        "decode_p50_ms": round(statistics.median(stats["dec"]), 2),
        "moves_sent": moves,
        "mouse_hz": round(moves / sent_for, 1),
        "events_drawn": len(lat),  # fewer than sent: Chromium coalesces within a frame
    }


def server_roundtrips(driver, url: str, n: int) -> list[float]:
    """Turn on "Decode on the server", then time n single moves through Python."""
    from selenium.webdriver.common.by import By

    toggle = next(
        t
        for t in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stCheckbox'] label")
        if "Decode on the server" in t.text
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", toggle)
    toggle.click()
    until(
        lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid='stAlertContentInfo']"),
        what="the note that the server decodes",
    )
    driver.execute_script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", PAD
    )
    until(
        lambda: (s := pad_state(driver)) and s["ready"] and s["mode"] == "server" and s["probs"],
        what="the pad in server mode",
    )
    to_px = pad_mapper(driver)
    start = tuple(watched(driver, "return window.padState.marker"))
    mouse(driver, "mouseMoved", to_px(*start), pressed=False)
    mouse(driver, "mousePressed", to_px(*start), pressed=True)
    time.sleep(1.0)  # the press itself sends a point; let its answer land first
    times = []
    for z in lissajous(n, start):
        hooks, before = watched(driver, "return [window.__hooks, window.__renders.length]")
        mouse(driver, "mouseMoved", to_px(*z), pressed=True)
        sent = watched(driver, "return [window.__hooks, window.__moves.at(-1), padState.sent.z]")
        if sent[0] != hooks or sent[1] is None:
            continue  # the frame was replaced under the move: it has no timing to give

        def answered(sent=sent, before=before):
            now, renders = watched(driver, "return [window.__hooks, window.__renders]")
            if now != sent[0]:
                return {"replaced": True}
            return next((r for r in renders[before:] if r["z"] == sent[2]), None)

        r = until(answered, what="the server's image")
        if "t" in r:
            times.append(r["t"] - sent[1])
        time.sleep(0.15)
    mouse(driver, "mouseReleased", to_px(*z), pressed=False)
    if not times:
        raise RuntimeError("the pad's frame was replaced under every move: no round trip timed")
    return times


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--moves", type=int, default=625, help="pointer moves in the drag (>= 300)")
    p.add_argument("--mouse-hz", type=float, default=125.0, help="pointer moves per second")
    p.add_argument("--server-moves", type=int, default=30)
    args = p.parse_args()
    if args.moves < 300:
        p.error("--moves must be at least 300")
    driver = chrome()
    try:
        with streamlit_server() as url:
            open_pad(driver, f"{url}/")
            browser_drag(driver, 60, args.mouse_hz)  # warm-up: JIT and caches
            result = browser_drag(driver, args.moves, args.mouse_hz)
            rt = server_roundtrips(driver, url, args.server_moves)
    finally:
        driver.quit()
    result["server_moves_timed"] = len(rt)  # fewer than asked if the frame was replaced
    result["server_roundtrip_ms"] = round(statistics.median(rt), 1)
    result["server_roundtrip_p95_ms"] = round(percentile(rt, 95), 1)
    result["speedup"] = round(result["server_roundtrip_ms"] / result["p50_ms"], 1)
    result["targets_met"] = {
        "p95<=16ms": result["p95_ms"] <= 16,
        "fps>=50": result["fps"] >= 50,
        "speedup>=10": result["speedup"] >= 10,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
