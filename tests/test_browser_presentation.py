"""Presentation mode in a real Chromium at a projector's sizes: the plane and the image
fill the window side by side, the figures are large, and a release's details are on
screen without scrolling; the Latent map and the Manifold fill the window too.
"""

from __future__ import annotations

import pytest
from browser import (
    PAD,
    chrome,
    in_pad,
    mouse,
    pad_mapper,
    pad_state,
    screenshot_dir,
    until,
    wait_rendered,
)

from ui import presentation
from ui.manifold_picture import ABOVE_BELOW

pytestmark = pytest.mark.browser

PROJECTORS = [(1280, 720), (1920, 1080)]
LECTURE_HALL_PX = 28  # the smallest figure a lecture hall reads from the back
PLANE_SHARE = 0.75  # of the window's height, at least: the plane is the show


def _viewport(width: int, height: int):
    """A Chromium whose page area is exactly width x height, as on a projector."""
    d = chrome(width, height)
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    return d


PAD_GEOMETRY = """
const box = (id) => document.getElementById(id).getBoundingClientRect().toJSON();
const px = (sel) => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize);
return {plane: box('plane'), image: box('image'), k: px('#readout .k'), v: px('#readout .v'),
        present: document.body.classList.contains('present')};
"""

# Everything a release shows, in top-level viewport pixels, and the page's scroll.
DETAILS = """
const rects = (sel) => [...document.querySelectorAll(sel)].map(
  (e) => e.getBoundingClientRect().toJSON());
const main = document.querySelector('[data-testid="stMain"]');
return {
  heads: rects('h3'),
  metrics: rects('[data-testid="stMetricValue"]'),
  metricPx: [...document.querySelectorAll('[data-testid="stMetricValue"]')].map(
    (e) => parseFloat(getComputedStyle(e).fontSize)),
  digits: rects('[data-testid="stImage"] img'),
  captions: rects('[data-testid="stImageCaption"]'),
  scrolled: (main ? main.scrollTop : 0) + window.scrollY,
  height: window.innerHeight,
};
"""


def _in_pad_frame(d, rect: dict) -> dict:
    """A rectangle measured inside the pad's frame, in top-level viewport pixels."""
    frame = d.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().toJSON()", PAD
    )
    return {
        "left": frame["left"] + rect["left"],
        "right": frame["left"] + rect["right"],
        "top": frame["top"] + rect["top"],
        "bottom": frame["top"] + rect["bottom"],
        "width": rect["width"],
    }


@pytest.mark.parametrize("size", PROJECTORS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_drag_pad_fills_a_projector_and_a_release_shows_its_details(server, size):
    from selenium.webdriver.common.by import By

    width, height = size
    d = _viewport(width, height)
    try:
        d.get(f"{server}/?present=1")
        wait_rendered(d, PAD)
        until(lambda: (s := pad_state(d)) and s["ready"] and s["probs"], what="the pad to draw")
        g = until(
            lambda: (g := in_pad(d, lambda: d.execute_script(PAD_GEOMETRY))) and g["present"] and g,
            what="the pad in presentation mode",
        )
        plane, image = _in_pad_frame(d, g["plane"]), _in_pad_frame(d, g["image"])
        # The plane nearly as tall as the window, and wholly in it.
        assert plane["width"] >= PLANE_SHARE * height, (plane, size)
        assert plane["top"] >= 0 and plane["bottom"] <= height, (plane, size)
        # The image beside the plane, not below it, and large.
        assert image["left"] >= plane["right"] and image["top"] < plane["bottom"] / 2
        assert image["right"] <= width and image["width"] >= 8 * 28, image
        assert g["k"] >= LECTURE_HALL_PX and g["v"] >= LECTURE_HALL_PX, g

        # A drag and a release: the details come in beside the pad, above the fold.
        to_px = pad_mapper(d)
        mouse(d, "mouseMoved", to_px(0.0, 0.0), pressed=False)
        mouse(d, "mousePressed", to_px(0.0, 0.0), pressed=True)
        for t in (0.25, 0.5, 0.75, 1.0):
            mouse(d, "mouseMoved", to_px(1.5 * t, -1.0 * t), pressed=True)
        mouse(d, "mouseReleased", to_px(1.5, -1.0), pressed=False)

        def heads() -> list[str]:
            return [h.text for h in d.find_elements(By.TAG_NAME, "h3")]

        until(lambda: "At z = (1.50, −1.00)" in heads(), what="the released point's details")
        wait_rendered(d, "[data-testid='stImage'] img")
        got = until(
            lambda: (r := d.execute_script(DETAILS)) and len(r["digits"]) == 8 and r,
            what="the eight nearest digits",
        )
        d.save_screenshot(str(screenshot_dir() / f"present_drag_pad_{width}x{height}.png"))
        assert got["scrolled"] == 0, "the page scrolled"
        shown = got["heads"] + got["metrics"] + got["digits"] + got["captions"]
        assert len(got["metrics"]) == 4 and len(got["captions"]) == 8
        for r in shown:  # every figure and digit wholly on screen
            assert r["top"] >= 0 and r["bottom"] <= got["height"], (r, size)
            assert r["left"] >= 0 and r["right"] <= width, (r, size)
        assert min(got["metricPx"]) >= LECTURE_HALL_PX
    finally:
        d.quit()


MAP_FRAME = "iframe[title='components.latent_map.latent_map']"


@pytest.mark.parametrize("size", PROJECTORS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_latent_map_and_the_manifold_fill_a_projector(server, size):
    width, height = size
    d = _viewport(width, height)
    try:
        d.get(f"{server}/latent_map?present=1")
        wait_rendered(d, MAP_FRAME)
        frame = until(
            lambda: (
                (
                    r := d.execute_script(
                        "return document.querySelector(arguments[0]).getBoundingClientRect()"
                        ".toJSON()",
                        MAP_FRAME,
                    )
                )
                and r["height"] >= PLANE_SHARE * height
                and r
            ),
            what="the map to fill the window's height",
        )
        assert frame["bottom"] <= height and frame["width"] >= 0.6 * width, frame
        d.save_screenshot(str(screenshot_dir() / f"present_latent_map_{width}x{height}.png"))

        d.get(f"{server}/manifold?present=1")
        wait_rendered(d, ".mf-pic img")
        pic = d.execute_script(
            "const r = (s) => document.querySelector(s).getBoundingClientRect().toJSON();"
            "return {img: r('.mf-pic img'), x: r('.mf-x'), title: r('.mf-t')};"
        )
        img = pic["img"]
        assert abs(img["width"] - img["height"]) <= 1, img  # square: no blank bands
        # As tall as the window allows once the header and its axis labels have their room.
        assert img["height"] >= height - ABOVE_BELOW[True] - 1, (img, size)
        assert pic["title"]["bottom"] <= height, pic  # the axis and its labels on screen
        d.save_screenshot(str(screenshot_dir() / f"present_manifold_{width}x{height}.png"))
    finally:
        d.quit()


def test_the_presentation_switch_sits_in_every_pages_sidebar(server, driver):
    """Off by default; on from the sidebar, it enters the URL and shrinks the chrome."""
    from selenium.webdriver.common.by import By

    driver.get(f"{server}/manifold")
    wait_rendered(driver, ".mf-pic img")
    switch = until(
        lambda: [
            t
            for t in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebar'] label")
            if t.text.strip() == "Presentation mode"
        ],
        what="the sidebar's presentation switch",
    )[0]
    assert driver.find_elements(By.CSS_SELECTOR, "h1")  # the page's title, off by default
    switch.click()
    until(lambda: f"{presentation.PARAM}=1" in driver.current_url, what="?present=1 in the URL")
    until(lambda: not driver.find_elements(By.CSS_SELECTOR, "h1"), what="the title to fold")
    # Off again from the sidebar (it folded away for the projector: open it first).
    expand = driver.find_element(By.CSS_SELECTOR, "[data-testid='stExpandSidebarButton']")
    driver.execute_script("arguments[0].click()", expand)  # it may still be sliding into place
    switch = until(
        lambda: [
            t
            for t in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stSidebar'] label")
            if t.text.strip() == "Presentation mode" and t.is_displayed()
        ],
        what="the switch in the reopened sidebar",
    )[0]
    switch.click()
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "h1"), what="the title to return")
    until(
        lambda: f"{presentation.PARAM}=" not in driver.current_url, what="present to leave the URL"
    )


# Each switch's label: its text's full width against the width it is shown in.
CUT_LABELS = """
return [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stCheckbox"]')]
  .map((t) => [...t.querySelectorAll('label *')].filter((e) => e.textContent.trim())
    .map((e) => ({text: e.textContent.trim(), cut: e.scrollWidth > e.clientWidth + 1}))
    .filter((e) => e.cut))
  .flat();
"""


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_latent_maps_switches_show_their_whole_labels(server, size):
    d = _viewport(*size)
    try:
        d.get(f"{server}/latent_map")
        wait_rendered(d, MAP_FRAME)
        labels = d.execute_script(
            'return [...document.querySelectorAll(\'[data-testid="stMain"] '
            '[data-testid="stCheckbox"]\')].map((t) => t.textContent.trim())'
        )
        assert {"Prior 1σ, 2σ, 3σ", "Posterior σ ellipses", "Aggregate posterior"} <= set(labels)
        assert d.execute_script(CUT_LABELS) == []
    finally:
        d.quit()
