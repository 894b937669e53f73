"""Shared by the page AppTests: a private model copy, opening a page, reading its images."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
from deadline import DEADLINE_S
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "checkpoints" / "mnist-2d"


def clear_caches() -> None:
    """Forget every cached model and array. The test set is cached per data set name for
    the server's life, so a test that points VAE_DATA_DIR at its own small data clears
    the caches before (an earlier test may hold the real set) and after (for the next)."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def copy_default(folder: Path) -> Path:
    """A private copy of the default model, so a training job rewriting it cannot race a test."""
    dst = folder / "mnist-2d"
    shutil.copytree(DEFAULT, dst, ignore=shutil.ignore_patterns(".lock", "optimizer*", "*.tmp*"))
    return dst


def open_page(page: str, checkpoint: Path) -> AppTest:
    """Run app.py with ``checkpoint`` active and switch to ``pages/<page>.py``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    at.session_state["active_checkpoint"] = str(checkpoint)
    # Switch before the first run: running the default page (the Drag pad) first would
    # encode the test set and export the decoder for nothing.
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


class MediaRecorder:
    """Keeps every file the app hands to Streamlit's media storage, by its URL's id.

    AppTest builds a fresh in-memory storage per run and does not expose it, so the
    test records what goes in instead.
    """

    def __init__(self, monkeypatch):
        self.files: dict[str, bytes] = {}
        original = MemoryMediaFileStorage.load_and_get_id

        def record(storage, path_or_data, mimetype, kind, filename=None):
            file_id = original(storage, path_or_data, mimetype, kind, filename)
            if isinstance(path_or_data, bytes):
                self.files[file_id] = path_or_data
            return file_id

        monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)

    def image(self, url: str) -> Image.Image:
        file_id = url.rsplit("/", 1)[-1].split(".")[0]
        return Image.open(io.BytesIO(self.files[file_id]))


def page_images(at: AppTest, media: MediaRecorder) -> dict[str, Image.Image]:
    """Every st.image on the page, keyed by its caption."""
    out = {}
    for element in at.get("image"):
        for img in element.proto.imgs:
            out[img.caption] = media.image(img.url)
    return out


def values(v) -> np.ndarray:
    """A plotly JSON array: a plain list, or the typed-array form {"dtype", "bdata"}."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)


def plotly_spec(at: AppTest, key: str) -> dict | None:
    """The Plotly figure the page drew with the element key ``key``, or None."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id and key in chart.proto.id:
            return json.loads(chart.proto.spec)
    return None
