"""The training's playback in a real Chromium: ▶ Play runs every epoch in order in the
browser, and the slider scrubs to any epoch, each frame holding that epoch's codes."""

from __future__ import annotations

import numpy as np
import pytest
from browser import chrome, screenshot_dir, streamlit_server, until, wait_rendered

from tests.app_pages import copy_default
from vae import encoding_history, evaluate
from vae.checkpoint import load_checkpoint
from vae.data import load_dataset, to_model_input

pytestmark = pytest.mark.browser

RUN = "20250101-000000-mnist-j2-playback"
SCALES = (0.1, 0.4, 1.0)  # epoch e's codes are the model's, times SCALES[e - 1]
PLOT = """
return [...document.querySelectorAll('.js-plotly-plot')]
  .find(g => g.layout && g.layout.sliders && g.layout.sliders.length) || null;
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("playback") / "runs"
    runs.mkdir()
    path = copy_default(runs).rename(runs / RUN)
    mnist = load_dataset("mnist")
    model = load_checkpoint(path).model
    idx = encoding_history.indices(len(mnist.y_test))
    z, lv = evaluate.encode(model, to_model_input(mnist.x_test[idx], model.config.decoder))
    for epoch, scale in enumerate(SCALES, start=1):
        encoding_history.record(path, epoch, z * scale, lv, len(mnist.y_test))
    with streamlit_server(env={"VAE_RUNS_DIR": str(runs)}) as url:
        yield url, z


def first_xs(driver) -> np.ndarray:
    """The x of every point the chart now shows, trace by trace."""
    xs = driver.execute_script(
        "const g = arguments[0]; return g._fullData.map(t => Array.from(t.x)).flat();",
        until(lambda: driver.execute_script(PLOT), what="the playback chart"),
    )
    return np.asarray(xs, np.float64)


def title(driver) -> str:
    return driver.execute_script("const g = arguments[0]; return g.layout.title.text;",
                                 driver.execute_script(PLOT))  # fmt: skip


def test_play_runs_every_epoch_and_the_slider_scrubs(run):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, z = run
    driver = chrome(1280, 900)
    try:
        driver.get(f"{url}/latent_map?model=runs/{RUN}")
        wait_rendered(driver, ".js-plotly-plot .slider-container")
        plot = until(lambda: driver.execute_script(PLOT), what="the playback chart")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", plot)
        # A still picture shows the end of training.
        assert "epoch 3 ·" in title(driver)
        end = first_xs(driver)
        assert abs(np.sort(end) - np.sort(z[:, 0])).max() < 3e-3

        driver.execute_script(
            "window.framesSeen = [];"
            "arguments[0].on('plotly_animatingframe', e => window.framesSeen.push(e.name));",
            plot,
        )
        (play,) = [
            b for b in plot.find_elements(By.CSS_SELECTOR, ".updatemenu-button")
            if "Play" in b.text
        ]  # fmt: skip
        ActionChains(driver).move_to_element(play).click().perform()
        seen = until(
            lambda: (f := driver.execute_script("return window.framesSeen")) and "3" in f and f,
            what="▶ Play to reach the last epoch",
        )
        assert seen[: seen.index("3") + 1] == ["1", "2", "3"], seen
        until(lambda: "epoch 3 ·" in title(driver), what="the last frame's title")

        # Scrub: the slider's grip dragged to the first epoch's tick shows epoch 1.
        ticks = plot.find_elements(By.CSS_SELECTOR, ".slider-tick-rect")
        assert len(ticks) == len(SCALES)
        grip = plot.find_element(By.CSS_SELECTOR, ".slider-grip-rect")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", grip)
        dx = ticks[0].rect["x"] - grip.rect["x"]
        ActionChains(driver).click_and_hold(grip).move_by_offset(int(dx), 0).release().perform()
        until(lambda: "epoch 1 ·" in title(driver), what="the slider to show epoch 1")
        np.testing.assert_allclose(
            np.sort(first_xs(driver)), np.sort(z[:, 0] * SCALES[0]), atol=3e-3
        )
        driver.save_screenshot(str(screenshot_dir() / "playback_1280.png"))
    finally:
        driver.quit()
