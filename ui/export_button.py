"""The download of the drag pad as one HTML file: a class drags with no server at all.

The file is built when the button is clicked (Streamlit runs ``data`` then, in its own
thread), not when the page draws: it needs the whole test set encoded, which the Model
page otherwise never waits for. Whether the decoder can run in a browser at all is
checked at once (a few milliseconds), so a model that cannot be exported says why
instead of offering a button that would fail.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import state
from vae import export_html
from vae.errors import UnsupportedArchitectureError

LABEL = "Download the drag pad as one HTML file"


@st.cache_data(show_spinner=False, max_entries=4)
def page_bytes(key: state.Key) -> bytes:
    """The exported page of the checkpoint ``key``, with its test set's codes."""
    ckpt = state.checkpoint_at(key)
    z_mean, _ = state.encodings(key)
    _, y_test, names = state.test_set(ckpt.config.dataset)
    return export_html.build_html(ckpt, z_mean, y_test, names)


def export_button(key: state.Key) -> None:
    """The button, or why this model cannot be exported.

    A decoder export stored beside the weights already proves the browser can run it,
    so the page need not build the model to offer the button.
    """
    if state.stored_export(key) is None:
        try:
            export_html.page_decoder(state.checkpoint_at(key))
        except UnsupportedArchitectureError as exc:
            st.info(f"No offline file for this model: {exc}")
            return
    st.download_button(
        LABEL,
        data=lambda: page_bytes(key),
        file_name=f"{Path(key[0]).name}.html",
        mime="text/html",
        icon=":material/download:",
        help="One file with the decoder, its weights and the test set's codes: it opens "
        "in any browser, offline. Mail it to a class or put it on any static web host; "
        "every student's browser decodes for itself, so the whole class can drag at once.",
    )
    st.caption(
        "This model's drag pad in one HTML file that works offline in any browser, for a "
        "class to drag at once. It is made when you click: a few seconds."
    )
