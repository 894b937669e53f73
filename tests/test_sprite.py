"""vae.sprite: every test image in one sheet, each at the offset its layout gives."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vae import sprite


def test_thumbnail_sprite_places_each_image_at_its_offset():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    png, layout = sprite.thumbnail_sprite(x, cols=3)
    assert (layout.cols, layout.rows, layout.width, layout.height) == (3, 3, 84, 84)
    assert sprite.sprite_layout(7, 28, 28, cols=3) == layout
    sheet = np.array(Image.open(io.BytesIO(png)))
    assert sheet.shape == (84, 84)
    for i in range(7):
        ox, oy = layout.offset(i)
        np.testing.assert_array_equal(sheet[oy : oy + 28, ox : ox + 28], x[i])
    assert not sheet[56:, 28:].any()  # unused cells are black
    with pytest.raises(ValueError):
        sprite.thumbnail_sprite(x.astype(np.float32))
