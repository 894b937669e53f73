"""Shared, cached resources for the pages: models and arrays, loaded once per server."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from vae import checkpoint

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "mnist-2d"


@st.cache_resource(show_spinner="Loading the model…")
def load_model(path: str) -> checkpoint.Checkpoint:
    """Shared by every session and never mutated."""
    return checkpoint.load_checkpoint(path)
