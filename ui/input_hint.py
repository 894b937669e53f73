"""A how-to line in the words of the input at hand: mouse words, or touch words.

The server cannot know the visitor's device, so both sentences are sent and a CSS media
query shows one: a screen whose main pointer is a finger (no hover, a coarse pointer)
gets the touch words, every other screen the mouse words.
"""

from __future__ import annotations

import html

import streamlit as st

TOUCH_SCREEN = "(hover: none) and (pointer: coarse)"

_STYLE = f"""
<style>
.hint-touch {{ display: none; }}
@media {TOUCH_SCREEN} {{
  .hint-touch {{ display: inline; }}
  .hint-mouse {{ display: none; }}
}}
</style>
"""


def device_hint(mouse: str, touch: str) -> None:
    """A caption-sized line: ``mouse`` on a mouse or trackpad, ``touch`` on a touch screen."""
    st.html(
        _STYLE + '<div class="input-hint" style="font-size: 0.875rem; opacity: 0.7">'
        f'<span class="hint-mouse">{html.escape(mouse)}</span>'
        f'<span class="hint-touch">{html.escape(touch)}</span></div>'
    )
