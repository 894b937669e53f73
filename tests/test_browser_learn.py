"""Estimators and Your digit in a real Chromium: what only a laid-out page can show."""

from __future__ import annotations

import io

import numpy as np
import pytest
from browser import chrome, screenshot_dir, until, wait_rendered
from PIL import Image

pytestmark = pytest.mark.browser

OVERLAPS = """
const [a, b] = arguments;
return !(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top);
"""
RECT = "return arguments[0].getBoundingClientRect().toJSON();"


def rects_overlap(driver, a, b) -> bool:
    return driver.execute_script(OVERLAPS, driver.execute_script(RECT, a),
                                 driver.execute_script(RECT, b))  # fmt: skip


@pytest.fixture
def laptop():
    d = chrome(1280, 720)
    yield d
    d.quit()


def test_estimators_legends_clear_of_the_toolbar_and_metrics_whole_at_1280(server, laptop):
    from selenium.webdriver.common.by import By

    laptop.set_window_size(1280, 720)
    laptop.get(f"{server}/estimators")
    wait_rendered(laptop, "[data-testid='stPlotlyChart'] .legend")
    charts = until(
        lambda: (
            len(found := laptop.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) == 2 and found
        ),
        what="both Plotly charts drawn",
    )
    for chart in charts:
        legend = chart.find_element(By.CSS_SELECTOR, ".legend")
        toolbar = chart.find_element(By.CSS_SELECTOR, ".modebar-container")
        assert not rects_overlap(laptop, legend, toolbar)
    values = laptop.find_elements(By.CSS_SELECTOR, "[data-testid='stMetricValue'] div")
    assert len(values) == 3
    for v in values:  # a cut value ends in "…": its text is wider than its box
        assert laptop.execute_script("return arguments[0].scrollWidth", v) <= v.size["width"] + 1
    laptop.save_screenshot(str(screenshot_dir() / "estimators_1280.png"))


DRAW_PAD = "iframe[title='components.draw_pad.draw_pad']"


def test_digit_clear_button_within_a_phones_reach(server):
    from selenium.webdriver.common.by import By

    phone = chrome(390, 844)
    try:
        phone.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
        )
        phone.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
        phone.get(f"{server}/digit")
        wait_rendered(phone, "[data-testid='stRadio']")
        phone.find_element(By.XPATH, "//label[.//p[text()='Draw']]").click()
        # The live drawing pad draws its own clear button, inside the component's frame.
        frame = until(
            lambda: phone.find_elements(By.CSS_SELECTOR, DRAW_PAD), what="the drawing pad"
        )[0]
        phone.execute_script("arguments[0].scrollIntoView({block: 'start'})", frame)
        outer = phone.execute_script(RECT, frame)
        phone.switch_to.frame(frame)
        try:
            button = until(
                lambda: [b for b in phone.find_elements(By.TAG_NAME, "button")
                         if "Clear the drawing" in b.text],
                what="the clear button",
            )[0]  # fmt: skip
            box = phone.execute_script(RECT, button)
        finally:
            phone.switch_to.default_content()
        assert box["height"] >= 40 and box["width"] >= 120  # a finger's target
        assert outer["left"] + box["left"] >= 0 and outer["left"] + box["right"] <= 390
        phone.save_screenshot(str(screenshot_dir() / "digit_draw_390.png"))
    finally:
        phone.quit()


def test_digit_map_and_zoom_drawn(server, laptop):
    from selenium.webdriver.common.by import By

    from vae.data import load_dataset

    path = screenshot_dir() / "seven.png"
    buf = io.BytesIO()
    Image.fromarray(255 - np.kron(load_dataset("mnist").x_test[0], np.ones((6, 6), np.uint8))).save(
        buf, format="PNG"
    )
    path.write_bytes(buf.getvalue())
    laptop.get(f"{server}/digit")
    wait_rendered(laptop, "[data-testid='stFileUploader']")
    laptop.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(path))
    until(
        lambda: len(laptop.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) == 2,
        what="the map and its zoom drawn",
    )
    wait_rendered(laptop, ".js-plotly-plot")
    laptop.execute_script(
        "document.querySelectorAll('.js-plotly-plot')[0].scrollIntoView({block: 'center'})"
    )
    laptop.save_screenshot(str(screenshot_dir() / "digit_map_1280.png"))
