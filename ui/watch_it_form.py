"""The "Watch it form" section: a model's training played back, or why it cannot be."""

from __future__ import annotations

import streamlit as st

from ui import state


def section(key: state.Key, chart_key: str) -> None:
    """The caption and the playback figure of the checkpoint ``key``'s training
    (ui/training_playback.py); a model that kept no codes per epoch says so."""
    codes = state.training_codes(key)
    if codes is None:
        st.caption(
            "This model's training kept no codes per epoch. Every run trained now keeps "
            "them: train one on the Train page, and its map can be played back here."
        )
        return
    st.caption(
        f"{codes.z_mean.shape[1]:,} test images' codes after each of "
        f"{len(codes.epochs)} epochs: press ▶ Play or drag the slider. Early on "
        "the codes sit in one blob near the origin; the classes then separate, "
        "while the KL term keeps them inside the prior's circles."
    )
    st.plotly_chart(state.training_playback_figure(key), theme="streamlit", key=chart_key)
