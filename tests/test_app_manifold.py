"""AppTest of the Manifold page: the grid picture, its size, its axes and the download."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from deadline import DEADLINE_S
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app_pages import ROOT, copy_default, open_page
from ui.manifold_picture import ABOVE_BELOW, MAX_TICKS, tick_indices
from vae import manifold


@pytest.fixture(scope="module")
def checkpoint_copy(tmp_path_factory):
    return copy_default(tmp_path_factory.mktemp("ckpt"))


def _html(at: AppTest) -> str:
    (element,) = [e for e in at.get("html") if "manifold-picture" in e.proto.body]
    return element.proto.body


def picture(at: AppTest) -> Image.Image:
    source = re.search(r'src="data:image/png;base64,([^"]+)"', _html(at)).group(1)
    return Image.open(io.BytesIO(base64.b64decode(source)))


def labels(at: AppTest, axis: str) -> list[str]:
    """The tick labels of the picture's x or y axis, left to right or top to bottom."""
    block = re.search(rf'<div class="mf-{axis}">(.*?)</div>', _html(at), re.S).group(1)
    return re.findall(r"<span[^>]*>([^<]+)</span>", block)


def test_grid_picture_has_the_size_of_n_cells_and_changes_with_n(checkpoint_copy):
    at = open_page("manifold", checkpoint_copy)
    first = picture(at)
    n = at.slider(key="manifold_n").value
    assert first.size == (n * 28 * manifold.picture_scale(n),) * 2
    # Crisp: every scale x scale block of the enlarged picture is one flat value.
    s = manifold.picture_scale(n)
    a = np.asarray(first)
    assert np.array_equal(a, np.kron(a[::s, ::s], np.ones((s, s), a.dtype)))
    assert a.std() > 10  # decoded digits, not a blank picture

    at.slider(key="manifold_n").set_value(7).run()
    assert not at.exception
    second = picture(at)
    assert second.size == (7 * 28 * manifold.picture_scale(7),) * 2
    assert second.size != first.size


def _fmt(v: float) -> str:
    return f"{v:.2f}".replace("-", "−")


def test_axes_show_the_prior_quantiles_and_the_linear_span(checkpoint_copy):
    at = open_page("manifold", checkpoint_copy)
    at.slider(key="manifold_n").set_value(5).run()
    expected = [_fmt(v) for v in manifold.grid_axis(5, "prior")]
    assert labels(at, "x") == expected
    assert labels(at, "y") == expected[::-1]  # z2 grows upwards

    at.radio(key="manifold_mode").set_value("linear").run()
    at.slider(key="manifold_span").set_value(2.0).run()
    assert not at.exception
    assert labels(at, "x") == ["−2.00", "−1.00", "0.00", "1.00", "2.00"]


@pytest.mark.parametrize("n", [12, 20, 23, 30])
def test_the_last_row_and_column_are_labelled(checkpoint_copy, n):
    """More cells than labels: every k-th cell gets one, and so do both outer cells."""
    at = open_page("manifold", checkpoint_copy)
    at.slider(key="manifold_n").set_value(n).run()
    axis = manifold.grid_axis(n, "prior")
    x, y = labels(at, "x"), labels(at, "y")
    assert x[0] == _fmt(axis[0]) and x[-1] == _fmt(axis[-1])
    assert y[0] == _fmt(axis[-1]) and y[-1] == _fmt(axis[0])
    assert 2 <= len(x) <= MAX_TICKS and len(y) == len(x)


def test_tick_cells_are_spread_evenly_from_first_to_last():
    for n in range(2, 40):
        idx = tick_indices(n)
        assert idx[0] == 0 and idx[-1] == n - 1 and len(idx) <= MAX_TICKS, (n, idx)
        gaps = np.diff(idx)
        # Even steps: no label crowds its neighbour, not even the last one.
        assert gaps.max() - gaps.min() <= 1, (n, idx)
        assert gaps.min() >= -(-(n - 1) // (MAX_TICKS - 1)), (n, idx)


def test_every_cell_says_its_z(checkpoint_copy):
    at = open_page("manifold", checkpoint_copy)
    at.slider(key="manifold_n").set_value(5).run()
    titles = re.findall(r'title="([^"]+)"', _html(at))
    axis = manifold.grid_axis(5, "prior")
    assert len(titles) == 25
    # Row 0 is the top, where z2 is largest; columns run along z1.
    assert titles[0] == f"z1 = {_fmt(axis[0])}, z2 = {_fmt(axis[-1])}"
    assert titles[-1] == f"z1 = {_fmt(axis[-1])}, z2 = {_fmt(axis[0])}"


def test_download_button_offers_the_png(checkpoint_copy):
    at = open_page("manifold", checkpoint_copy)
    buttons = at.get("download_button")
    assert len(buttons) == 1
    n = at.slider(key="manifold_n").value
    px = n * 28 * manifold.picture_scale(n)
    assert f"{px} × {px} px" in buttons[0].proto.label


def test_presentation_mode_folds_the_settings_beside_a_taller_grid(checkpoint_copy):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    at.session_state["active_checkpoint"] = str(checkpoint_copy)
    at.query_params["present"] = "1"
    at.switch_page("pages/manifold.py")
    at.run()
    assert not at.exception, at.exception
    assert not at.title
    (settings,) = [e for e in at.expander if e.label == "Grid settings"]
    assert settings.proto.expanded is False and settings.slider(key="manifold_n")
    # The picture may use all but the labels' share of the window's height.
    assert f"100vh - {ABOVE_BELOW[True]}px" in _html(at)
    assert ABOVE_BELOW[True] < ABOVE_BELOW[False]
