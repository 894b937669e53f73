"""Model page: choose the active model (a shipped one, an earlier run, an upload) and inspect it."""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from ui import export_button, state
from vae import run_list, upload, zoo
from vae.config import MAX_LATENT_DIM
from vae.errors import VAEError

SOURCES = {"default": "Shipped models", "run": "A run trained earlier", "upload": "Upload"}
UPLOADS_DIR = state.RUNS_DIR / run_list.UPLOADS_FOLDER


def _fmt(value, digits: int = 2) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def _source_of(path: str) -> str:
    """The picker that lists the checkpoint at ``path``: runs and uploads are in "run"."""
    return "run" if Path(path).parent in (Path(state.RUNS_DIR), UPLOADS_DIR) else "default"


def choose_shipped() -> None:
    names = state.shipped_names()
    if not names:
        st.info("No shipped models are in `checkpoints/`; train one on the **Train** page.")
        return
    active = Path(state.active_path())
    here = active.name if active.parent == state.SHIPPED_DIR else None

    def label(name: str) -> str:
        model = zoo.BY_NAME.get(name)
        return f"{name} · {model.lesson}" if model else name

    chosen = st.selectbox(
        "Shipped model",
        names,
        index=names.index(here) if here in names else 0,
        format_func=label,
        key="model_shipped",
        help="Each was trained by the command the README lists beside it.",
    )
    if chosen == here:
        st.caption(f"`{chosen}` is active.")
    elif st.button("Use this model"):
        state.activate(state.SHIPPED_DIR / chosen)


def choose_run() -> None:
    runs = run_list.list_runs(state.RUNS_DIR)
    if not runs:
        st.info("No runs yet. Train one on the **Train** page; it will be listed here.")
        return
    paths = [str(r.path) for r in runs]
    labels = {str(r.path): r.label for r in runs}
    active = state.active_path()
    chosen = st.selectbox(
        "Run (newest first, with its test −ELBO in nats)",
        paths,
        index=paths.index(active) if active in paths else 0,
        format_func=labels.__getitem__,
        key="model_run",
    )
    if chosen == active:
        st.caption("This run is active.")
    elif st.button("Use this run"):
        state.activate(chosen)


def choose_upload() -> None:
    st.caption(
        f"A `.zip` of a checkpoint folder, or its files: `config.json` and `weights.safetensors` "
        f"(plus `history.json`, `metrics.json` if you have them). Up to "
        f"{upload.MAX_UPLOAD_BYTES // 2**20} MB. Files are checked, never executed: "
        "`.keras`, `.h5` and pickles are refused."
    )
    files = st.file_uploader(
        "Checkpoint",
        accept_multiple_files=True,
        max_upload_size=upload.MAX_UPLOAD_BYTES // 2**20,
        key="model_upload",
    )
    if files and st.button("Check and use this upload", type="primary"):
        try:
            folder = upload.save_upload([(f.name, f.getvalue()) for f in files], UPLOADS_DIR)
        except VAEError as exc:
            st.error(f"The upload was refused: {exc} The previous model stays active.")
            return
        if state.activate(folder):
            st.success(f"Uploaded and active: `{folder.name}`.")
    choose_keras_upload()


KERAS_ORIGINS = {
    "tf-tutorial": "TensorFlow CVAE tutorial (CVAE with encoder/decoder Sequentials)",
    "keras-example": "Keras VAE example (encoder with z_mean, z_log_var and Sampling)",
}
SIGMA_LABELS = {
    "log_var": "log σ² (as in both examples)",
    "softplus": "σ = softplus(raw) + min_std",
}


def choose_keras_upload() -> None:
    st.markdown("**Bring your own model** trained with one of the Keras examples")
    st.caption(
        f"The `{upload.KERAS_WEIGHTS_SUFFIX}` file that `model.save_weights(...)` wrote. Only "
        "its numeric arrays are read; whole models (`model.save`) are refused."
    )
    file = st.file_uploader(
        "Keras weights",
        type=["h5"],
        max_upload_size=upload.MAX_UPLOAD_BYTES // 2**20,
        key="keras_upload",
    )
    origin = st.selectbox(
        "Trained with", list(KERAS_ORIGINS), format_func=KERAS_ORIGINS.get, key="keras_origin"
    )
    cols = st.columns(2)
    latent_dim = cols[0].number_input(
        "Latent dimension J", min_value=1, max_value=MAX_LATENT_DIM, value=2, key="keras_latent"
    )
    sigma = cols[1].radio(
        "The encoder's second half is",
        list(SIGMA_LABELS),
        format_func=SIGMA_LABELS.get,
        key="keras_sigma",
    )
    if file and st.button("Import these weights", type="primary"):
        try:
            folder = upload.save_keras_upload(
                file.name, file.getvalue(), origin, int(latent_dim), UPLOADS_DIR, sigma
            )
        except VAEError as exc:
            st.error(f"The import was refused: {exc} The previous model stays active.")
            return
        if state.activate(folder):
            st.success(f"Imported and active: `{folder.name}`.")


def show_metrics(ckpt, where) -> None:
    m = ckpt.metrics
    if isinstance(m.get("neg_elbo"), int | float):
        terms, note = m, None
    else:
        # No metrics.json yet (e.g. a run still training): the last epoch's test terms.
        terms = (ckpt.history[-1].get("test") or {}) if ckpt.history else {}
        note = (
            "This checkpoint has no metrics.json yet: −ELBO, reconstruction and KL are the last "
            "epoch's test values, and log p(x) is not computed. Run "
            f"`python -m vae evaluate {where} --write` to add them."
        )
    cols = st.columns(5)
    cols[0].metric("−ELBO", _fmt(terms.get("neg_elbo")), help="Test-set −ELBO, nats per image.")
    cols[1].metric("Reconstruction", _fmt(terms.get("recon")), help="−E_q[log p(x|z)], nats.")
    cols[2].metric("KL", _fmt(terms.get("kl")), help="KL(q(z|x) ‖ p(z)), nats.")
    log_px, err = m.get("log_px"), m.get("log_px_error")
    cols[3].metric(
        "log p(x)",
        _fmt(log_px),
        help=f"By quadrature on a {m.get('grid_size', '?')}² grid over the 2-D latent plane; "
        "± is the grid's error estimate. Only for J = 2.",
    )
    if isinstance(err, int | float):
        # Beside the figure, not in it: a fifth of a 1280 px window cuts "−133.34 ± 0.27"
        # short, and the error would be the part lost.
        cols[3].caption(f"± {err:.2g} (the grid's error)")
    cols[4].metric(
        "iw log p(x)",
        _fmt(m.get("iw_log_px")),
        help=f"Importance-weighted estimate with K = {m.get('iw_samples', '?')} samples.",
    )
    if note:
        st.info(note)
    elif isinstance(m.get("n_images"), int):
        st.caption(f"Measured on {m['n_images']:,} test images (metrics.json).")


def config_rows(config) -> dict[str, list[str]]:
    def show(v) -> str:
        return (
            " × ".join(map(str, v))
            if isinstance(v, tuple | list)
            else f"{v:g}"
            if isinstance(v, float)
            else str(v)
        )

    items = config.to_dict()
    return {"setting": list(items), "value": [show(v) for v in items.values()]}


st.title("Model")
# A link may open this page on a run: show the picker it came from.
if "model_source" not in st.session_state:
    st.session_state["model_source"] = _source_of(state.active_path())
with st.container(border=True):
    source = st.radio(
        "Choose the model",
        list(SOURCES),
        format_func=SOURCES.__getitem__,
        horizontal=True,
        key="model_source",
    )
    {"default": choose_shipped, "run": choose_run, "upload": choose_upload}[source]()

ckpt = state.active_records()
where = ckpt.path.relative_to(state.ROOT) if ckpt.path.is_relative_to(state.ROOT) else ckpt.path
seconds = sum(h.get("seconds", 0.0) for h in ckpt.history)
st.subheader(f"Active: `{ckpt.path.name}`")
st.caption(
    f"`{where}` · {ckpt.config.dataset}, latent dimension J = {ckpt.config.latent_dim}, "
    f"{ckpt.config.decoder} decoder, {ckpt.config.estimator.upper()} · {ckpt.epoch} epochs"
    + (f" in {seconds / 60:.1f} min" if seconds else "")
)
show_metrics(ckpt, where)

left, right = st.columns([1, 3])
with left:
    st.dataframe(config_rows(ckpt.config), hide_index=True, width="stretch", height=300)
with right:
    if ckpt.history:
        st.plotly_chart(state.training_curves(ckpt.history), theme="streamlit")
    else:
        st.info("This checkpoint has no training history (history.json).")

export_button.export_button(state.active_key())
