"""Every page in a real headless Chromium: it renders its content and shows no exception.

Screenshots go to ``artifacts/screenshots/`` (ignored by git), or to
``$VAE_SCREENSHOT_DIR`` — the README's pictures are taken with
``VAE_SCREENSHOT_DIR=docs/screenshots``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from browser import ROOT, chrome, streamlit_server

pytestmark = pytest.mark.browser

# (url path, what the page must show once rendered: a CSS selector)
PAGES = [
    ("", "iframe[title='components.drag_pad.drag_pad']"),  # the default page: Explore's pad
    ("model", "[data-testid='stMetric']"),
    ("train", "[data-testid='stForm']"),
    ("latent_map", "iframe"),
    ("manifold", "[data-testid='stPlotlyChart']"),
    ("samples", "[data-testid='stImage'] img"),
    ("digit", "[data-testid='stFileUploader']"),
    ("estimators", "[data-testid='stPlotlyChart']"),
]


def screenshot_dir() -> Path:
    path = Path(os.environ.get("VAE_SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def wait_rendered(driver, selector: str, timeout: float = 90.0) -> None:
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


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def driver():
    d = chrome()
    yield d
    d.quit()


@pytest.mark.parametrize(("path", "selector"), PAGES, ids=[p or "default" for p, _ in PAGES])
def test_page_renders_without_exception(server, driver, path, selector, tmp_path):
    from selenium.webdriver.common.by import By

    driver.get(f"{server}/{path}")
    wait_rendered(driver, selector)
    assert driver.find_elements(By.CSS_SELECTOR, "h1"), "the page has no title"
    errors = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
    assert not errors, errors[0].text
    assert "Traceback" not in driver.find_element(By.TAG_NAME, "body").text
    # The default page's picture, with the pad in use, is test_browser_drag's explore.png.
    shot = screenshot_dir() / f"{path}.png" if path else tmp_path / "default.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # a real picture, not a blank page
