"""Every page in a real headless Chromium: it renders its content and shows no exception.

Screenshots go to ``artifacts/screenshots/`` (ignored by git), or to
``$VAE_SCREENSHOT_DIR`` — the README's pictures are taken with
``VAE_SCREENSHOT_DIR=docs/screenshots``.
"""

from __future__ import annotations

import pytest
from browser import PAGES, screenshot_dir, wait_rendered

pytestmark = pytest.mark.browser


# URLs of everything the page and its same-origin iframes loaded, and the favicon's.
OFFLINE_RESOURCES = """
function urls(win) {
  let out = win.performance.getEntriesByType('resource').map((r) => r.name);
  for (const f of win.document.querySelectorAll('iframe')) {
    try { out = out.concat(urls(f.contentWindow)); } catch (e) { out.push('cross-origin frame'); }
  }
  return out;
}
const icon = document.querySelector("link[rel~='icon']");
return urls(window).concat(icon ? [icon.href] : []);
"""


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
    # Offline: every resource the page and its components fetched came from this server.
    fetched = driver.execute_script(OFFLINE_RESOURCES)
    foreign = [u for u in fetched if not u.startswith((server, "data:", "blob:", "about:"))]
    assert not foreign, f"fetched from elsewhere: {foreign}"
    shot = screenshot_dir() / f"{path}.png" if path else tmp_path / "default.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # a real picture, not a blank page
