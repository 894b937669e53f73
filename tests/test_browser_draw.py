"""The Your digit page's drawing pad in a real headless Chromium: strokes drawn with real
pointer input move q(z|x) while the pen is down with no message to the server, and the
browser's preparation, encoding and reconstruction equal vae/digit.py's and Keras's.
"""

from __future__ import annotations

import numpy as np
import pytest
from browser import (
    ROOT,
    chrome,
    mouse,
    screenshot_dir,
    streamlit_server,
    until,
    wait_rendered,
)

pytestmark = pytest.mark.browser

DRAW = "iframe[title='components.draw_pad.draw_pad']"
# Three strokes of a 4, as fractions of the drawing area: down-stroke, bar, long stem.
STROKES = [
    [(0.30, 0.15), (0.28, 0.30), (0.26, 0.45), (0.25, 0.58)],
    [(0.25, 0.58), (0.40, 0.58), (0.55, 0.57), (0.72, 0.56)],
    [(0.60, 0.18), (0.60, 0.40), (0.61, 0.62), (0.62, 0.85)],
]
STEPS = 6  # pointer moves between two points of a stroke
# Counts the page's websocket messages to the server: the drawing must send none mid-stroke.
COUNT_SENDS = """
(() => {
  const send = WebSocket.prototype.send;
  window.wsSent = 0;
  WebSocket.prototype.send = function (data) { window.wsSent++; return send.call(this, data); };
})();
"""


@pytest.fixture(scope="module")
def keras_model():
    from vae.checkpoint import load_checkpoint

    return load_checkpoint(ROOT / "checkpoints" / "mnist-2d").model


def in_draw(driver, script: str, *args):
    """``script`` run inside the drawing pad's iframe."""
    from selenium.webdriver.common.by import By

    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, DRAW))
    try:
        return driver.execute_script(script, *args)
    finally:
        driver.switch_to.default_content()


def draw_state(driver) -> dict:
    return in_draw(
        driver,
        "const s = window.drawState; return Object.assign({}, s,"
        " {probs: s.probs ? Array.from(s.probs) : null});",
    )


def open_drawing(driver, url: str) -> None:
    """The Your digit page with Draw chosen, once the pad has loaded its networks."""
    from selenium.webdriver.common.by import By

    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_SENDS})
    driver.get(url + "/digit")
    wait_rendered(driver, "[data-testid='stRadio']")
    until(
        lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, "label") if e.text == "Draw"],
        what="the Draw choice",
    )[0].click()
    wait_rendered(driver, DRAW)
    # The choice just above the pad goes to the top, under Streamlit's header: the
    # drawing area is then in view on every screen, a phone's included.
    driver.execute_script(
        "document.querySelector(\"[data-testid='stRadio']\").scrollIntoView({block: 'start'})"
    )
    until(lambda: draw_state(driver)["ready"], what="the pad to load the encoder and decoder")


def page_point(driver, fx: float, fy: float) -> tuple[float, float]:
    p = in_draw(driver, "return window.drawPoint(arguments[0], arguments[1])", fx, fy)
    r = driver.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().toJSON()", DRAW
    )
    return r["left"] + p["x"], r["top"] + p["y"]


def stroke(driver, points) -> dict:
    """Press, move through ``points`` and release; what was seen meanwhile."""
    xy = [page_point(driver, *p) for p in points]
    before = draw_state(driver)
    sent_before = driver.execute_script("return window.wsSent")
    mouse(driver, "mousePressed", xy[0], True)
    mids = []
    for a, b in zip(xy, xy[1:], strict=False):
        for t in np.linspace(0, 1, STEPS + 1)[1:]:
            mouse(driver, "mouseMoved", (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])), True)
        mids.append(
            until(
                lambda: (s := draw_state(driver))["mu"] and not s["pending"] and s,
                what="the pad to encode the stroke so far",
            )["mu"]
        )
    during = driver.execute_script("return window.wsSent") - sent_before
    mouse(driver, "mouseReleased", xy[-1], False)
    until(
        lambda: driver.execute_script("return window.wsSent") > sent_before + during,
        what="the stroke's end to reach the server",
    )
    return {"before": before, "mids": mids, "during": during, "after": draw_state(driver)}


def test_strokes_move_q_live_and_match_keras(keras_model):
    from selenium.webdriver.common.by import By

    from vae import evaluate
    from vae.data import to_model_input
    from vae.digit import prepare_digit

    side = None
    with streamlit_server() as url:
        driver = chrome(1280, 900)
        try:
            open_drawing(driver, url)
            assert draw_state(driver)["mu"] is None  # nothing drawn yet
            last = None
            for points in STROKES:
                seen = stroke(driver, points)
                assert seen["during"] == 0, "the drawing messaged the server mid-stroke"
                mids = [np.array(m) for m in seen["mids"]]
                # μ moves while the pen is down, from one part of the stroke to the next ...
                assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(mids, mids[1:], strict=False))
                after = seen["after"]
                # ... and from one stroke to the next.
                if last is not None:
                    assert np.abs(np.array(after["mu"]) - last).max() > 1e-6
                last = np.array(after["mu"])

                # The browser prepares the drawing as vae/digit.py does.
                raw = np.array(in_draw(driver, "return window.drawRaw()"), np.uint8)
                side = int(round(len(raw) ** 0.5))
                want = prepare_digit(raw.reshape(side, side)).astype(int)
                got = np.array(after["image"]).reshape(28, 28)
                assert np.abs(got - want).max() <= 2, np.abs(got - want).max()
                assert np.mean(got != want) < 0.02

                # Its μ, σ and reconstruction equal Keras's on the same 28x28 input.
                x = to_model_input(got.astype(np.uint8)[None], keras_model.config.decoder)
                z_mean, z_log_var = evaluate.encode(keras_model, x)
                np.testing.assert_allclose(after["mu"], z_mean[0], atol=1e-4)
                np.testing.assert_allclose(after["logVar"], z_log_var[0], atol=1e-4)
                np.testing.assert_allclose(after["sigma"], np.exp(0.5 * z_log_var[0]), atol=1e-4)
                probs = evaluate.decode(keras_model, z_mean)[0].ravel()
                np.testing.assert_allclose(after["probs"], probs, atol=1e-4)

            # The last stroke's digit reached the server: its figures describe it.
            want_mu = f"μ = ({last[0]:.4f}, {last[1]:.4f})"
            captions = "[data-testid='stCaptionContainer']"
            until(
                lambda: any(
                    want_mu in c.text for c in driver.find_elements(By.CSS_SELECTOR, captions)
                ),
                what=f"the server's caption to show {want_mu}",
            )
            driver.save_screenshot(str(screenshot_dir() / "digit_drawn_1280x900.png"))
        finally:
            driver.quit()
    assert side is not None


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (390, 844)])
def test_the_pad_fits_without_sideways_scrolling(size):
    with streamlit_server() as url:
        driver = chrome(*size)
        try:
            # Chromium's window is never narrower than 500 px: a phone's width is emulated.
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
            )
            open_drawing(driver, url)
            for points in STROKES:
                stroke(driver, points)
            state = draw_state(driver)
            assert state["mu"] and state["zoom"] >= 1  # the inset names its magnification
            wide = driver.execute_script(
                "return [document.scrollingElement.scrollWidth, window.innerWidth]"
            )
            assert wide[0] <= wide[1], f"the page scrolls sideways: {wide}"
            inner = in_draw(
                driver,
                "const r = document.getElementById('draw-pad').getBoundingClientRect();"
                "return [r.right, document.documentElement.clientWidth];",
            )
            assert inner[0] <= inner[1] + 1, f"the pad is wider than its frame: {inner}"
            driver.save_screenshot(str(screenshot_dir() / f"digit_drawn_{size[0]}x{size[1]}.png"))
        finally:
            driver.quit()
