"""A Streamlit server and a headless Chromium, for the browser tests and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from deadline import DEADLINE_S

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


COMMAND_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every page of app.py: (url path, what the page must show once rendered: a CSS selector).
PAGES = [
    ("", "iframe[title='components.drag_pad.drag_pad']"),  # the default page: Explore's pad
    ("model", "[data-testid='stMetric']"),
    ("train", "[data-testid='stForm']"),
    ("latent_map", "iframe"),
    ("manifold", ".mf-pic img"),
    ("samples", "[data-testid='stImage'] img"),
    ("digit", "[data-testid='stFileUploader']"),
    ("estimators", "[data-testid='stPlotlyChart']"),
    ("compare", "iframe[title='components.compare_pad.compare_pad']"),
]


@contextlib.contextmanager
def streamlit_server(
    env: dict[str, str] | None = None, timeout: float = DEADLINE_S
) -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free loopback port; yields its URL."""
    with streamlit_process(env, timeout) as (url, _):
        yield url


@contextlib.contextmanager
def streamlit_process(
    env: dict[str, str] | None = None, timeout: float = DEADLINE_S
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``streamlit_server`` that also yields the server's process (its pid, for /proc)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            time.sleep(0.2)
        else:
            raise TimeoutError(f"streamlit did not listen on {port} within {timeout} s")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def chrome(width: int = 1400, height: int = 1000):
    """A headless Debian Chromium driven by Selenium (no driver download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={_tmp_profile()}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # One WebDriver command may wait this long for a busy browser before it fails.
    driver.command_executor.client_config.timeout = COMMAND_TIMEOUT_S
    return driver


def _tmp_profile() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="chromium-profile-")


def screenshot_dir() -> Path:
    path = Path(os.environ.get("VAE_SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def wait_rendered(driver, selector: str, timeout: float = DEADLINE_S) -> None:
    """Streamlit draws over a websocket after load: wait for content and an idle script."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    idle_since = None
    while time.monotonic() < deadline:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        running = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
        if found and not running:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 1.0:
                return
        else:
            idle_since = None
        time.sleep(0.2)
    raise TimeoutError(f"{driver.current_url}: {selector!r} did not render in {timeout} s")


# --- the drag pad (components/drag_pad) -------------------------------------------------
PAD = "iframe[title='components.drag_pad.drag_pad']"
WAIT_S = DEADLINE_S  # the longest any wait for the page may take before it counts as a failure


def until(fn, timeout: float = WAIT_S, what: str = "condition"):
    """Poll ``fn`` until it returns something truthy; that value. ``what`` names the wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"waited {timeout} s for {what}; it did not happen")


def in_pad(driver, fn, timeout: float = WAIT_S):
    """``fn()`` run inside the pad's iframe, found afresh; back in the page afterwards.

    Streamlit may replace the iframe whenever it re-renders, which makes a frame element
    found earlier stale: the frame is looked up again and ``fn`` retried until
    ``timeout``. So ``fn`` must be safe to run twice (a read, or an idempotent script).
    """
    from selenium.common.exceptions import (
        NoSuchElementException,
        NoSuchFrameException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while True:
        try:
            driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, PAD))
            try:
                return fn()
            finally:
                driver.switch_to.default_content()
        except (NoSuchElementException, NoSuchFrameException, StaleElementReferenceException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def pad_script(driver, script: str, *args):
    """``driver.execute_script`` inside the pad's iframe (see ``in_pad``)."""
    return in_pad(driver, lambda: driver.execute_script(script, *args))


PAD_STATE = (
    "const s = window.padState;"
    "return s && Object.assign({}, s, {probs: s.probs ? Array.from(s.probs) : null,"
    " n: window.padStats.latencies.length, moves: window.padStats.moves});"
)


def pad_state(driver) -> dict | None:
    """padState with probs as a list, read in one script inside the pad's iframe, so z
    and probs belong together; ``n``/``moves``: frames drawn and moves decoded so far."""
    return pad_script(driver, PAD_STATE)


def pad_rect(driver) -> dict:
    """The pad iframe's rectangle in top-level viewport pixels, looked up afresh."""
    return driver.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().toJSON()", PAD
    )


def to_page(driver, z1: float, z2: float) -> tuple[float, float]:
    """Top-level viewport pixels of latent point (z1, z2): CDP input is not per frame."""
    p = pad_script(driver, "return window.padPoint(arguments[0], arguments[1])", z1, z2)
    r = pad_rect(driver)
    return r["left"] + p["x"], r["top"] + p["y"]


def mouse(driver, kind: str, xy: tuple[float, float], pressed: bool) -> None:
    driver.execute_cdp_cmd(
        "Input.dispatchMouseEvent",
        {
            "type": kind,
            "x": xy[0],
            "y": xy[1],
            "button": "left" if pressed or kind == "mouseReleased" else "none",
            "buttons": 1 if pressed else 0,
            "clickCount": 1 if kind in ("mousePressed", "mouseReleased") else 0,
        },
    )


def open_pad(driver, url: str, timeout: float = WAIT_S) -> dict:
    """Open the Explore page at ``url`` and wait until the pad has decoded; its state."""
    driver.get(url)
    wait_rendered(driver, PAD, timeout)
    driver.execute_script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", PAD
    )
    return until(
        lambda: (s := pad_state(driver)) and s["ready"] and s["probs"] and s,
        timeout,
        "the pad to load its decoder and draw",
    )


def pad_mapper(driver):
    """z -> top-level viewport pixels, measured once: an affine map, so many moves can be
    sent without a frame switch each (the page must not scroll or resize meanwhile)."""
    x0, y0 = to_page(driver, 0.0, 0.0)
    x1, y1 = to_page(driver, 1.0, 1.0)
    return lambda z1, z2: (x0 + (x1 - x0) * z1, y0 + (y1 - y0) * z2)
