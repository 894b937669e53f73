"""VAE Latent Explorer: the entry point only sets up navigation."""

import streamlit as st

st.set_page_config(page_title="VAE Latent Explorer", page_icon="🧭", layout="wide")
st.navigation(
    {
        "Model": [
            st.Page("pages/model.py", title="Model", icon="📦", default=True),
            st.Page("pages/train.py", title="Train", icon="🏋️"),
        ],
        "Explore": [
            st.Page("pages/latent_map.py", title="Latent map", icon="🗺️"),
            st.Page("pages/manifold.py", title="Manifold", icon="🧩"),
            st.Page("pages/samples.py", title="Samples & interpolation", icon="🎲"),
            st.Page("pages/digit.py", title="Your digit", icon="✍️"),
        ],
        "Learn": [
            st.Page("pages/estimators.py", title="Estimators", icon="📐"),
        ],
    }
).run()
