"""The drag pad in a real headless Chromium: drag, hover and keys decode in the browser,
the final image equals Keras' decoding of the final point, and the release reaches Python.

The pointer events are real input (CDP ``Input.dispatchMouseEvent``), so they go through
Chromium's event pipeline, coalescing included, as a person's mouse does.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from browser import (
    ROOT,
    chrome,
    in_pad,
    mouse,
    open_pad,
    pad_mapper,
    pad_rect,
    pad_state,
    screenshot_dir,
    streamlit_server,
    to_page,
    until,
    wait_rendered,
)

pytestmark = pytest.mark.browser

MOVES = 120  # pointer moves in the scripted drag
EVERY = 20  # the drag waits until the pad has drawn every EVERY-th point before going on
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


def _pad_shows(driver, z, atol: float = 0.02, **want):
    """The pad's state once its image is decoded at z (one pixel is about 0.02) and its
    other fields equal ``want``; None until then."""
    s = pad_state(driver)
    shown = s and s["z"] and np.allclose(s["z"], z, atol=atol)
    return s if shown and all(s[k] == v for k, v in want.items()) else None


def _wait_shown(driver, z, what: str, atol: float = 0.02, **want) -> dict:
    return until(lambda: _pad_shows(driver, z, atol, **want), what=f"the pad to show {what}")


def test_drag_decodes_in_the_browser_like_keras(server, driver, keras_model):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from vae import evaluate

    start = open_pad(driver, f"{server}/")
    assert start["mode"] == "browser" and start["error"] is None
    assert len(start["probs"]) == 28 * 28 and start["z"] == [0, 0]

    # A drag from the marker along a curve of MOVES pointer moves. Every EVERY-th point
    # the drag waits until the pad shows it, still pressed: the pad decodes during the
    # drag, whatever the machine's speed (Chromium coalesces moves within a frame).
    to_px = pad_mapper(driver)
    path = [
        (TARGET[0] * t + 0.4 * math.sin(math.pi * t), TARGET[1] * t)
        for t in np.linspace(0, 1, MOVES + 1)
    ]
    mouse(driver, "mouseMoved", to_px(0.0, 0.0), pressed=False)
    mouse(driver, "mousePressed", to_px(0.0, 0.0), pressed=True)
    for i, (z1, z2) in enumerate(path[1:], 1):
        mouse(driver, "mouseMoved", to_px(z1, z2), pressed=True)
        if i % EVERY == 0:
            mid = _wait_shown(driver, (z1, z2), f"move {i} while dragging", hovering=False)
            np.testing.assert_allclose(mid["marker"], mid["z"])
    mouse(driver, "mouseReleased", to_px(*TARGET), pressed=False)

    # The release sends the point to Python.
    end = until(
        lambda: (s := _pad_shows(driver, TARGET)) and s["sent"] and s["sent"]["z"] == s["z"] and s,
        what="the pad to send the released point",
    )
    stats = in_pad(driver, lambda: driver.execute_script("return window.padStats"))
    assert end["moves"] - start["moves"] >= MOVES // EVERY, "the drag's points were not decoded"
    assert len(stats["paints"]) == len(stats["latencies"]) == len(stats["decodeMs"])
    assert all(v >= 0 for v in stats["latencies"])
    assert not end["hovering"] and end["marker"] == end["z"]
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
    mouse(driver, "mouseMoved", to_page(driver, -1.0, -1.0), pressed=False)
    hover = _wait_shown(driver, (-1.0, -1.0), "the hover preview", hovering=True)
    assert hover["marker"] == end["z"]
    r = pad_rect(driver)
    mouse(driver, "mouseMoved", (r["left"] + 2, r["bottom"] + 40), pressed=False)
    back = _wait_shown(driver, end["z"], "the marker's image again", hovering=False, atol=0)
    assert back["z"] == end["z"] and back["probs"] == end["probs"]

    # Arrow keys move the marker by 0.05 (Shift: 0.25) once the plane has focus.
    def press_keys() -> None:
        plane = driver.find_element(By.ID, "plane")
        driver.execute_script("arguments[0].focus()", plane)
        plane.send_keys(Keys.ARROW_LEFT, Keys.SHIFT + Keys.ARROW_UP)

    in_pad(driver, press_keys)
    goal = (end["z"][0] - 0.05, end["z"][1] + 0.25)
    keyed = until(
        lambda: (s := pad_state(driver)) and np.allclose(s["marker"], goal, atol=1e-9) and s,
        what="the marker to move by the keys",
    )
    in_pad(driver, lambda: driver.execute_script("document.getElementById('plane').blur()"))
    until(lambda: _shown_point(driver) == f"At z = {_fmt(keyed['marker'])}", what="key release")
    wait_rendered(driver, "[data-testid='stImage'] img")
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")

    # The README's picture: the pad in use, the marker away from the origin, and the
    # nearest digits below it (a taller window than the other pages' pictures).
    size = driver.get_window_size()
    driver.set_window_size(size["width"], 1560)
    try:
        wait_rendered(driver, "[data-testid='stImage'] img")  # laid out again at the new size
        shot = screenshot_dir() / "explore.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.set_window_size(size["width"], size["height"])
    assert shot.stat().st_size > 10_000


def test_touch_drag_moves_the_marker_and_the_image(server):
    """A finger on a touch screen: touch events become pointer events on the plane."""
    from selenium.webdriver.common.by import By

    d = chrome(1000, 900)
    try:
        d.execute_cdp_cmd(
            "Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}
        )
        before = open_pad(d, f"{server}/")
        to_px = pad_mapper(d)
        scroll_before = d.execute_script("return window.scrollY")

        def touch(kind: str, z: tuple[float, float] | None) -> None:
            points = [] if z is None else [dict(zip(("x", "y"), to_px(*z), strict=True))]
            d.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        touch("touchStart", (0.0, 0.0))
        path = [(-1.5 * t, 1.2 * t) for t in np.linspace(0.05, 1, 40)]
        for i, z in enumerate(path, 1):
            touch("touchMove", z)
            if i % 10 == 0:  # the finger's points are drawn while it is down
                _wait_shown(d, z, f"touch move {i}", hovering=False)
        touch("touchEnd", None)
        after = until(
            lambda: (s := pad_state(d)) and s["sent"] and s["sent"]["z"] == s["marker"] and s,
            what="the lift to send the point to Python",
        )
        np.testing.assert_allclose(after["marker"], path[-1], atol=0.03)
        assert after["moves"] - before["moves"] >= len(path) // 10
        assert np.abs(np.subtract(after["probs"], before["probs"])).max() > 0.2
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
            open_pad(d, f"{url}/")
            colours = in_pad(d, lambda: d.execute_script(PAD_COLOURS))
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

    open_pad(driver, f"{server}/")

    def press(*keys) -> None:
        plane = driver.find_element(By.ID, "plane")
        driver.execute_script("arguments[0].focus()", plane)
        plane.send_keys(*keys)

    in_pad(driver, lambda: press(Keys.HOME))  # the marker is at the origin; Home sends (0, 0)
    until(lambda: (pad_state(driver)["sent"] or {}).get("z") == [0, 0], what="(0, 0) sent")
    in_pad(driver, lambda: press(*[Keys.ARROW_RIGHT] * 4))
    until(lambda: _shown_point(driver) == "At z = (0.20, 0.00)", what="the keyed point")

    button = next(
        b for b in driver.find_elements(By.CSS_SELECTOR, "button") if b.text == "Back to the origin"
    )
    button.click()
    until(lambda: _shown_point(driver) == "At z = (0.00, 0.00)", what="the details at 0")
    until(lambda: pad_state(driver)["marker"] == [0, 0], what="the marker at 0")
