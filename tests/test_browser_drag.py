"""The drag pad in a real headless Chromium: drag, hover and keys decode in the browser,
the final image equals Keras' decoding of the final point, and the release reaches Python.

The pointer events are real input (CDP ``Input.dispatchMouseEvent``), so they go through
Chromium's event pipeline, coalescing included, as a person's mouse does.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from browser import (
    ROOT,
    chrome,
    mouse,
    open_pad,
    pad_state,
    screenshot_dir,
    streamlit_server,
    to_page,
    until,
    wait_rendered,
)

pytestmark = pytest.mark.browser

MOVES = 120  # pointer moves in the scripted drag
TARGET = (1.8, 0.6)  # where the drag ends: away from the origin, among the 2s


@pytest.fixture(scope="module")
def keras_model():
    from vae.checkpoint import load_checkpoint

    return load_checkpoint(ROOT / "checkpoints" / "mnist-2d").model


def _shown_point(driver) -> str:
    from selenium.webdriver.common.by import By

    heads = driver.find_elements(By.CSS_SELECTOR, "h3")
    return next((h.text for h in heads if h.text.startswith("At z =")), "")


def _fmt(z) -> str:
    return "(" + ", ".join(f"{v:.2f}".replace("-", "−") for v in z) + ")"


def test_drag_decodes_in_the_browser_like_keras(server, driver, keras_model):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from vae import evaluate

    frame = open_pad(driver, f"{server}/")
    driver.switch_to.frame(frame)
    start = pad_state(driver)
    driver.switch_to.default_content()
    assert start["mode"] == "browser" and start["error"] is None
    assert len(start["probs"]) == 28 * 28 and start["z"] == [0, 0]

    # A drag from the marker along a curve of MOVES pointer moves.
    path = [
        (TARGET[0] * t + 0.4 * math.sin(math.pi * t), TARGET[1] * t)
        for t in np.linspace(0, 1, MOVES + 1)
    ]
    mouse(driver, "mouseMoved", to_page(driver, frame, 0.0, 0.0), pressed=False)
    mouse(driver, "mousePressed", to_page(driver, frame, 0.0, 0.0), pressed=True)
    for z1, z2 in path[1:]:
        mouse(driver, "mouseMoved", to_page(driver, frame, z1, z2), pressed=True)
    mouse(driver, "mouseReleased", to_page(driver, frame, *TARGET), pressed=False)

    driver.switch_to.frame(frame)
    end = pad_state(driver)
    stats = driver.execute_script("return window.padStats")
    driver.switch_to.default_content()
    assert end["n"] - start["n"] >= MOVES // 2, "most moves should have decoded and drawn"
    assert len(stats["paints"]) == len(stats["latencies"]) == len(stats["decodeMs"])
    assert all(v >= 0 for v in stats["latencies"])
    assert not end["hovering"] and end["marker"] == end["z"]
    np.testing.assert_allclose(end["z"], TARGET, atol=0.02)  # one pixel is about 0.02
    assert end["sent"]["z"] == end["z"]
    probs = np.asarray(end["probs"], np.float32)
    assert np.abs(probs - np.asarray(start["probs"])).max() > 0.2, "the image did not change"

    # The image in the browser is the Keras decoding of the final point.
    want = evaluate.decode(keras_model, np.asarray([end["z"]], np.float32))[0].ravel()
    assert np.abs(probs - want).max() <= 1e-4

    # The release reached Python: the page shows the nearest digits at that point.
    until(lambda: _shown_point(driver) == f"At z = {_fmt(end['z'])}", what="the details")
    wait_rendered(driver, "[data-testid='stImage'] img")
    captions = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stImageCaption']")
    assert len(captions) == 8 and " · d " in captions[0].text

    # Hover previews the decoding under the pointer; leaving the plane restores the marker's.
    driver.switch_to.default_content()
    mouse(driver, "mouseMoved", to_page(driver, frame, -1.0, -1.0), pressed=False)
    driver.switch_to.frame(frame)
    hover = pad_state(driver)
    assert hover["hovering"] and hover["marker"] == end["z"]
    np.testing.assert_allclose(hover["z"], (-1.0, -1.0), atol=0.02)
    driver.switch_to.default_content()
    r = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", frame)
    mouse(driver, "mouseMoved", (r["left"] + 2, r["bottom"] + 40), pressed=False)
    driver.switch_to.frame(frame)
    back = pad_state(driver)
    assert not back["hovering"] and back["z"] == end["z"] and back["probs"] == end["probs"]

    # Arrow keys move the marker by 0.05 (Shift: 0.25) once the plane has focus.
    plane = driver.find_element(By.ID, "plane")
    driver.execute_script("arguments[0].focus()", plane)
    plane.send_keys(Keys.ARROW_LEFT, Keys.SHIFT + Keys.ARROW_UP)
    keyed = pad_state(driver)
    np.testing.assert_allclose(keyed["marker"], (end["z"][0] - 0.05, end["z"][1] + 0.25), atol=1e-9)
    driver.execute_script("arguments[0].blur()", plane)  # no focus ring in the picture
    driver.switch_to.default_content()
    until(lambda: _shown_point(driver) == f"At z = {_fmt(keyed['marker'])}", what="key release")
    wait_rendered(driver, "[data-testid='stImage'] img")
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")

    # The README's picture: the pad in use, the marker away from the origin, and the
    # nearest digits below it (a taller window than the other pages' pictures).
    size = driver.get_window_size()
    driver.set_window_size(size["width"], 1560)
    try:
        time.sleep(1.0)
        shot = screenshot_dir() / "explore.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.set_window_size(size["width"], size["height"])
    assert shot.stat().st_size > 10_000


def test_touch_drag_moves_the_marker_and_the_image(server):
    """A finger on a touch screen: touch events become pointer events on the plane."""
    from browser import pad_mapper
    from selenium.webdriver.common.by import By

    d = chrome(1000, 900)
    try:
        d.execute_cdp_cmd(
            "Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}
        )
        frame = open_pad(d, f"{server}/")
        to_px = pad_mapper(d, frame)
        d.switch_to.frame(frame)
        before = pad_state(d)
        d.switch_to.default_content()
        scroll_before = d.execute_script("return window.scrollY")

        def touch(kind: str, z: tuple[float, float] | None) -> None:
            points = [] if z is None else [dict(zip(("x", "y"), to_px(*z), strict=True))]
            d.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        touch("touchStart", (0.0, 0.0))
        path = [(-1.5 * t, 1.2 * t) for t in np.linspace(0.05, 1, 40)]
        for z in path:
            touch("touchMove", z)
        touch("touchEnd", None)
        d.switch_to.frame(frame)
        after = pad_state(d)
        d.switch_to.default_content()
        np.testing.assert_allclose(after["marker"], path[-1], atol=0.03)
        assert after["n"] - before["n"] >= 20, "the touch moves should decode and draw"
        assert np.abs(np.subtract(after["probs"], before["probs"])).max() > 0.2
        assert after["sent"]["z"] == after["marker"]  # the lift sends the point to Python
        # touch-action: none: the finger moved the marker, not the page.
        assert d.execute_script("return window.scrollY") == scroll_before
        assert not d.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
    finally:
        d.quit()


PAD_COLOURS = """
const lum = (r, g, b) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
const text = getComputedStyle(document.getElementById('p-val')).color.match(/\\d+/g);
const dpr = window.devicePixelRatio || 1;
const base = document.getElementById('base').getContext('2d');
const px = base.getImageData(60 * dpr, 14 * dpr, 1, 1).data;
return {text: lum(...text.slice(0, 3).map(Number)), plot: lum(px[0], px[1], px[2]), alpha: px[3]};
"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_pad_follows_the_app_theme(theme):
    """Dark text on a light plot, or light text on a dark one, as the app's theme says."""
    d = chrome(1200, 900)
    try:
        with streamlit_server(env={"STREAMLIT_THEME_BASE": theme}) as url:
            frame = open_pad(d, f"{url}/")
            d.switch_to.frame(frame)
            colours = d.execute_script(PAD_COLOURS)
            d.switch_to.default_content()
    finally:
        d.quit()
    assert colours["alpha"] == 255, "the plot area is not painted"
    if theme == "dark":
        assert colours["text"] > 0.7 and colours["plot"] < 0.3, colours
    else:
        assert colours["text"] < 0.3 and colours["plot"] > 0.7, colours


def test_back_to_the_origin_moves_the_marker_even_onto_a_point_it_sent(server, driver):
    """Python's reset wins over the pad's echo filter: the pad once sent (0, 0) itself."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    frame = open_pad(driver, f"{server}/")
    driver.switch_to.frame(frame)
    plane = driver.find_element(By.ID, "plane")
    driver.execute_script("arguments[0].focus()", plane)
    plane.send_keys(Keys.HOME)  # the marker is at the origin; Home sends (0, 0)
    until(lambda: (pad_state(driver)["sent"] or {}).get("z") == [0, 0], what="(0, 0) sent")
    plane.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    driver.switch_to.default_content()
    until(lambda: _shown_point(driver) == "At z = (0.20, 0.00)", what="the keyed point")

    button = next(
        b for b in driver.find_elements(By.CSS_SELECTOR, "button") if b.text == "Back to the origin"
    )
    button.click()
    until(lambda: _shown_point(driver) == "At z = (0.00, 0.00)", what="the details at 0")
    driver.switch_to.frame(frame)
    try:
        until(lambda: pad_state(driver)["marker"] == [0, 0], timeout=10, what="the marker at 0")
    finally:
        driver.switch_to.default_content()
