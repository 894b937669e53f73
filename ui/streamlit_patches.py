"""The two places the app changes Streamlit's private behaviour, each with its reason.

Streamlit 1.67 offers no option or public API for either. Both are guarded: if a later
Streamlit moves what they touch, the app still runs, as described in each function.
"""

from __future__ import annotations

import streamlit as st


def keep_keras_state() -> None:
    """Stop Streamlit calling ``keras.backend.clear_session()`` after every script run.

    Our models are shared through ``st.cache_resource`` and must survive a run; the call
    cost about 0.4 s of garbage collection per rerun, emptied TensorFlow's kernel cache
    and replaced Keras' global state under a training thread. If the function moves,
    the app still works, only slower.
    """
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:
        return
    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None


def leave_pages_folder_mode() -> None:
    """Send a deep link on a fresh server through ``app.py``'s navigation.

    Until ``st.navigation`` has run once, Streamlit treats a folder named ``pages/``
    beside the entry script the old way: ``/latent_map`` runs pages/latent_map.py alone,
    without ``app.py``, under a sidebar of file names. Turn that mode off and rerun;
    the rerun goes through ``app.py``. If the flag moves, only such a first deep link
    shows the old sidebar.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def apply() -> None:
    """Both patches; every page calls this through ``ui.state`` before drawing anything."""
    keep_keras_state()
    leave_pages_folder_mode()
