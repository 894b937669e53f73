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
