"""Shared fixtures. Tests never download: they make small arrays themselves."""

from __future__ import annotations

import os

# Set before TensorFlow is imported anywhere, to keep test output readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A test that reaches the keras.datasets download has a bug: fail instead.
os.environ.setdefault("VAE_NO_DOWNLOAD", "1")

# Converted copies of data sets go to a fresh folder, not the user's cache.
if "VAE_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["VAE_CACHE_DIR"] = tempfile.mkdtemp(prefix="vae-cache-")


import pytest

# Markers that make a test slow by what it needs: a Chromium, or the real data set.
SLOW_BY_MARKER = ("browser", "integration")


def pytest_collection_modifyitems(items):
    """Every browser or real-data test is slow too, so ``-m "not slow"`` leaves it out."""
    for item in items:
        if any(item.get_closest_marker(m) for m in SLOW_BY_MARKER):
            item.add_marker(pytest.mark.slow)


# --- browser tests: one app server and one Chromium per test module ------------------


@pytest.fixture(scope="module")
def server():
    """``streamlit run app.py`` on a free port; its URL."""
    from browser import streamlit_server

    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def driver():
    """A headless Debian Chromium, shared by a module's tests."""
    from browser import chrome

    d = chrome()
    yield d
    d.quit()


# The data-set tests' fixtures; a module opts in with pytest.mark.usefixtures.
from data_fixtures import isolated_data, small_standard  # noqa: E402, F401
