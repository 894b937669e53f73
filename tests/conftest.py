"""Shared fixtures. Tests never download: they make small arrays themselves."""

from __future__ import annotations

import os

# Set before TensorFlow is imported anywhere, to keep test output readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A test that reaches the keras.datasets download has a bug: fail instead.
os.environ.setdefault("VAE_NO_DOWNLOAD", "1")
