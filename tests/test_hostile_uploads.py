"""Hostile uploads: over the cap, bombs, path traversal, and odd image modes and shapes.

A bad upload gets its own clear refusal and writes nothing; an odd but valid image is
converted into a centred MNIST digit.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hostile_files import bar, bomb_png, pickled, png_bytes
from page_sandbox import (
    ROOT,
    active_model,  # noqa: F401 (fixture)
    button,
    errors_of,
    runs_folder,  # noqa: F401 (fixture)
    tree,
)
from PIL import ImageFile

from tests.app_pages import open_page
from ui import state
from vae import upload
from vae.checkpoint import CONFIG_FILE, WEIGHTS_FILE
from vae.digit import ImageError, prepare_digit
from vae.errors import VAEError


def test_image_over_the_real_cap_is_refused():
    cap = 16 * 2**20
    assert cap == upload.MAX_UPLOAD_BYTES
    data_ = png_bytes(bar(60, 40))
    with pytest.raises(ImageError, match=r"The file is 16\.0 MB; the limit is 16 MB"):
        prepare_digit(data_ + b"\0" * (cap + 1 - len(data_)))
    assert prepare_digit(data_ + b"\0" * 1000).shape == (28, 28)  # trailing bytes alone are fine


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    bomb = bomb_png(7200)  # 51.8 megapixels, 52 MB of pixels in ~50 KB
    assert len(bomb) < 100_000
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda img: decoded.append(img.size) or real_load(img)
    )
    with pytest.raises(ImageError, match=r"too large \(7200x7200 pixels\).*50 megapixels"):
        prepare_digit(bomb)
    assert decoded == []  # refused from the header: no pixel was inflated


IMAGES = {
    # name: (picture, None if converted, else the message of the clean refusal)
    "rgba-8bit-ink-on-transparency": (np.dstack([bar(60, 40) * 0] * 3 + [bar(60, 40)]), None),
    "rgba-16bit": (np.dstack([bar(60, 40, np.uint16) * 0] * 3 + [bar(60, 40, np.uint16)]), None),
    "grey-16bit": (bar(60, 40, np.uint16), None),
    "grey-alpha-16bit": (
        np.dstack([np.full((60, 40), 65535, np.uint16), bar(60, 40, np.uint16)]),
        None,
    ),
    "rgb-16bit": (np.dstack([bar(60, 40, np.uint16)] * 3), None),
    "1x1-white": (np.full((1, 1), 255, np.uint8), "No digit found"),
    "1x1-16bit": (np.full((1, 1), 65535, np.uint16), "No digit found"),
    "1x1-rgba-transparent": (np.zeros((1, 1, 4), np.uint8), "fully transparent"),
    "1x4000": (bar(1, 4000), None),
    "4000x1": (bar(4000, 1), None),
    "2x4000": (bar(2, 4000), None),
    "4000x2": (bar(4000, 2), None),
    "1x100000": (bar(1, 100_000), None),
    "100000x1": (bar(100_000, 1), None),
    "1x60000000": (np.zeros((1, 60_000_000), np.uint8), "too large (60000000x1 pixels)"),
}


@pytest.mark.parametrize("name", list(IMAGES))
def test_image_modes_and_shapes_are_converted_or_refused_cleanly(name):
    picture, refusal = IMAGES[name]
    encoded = png_bytes(picture)
    if refusal is not None:
        with pytest.raises(ImageError) as info:
            prepare_digit(encoded)
        assert refusal in str(info.value) and isinstance(info.value, VAEError)
        return
    out = prepare_digit(encoded)
    assert out.dtype == np.uint8 and out.shape == (28, 28)
    rows, cols = np.nonzero(out)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert max(height, width) == 20  # the long side fills MNIST's 20x20 box
    h, w = picture.shape[:2]
    if max(h, w) >= 20 * min(h, w):  # a line stays a line
        assert min(height, width) <= 2 and (height > width) == (h > w)
    mass = out.astype(float)
    centre = [(mass.sum(axis=1 - i) * np.arange(28)).sum() / mass.sum() for i in (0, 1)]
    assert np.allclose(centre, 14, atol=1.0), centre


def _model_page_uploads(ckpt: Path) -> dict[str, tuple[list[tuple[str, bytes]], str]]:
    config, weights = (ckpt / CONFIG_FILE).read_bytes(), (ckpt / WEIGHTS_FILE).read_bytes()

    def zipped(members):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, body in members:
                z.writestr(name, body)
        return buf.getvalue()

    big = b"\0" * (upload.MAX_UPLOAD_BYTES + 1)
    return {
        "traversal-name": (
            [("../../x", b"written outside?")],
            "the file name '../../x' holds a path",
        ),
        "traversal-member": (
            [
                (
                    "ckpt.zip",
                    zipped([(CONFIG_FILE, config), (WEIGHTS_FILE, weights), ("../../x", b"!")]),
                )
            ],
            "the member '../../x' points outside its folder",
        ),
        "over-the-cap": ([(CONFIG_FILE, config), (WEIGHTS_FILE, big)], "over the 16.0 MB limit"),
        "zip-bomb": (
            [("bomb.zip", zipped([(CONFIG_FILE, config), (WEIGHTS_FILE, big)]))],
            "weights.safetensors is 16.0 MB, over its 16.0 MB limit",
        ),
        "non-image-renamed-png": (
            [("digit.png", b"just text, renamed")],
            "'digit.png' is not part of a checkpoint",
        ),
    }


def test_bad_uploads_on_the_model_page_write_nothing_outside(runs, active, tmp_path):
    at = open_page("model", active)
    at.radio(key="model_source").set_value("upload").run()
    outside = [runs.parent / "x", runs.parent.parent / "x", ROOT / "x", ROOT.parent / "x"]
    before, around = tree(tmp_path), sorted(p.name for p in tmp_path.parent.iterdir())
    for case, (files, phrase) in _model_page_uploads(active).items():
        uploader = at.file_uploader(key="model_upload").clear()
        for name, body in files:
            uploader.upload(name, body)
        at.run()
        button(at, "Check and use this upload").click().run()
        assert not at.exception, (case, at.exception)
        message = errors_of(at)
        assert message.startswith("The upload was refused: ") and phrase in message, (case, message)
        assert "The previous model stays active." in message
        assert at.session_state[state.ACTIVE] == str(active)
        after = tree(tmp_path)
        assert {k: v for k, v in after.items() if k != "app/runs/uploads"} == before, case
        assert not any(p.exists() for p in outside), case
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == around


def test_bad_uploads_on_the_digit_page_write_nothing(active, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative write would land here
    (tmp_path / "a" / "b").mkdir(parents=True)
    before = tree(tmp_path)
    at = open_page("digit", active)
    uploads = {
        "../../x.png": (png_bytes(bar(60, 40)), None),
        "huge.png": (
            png_bytes(bar(60, 40)) + b"\0" * upload.MAX_UPLOAD_BYTES,
            "the limit is 16 MB",
        ),
        "bomb.png": (bomb_png(7200), "too large (7200x7200 pixels)"),
        "notes.png": (b"plain text renamed .png", "not an image"),
        "pickle.png": (pickled(tmp_path / "marker"), "not an image"),
        "line-1x4000.png": (png_bytes(bar(1, 4000)), None),
        "rgba-16bit.png": (png_bytes(IMAGES["rgba-16bit"][0]), None),
        "dot-1x1.png": (png_bytes(np.full((1, 1), 255, np.uint8)), "No digit found"),
    }
    for name, (body, phrase) in uploads.items():
        at.file_uploader(key="digit_upload").upload(name, body, "image/png")
        at.run()
        assert not at.exception, (name, at.exception)
        if phrase is None:
            assert not at.error and at.get("plotly_chart"), name
        else:
            assert phrase in errors_of(at), (name, errors_of(at))
    assert tree(tmp_path) == before
    assert not (tmp_path / "marker").exists()
    assert not (ROOT / "x.png").exists() and not (ROOT.parent / "x.png").exists()


# ------------------------------------------------------------ Keras weights upload


def _import_on_model_page(at, name: str, data: bytes, origin: str, latent_dim: int):
    at.radio(key="model_source").set_value("upload").run()
    at.file_uploader(key="keras_upload").clear().upload(name, data)
    at.run()
    at.selectbox(key="keras_origin").set_value(origin)
    at.number_input(key="keras_latent").set_value(latent_dim)
    at.run()
    button(at, "Import these weights").click().run()
    assert not at.exception, at.exception
    return at


def test_model_page_imports_keras_weights_and_refuses_hostile_ones(runs, active, tmp_path):
    import h5py
    from keras_examples import saved_keras_model

    _, good = saved_keras_model(tmp_path, "keras-example", 3, "log_var")
    hostile = tmp_path / "linked.weights.h5"
    hostile.write_bytes(good.read_bytes())
    with h5py.File(hostile, "a") as f:
        del f["decoder"]
        f["decoder"] = h5py.ExternalLink(str(good), "/decoder")

    at = _import_on_model_page(
        open_page("model", active), hostile.name, hostile.read_bytes(), "keras-example", 3
    )
    message = errors_of(at)
    assert message.startswith("The import was refused: linked.weights.h5: 'decoder' is an ")
    assert "external link" in message and "The previous model stays active." in message
    assert at.session_state[state.ACTIVE] == str(active)
    assert not (runs / "uploads").exists() or not any((runs / "uploads").iterdir())

    at = _import_on_model_page(at, good.name, good.read_bytes(), "keras-example", 3)
    assert not errors_of(at)
    folder = Path(at.session_state[state.ACTIVE])
    assert folder.parent == runs / "uploads"
    assert upload.checkpoint.load_config(folder).latent_dim == 3
    assert any("Imported and active" in s.value for s in at.success)
