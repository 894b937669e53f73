"""A shared link in real Chromium: it reopens the page, the model and the marker.

One server with its own runs folder holding a second model; the link is read from the
address bar of one browser and opened in a fresh one (another profile, so another
session with nothing in common but the link).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from browser import (
    PAD,
    chrome,
    mouse,
    open_pad,
    pad_state,
    streamlit_server,
    to_page,
    until,
    wait_rendered,
)
from selenium.webdriver.common.by import By

from tests.app_pages import copy_default
from ui import share, url_state

RUN = "20250101-000000-mnist-j2-shared"  # the non-default model the link must carry
TARGET = (1.25, -0.75)  # where the marker is put before the link is read
METRIC = "[data-testid='stMetric']"
COPY_FRAME = "iframe[srcdoc*='copy']"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("share") / "runs"
    runs.mkdir()
    copy_default(runs).rename(runs / RUN)
    with streamlit_server(env={"VAE_RUNS_DIR": str(runs)}) as url:
        yield url


def click_text(driver, selector: str, text: str) -> None:
    """Click the element under ``selector`` whose text ends with ``text``, once it is there.

    Streamlit may redraw it between finding and clicking (stale), or cover it for a
    moment while a rerun ends (intercepted): then it is looked up again.
    """
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        ElementNotInteractableException,
        StaleElementReferenceException,
    )

    def click() -> bool:
        try:
            for e in driver.find_elements(By.CSS_SELECTOR, selector):
                if e.text.strip().endswith(text):  # after an icon, if any
                    e.click()
                    return True
        except (
            StaleElementReferenceException,
            ElementClickInterceptedException,
            ElementNotInteractableException,
        ):
            pass
        return False

    until(click, what=f"{text!r} to be shown and clicked")


def query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def bar_text(driver) -> str:
    """The line under the title that names the active model."""
    found = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stMarkdown']")]
    return next((t for t in found if t.startswith("Model ")), "")


def test_a_shared_link_reopens_the_page_the_model_and_the_marker(server, driver):
    # Choose the run on the Model page, as a visitor would.
    driver.get(f"{server}/model")
    wait_rendered(driver, METRIC)
    click_text(driver, "[data-testid='stRadio'] label", "A run trained earlier")
    click_text(driver, "button", "Use this run")
    until(
        lambda: RUN in driver.find_element(By.TAG_NAME, "h3").text,
        what="the run to become the active model",
    )
    # To the Drag pad in the same session, and put the marker somewhere.
    click_text(driver, "[data-testid='stSidebarNavLink']", "Drag pad")
    wait_rendered(driver, PAD)
    until(lambda: (s := pad_state(driver)) and s["ready"], what="the pad to load its decoder")
    driver.execute_script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", PAD
    )
    xy = to_page(driver, *TARGET)
    mouse(driver, "mouseMoved", xy, pressed=False)
    mouse(driver, "mousePressed", xy, pressed=True)
    mouse(driver, "mouseReleased", xy, pressed=False)
    origin = url_state.show_latent([0.0, 0.0])  # what the page writes before any release
    link = until(
        lambda: query(driver.current_url).get(url_state.Z, origin) != origin and driver.current_url,
        what="the release to write its z into the address bar",
    )
    params = query(link)
    assert params[url_state.MODEL] == f"runs/{RUN}"
    z_link = [float(v) for v in params[url_state.Z].split(",")]
    assert z_link == pytest.approx(TARGET, abs=0.05)  # a click lands within a pixel or two

    # A fresh browser: nothing shared with the first but the link.
    other = chrome()
    try:
        state = open_pad(other, link)
        assert urlsplit(other.current_url).path == urlsplit(link).path  # the page
        assert state["z"][:2] == pytest.approx(z_link, abs=1e-6)  # the marker
        until(lambda: RUN in bar_text(other), what="the page to name the linked model")
        shown = ", ".join(f"{v:.2f}".replace("-", "−") for v in z_link)
        until(
            lambda: any(
                e.text == f"At z = ({shown})" for e in other.find_elements(By.TAG_NAME, "h3")
            ),
            what="the details to describe the linked z",
        )
        assert query(other.current_url)[url_state.MODEL] == f"runs/{RUN}"  # survives reload
    finally:
        other.quit()


def test_a_bad_link_is_named_and_the_page_keeps_working(server, driver):
    driver.get(f"{server}/?model=../../etc&z=nan,1")
    wait_rendered(driver, PAD)
    alerts = until(
        lambda: " ".join(
            e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']")
        ),
        what="the warnings about the link",
    )
    assert "model parameter was ignored" in alerts and "z parameter was ignored" in alerts
    until(lambda: (s := pad_state(driver)) and s["ready"], what="the pad to draw anyway")
    assert pad_state(driver)["z"][:2] == [0.0, 0.0]


def test_copy_link_puts_the_address_on_the_clipboard(server, driver):
    driver.get(f"{server}/manifold?n=9")
    wait_rendered(driver, COPY_FRAME)
    origin = f"{urlsplit(server).scheme}://{urlsplit(server).netloc}"
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    until(lambda: query(driver.current_url).get("n") == "9", what="the page to write its n")
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, COPY_FRAME))
    try:
        driver.find_element(By.ID, "copy").click()
        until(
            lambda: driver.find_element(By.ID, "copy").text == share.COPIED_LABEL,
            what="the button to say the link was copied",
        )
    finally:
        driver.switch_to.default_content()
    copied = driver.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('ERR ' + e))"
    )
    assert copied == driver.current_url
    assert query(copied)["n"] == "9" and re.search(r"/manifold\?", copied)


def test_without_a_clipboard_the_link_is_shown_selected(server, driver):
    # Plain http to another machine is not a secure context: the browser has no
    # clipboard API there. Taking it away here shows what such a viewer gets.
    driver.get(f"{server}/latent_map?density=1")
    wait_rendered(driver, COPY_FRAME)
    until(lambda: query(driver.current_url).get("density") == "1", what="the URL's switches")
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, COPY_FRAME))
    try:
        driver.execute_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
        driver.find_element(By.ID, "copy").click()
        field = until(
            lambda: (f := driver.find_element(By.ID, "link")).is_displayed() and f,
            what="the link to be shown instead",
        )
        shown = field.get_attribute("value")
        selected = driver.execute_script(
            "const f = document.getElementById('link');return f.selectionEnd - f.selectionStart"
        )
        assert not driver.find_element(By.ID, "copy").is_displayed()
    finally:
        driver.switch_to.default_content()
    assert shown == driver.current_url and selected == len(shown)


def test_model_page_figures_are_not_cut_short_on_a_laptop_screen(server):
    narrow = chrome(1280, 720)
    try:
        narrow.get(f"{server}/model")
        wait_rendered(narrow, METRIC)
        cut = narrow.execute_script(
            """return [...document.querySelectorAll("[data-testid='stMetricValue']")]
                 .map(e => e.querySelector('div') || e)
                 .filter(e => e.scrollWidth > e.clientWidth + 1)
                 .map(e => e.innerText)"""
        )
        assert cut == [], f"cut short at 1280 x 720: {cut}"
    finally:
        narrow.quit()
