"""AppTest of the Samples & interpolation page: grid count, strip frames, GIF, downloads."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageSequence

from tests.app_pages import MediaRecorder, copy_default, open_page, page_images

SCALE = 3  # pages/samples.py STRIP_SCALE


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return copy_default(tmp_path_factory.mktemp("ckpt"))


def by_prefix(pictures: dict, prefix: str):
    [(caption, img)] = [(c, i) for c, i in pictures.items() if c.startswith(prefix)]
    return img


def test_prior_samples_grid_holds_count_images_and_follows_the_seed(checkpoint, monkeypatch):
    media = MediaRecorder(monkeypatch)
    at = open_page("samples", checkpoint)
    at.slider(key="samples_count").set_value(12).run()
    grid = by_prefix(page_images(at, media), "12 samples from the prior, seed 0")
    # tile(): ceil(sqrt(12)) = 4 columns, 3 rows, 28 px cells with 1 px gaps, enlarged 3x.
    assert grid.size == ((4 * 29 + 1) * SCALE, (3 * 29 + 1) * SCALE)
    a = np.asarray(grid)
    cells = [
        a[SCALE * (1 + 29 * r) :, SCALE * (1 + 29 * c) :][: 28 * SCALE, : 28 * SCALE]
        for r in range(3)
        for c in range(4)
    ]
    assert all(cell.max() > 100 for cell in cells)  # 12 drawn digits
    assert np.asarray(cells[0]).tolist() != np.asarray(cells[1]).tolist()

    at.number_input(key="samples_seed").set_value(7).run()
    assert not at.exception
    other = by_prefix(page_images(at, media), "12 samples from the prior, seed 7")
    assert other.size == grid.size
    assert not np.array_equal(np.asarray(other), a)


def test_interpolation_strip_and_animation_have_one_frame_per_step(checkpoint, monkeypatch):
    media = MediaRecorder(monkeypatch)
    at = open_page("samples", checkpoint)
    at.slider(key="interp_steps").set_value(6).run()
    pictures = page_images(at, media)
    assert {"Test image 0: 7", "Test image 1: 2"} <= set(pictures)  # both originals shown
    strip = by_prefix(pictures, "6 decoded points")
    assert strip.size == ((6 * 29 + 1) * SCALE, 29 * SCALE + SCALE)
    gif = by_prefix(pictures, "The path as a looping animation")
    assert gif.format == "GIF"
    assert sum(1 for _ in ImageSequence.Iterator(gif)) == 2 * 6 - 2  # forward, then back
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download animation (GIF)", "Download strip (PNG)"]

    at.radio(key="interp_method").set_value("spherical").run()
    assert not at.exception
    assert "great-circle arc" in " ".join(c.value for c in at.caption)


def test_random_pair_picks_two_different_test_images(checkpoint):
    at = open_page("samples", checkpoint)
    at.button(key="interp_random").click().run()
    assert not at.exception
    a, b = at.number_input(key="interp_a").value, at.number_input(key="interp_b").value
    assert a != b
