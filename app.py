"""VAE Latent Explorer: the entry point only sets up navigation."""

import streamlit as st

from ui import presentation

st.set_page_config(page_title="VAE Latent Explorer", page_icon="🧭", layout="wide")
pg = st.navigation(
    {
        "Model": [
            st.Page("pages/model.py", title="Model", icon=":material/inventory_2:"),
            st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        ],
        "Explore": [
            # The default page: what a visitor should try first.
            st.Page(
                "pages/drag_pad.py",
                title="Drag pad",
                icon=":material/pan_tool_alt:",
                default=True,
            ),
            st.Page("pages/latent_map.py", title="Latent map", icon=":material/scatter_plot:"),
            st.Page("pages/manifold.py", title="Manifold", icon=":material/grid_view:"),
            st.Page("pages/samples.py", title="Samples & interpolation", icon=":material/casino:"),
            st.Page("pages/digit.py", title="Your digit", icon=":material/draw:"),
            st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
        ],
        "Learn": [
            st.Page("pages/estimators.py", title="Estimators", icon=":material/school:"),
            st.Page("pages/how_vae_works.py", title="How a VAE works", icon=":material/route:"),
        ],
    }
)
presentation.sidebar_switch()
pg.run()
