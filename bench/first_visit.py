"""First visits: how long each page takes to draw the first time after the server starts.

Starts a fresh ``streamlit run app.py`` (every cache cold) and one headless Chromium,
waits for the server to answer its health check, then opens every page of the app in
turn, each as a fresh page load, and times it from the request until the page shows
what it is for and Streamlit's "running" indicator has gone (as
``../shared/tools/screens.py`` waits). Then it opens every page a second time, when
the caches are warm. Prints one line per page and one JSON line at the end; the
second visit is the reference each first visit is compared with (same run, same
machine).

    .venv/bin/python bench/first_visit.py [--port 8781] [--size 1280x720] [--model fashion-2d]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import PAGES, ROOT, chrome, free_port

IDLE_S = 0.5  # the page must stay idle this long to count as drawn (reruns follow quickly)
POLL_S = 0.05
# Every page app.py navigates to, with what it shows once drawn.
VISITS = [*PAGES, ("how_vae_works", "[data-testid='stPlotlyChart']")]


def start_server(port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited before it answered")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return time.perf_counter() - start
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"streamlit did not answer on {port} within {timeout} s")


def visit(driver, url: str, selector: str, timeout: float) -> float:
    """Seconds from the request to ``selector`` shown and the script idle for IDLE_S."""
    from selenium.webdriver.common.by import By

    start = time.perf_counter()
    driver.get(url)
    drawn_at = None
    while time.perf_counter() - start < timeout:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        running = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
        errors = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
        if errors:
            raise RuntimeError(f"{url} raised: {errors[0].text[:300]}")
        if found and not running:
            drawn_at = drawn_at or time.perf_counter()
            if time.perf_counter() - drawn_at >= IDLE_S:
                return drawn_at - start
        else:
            drawn_at = None
        time.sleep(POLL_S)
    raise TimeoutError(f"{url}: {selector!r} not drawn within {timeout} s")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--size", default="1280x720", help="browser window, WIDTHxHEIGHT")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds allowed per visit")
    p.add_argument("--model", help="a shipped model's name, opened by every visit's link")
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    port = args.port or free_port()
    spawned = time.perf_counter()
    proc = start_server(port)
    driver = None
    try:
        healthy = wait_healthy(port, proc, args.timeout)
        driver = chrome(width, height)
        base = f"http://127.0.0.1:{port}"
        link = f"?{urllib.parse.urlencode({'model': args.model})}" if args.model else ""
        times: dict[str, list[float]] = {}
        for visit_no in (0, 1):
            for path, selector in VISITS:
                t = visit(driver, f"{base}/{path}{link}", selector, args.timeout)
                times.setdefault(path or "(default)", []).append(t)
                print(f"visit {visit_no + 1}  {path or '(default)':<16} {t:6.2f} s", flush=True)
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    pages = {
        page: {"first_s": round(a, 2), "second_s": round(b, 2), "first/second": round(a / b, 1)}
        for page, (a, b) in times.items()
    }
    print(f"{'page':<16} {'first':>7} {'second':>7} {'ratio':>6}")
    for page, r in pages.items():
        print(f"{page:<16} {r['first_s']:7.2f} {r['second_s']:7.2f} {r['first/second']:6.1f}")
    # The machine's load says how far these seconds stand from an idle machine's.
    load = [round(v, 1) for v in os.getloadavg()]
    print(f"load average (1, 5, 15 min) at the end: {load}")
    summary = {
        "model": args.model or "(default)",
        "load_average": load,
        "server_healthy_s": round(healthy, 2),
        "slowest_first_s": max(r["first_s"] for r in pages.values()),
        "total_s": round(time.perf_counter() - spawned, 1),
        "pages": pages,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
