"""Estimators: gradient variance of SGVB-A against SGVB-B, and the gap from ELBO to log p(x)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui import share, state
from vae import estimator_noise, precompute
from vae.config import ESTIMATORS
from vae.precompute import ELBO_SAMPLES, GAP_INDICES, GV_BATCH, GV_REPEATS

MAX_DIGITS = 8
ESTIMATOR_LABELS = {"sgvb-a": "SGVB-A (sampled KL)", "sgvb-b": "SGVB-B (analytic KL)"}
DEFAULT_DIGITS = ", ".join(map(str, GAP_INDICES))
CHART_HEIGHT = 370
# Plotly's toolbar sits over the chart's top right corner; a legend below the bars
# stays clear of it at every width.
LEGEND_BELOW = {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.12, "yanchor": "top"}

st.title("Estimators: what the paper's tricks buy")
ckpt = state.active()
share.share_bar(ckpt)
key = state.active_key()
x_test, y_test, class_names = state.test_set(ckpt.config.dataset)


@st.cache_data(max_entries=8, show_spinner="Measuring gradient variance (once per model)…")
def gradient_variance(key: state.Key) -> dict:
    ckpt = state.checkpoint_at(key)
    return precompute.gradient_variance(ckpt.model, state.test_inputs(ckpt))


@st.cache_data(max_entries=32, show_spinner="Computing log p(x) for the chosen digits…")
def elbo_and_log_px(key: state.Key, indices: tuple[int, ...]):
    """(-ELBO [n], -log p(x) [n], how log p(x) was computed) for test images ``indices``."""
    ckpt = state.checkpoint_at(key)
    return precompute.gap(ckpt.model, state.test_inputs(ckpt)[list(indices)])


@st.cache_resource(max_entries=1)
def _noise_lessons() -> dict[state.Key, list]:
    """Measured lessons by model, shared by every session: each costs up to a minute."""
    return {}


def noise_lesson(key: state.Key, progress) -> list[estimator_noise.Noise]:
    lessons = _noise_lessons()
    if key not in lessons:
        ckpt = state.checkpoint_at(key)
        x_train = state.train_inputs(ckpt)
        lessons[key] = estimator_noise.lesson(
            ckpt.model,
            ckpt.epoch,
            x_train,
            state.test_inputs(ckpt),
            steps=estimator_noise.STEPS,
            progress=progress,
        )
        while len(lessons) > 8:
            lessons.pop(next(iter(lessons)))
    return lessons[key]


def times(ratio: float) -> str:
    """13.6×, 1.11×, 1.001×: three figures, or three decimals close to 1."""
    return f"{ratio:.3g}×" if ratio >= 2 else f"{ratio:.3f}×"


def percent(share: float) -> str:
    """57%, or 0.00035% for a share too small for whole percents."""
    return f"{share:.0%}" if share >= 0.01 else f"{100 * share:.2g}%"


def parse_indices(text: str, n: int) -> tuple[int, ...]:
    """'0, 5, 17' -> (0, 5, 17); raises ValueError with a message for the user."""
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        indices = tuple(dict.fromkeys(int(p) for p in parts))
    except ValueError:
        raise ValueError("Write test indices as whole numbers separated by commas.") from None
    if not indices:
        raise ValueError("Give at least one test index.")
    if len(indices) > MAX_DIGITS:
        raise ValueError(f"Choose at most {MAX_DIGITS} digits; each costs a quadrature.")
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise ValueError(f"Test indices run from 0 to {n - 1}; {bad} are outside.")
    return indices


def grouped_bars(where, bars: list[go.Bar], y_title: str, key: str) -> None:
    fig = go.Figure(bars)
    fig.update_layout(
        barmode="group",
        height=CHART_HEIGHT,
        yaxis_title=y_title,
        legend=LEGEND_BELOW,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    where.plotly_chart(fig, theme="streamlit", key=key)


# --- 1. gradient variance --------------------------------------------------------
st.subheader("1 · Gradient noise: SGVB-A against SGVB-B")
stored = state.stored(key)
gv = stored.gradient_variance if stored is not None else gradient_variance(key)
groups = ["encoder", "decoder"]
ratio = {g: gv["sgvb-a"][g]["variance"] / gv["sgvb-b"][g]["variance"] for g in (*groups, "all")}
# A row of its own: inside the text column a third of it cut "1.000×" to "1.0…" at 1280 px.
m = st.columns(3)
m[0].metric("Encoder A/B", f"{ratio['encoder']:.3f}×")
m[1].metric("Decoder A/B", f"{ratio['decoder']:.3f}×")
m[2].metric("All A/B", f"{ratio['all']:.3f}×")
chart_col, text_col = st.columns([3, 2], gap="large")
grouped_bars(
    chart_col,
    [
        go.Bar(name=ESTIMATOR_LABELS[est], x=groups, y=[gv[est][g]["variance"] for g in groups])
        for est in ESTIMATORS
    ],
    "gradient variance (sum over weights)",
    key="gv_chart",
)
text_col.markdown(
    f"**What is measured.** The same {GV_BATCH} test images, {GV_REPEATS} times, each time with "
    "fresh noise ε: how much the gradient of the loss jumps around, summed over all weights. "
    "A noisier gradient needs smaller steps or more samples to learn.\n\n"
    "**Why B is quieter.** SGVB-A estimates the KL term from the sampled z, so that term adds "
    "its own noise; SGVB-B computes the KL between two Gaussians exactly, so only the "
    "reconstruction is sampled. The KL does not touch the decoder, so the decoder bars match, "
    f"and the encoder's noise is {ratio['encoder']:.3f}× higher under A on this model — "
    "small when, as here, the reconstruction's noise dominates; section 2 shows when it is not."
)
with text_col.expander("Numbers"):
    st.dataframe(
        {
            "estimator": [est.upper() for est in ESTIMATORS],
            **{
                f"{g} variance": [gv[e][g]["variance"] for e in ESTIMATORS]
                for g in (*groups, "all")
            },
            "all ‖mean gradient‖²": [gv[e]["all"]["mean_sq_norm"] for e in ESTIMATORS],
        },
        hide_index=True,
        key="gv_table",
    )

# --- 2. when A's extra noise matters ---------------------------------------------------
st.subheader("2 · When does A's extra noise matter?")
st.markdown(
    "Under A the KL's gradient is sampled too. For z = μ + σε its noise with respect to μ "
    "is **σ² per latent dimension**: large while the encoder is unsure (σ near 1, as at "
    "initialisation), tiny once it is sure. The reconstruction's noise, the same under "
    "both, grows as the decoder learns. Measure it on this model: a fresh copy trained "
    "from the same start, and the model itself, each on "
    f"{estimator_noise.IMAGES} test images with {estimator_noise.DRAWS} draws of ε."
)
asked = st.session_state.setdefault("estimators.noise_asked", [])
if list(key) not in asked and key not in _noise_lessons():
    if st.button(
        f"Measure it: train a fresh copy for {max(estimator_noise.STEPS)} steps",
        icon=":material/monitoring:",
        key="estimators_noise",
        help="About a minute and a half on two idle cores; kept for every viewer of this model.",
    ):
        asked.append(list(key))
        st.rerun()
else:
    bar = st.progress(0.0, "Starting a fresh copy…")
    stages = noise_lesson(key, lambda f, text: bar.progress(min(f, 1.0), text))
    bar.empty()
    rows = [s.summary() for s in stages]
    first, last = rows[0], rows[-1]
    chart_col, text_col = st.columns([3, 2], gap="large")
    fig = go.Figure(
        go.Scatter(
            x=[
                "start" if s.steps == 0 else "trained" if s.steps is None else f"{s.steps} steps"
                for s in stages
            ],
            y=[r["all_ratio"] for r in rows],
            mode="lines+markers+text",
            text=[times(r["all_ratio"]) for r in rows],
            textposition="top center",
            name="A's variance / B's",
        )
    )
    fig.update_layout(
        height=CHART_HEIGHT,
        showlegend=False,
        yaxis={"type": "log", "title": "A's gradient variance / B's", "exponentformat": "power"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    chart_col.plotly_chart(fig, theme="streamlit", key="noise_stages")
    scatter = go.Figure(
        [
            go.Scatter(
                x=s.sigma,
                y=s.kl_a / s.recon,
                mode="markers",
                name=s.label,
                marker={"size": 5, "opacity": 0.7},
            )
            for s in stages
        ]
    )
    scatter.update_layout(
        height=CHART_HEIGHT + 80,
        xaxis={"type": "log", "title": "σ of the image's q(z|x) (mean over dimensions)"},
        yaxis={
            "type": "log",
            "title": "sampled KL's noise / reconstruction's",
            "exponentformat": "power",
        },
        # Below the axis title: the default place under the plot sat on the ticks.
        legend={**LEGEND_BELOW, "y": -0.25},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    chart_col.plotly_chart(scatter, theme="streamlit", key="noise_by_sigma")
    verdict = "negligible" if last["all_ratio"] < 1.05 else "still visible"
    text_col.markdown(
        f"**What was measured on this model.** {first['stage'].capitalize()}, A's gradient "
        f"is **{times(first['all_ratio'])}** as noisy as B's; the sampled KL makes "
        f"{percent(first['kl_share_of_a'])} of its noise, with σ ≈ {first['median_sigma']:.2f}. "
        + " ".join(
            f"{r['stage'].capitalize()}: {times(r['all_ratio'])} (σ ≈ {r['median_sigma']:.2g})."
            for r in rows[1:]
        )
        + f"\n\n**So:** on the trained model the difference is {verdict}: σ has shrunk to "
        f"about {last['median_sigma']:.2g}, and the KL's sampled gradient is "
        f"{percent(last['kl_share_of_a'])} of A's noise. B's exact KL matters most in the first "
        "steps, where it keeps the encoder's gradient calm while σ is still large; the "
        "lower chart shows the same rule image by image: the larger σ, the more A adds."
    )
    with text_col.expander("Numbers"):
        st.dataframe(
            {
                "stage": [r["stage"] for r in rows],
                "A/B variance": [r["all_ratio"] for r in rows],
                "median A/B per image": [r["median_ratio"] for r in rows],
                "KL's share of A's noise": [r["kl_share_of_a"] for r in rows],
                "median σ": [r["median_sigma"] for r in rows],
            },
            hide_index=True,
            key="noise_table",
        )

# --- 3. the ELBO's gap ------------------------------------------------------------
st.subheader("3 · The gap between the ELBO and log p(x)")
chosen = st.text_input(
    f"Test images (up to {MAX_DIGITS} indices)", DEFAULT_DIGITS, key="gap_indices"
)
try:
    indices = parse_indices(chosen, len(x_test))
except ValueError as exc:
    st.error(str(exc))
    st.stop()

if stored is not None and indices == GAP_INDICES:
    neg_elbo, neg_log_px = stored.gap_neg_elbo.astype(float), stored.gap_neg_log_px.astype(float)
    how = stored.gap_how
else:
    neg_elbo, neg_log_px, how = elbo_and_log_px(key, indices)
gap = neg_elbo - neg_log_px
labels = [f"#{i} ({class_names[y_test[i]]})" for i in indices]
chart_col, text_col = st.columns([3, 2], gap="large")
grouped_bars(
    chart_col,
    [
        go.Bar(name="−ELBO", x=labels, y=neg_elbo),
        go.Bar(
            name="−log p(x)",
            x=labels,
            y=neg_log_px,
            text=[f"gap {g:.2f}" for g in gap],
            textposition="outside",
        ),
    ],
    "nats (lower is better)",
    key="gap_chart",
)
chart_col.caption(f"{how}; the ELBO is averaged over {ELBO_SAMPLES} draws of z per image.")
text_col.markdown(
    "**What is measured.** For each digit, the loss the model trains on (−ELBO) and the true "
    "loss it stands in for (−log p(x)), which a 2-D model lets us compute almost exactly.\n\n"
    "**Why there is a gap.** The ELBO equals log p(x) minus KL(q(z|x) ‖ p(z|x)): the distance "
    "from the encoder's Gaussian to the decoder's true posterior. That KL is never negative, "
    "so the ELBO is a lower bound, and the gap shows how far the encoder's guess is from the "
    f"truth — here from {gap.min():.2f} to {gap.max():.2f} nats."
)
text_col.dataframe(
    {
        "test image": labels,
        "−ELBO": neg_elbo,
        "−log p(x)": neg_log_px,
        "gap = KL(q ‖ posterior)": gap,
    },
    hide_index=True,
    key="gap_table",
)
