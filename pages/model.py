"""Model page: the shipped default model's metrics and its manifold."""

import streamlit as st

from pages.state import DEFAULT_CHECKPOINT, load_model
from vae import images, latent
from vae.errors import VAEError

st.title("VAE Latent Explorer")
try:
    ckpt = load_model(str(DEFAULT_CHECKPOINT))
except VAEError as exc:
    st.error(f"The default model could not be loaded: {exc}")
    st.stop()

m = ckpt.metrics
st.caption(
    f"Default model `{DEFAULT_CHECKPOINT.name}`: latent dimension {ckpt.config.latent_dim}, "
    f"{ckpt.config.decoder} decoder, {ckpt.epoch} epochs on {ckpt.config.dataset}."
)
cols = st.columns(4)
cols[0].metric("−ELBO (nats)", f"{m.get('neg_elbo', float('nan')):.2f}")
cols[1].metric("Reconstruction", f"{m.get('recon', float('nan')):.2f}")
cols[2].metric("KL", f"{m.get('kl', float('nan')):.2f}")
log_px = m.get("log_px")
cols[3].metric("log p(x)", "—" if log_px is None else f"{log_px:.2f}")

n = st.slider("Grid size", 5, 30, 20)
grid = latent.manifold(ckpt.model, n=n, mode="prior")
picture = images.tile(grid.reshape(n * n, *grid.shape[2:]), cols=n, pad=0)
st.image(images.png_bytes(picture, scale=2), caption="Decoded grid through the prior's inverse CDF")
