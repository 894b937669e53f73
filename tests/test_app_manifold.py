"""AppTest of the Manifold page: the grid picture, its size, its axes and the download."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.app_pages import copy_default, open_page
from vae import manifold


@pytest.fixture(scope="module")
def checkpoint_copy(tmp_path_factory):
    return copy_default(tmp_path_factory.mktemp("ckpt"))


def picture(at: AppTest) -> Image.Image:
    spec = at.get("plotly_chart")[0].proto.spec
    source = json.loads(spec)["data"][0]["source"]
    return Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))


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


def test_axes_show_the_prior_quantiles_and_the_linear_span(checkpoint_copy):
    at = open_page("manifold", checkpoint_copy)
    at.slider(key="manifold_n").set_value(5).run()
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    expected = [f"{v:.2f}" for v in manifold.grid_axis(5, "prior")]
    assert layout["xaxis"]["ticktext"] == expected
    assert layout["yaxis"]["ticktext"] == expected[::-1]  # z2 grows upwards

    at.radio(key="manifold_mode").set_value("linear").run()
    at.slider(key="manifold_span").set_value(2.0).run()
    assert not at.exception
    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    assert layout["xaxis"]["ticktext"] == ["-2.00", "-1.00", "0.00", "1.00", "2.00"]


def test_download_button_offers_the_png(checkpoint_copy):
    at = open_page("manifold", checkpoint_copy)
    buttons = at.get("download_button")
    assert len(buttons) == 1
    n = at.slider(key="manifold_n").value
    px = n * 28 * manifold.picture_scale(n)
    assert f"{px} × {px} px" in buttons[0].proto.label
