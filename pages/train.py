"""Train page: start a training in the background, watch it live, cancel it, use the result."""

from __future__ import annotations

import math
import os
import uuid

import streamlit as st

from ui import share, state
from vae.config import ESTIMATORS, LR_SCHEDULES, PRECISIONS, STRATEGIES, VAEConfig
from vae.data import DATASETS, DECODERS
from vae.errors import ConfigError
from vae.jobs import CANCELLED, FAILED, FINISHED, JobManager, TrainingBusyError

SHARED = os.environ.get("VAE_SHARED_SERVER", "") == "1"
OWNER = "train_owner"  # session_state: this session's id, to tell its jobs from others'
JOB = "train_job"  # session_state: the id of the job this session started last
DEFAULTS = VAEConfig()  # the form starts from the config's own defaults

DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
ESTIMATOR_NOTES = {
    "sgvb-b": "SGVB-B: KL term computed analytically, only the reconstruction is sampled "
    "(lower variance; the usual choice).",
    "sgvb-a": "SGVB-A: the whole ELBO is estimated by Monte Carlo from sampled z "
    "(works for any prior, noisier gradients).",
}
SCHEDULE_NOTES = {
    "constant": "Constant: the learning rate stays as set.",
    "cosine": "Cosine: decays to 1 % of it over the run (the shipped model's choice).",
}
PRECISION_NOTES = {
    "float32": "float32: every CPU.",
    "mixed_bfloat16": "mixed bfloat16: faster only on CPUs with native bfloat16 "
    "(AVX-512 BF16 or AMX); elsewhere slower.",
}
STRATEGY_NOTES = {
    "default": "One device.",
    "mirrored": "A copy of the model on every device (GPUs, or the CPU's logical devices).",
}
EVALUATIONS = {
    False: "Quick: log p(x) on a subset of the test set, with its standard error (seconds)",
    True: "Full: log p(x) on every test image (minutes)",
}
DECODER_NOTES = {
    "bernoulli": "Bernoulli: binarized pixels, cross-entropy loss.",
    "gaussian": "Gaussian: grey levels in [0, 1], squared-error loss (σ = 0.1).",
}


@st.cache_resource
def manager(runs_dir: str) -> JobManager:
    """One job manager per server and runs folder, shared by every session."""
    return JobManager(runs_dir)


def owner() -> str:
    if OWNER not in st.session_state:
        st.session_state[OWNER] = uuid.uuid4().hex
    return st.session_state[OWNER]


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}h {m % 60:02d}m" if m >= 60 else f"{m}m {s:02d}s" if m else f"{s}s"


def settings_form(jobs: JobManager) -> None:
    if SHARED:
        st.info(
            "Training is switched off on this shared server (VAE_SHARED_SERVER=1): one "
            "training would slow every visitor down. Run the app on your own machine to train, "
            "then upload the checkpoint on the **Model** page."
        )
    # No min_value or max_value on the numbers: Streamlit swaps a value outside them (one
    # from the URL or a forged message) for the default without a word, which would start
    # a run nobody asked for. VAEConfig checks every value on submit and names the wrong one.
    with st.form("train_form"):
        a, b, c = st.columns(3)
        with a:
            dataset = st.selectbox(
                "Data set",
                DATASETS,
                index=DATASETS.index(DEFAULTS.dataset),
                format_func=DATASET_NAMES.get,
                disabled=SHARED,
            )
            latent_dim = st.number_input(
                "Latent dimension J", value=DEFAULTS.latent_dim, disabled=SHARED
            )
            decoder = st.radio(
                "Decoder p(x|z)",
                DECODERS,
                index=DECODERS.index(DEFAULTS.decoder),
                captions=[DECODER_NOTES[d] for d in DECODERS],
                disabled=SHARED,
            )
        with b:
            epochs = st.number_input("Epochs", value=DEFAULTS.epochs, disabled=SHARED)
            batch_size = st.number_input("Batch size", value=DEFAULTS.batch_size, disabled=SHARED)
            learning_rate = st.number_input(
                "Learning rate",
                value=DEFAULTS.learning_rate,
                step=1e-4,
                format="%.5f",
                disabled=SHARED,
            )
        with c:
            estimator = st.radio(
                "Estimator",
                ESTIMATORS,
                index=ESTIMATORS.index(DEFAULTS.estimator),
                format_func=str.upper,
                captions=[ESTIMATOR_NOTES[e] for e in ESTIMATORS],
                disabled=SHARED,
            )
            beta = st.number_input(
                "β (weight of the KL term; 1 is the true ELBO)",
                value=DEFAULTS.beta,
                step=0.1,
                disabled=SHARED,
            )
            seed = st.number_input("Seed", value=DEFAULTS.seed, disabled=SHARED)
        with st.expander("Advanced: schedule, samples L, precision, strategy, evaluation"):
            d, e = st.columns(2)
            with d:
                lr_schedule = st.radio(
                    "Learning-rate schedule",
                    LR_SCHEDULES,
                    index=LR_SCHEDULES.index(DEFAULTS.lr_schedule),
                    captions=[SCHEDULE_NOTES[x] for x in LR_SCHEDULES],
                    disabled=SHARED,
                )
                n_samples = st.number_input(
                    "Samples of z per image, L", value=DEFAULTS.n_samples, disabled=SHARED
                )
                full_eval = st.radio(
                    "Evaluation after training",
                    list(EVALUATIONS),
                    format_func=EVALUATIONS.get,
                    disabled=SHARED,
                )
            with e:
                precision = st.radio(
                    "Precision",
                    PRECISIONS,
                    index=PRECISIONS.index(DEFAULTS.precision),
                    captions=[PRECISION_NOTES[x] for x in PRECISIONS],
                    disabled=SHARED,
                )
                strategy = st.radio(
                    "Strategy",
                    STRATEGIES,
                    captions=[STRATEGY_NOTES[x] for x in STRATEGIES],
                    disabled=SHARED,
                )
        submitted = st.form_submit_button("Start training", type="primary", disabled=SHARED)
    if not submitted or SHARED:
        return
    try:
        config = VAEConfig(
            dataset=dataset,
            latent_dim=int(latent_dim),
            decoder=decoder,
            epochs=int(epochs),
            batch_size=int(batch_size),
            learning_rate=float(learning_rate),
            lr_schedule=lr_schedule,
            n_samples=int(n_samples),
            precision=precision,
            estimator=estimator,
            beta=float(beta),
            seed=int(seed),
        )
    except ConfigError as exc:
        st.error(f"Check the settings: {exc}")
        return
    try:
        job = jobs.start(config, owner=owner(), full_eval=full_eval, strategy=strategy)
    except TrainingBusyError as exc:
        st.error(f"Not started: {exc}")
        return
    st.session_state[JOB] = job.job_id


def job_panel(jobs: JobManager, job_id: str, live: bool) -> None:
    """The job's progress and curves; reruns on its own every second while the job runs."""
    job = jobs.get(job_id)
    if job is None:
        return
    snap = job.snapshot()
    if live and not snap.running:
        st.rerun()  # the job ended: redraw the whole page once, without the timer
    mine = snap.owner == owner()
    with st.container(border=True):
        st.markdown(
            f"**{'Your training' if mine else 'Training by another session'}** · "
            f"{snap.describe()} · folder `{snap.out_dir.name}`"
        )
        p = snap.progress
        if snap.running:
            if p is None:
                st.progress(0.0, text=snap.phase.capitalize() + "…")
            else:
                evaluating = snap.evaluation is not None
                st.progress(p.fraction, text=_training_line(p, snap.phase, evaluating))
            if snap.evaluation is not None:
                what, fraction = snap.evaluation
                st.progress(fraction, text=f"Evaluating: {what} · {fraction:.0%}")
                # Its own cancel: the trained checkpoint is complete whatever happens here.
                if mine and st.button(
                    "Skip log p(x)",
                    key=f"skip-{job_id}",
                    help="The trained model is kept; measure log p(x) later with "
                    f"`python -m vae evaluate {snap.out_dir} --write`.",
                ):
                    job.skip_evaluation()
            elif st.button(
                "Cancel" if mine else "Cancel this training (started by another session)",
                key=f"cancel-{job_id}",
            ):
                job.cancel()
                st.toast("Cancelling after the current batch; finished epochs are kept.")
        elif snap.status == FINISHED:
            skipped = (
                f"log p(x) skipped: `python -m vae evaluate {snap.out_dir} --write` adds it."
                if snap.eval_skipped
                else ""
            )
            st.success(
                f"Finished {snap.epochs_done} epochs. {_metrics_line(snap.metrics)}{skipped}"
            )
        elif snap.status == CANCELLED:
            st.warning(
                f"Cancelled. The checkpoint keeps the last finished epoch ({snap.epochs_done})."
                if snap.usable
                else "Cancelled before the first epoch finished; nothing was kept."
            )
        elif snap.status == FAILED:
            kept = f" The last good epoch ({snap.epochs_done}) is saved." if snap.usable else ""
            st.error(f"Training failed: {snap.error}{kept}")
        if snap.history:
            st.plotly_chart(
                state.training_curves(snap.history), theme="streamlit", key=f"curves-{job_id}"
            )
            latest_codes(snap, job_id)
        if snap.usable and mine:
            if state.active_path() == str(snap.out_dir):
                st.caption("This model is active.")
                st.page_link(
                    "pages/model.py",
                    label="See it on the Model page",
                    icon=":material/inventory_2:",
                )
            elif st.button("Use this model", type="primary", key=f"use-{job_id}") and (
                state.activate(snap.out_dir)
            ):
                st.success("Now active on every page.")
                st.page_link(
                    "pages/model.py",
                    label="See it on the Model page",
                    icon=":material/inventory_2:",
                )


def latest_codes(snap, job_id: str) -> None:
    """The followed test codes after the last finished epoch: the map forming live."""
    figure = state.training_playback_figure(
        state.key_of(snap.out_dir),
        height=420,
        playable=not snap.running,  # once it has ended, the whole run plays back
    )
    if figure is None:
        return
    with st.expander("The latent space so far", expanded=True):
        st.plotly_chart(figure, theme="streamlit", key=f"codes-{job_id}")


def _training_line(p, phase: str, evaluating: bool) -> str:
    """The training bar's text: where it is, the ETA once measured, and any other phase."""
    if evaluating or p.kind == "finish":
        done = f"Trained {p.epochs} epoch{'s' * (p.epochs != 1)} in {_duration(p.elapsed_s)}"
        return done if evaluating else f"{done} · {phase}…"
    if p.kind == "batch":
        where = f"Epoch {p.epoch} of {p.epochs}, batch {p.batch} of {p.batches}"
    else:
        where = f"Epoch {p.epoch} of {p.epochs}"
    if p.measured:
        speed = f"ETA {_duration(p.eta_s)} · {p.images_per_s:,.0f} images/s"
    else:
        speed = "ETA: measuring…"
    # The phase says more than the epoch when testing or cancelling.
    extra = "" if phase.startswith("training: epoch") else f" · {phase}"
    return f"{where} · {speed}{extra}"


def _metrics_line(metrics: dict | None) -> str:
    if not metrics:
        return ""
    parts = [f"test −ELBO {metrics['neg_elbo']:.2f}"]
    for name, key in (("log p(x)", "log_px"), ("iw log p(x)", "iw_log_px")):
        if metrics.get(key) is not None:
            se = metrics.get(f"{key}_se")
            parts.append(f"{name} {metrics[key]:.2f}" + (f" ± {se:.2f}" if se else ""))
    return " · ".join(parts) + " nats" + _images_note(metrics) + ". "


def _images_note(metrics: dict) -> str:
    """On how many test images log p(x) was measured, when not on all of them."""
    n = metrics.get("log_px_images") or metrics.get("iw_images")
    if not n or n >= metrics.get("n_images", n):
        return ""
    return f" (log p(x) on {n:,} of {metrics['n_images']:,} test images, ± a standard error)"


st.title("Train")
share.name_active()
st.caption(
    "Train a new VAE in the background: other pages and other visitors keep working. "
    "One training runs at a time on this server; each writes its own folder under `runs/`."
)
jobs = manager(str(state.RUNS_DIR))
settings_form(jobs)

shown = []
mine = jobs.get(st.session_state.get(JOB))
if mine is not None:
    shown.append(mine)
running = jobs.running()
if running is not None and running is not mine:
    shown.append(running)
for job in shown:
    live = job.alive
    panel = st.fragment(job_panel, run_every=1.0 if live else None, key=f"panel-{job.job_id}")
    panel(jobs, job.job_id, live)
