"""vae.digit.prepare_digit: MNIST-style centring, polarity, and every kind of bad picture."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from vae import digit
from vae.digit import ImageError, NoDigitError, prepare_digit
from vae.errors import VAEError


def png(array: np.ndarray, **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **save)
    return buf.getvalue()


def rectangle(h: int = 300, w: int = 200, dark_on_light: bool = False) -> np.ndarray:
    """A bar far off-centre: rows 30..150, columns 120..160."""
    a = np.zeros((h, w), np.uint8)
    a[30:150, 120:160] = 255
    return 255 - a if dark_on_light else a


def check_mnist_like(out: np.ndarray) -> None:
    assert out.dtype == np.uint8 and out.shape == (28, 28)
    rows, cols = np.nonzero(out)
    assert rows.max() - rows.min() + 1 <= 20 and cols.max() - cols.min() + 1 <= 20
    com = ndimage.center_of_mass(out.astype(float))
    assert abs(com[0] - 14) <= 1 and abs(com[1] - 14) <= 1, com


def test_off_centre_rectangle_is_boxed_in_20px_and_centred_by_mass():
    out = prepare_digit(rectangle())
    check_mnist_like(out)
    rows, _ = np.nonzero(out)
    assert rows.max() - rows.min() + 1 == 20  # the long side fills the box
    assert out.max() == 255 and out[0].max() == 0  # white ink, black border


def test_dark_on_light_is_inverted_automatically_and_on_request():
    light = prepare_digit(png(rectangle()))
    dark = prepare_digit(png(rectangle(dark_on_light=True)))
    assert np.array_equal(light, dark)
    assert np.array_equal(prepare_digit(rectangle(dark_on_light=True), invert="yes"), light)
    # Told the wrong polarity, the "ink" is darker than the background: nothing to centre.
    with pytest.raises(NoDigitError, match="No digit found"):
        prepare_digit(rectangle(), invert="yes")
    with pytest.raises(ValueError, match="invert must be one of"):
        prepare_digit(rectangle(), invert="maybe")


def test_a_real_mnist_digit_stays_close_to_itself():
    from vae.data import load_dataset

    x = load_dataset("mnist").x_test[:50]
    corr = [np.corrcoef(a.ravel(), prepare_digit(a).ravel())[0, 1] for a in x]
    assert corr[0] > 0.95
    assert np.median(corr) > 0.95 and min(corr) > 0.6
    # Written as a dark-on-light photo at 10x, digit 0 still comes back.
    photo = 255 - np.kron(x[0], np.ones((10, 10), np.uint8))
    jpeg = io.BytesIO()
    Image.fromarray(photo).save(jpeg, format="JPEG", quality=85)
    assert np.corrcoef(x[0].ravel(), prepare_digit(jpeg.getvalue()).ravel())[0, 1] > 0.9


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", ImageError, "The file is empty"),
        (b"%PDF-1.4 this is not a picture", ImageError, "not an image"),
        (png(rectangle())[:200], ImageError, "corrupt or truncated"),
        (png(np.zeros((1, 1), np.uint8)), NoDigitError, "No digit found"),
        (png(np.full((50, 50), 128, np.uint8)), NoDigitError, "No digit found"),
    ],
    ids=["empty", "non-image", "truncated", "1x1", "uniform"],
)
def test_bad_files_raise_specific_errors(data, error, message):
    with pytest.raises(error, match=message) as info:
        prepare_digit(data)
    assert isinstance(info.value, VAEError) and isinstance(info.value, ValueError)


def test_decompression_bomb_is_refused_from_its_header():
    """A 100000 x 100000 PNG header on a few bytes: refused before any pixel is decoded."""
    raw = bytearray(png(np.zeros((8, 8), np.uint8)))
    ihdr = struct.pack(">II", 100_000, 100_000) + bytes(raw[24:29])
    raw[16:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    with pytest.raises(ImageError, match="too large.*megapixels"):
        prepare_digit(bytes(raw))


def test_byte_size_cap(monkeypatch):
    monkeypatch.setattr(digit, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(ImageError, match="limit is"):
        prepare_digit(png(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)))


def test_sixteen_bit_rgba_and_palette_images_are_converted():
    base = prepare_digit(rectangle())
    wide = Image.fromarray(rectangle().astype(np.uint16) * 257)  # mode I;16
    assert wide.mode.startswith("I;16")
    buf = io.BytesIO()
    wide.save(buf, format="PNG")
    assert np.array_equal(prepare_digit(buf.getvalue()), base)
    assert np.array_equal(prepare_digit(wide), base)

    # Black ink on transparency (a signature-style PNG) goes on white, then is inverted.
    rgba = np.zeros((300, 200, 4), np.uint8)
    rgba[..., 3] = rectangle()
    assert np.array_equal(prepare_digit(png(rgba)), base)
    # White ink on transparency goes on black.
    rgba[..., :3] = 255
    assert np.array_equal(prepare_digit(png(rgba)), base)
    with pytest.raises(NoDigitError, match="fully transparent"):
        prepare_digit(png(np.zeros((20, 20, 4), np.uint8)))

    palette = Image.fromarray(rectangle(dark_on_light=True)).convert("P")
    buf = io.BytesIO()
    palette.save(buf, format="GIF")
    assert np.array_equal(prepare_digit(buf.getvalue()), base)


def test_extreme_aspect_ratios_and_huge_pictures_are_handled():
    wide = np.zeros((3, 1000), np.uint8)
    wide[1, 100:900] = 255
    out = prepare_digit(png(wide))
    rows, cols = np.nonzero(out)
    assert cols.max() - cols.min() + 1 == 20 and rows.max() - rows.min() + 1 <= 2
    big = np.kron(rectangle(), np.ones((12, 12), np.uint8))  # 3600 x 2400
    check_mnist_like(prepare_digit(png(big)))
    float_rgb = np.repeat(rectangle()[..., None] / 255.0, 3, axis=2)
    assert np.array_equal(prepare_digit(float_rgb), prepare_digit(rectangle()))
    with pytest.raises(ImageError, match="must be"):
        prepare_digit(np.zeros((4, 4, 2)))


def test_a_drawn_digit_from_the_browser_is_checked_before_it_is_encoded():
    pixels = np.arange(784) % 256
    np.testing.assert_array_equal(
        digit.drawn_digit(pixels.tolist()), pixels.reshape(28, 28).astype(np.uint8)
    )
    for bad, words in [
        ([0] * 783, "784"),
        ([[0] * 28] * 28, "784"),
        ([0.5] * 784, "whole numbers"),
        ([256] * 784, "whole numbers"),
        ([-1] * 784, "whole numbers"),
        (["x"] * 784, "garbled"),
        ([float("nan")] * 784, "whole numbers"),
    ]:
        with pytest.raises(digit.ImageError, match=words):
            digit.drawn_digit(bad)
