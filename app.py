"""VAE Latent Explorer: the entry point only sets up navigation."""

import streamlit as st

st.set_page_config(page_title="VAE Latent Explorer", page_icon="🧭", layout="wide")
st.navigation([st.Page("pages/model.py", title="Model", icon="📦", default=True)]).run()
