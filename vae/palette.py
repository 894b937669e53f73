"""The class colours of the latent plane, for the app's pages and the exported HTML file.

Tableau 10: distinct on both white and near-black backgrounds. In the engine, not the
UI, so the command line's export draws the plane in the app's colours without Streamlit.
"""

from __future__ import annotations

CLASS_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")  # fmt: skip
