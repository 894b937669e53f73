"""A phone (390 x 844, touch) in a real Chromium: a finger drags the pad's marker with the
image in view, the pad speaks of fingers, and a swipe over the Latent map scrolls the
page. The touches are real input (CDP ``Input.dispatchTouchEvent``).
"""

from __future__ import annotations

import numpy as np
import pytest
from browser import (
    PAD,
    chrome,
    in_pad,
    open_pad,
    pad_mapper,
    pad_state,
    screenshot_dir,
    until,
    wait_rendered,
)

pytestmark = pytest.mark.browser

PHONE = (390, 844)
MAP_FRAME = "iframe[title='components.latent_map.latent_map']"
# How far the page has scrolled, whichever element Streamlit scrolls it with.
SCROLLED = "return [...document.querySelectorAll('*')].reduce((s, e) => s + e.scrollTop, 0)"


@pytest.fixture
def phone():
    d = chrome(*PHONE)
    w, h = PHONE
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": True},
    )
    d.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    yield d
    d.quit()


def touch(d, kind: str, xy: tuple[float, float] | None) -> None:
    points = [] if xy is None else [{"x": xy[0], "y": xy[1]}]
    d.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})


def _image_rect(d) -> dict:
    """The decoded image's box in top-level viewport pixels."""
    inner = in_pad(
        d,
        lambda: d.execute_script(
            "return document.getElementById('image').getBoundingClientRect().toJSON()"
        ),
    )
    frame = d.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().toJSON()", PAD
    )
    return {
        k: frame["top" if k in ("top", "bottom") else "left"] + inner[k]
        for k in ("top", "bottom", "left", "right")
    }


def test_a_finger_drags_the_marker_with_the_image_in_view(server, phone):
    d = phone
    before = open_pad(d, f"{server}/")
    hint = in_pad(
        d,
        lambda: d.execute_script(
            "const h = document.getElementById('hint');"
            "return {input: h.dataset.input, text: h.textContent}"
        ),
    )
    assert hint["input"] == "touch", hint  # a touch screen gets the finger's words
    assert "finger" in hint["text"] and "hover" not in hint["text"].lower()
    assert "arrow" not in hint["text"].lower() and "click" not in hint["text"].lower()

    to_px = pad_mapper(d)
    scroll_before = d.execute_script(SCROLLED)
    touch(d, "touchStart", to_px(0.0, 0.0))
    path = [(1.6 * t, 1.0 * t) for t in np.linspace(0.05, 1, 30)]
    for i, z in enumerate(path, 1):
        touch(d, "touchMove", to_px(*z))
        if i % 10 == 0:
            until(
                lambda z=z: (s := pad_state(d)) and np.allclose(s["z"], z, atol=0.03),
                what=f"the image at touch move {i}",
            )
            # Mid-drag, finger down: the image is wholly on screen and above the finger.
            img = _image_rect(d)
            finger = to_px(*z)
            assert img["top"] >= 0 and img["bottom"] <= PHONE[1], img
            assert img["left"] >= 0 and img["right"] <= PHONE[0], img
            assert img["bottom"] < finger[1], (img, finger)
    touch(d, "touchEnd", None)
    after = until(
        lambda: (s := pad_state(d)) and s["sent"] and s["sent"]["z"] == s["marker"] and s,
        what="the lift to send the point to Python",
    )
    np.testing.assert_allclose(after["marker"], path[-1], atol=0.03)
    assert np.abs(np.subtract(after["probs"], before["probs"])).max() > 0.2
    assert d.execute_script(SCROLLED) == scroll_before  # the finger moved the marker only
    d.save_screenshot(str(screenshot_dir() / "phone_drag_pad.png"))


def test_a_swipe_over_the_latent_map_scrolls_the_page(server, phone):
    from selenium.webdriver.common.by import By

    d = phone
    d.get(f"{server}/latent_map")
    wait_rendered(d, MAP_FRAME)
    frame = d.find_element(By.CSS_SELECTOR, MAP_FRAME)
    until(
        lambda: d.execute_script(
            "const f = arguments[0].contentDocument;"
            "return f && f.querySelector('.nsewdrag, .draglayer') !== null",
            frame,
        ),
        what="the map's plot to draw",
    )
    hint = d.execute_script(
        "const h = document.querySelector('.input-hint');"
        "return [...h.children].filter((c) => getComputedStyle(c).display !== 'none')"
        ".map((c) => c.textContent)"
    )
    assert len(hint) == 1 and hint[0].startswith("Tap"), hint  # the touch words only
    d.execute_script("arguments[0].scrollIntoView({block: 'start'})", frame)
    d.save_screenshot(str(screenshot_dir() / "phone_latent_map.png"))
    box = d.execute_script("return arguments[0].getBoundingClientRect().toJSON()", frame)
    start = d.execute_script(SCROLLED)
    # An upward swipe that starts on the plot: the page should follow the finger.
    x = box["left"] + box["width"] / 2
    y0 = min(box["bottom"], PHONE[1]) - 120
    touch(d, "touchStart", (x, y0))
    for dy in range(20, 320, 20):
        touch(d, "touchMove", (x, y0 - dy))
    touch(d, "touchEnd", None)
    until(lambda: d.execute_script(SCROLLED) >= start + 100, what="the page to scroll")
