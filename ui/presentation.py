"""Presentation mode: the explore pages sized for a projector in a lecture hall.

One switch in the sidebar, or ``?present=1`` in the URL, so a lecturer can open the
projector's browser straight into it. While it is on, the pages give the plane and the
image the screen, fold their explanations away, and print their figures large; the
page chrome (Streamlit's padding and the sidebar) gets out of the way.
"""

from __future__ import annotations

import streamlit as st

KEY = "presentation"  # session_state: the switch's value
PARAM = "present"  # the URL's query parameter: ?present=1
ON_VALUES = ("1", "true", "yes", "on")  # what ?present= may say to turn it on
READOUT_PX = 32  # font size of the figures a lecture hall must read from the back
CHART_PX = 20  # chart text (ticks, legends, titles) on a projector; Plotly's default is 12

# Streamlit's own padding (6rem at the top) and 14 px labels are made for a desk. The
# top keeps 3.25rem so the header's "open the sidebar" button stays clear of the plane.
_STYLE = f"""
<style>
[data-testid="stMainBlockContainer"] {{
  padding: 3.25rem 1.5rem 1rem 1.5rem; max-width: none;
}}
[data-testid="stMetricValue"] {{ font-size: {READOUT_PX + 4}px; }}
[data-testid="stMetricLabel"] p {{ font-size: 18px; }}
[data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"] {{ font-size: 18px; }}
</style>
"""


def _from_url() -> bool:
    return str(st.query_params.get(PARAM, "")).lower() in ON_VALUES


def is_on() -> bool:
    """Whether presentation mode is on for this session (the switch, else the URL)."""
    if KEY not in st.session_state:
        st.session_state[KEY] = _from_url()
    return bool(st.session_state[KEY])


def _keep_in_url() -> None:
    # The URL says what the screen shows, so a link copied from the projector opens the
    # same view; switching pages drops query parameters, so this runs on every rerun.
    if st.session_state.get(KEY):
        if st.query_params.get(PARAM) != "1":
            st.query_params[PARAM] = "1"
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


# A figure's name wraps rather than ending in "…": the columns beside a plane are narrow.
WHOLE_METRIC_LABELS = """
<style>
[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] .stMarkdownEllipsis {
  white-space: normal; overflow: visible;
}
</style>
"""


def sidebar_switch() -> None:
    """The sidebar's switch; while it is on, the page chrome shrinks for a projector."""
    on = is_on()
    st.sidebar.toggle(
        "Presentation mode",
        key=KEY,
        on_change=_keep_in_url,
        help="For a projector: the plane and the image fill the screen, the figures are "
        "large, and the explanations fold away. Also ?present=1 in the URL.",
    )
    _keep_in_url()
    # The sidebar folds away for the projector (unless the viewer has opened or closed it
    # by hand, which the browser remembers); it opens again when the mode ends.
    st.set_page_config(initial_sidebar_state="collapsed" if on else "auto")
    if on:
        st.html(_STYLE)
