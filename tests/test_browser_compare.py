"""The Compare page in a real headless Chromium: a drag on one plane moves both markers
and both images, each the Keras decoding of the same z, with no message to the server
until the release; side by side on a projector, stacked on a phone with both images in
view under a dragging finger.

The pointer events are real input (CDP), so they pass Chromium's event pipeline. The
page's WebSocket sends and the frame's component messages are counted by a script
installed before the app's own.
"""

from __future__ import annotations

import numpy as np
import pytest
from browser import chrome, mouse, screenshot_dir, streamlit_server, until, wait_rendered
from compare_fixtures import MIRROR, SHIPPED, make_runs

pytestmark = pytest.mark.browser

FRAME = "iframe[title='components.compare_pad.compare_pad']"
A, B = f"runs/{SHIPPED}", f"runs/{MIRROR}"
TARGET = (1.5, 0.8)  # where the drag ends: both models decode a digit unlike the origin's
MOVES = 40
EVERY = 10  # the drag waits until both planes show every EVERY-th point, still pressed
PROJECTORS = [(1280, 720), (1920, 1080)]
PHONE = (390, 844)

# Counts what the page sends to the server (Streamlit's WebSocket) and the component
# values the frame posts; installed before any of the app's scripts run.
COUNTERS = """
window.__sent = 0; window.__values = 0;
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) { window.__sent += 1; return send.call(this, data); };
window.addEventListener('message', (e) => {
  if (e.data && e.data.type === 'streamlit:setComponentValue') window.__values += 1;
});
"""
COUNTS = "return [window.__sent, window.__values]"
STATE = (
    "const s = window.compareState; if (!s) return null;"
    "return Object.assign({}, s, {planes: s.planes.map((p) => Object.assign({}, p,"
    " {probs: p.probs ? Array.from(p.probs) : null}))});"
)
BOXES = """
const box = (sel) => document.querySelector(sel).getBoundingClientRect().toJSON();
return {plane0: box('#plane0'), plane1: box('#plane1'), image0: box('#side0 .image'),
        image1: box('#side1 .image'), present: document.body.classList.contains('present')};
"""


def _browser(width: int, height: int, phone: bool = False):
    d = chrome(width, height)
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone},
    )
    if phone:
        touch = {"enabled": True, "maxTouchPoints": 5}
        d.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", touch)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNTERS})
    return d


def _in_frame(d, script: str, *args):
    """``script`` run in the Compare frame, found afresh (Streamlit may replace it)."""
    from selenium.common.exceptions import (
        NoSuchElementException,
        NoSuchFrameException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By

    def attempt():
        try:
            d.switch_to.frame(d.find_element(By.CSS_SELECTOR, FRAME))
            try:
                return (True, d.execute_script(script, *args))
            finally:
                d.switch_to.default_content()
        except (NoSuchElementException, NoSuchFrameException, StaleElementReferenceException):
            return None

    return until(attempt, what="the Compare frame")[1]


def _state(d) -> dict | None:
    return _in_frame(d, STATE)


def _open(d, url: str) -> dict:
    d.get(url)
    wait_rendered(d, FRAME)
    d.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", FRAME)
    return until(
        lambda: (s := _state(d)) and s["ready"] and all(p.get("probs") for p in s["planes"]) and s,
        what="both planes to load their decoders and draw",
    )


def _mapper(d, plane: int):
    """z -> top-level viewport pixels on ``plane``, measured once (an affine map)."""
    frame = d.execute_script(
        "return document.querySelector(arguments[0]).getBoundingClientRect().toJSON()", FRAME
    )
    p0 = _in_frame(d, "return window.comparePoint(arguments[0], 0, 0)", plane)
    p1 = _in_frame(d, "return window.comparePoint(arguments[0], 1, 1)", plane)
    x0, y0 = frame["left"] + p0["x"], frame["top"] + p0["y"]
    dx, dy = p1["x"] - p0["x"], p1["y"] - p0["y"]
    return lambda z1, z2: (x0 + dx * z1, y0 + dy * z2)


def _shows(d, z, atol: float = 0.03) -> dict | None:
    """The state once both planes' images are decoded at z (a pixel is about 0.02)."""
    s = _state(d)
    ok = s and all(p.get("z") and np.allclose(p["z"][:2], z, atol=atol) for p in s["planes"])
    return s if ok else None


def _path():
    t = np.linspace(0, 1, MOVES + 1)[1:]
    return [(TARGET[0] * v, TARGET[1] * v + 0.3 * np.sin(np.pi * v)) for v in t]


def _drag(d, plane: int, press, move, release) -> tuple[dict, dict, list[int], list[int]]:
    """Drag on ``plane`` from the origin to TARGET; (state before release, after, counts
    at the press, counts just before the release)."""
    to_px = _mapper(d, plane)
    press(to_px(0.0, 0.0))
    at_press = d.execute_script(COUNTS)
    for i, z in enumerate(_path(), 1):
        move(to_px(*z))
        if i % EVERY == 0:
            until(lambda z=z: _shows(d, z), what=f"both planes to show move {i}")
    held = until(lambda: _shows(d, TARGET), what="both planes at the drag's end")
    before = d.execute_script(COUNTS)
    release(to_px(*TARGET))
    after = until(
        lambda: (s := _state(d)) and s["sent"] and s,
        what="the frame to send the released point",
    )
    return held, after, at_press, before


def _check_drag(d, start, held, after, at_press, before, models) -> None:
    from vae import evaluate

    # Nothing reached the server while the pointer was down.
    assert before == at_press, f"messages during the drag: {at_press} -> {before}"
    assert start["sent"] is None and held["sent"] is None
    for i, model in enumerate(models):
        plane, first = held["planes"][i], start["planes"][i]
        assert np.allclose(plane["marker"], TARGET, atol=0.03), plane["marker"]  # both markers
        probs = np.asarray(plane["probs"], np.float32)
        assert np.abs(probs - np.asarray(first["probs"])).max() > 0.2, f"image {i} did not change"
        want = evaluate.decode(model, np.asarray([plane["z"]], np.float32))[0].ravel()
        assert np.abs(probs - want).max() <= 1e-4, f"image {i} is not its model's decoding"
    # The two models decode the same z differently: each plane runs its own decoder.
    assert np.abs(np.subtract(held["planes"][0]["probs"], held["planes"][1]["probs"])).max() > 0.2
    # The release reaches Python, which puts the point in the link.
    assert after["sent"]["z"] == held["z"]
    until(lambda: d.execute_script(COUNTS)[0] > before[0], what="the release's rerun")
    until(lambda: "z=" in d.current_url and "&b=" in d.current_url, what="z in the link")


def _screens(d, name: str) -> None:
    d.save_screenshot(str(screenshot_dir() / f"compare_{name}.png"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(URL of a server listing SHIPPED and MIRROR, the two Keras models)."""
    from vae.checkpoint import load_checkpoint

    runs, data = make_runs(tmp_path_factory.mktemp("compare"))
    keras = [load_checkpoint(runs / n).model for n in (SHIPPED, MIRROR)]
    with streamlit_server({"VAE_RUNS_DIR": str(runs), "VAE_DATA_DIR": str(data)}) as url:
        yield f"{url}/compare?a={A}&b={B}", keras


@pytest.mark.parametrize("size", PROJECTORS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_drag_on_one_plane_moves_both_side_by_side_on_a_projector(served, size):
    url, keras = served
    width, height = size
    d = _browser(width, height)
    try:
        start = _open(d, url + "&present=1")
        boxes = until(
            lambda: (b := _in_frame(d, BOXES)) and b["present"] and b, what="presentation mode"
        )
        p0, p1 = boxes["plane0"], boxes["plane1"]
        assert p1["left"] > p0["right"] and abs(p1["top"] - p0["top"]) < 1  # side by side
        assert boxes["image0"]["left"] >= p0["right"]  # each image beside its plane
        frame_top = d.execute_script(
            "return document.querySelector(arguments[0]).getBoundingClientRect().top", FRAME
        )
        assert frame_top + p0["bottom"] <= height, "the planes do not fit the window"
        assert p0["width"] >= 0.3 * width * 0.9, p0  # each plane gets much of its half

        def press(xy):
            mouse(d, "mouseMoved", xy, pressed=False)
            mouse(d, "mousePressed", xy, pressed=True)

        plane = 1 if width > 1500 else 0  # either plane drives both
        held, after, at_press, before = _drag(
            d,
            plane,
            press,
            lambda xy: mouse(d, "mouseMoved", xy, pressed=True),
            lambda xy: mouse(d, "mouseReleased", xy, pressed=False),
        )
        _check_drag(d, start, held, after, at_press, before, keras)
        _screens(d, f"{width}x{height}")
    finally:
        d.quit()


def test_a_finger_drags_both_markers_on_a_phone_with_both_images_in_view(served):
    url, keras = served
    width, height = PHONE
    d = _browser(width, height, phone=True)

    def touch(kind: str, xy) -> None:
        points = [] if xy is None else [{"x": xy[0], "y": xy[1]}]
        d.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def images_in_view() -> bool:
        frame = d.execute_script(
            "return document.querySelector(arguments[0]).getBoundingClientRect().toJSON()", FRAME
        )
        b = _in_frame(d, BOXES)
        # Streamlit's top bar covers the top of the window.
        top = d.execute_script(
            "const h = document.querySelector('[data-testid=\"stHeader\"]');"
            "return h ? h.getBoundingClientRect().bottom : 0"
        )
        return all(
            frame["top"] + b[k]["top"] >= top and frame["top"] + b[k]["bottom"] <= height
            for k in ("image0", "image1")
        )

    try:
        start = _open(d, url)
        b = _in_frame(d, BOXES)
        # Stacked: both images above the planes, the planes one under the other.
        assert max(b["image0"]["bottom"], b["image1"]["bottom"]) <= b["plane0"]["top"]
        assert b["plane1"]["top"] >= b["plane0"]["bottom"]
        assert b["plane0"]["right"] <= width
        # A drag on the lower plane, with both images and that plane on screen.
        # The page scrolled to the frame, as a thumb leaves it to drag.
        d.execute_script(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});"
            "const main = document.querySelector('[data-testid=\"stMain\"]');"
            "if (main) main.scrollTop -= 64;",
            FRAME,
        )
        until(images_in_view, what="both images on screen")
        held, after, at_press, before = _drag(
            d,
            1,
            lambda xy: touch("touchStart", xy),
            lambda xy: touch("touchMove", xy),
            lambda xy: touch("touchEnd", None),
        )
        assert images_in_view(), "an image left the screen during the drag"
        _check_drag(d, start, held, after, at_press, before, keras)
        hint = _in_frame(d, "return document.getElementById('hint').dataset.input")
        assert hint == "touch"
        _screens(d, "phone")
    finally:
        d.quit()
