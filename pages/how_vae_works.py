"""How a VAE works: one test digit through encoder, sampling, decoder and the ELBO, live."""

from __future__ import annotations

import base64
import html

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui import share, state, url_state
from ui.q_ellipses import Q_COLOUR, add_q_ellipses
from vae import evaluate, images, latent_plane, posterior, tour

DEFAULT_DRAWS = 20
MAX_DRAWS = 100
ANIMATE_SECONDS = 1.5  # one new epsilon per tick: slow enough to follow on a projector
VIEW_SCALE = 6  # 28 px -> 168 px, crisp
GRID_COLS = 10
GRID_SCALE = 3
PLANE_HEIGHT = 460
INDEX, SEED, DRAWS, ANIMATE = "tour_digit", "tour_seed", "tour_draws", "tour_animate"
POSTERIOR_DONE = "tour_posterior_done"  # (path, stamp, index) whose posterior was asked for
MISSES_ASKED = "tour_misses_asked"  # (path, stamp) whose test set was ranked by q's miss
MISS_SCALE = 3  # 28 px -> 84 px thumbnails
Z_COLOUR, PRIOR_COLOUR = "#f28e2b", "#4e79a7"
GRAD_COLOUR = "#59a14f"

st.title("How a VAE works")
ckpt = state.active()
share.share_bar(ckpt)
key = state.active_key()
model = ckpt.model
j = ckpt.config.latent_dim
x_test, y_test, class_names = state.test_set(ckpt.config.dataset)
x_model = state.test_inputs(ckpt)
n_test = len(x_test)

# A shared link (?tour_seed=3) shows exactly the draws its author saw.
SWITCHES = (
    url_state.Switch(SEED, SEED, url_state.integer(0, 2**31 - 1)),
    url_state.Switch(INDEX, INDEX, url_state.integer(0, n_test - 1)),
    url_state.Switch(DRAWS, DRAWS, url_state.integer(1, MAX_DRAWS)),
)
url_state.restore(SWITCHES)
st.session_state.setdefault(SEED, 0)


def resample() -> None:
    st.session_state[SEED] += 1
    url_state.record(SWITCHES)  # the link reproduces these draws


def random_digit() -> None:
    st.session_state[INDEX] = int(np.random.default_rng().integers(n_test))


@st.cache_data(max_entries=16, show_spinner="Integrating E_q[log p(x|z)] over q(z|x)…")
def exact_recon(key: state.Key, index: int) -> float | None:
    """E_q[log p(x|z)] by Gauss-Hermite for J <= 2 (it does not change with the draws)."""
    ckpt = state.checkpoint_at(key)
    if not tour.can_integrate(ckpt.config.latent_dim):
        return None
    x = state.test_inputs(ckpt)[index]
    z_mean, z_std = tour.encode_one(ckpt.model, x)
    return tour.gauss_hermite_recon(ckpt.model, x, z_mean, z_std)


@st.cache_data(max_entries=64, show_spinner="Encoding the digit and decoding its draws…")
def walk(key: state.Key, index: int, n: int, seed: int):
    """Draws, ELBO terms, decodings [n, H, W, C], reconstruction at mu and dz/d(mu, sigma)."""
    ckpt = state.checkpoint_at(key)
    model, x = ckpt.model, state.test_inputs(ckpt)[index]
    draws = tour.draw(model, x, n, seed)
    terms = tour.elbo_terms(model, x, draws, recon_exact=exact_recon(key, index))
    decoded = evaluate.decode(model, draws.z)
    at_mean = evaluate.decode(model, draws.z_mean[None])[0]
    grads = tour.reparameterization_gradients(draws.z_mean, draws.z_std, draws.eps[0])
    return draws, terms, decoded, at_mean, grads


@st.cache_data(max_entries=16, show_spinner=False)
def exact(key: state.Key, index: int):
    ckpt = state.checkpoint_at(key)
    return tour.exact_view(ckpt.model, state.test_inputs(ckpt)[index])


@st.cache_data(max_entries=8, show_spinner=False)
def misses(key: state.Key) -> tuple[list[int], list[float]]:
    """The test digits whose q(z|x) misses p(z|x) most, worst first, and their gaps."""
    ckpt = state.checkpoint_at(key)
    worst, gaps = posterior.worst_fits(ckpt.model, state.test_inputs(ckpt))
    return [int(i) for i in worst], [float(g) for g in gaps]


def pick_miss(marker: list) -> None:
    """Show this digit, and its exact posterior at once: the reason it was picked."""
    st.session_state[INDEX] = marker[-1]
    done = st.session_state.setdefault(POSTERIOR_DONE, [])
    if marker not in done:
        done.append(marker)


def show_misses() -> None:
    asked = st.session_state.setdefault(MISSES_ASKED, [])
    with st.expander("Digits where q misses the posterior most", expanded=list(key) in asked):
        st.caption(
            "Every test digit ranked by log p(x) − ELBO, which is KL(q(z|x) ‖ p(z|x)), with "
            f"log p(x) on one shared {posterior.MISS_GRID} × {posterior.MISS_GRID} grid: "
            "approximate, so pick one to see its exact posterior and gap below."
        )
        if list(key) not in asked:
            if not st.button(
                f"Rank all {n_test:,} test digits",
                icon=":material/sort:",
                key="tour_rank_misses",
                help="One shared grid of decodings and the ELBO of every digit: seconds.",
            ):
                return
            asked.append(list(key))
        with st.spinner(f"Ranking {n_test:,} digits by how far q misses…", show_time=True):
            worst, gaps = misses(key)
        for col, i, g in zip(st.columns(len(worst)), worst, gaps, strict=True):
            col.image(images.png_bytes(images.to_uint8(x_model[i][..., 0]), MISS_SCALE))
            col.button(
                f"#{i} · ≈{g:.0f} nats",
                key=f"tour_miss_{i}",
                on_click=pick_miss,
                args=([*key, i],),
                width="stretch",
            )


def vec(v: np.ndarray, digits: int = 3, most: int = 4) -> str:
    """'(−0.085, −1.791)': the first ``most`` components, with a true minus sign."""
    parts = [f"{float(a):.{digits}f}".replace("-", "−") for a in v[:most]]
    return "(" + ", ".join(parts) + (", …" if len(v) > most else "") + ")"


def num(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}".replace("-", "−")


def png_uri(picture: np.ndarray, scale: int) -> str:
    data = base64.b64encode(images.png_bytes(images.to_uint8(picture), scale)).decode()
    return f"data:image/png;base64,{data}"


# --- controls -----------------------------------------------------------------------
st.caption(
    "An image x goes in; the **encoder** says where its code might lie (μ, σ); a code "
    "**z = μ + σ ⊙ ε** is drawn there; the **decoder** turns z back into an image x̂. "
    "The training loss, −ELBO, scores both halves. Every number below is live for one test digit."
)
c = st.columns([1.2, 1.3, 1.3, 1.9, 1.2], vertical_alignment="bottom")
index = c[0].number_input(
    "Test digit #",
    min_value=0,
    max_value=n_test - 1,
    value=0,
    step=1,
    key=INDEX,
)
c[1].button(
    "Random digit",
    icon=":material/casino:",
    on_click=random_digit,
    key="tour_random",
    width="stretch",
)
c[2].button(
    "Resample ε",
    icon=":material/refresh:",
    on_click=resample,
    key="tour_resample",
    type="primary",
    width="stretch",
    help="New noise ε: z moves, μ and σ stay.",
)
n_draws = c[3].slider("Draws of z", 1, MAX_DRAWS, DEFAULT_DRAWS, key=DRAWS)
animate = c[4].toggle(
    "Animate",
    key=ANIMATE,
    help=f"Draw a new ε every {ANIMATE_SECONDS:g} s, as if pressing Resample ε.",
)
url_state.record(SWITCHES)
index = int(index)
x = x_model[index]


def readout(draws: tour.Draws) -> str:
    """mu, sigma, eps and z of the first draw as one table, a column per latent dimension."""
    k = min(j, 4)
    subs = "₁₂₃₄"
    head = "".join(f"<th>z{subs[i]}</th>" for i in range(k)) + ("<th>…</th>" if j > k else "")
    rows = (("μ", draws.z_mean, 3, Q_COLOUR), ("σ", draws.z_std, 3, Q_COLOUR),
            ("ε⁽¹⁾", draws.eps[0], 3, PRIOR_COLOUR), ("z⁽¹⁾", draws.z[0], 3, Z_COLOUR))  # fmt: skip
    body = "".join(
        f'<tr><th style="color:{colour}">{name}</th>'
        + "".join(f"<td>{num(v, digits)}</td>" for v in values[:k])
        + "</tr>"
        for name, values, digits, colour in rows
    )
    return (
        "<style>.tour-readout{font-size:clamp(1rem,1.3vw,1.7rem);"
        "font-variant-numeric:tabular-nums;border-collapse:collapse;margin:0}"
        ".tour-readout td,.tour-readout th{padding:0.1em 0.3em;text-align:right;border:none}"
        "</style>"
        f'<table class="tour-readout"><tr><th></th>{head}</tr>{body}</table>'
    )


def plane_figure(draws: tour.Draws, codes: np.ndarray, zoom: list[float]) -> go.Figure:
    """The prior's plane: N(0, I) circles, faint test codes, q's ellipses, mu and the draws."""
    fig = go.Figure()
    fig.add_trace(
        go.Scattergl(
            x=codes[:, 0],
            y=codes[:, 1],
            mode="markers",
            marker={"size": 3, "color": "#9c9c9c", "opacity": 0.25},
            name="test digits' μ",
            hoverinfo="skip",
        )
    )
    for radius, circle in latent_plane.prior_contours((1.0, 2.0)):
        fig.add_trace(
            go.Scatter(
                x=circle[:, 0],
                y=circle[:, 1],
                mode="lines",
                line={
                    "color": PRIOR_COLOUR,
                    "width": 2,
                    "dash": "solid" if radius == 1 else "dash",
                },
                name=f"prior N(0, I) {radius:g}σ",
                hoverinfo="skip",
            )
        )
    add_q(fig, draws)
    x0, x1, y0, y1 = zoom
    fig.add_shape(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, line={"color": Z_COLOUR, "width": 2})
    # The box is a speck on this scale: the label stands off with an arrow to it.
    fig.add_annotation(
        x=x1, y=y1, text="zoom box", showarrow=True, ax=50, ay=-70,
        arrowcolor=Z_COLOUR, font={"color": Z_COLOUR, "size": 14}, bgcolor="rgba(255,255,255,0.7)",
    )  # fmt: skip
    extent = latent_plane.plane_extent(codes, min_extent=3.0)
    layout(fig, extent)
    return fig


def add_q(fig: go.Figure, draws: tour.Draws, label: bool = False) -> None:
    """q(z|x)'s 1σ and 2σ ellipses at their true size, mu, and the drawn z."""
    add_q_ellipses(fig, draws.z_mean[:2], draws.z_std[:2], width=2)
    fig.add_trace(
        go.Scatter(
            x=draws.z[:, 0],
            y=draws.z[:, 1],
            mode="markers",
            marker={"size": 8, "color": Z_COLOUR, "line": {"width": 1, "color": "white"}},
            name=f"drawn z ({len(draws.z)})",
            hovertemplate="z = (%{x:.3f}, %{y:.3f})<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[draws.z[0, 0]],
            y=[draws.z[0, 1]],
            mode="markers+text" if label else "markers",
            text=["z⁽¹⁾"],
            textposition="top right",
            textfont={"size": 16, "color": Z_COLOUR},
            marker={"size": 14, "symbol": "diamond", "color": Z_COLOUR, "line": {"width": 2}},
            name="z⁽¹⁾ (first draw)",
            hovertemplate="z⁽¹⁾ = (%{x:.3f}, %{y:.3f})<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[draws.z_mean[0]],
            y=[draws.z_mean[1]],
            mode="markers",
            marker={"size": 16, "symbol": "star", "color": Q_COLOUR, "line": {"width": 1}},
            name="μ",
            hovertemplate="μ = (%{x:.3f}, %{y:.3f})<extra></extra>",
        )
    )


def layout(fig: go.Figure, extent: list[float]) -> None:
    names = ("z₁", "z₂") if j == 2 else (f"z₁ (of {j})", "z₂")
    fig.update_layout(
        height=PLANE_HEIGHT,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.16, "font": {"size": 13}},
        legend_itemsizing="constant",
        showlegend=True,
    )
    fig.update_xaxes(title=names[0], range=extent[:2], constrain="domain")
    fig.update_yaxes(title=names[1], range=extent[2:], scaleanchor="x", scaleratio=1)


def zoom_figure(draws: tour.Draws, zoom: list[float]) -> go.Figure:
    fig = go.Figure()
    add_q(fig, draws, label=True)
    layout(fig, zoom)
    fig.update_layout(showlegend=False)
    return fig


# Boxes are (x, y, w, h) in each SVG's own units; arrows run between named points.
WIDE = {
    "size": (1000, 340),
    "x": (10, 95, 110, 110), "enc": (150, 85, 100, 130), "mu": (290, 30, 170, 64),
    "sigma": (290, 206, 170, 64), "z": (530, 110, 200, 80), "eps": (560, 250, 170, 64),
    "dec": (760, 85, 100, 130), "xhat": (880, 95, 110, 110),
    "flow": [(120, 150, 150, 150), (250, 140, 290, 62), (250, 160, 290, 238),
             (460, 62, 530, 135), (460, 238, 530, 165), (645, 250, 645, 190),
             (730, 150, 760, 150), (860, 150, 880, 150)],
    "grad": [("M 600 108 Q 590 40 463 50", "∂z/∂μ = 1", 585, 45, "start"),
             ("M 560 192 Q 540 275 463 255", "∂z/∂σ = ε", 470, 292, "middle")],
    "footer": 332,
    "font": 1.15,  # drawn at about 0.8x on a laptop, 1.3x on a projector
}  # fmt: skip
NARROW = {
    "size": (360, 830),
    "x": (125, 8, 110, 110), "enc": (105, 162, 150, 58), "mu": (10, 262, 150, 64),
    "sigma": (200, 262, 150, 64), "z": (80, 430, 200, 80), "eps": (215, 548, 135, 62),
    "dec": (70, 548, 120, 66), "xhat": (75, 640, 110, 110),
    "flow": [(180, 142, 180, 162), (150, 220, 85, 262), (210, 220, 275, 262),
             (85, 326, 130, 430), (275, 326, 230, 430), (282, 548, 262, 510),
             (150, 510, 130, 548), (130, 614, 130, 640)],
    "grad": [("M 112 428 L 69 332", "∂z/∂μ = 1", 88, 400, "end"),
             ("M 248 428 L 291 332", "∂z/∂σ = ε", 272, 400, "start")],
    "footer": 815,
    "font": 1.0,
}  # fmt: skip


def diagram(draws: tour.Draws, decoded: np.ndarray, grads) -> str:
    """The reparameterized path as two inline SVGs (wide and narrow), live values on it."""
    values = {
        "mu": ["μ", vec(draws.z_mean, 2, 2)],
        "sigma": ["σ", vec(draws.z_std, 3, 2)],
        "z": ["z = μ + σ ⊙ ε", vec(draws.z[0], 2, 2)],
        "eps": ["ε ~ N(0, I)", vec(draws.eps[0], 2, 2)],
    }
    colours = {"mu": Q_COLOUR, "sigma": Q_COLOUR, "z": Z_COLOUR, "eps": PRIOR_COLOUR}
    pictures = {
        "x": (png_uri(x[..., 0], 4), "x (input)"),
        "xhat": (png_uri(decoded[0, ..., 0], 4), "x̂ from z⁽¹⁾"),
    }
    footer = (
        f"green, dashed: the gradient's path. ∂z/∂μ = {vec(grads[0], 0, 2)}, "
        f"∂z/∂σ = ε = {vec(grads[1], 2, 2)}"
    )

    def svg(p: dict, vertical: bool) -> str:
        w, h = p["size"]
        tag = "narrow" if vertical else "wide"  # ids are page-wide: the hidden SVG's would win

        def text(tx, ty, s, size=15, weight=400, anchor="middle", fill="currentColor") -> str:
            return (
                f'<text x="{tx:.0f}" y="{ty:.0f}" text-anchor="{anchor}" '
                f'font-size="{size * p["font"]:.0f}" '
                f'font-weight="{weight}" fill="{fill}">{html.escape(s)}</text>'
            )

        def net(bx, by, bw, bh, label, widening, vertical) -> str:
            """A trapezoid: the encoder narrows towards the code, the decoder widens from it."""
            a, b = (0.25, 0.0) if widening else (0.0, 0.25)
            if vertical:
                pts = [(bx + a * bw, by), (bx + bw - a * bw, by), (bx + bw - b * bw, by + bh),
                       (bx + b * bw, by + bh)]  # fmt: skip
            else:
                pts = [(bx, by + a * bh), (bx + bw, by + b * bh), (bx + bw, by + bh - b * bh),
                       (bx, by + bh - a * bh)]  # fmt: skip
            points = " ".join(f"{u:.0f},{v:.0f}" for u, v in pts)
            return (
                f'<polygon points="{points}" fill="#888" fill-opacity="0.18" stroke="#888" '
                f'stroke-width="2"/>' + text(bx + bw / 2, by + bh / 2 + 6, label, 16, 600)
            )

        markers = "".join(
            f'<marker id="tour-{tag}-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/>'
            "</marker>"
            for name, colour in (("fwd", "#888"), ("grad", GRAD_COLOUR))
        )
        parts = [
            f'<svg viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg" role="img" '
            'font-family="sans-serif" fill="currentColor" '
            f'style="width:100%;max-width:{w * 1.3:.0f}px;height:auto;display:block;margin:auto" '
            'aria-label="x goes through the encoder to mu and sigma; z = mu + sigma times eps; '
            f'the decoder turns z into x-hat"><defs>{markers}</defs>'
        ]
        for x1, y1, x2, y2 in p["flow"]:
            parts.append(
                f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#888" stroke-width="2.5" '
                f'marker-end="url(#tour-{tag}-fwd)"/>'
            )
        for d, label, lx, ly, anchor in p["grad"]:
            parts.append(
                f'<path d="{d}" fill="none" stroke="{GRAD_COLOUR}" stroke-width="2.5" '
                f'stroke-dasharray="7 4" marker-end="url(#tour-{tag}-grad)"/>'
                + text(lx, ly, label, 15, 600, anchor, GRAD_COLOUR)
            )
        for name, (uri, caption) in pictures.items():
            bx, by, bw, bh = p[name]
            parts.append(
                f'<image x="{bx}" y="{by}" width="{bw}" height="{bh}" href="{uri}" '
                f'style="image-rendering:pixelated"/><rect x="{bx}" y="{by}" width="{bw}" '
                f'height="{bh}" fill="none" stroke="#888"/>'
                + text(bx + bw / 2, by + bh + 18, caption)
            )
        parts.append(net(*p["enc"], "encoder", False, vertical))
        parts.append(net(*p["dec"], "decoder", True, vertical))
        for name, (title, value) in values.items():
            bx, by, bw, bh = p[name]
            colour = colours[name]
            parts.append(
                f'<rect x="{bx}" y="{by}" width="{bw}" height="{bh}" rx="10" fill="{colour}" '
                f'fill-opacity="0.16" stroke="{colour}" stroke-width="2"/>'
                + text(bx + bw / 2, by + bh / 2 - 4, title, 16, 600)
                + text(bx + bw / 2, by + bh / 2 + 17, value)
            )
        if vertical:  # too long for one line of a phone
            head, tail = footer.split(". ", 1)
            parts.append(text(w / 2, p["footer"] - 22, head + ".", 14, 400, "middle", GRAD_COLOUR))
            parts.append(text(w / 2, p["footer"], tail, 14, 400, "middle", GRAD_COLOUR))
        else:
            parts.append(text(w / 2, p["footer"], footer, 14, 400, "middle", GRAD_COLOUR))
        return "".join(parts) + "</svg>"

    return (
        "<style>.tour-narrow{display:none}@media (max-width:640px){.tour-wide{display:none}"
        ".tour-narrow{display:block}}</style>"
        f'<div class="tour-wide">{svg(WIDE, False)}</div>'
        f'<div class="tour-narrow">{svg(NARROW, True)}</div>'
    )


def live(animating: bool) -> None:
    """Sections 1-4: everything that changes with epsilon; a fragment when animating."""
    if animating:
        st.session_state[SEED] += 1
    seed = st.session_state[SEED]
    draws, terms, decoded, at_mean, grads = walk(key, index, n_draws, seed)

    st.subheader("1 · Encode: where might this digit's code lie?")
    left, mid, right = st.columns([1, 2, 2], gap="medium")
    left.image(
        images.png_bytes(images.to_uint8(x[..., 0]), VIEW_SCALE),
        caption=f"Test digit #{index} (a {class_names[y_test[index]]}), as the model sees it",
        output_format="PNG",
    )
    left.markdown(readout(draws), unsafe_allow_html=True)
    left.caption(
        "μ and σ come from the encoder, ε⁽¹⁾ from N(0, I); column by column, "
        "z⁽¹⁾ = μ + σ ε⁽¹⁾. q(z|x) = N(μ, diag σ²) is the encoder's guess; the prior "
        "p(z) = N(0, I) is where codes should lie on average."
    )
    if j < 2:
        mid.info("This model has one latent dimension; the plane needs J ≥ 2.")
    else:
        codes = state.active_encodings()[0][:, :2]
        zoom = tour.zoom_box(draws.z_mean, draws.z_std, draws.z)
        mid.markdown("**The latent plane** and the prior N(0, I)")
        mid.plotly_chart(plane_figure(draws, codes, zoom), key="tour_plane")
        right.markdown("**Zoomed around μ**, true size")
        right.plotly_chart(zoom_figure(draws, zoom), key="tour_zoom")
        note = "" if j == 2 else f" Only z₁ and z₂ of the {j} dimensions are drawn."
        st.caption(
            f"On the whole plane q(z|x)'s ellipse (σ ≈ {num(draws.z_std.max(), 3)}) is a dot "
            "beside the prior's circles; the zoomed plot enlarges the orange box, with the same "
            f"units on both axes, so the ellipse and the drawn z are seen at their true size.{note}"
        )

    st.subheader("2 · Sample: z = μ + σ ⊙ ε, then decode each z")
    left, right = st.columns([1, 4], gap="medium")
    left.image(
        images.png_bytes(images.to_uint8(at_mean[..., 0]), VIEW_SCALE // 2),
        caption="Decoded at μ (no noise)",
        output_format="PNG",
    )
    spread = tour.pixel_spread(decoded)
    right.image(
        images.png_bytes(images.tile(decoded, cols=min(GRID_COLS, len(decoded))), GRID_SCALE),
        caption=f"x̂ for each of the {len(decoded)} drawn z, in order (z⁽¹⁾ top left): "
        "the decoder's mean image",
        output_format="PNG",
    )
    right.markdown(
        f"Each **Resample ε** draws new noise: the orange points move and these images change "
        f"a little (mean pixel spread {num(spread, 3)}), while μ and σ stay, because they depend "
        "on the image alone. The code of one image is a cloud about σ wide, not a point."
    )

    st.subheader("3 · Score: the ELBO, live for this digit")
    st.latex(
        # Two lines, so the formula fits a phone's width too.
        r"\begin{aligned}\text{ELBO}(x) &= \underbrace{\mathbb{E}_{q(z\mid x)}"
        r"\big[\log p(x\mid z)\big]}_{\text{reconstruction}} \\ &\quad - "
        r"\underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big)}_{\text{distance from the prior}}"
        r"\end{aligned}"
    )
    m = st.columns(4)
    stderr = None if np.isnan(terms.recon_stderr) else f"± {num(terms.recon_stderr)} std. error"
    m[0].metric(
        f"E_q[log p(x|z)], {len(terms.log_lik)} draws",
        num(terms.recon),
        delta=stderr,
        delta_color="off",
        delta_arrow="off",
        help="The mean of log p(x|z) over the drawn z, and its standard error.",
    )
    if terms.recon_exact is not None:
        m[1].metric(
            "E_q[log p(x|z)] exact",
            num(terms.recon_exact),
            help=f"Gauss–Hermite quadrature over q(z|x), {tour.HERMITE_NODES}^{j} nodes.",
        )
    else:
        m[1].metric("E_q[log p(x|z)] exact", "—", help="Quadrature needs J ≤ 2.")
    m[2].metric("KL(q(z|x) ‖ p(z))", num(terms.kl), help="Analytic for two Gaussians.")
    best = terms.elbo_exact if terms.elbo_exact is not None else terms.elbo
    m[3].metric("ELBO", num(best), help="Exact when J ≤ 2, else from the draws.")
    recon_shown = terms.recon_exact if terms.recon_exact is not None else terms.recon
    st.markdown(
        f"**In numbers:** ELBO = {num(recon_shown)} − {num(terms.kl)} = **{num(best)} nats**; "
        f"from these {len(terms.log_lik)} draws alone it is {num(terms.elbo)}. Training "
        f"minimizes −ELBO = {num(-best)} nats = {num(tour.nats_to_bits(-best), 1)} bits. "
        "The ELBO is a lower bound: it never exceeds log p(x) (section 5 measures the gap).\n\n"
        "**What is a nat?** Information measured with the natural logarithm, where a bit uses "
        "log₂: 1 nat = 1/ln 2 ≈ 1.44 bits, so nats = bits × ln 2. −ELBO in bits bounds the "
        "length of a code for this image under the model."
    )

    st.subheader("4 · Why sampling through ε lets the gradient flow")
    st.markdown(diagram(draws, decoded, grads), unsafe_allow_html=True)
    st.markdown(
        f"The randomness is moved into **ε**, which does not depend on the encoder's weights. "
        f"z = μ + σ ⊙ ε is then an ordinary function of μ and σ, so **∂z/∂μ = 1** and "
        f"**∂z/∂σ = ε** (here {vec(grads[1], 2)}, worked out by TensorFlow's autodiff for z⁽¹⁾), "
        "and the loss's gradient reaches the encoder through the green paths. Sampling z "
        "directly from N(μ, σ²) would give no such derivative."
    )


if animate:
    st.fragment(live, run_every=ANIMATE_SECONDS)(True)
else:
    live(False)

# --- 5. the exact posterior -----------------------------------------------------------
st.subheader("5 · The truth: the exact posterior p(z|x)")
if j != 2:
    st.info(
        f"The exact posterior is integrated over a plane, so it needs a model with J = 2; "
        f"this one has J = {j}. Choose a 2-D model on the Model page to see it."
    )
    st.stop()
marker = [*key, index]
done = st.session_state.setdefault(POSTERIOR_DONE, [])
st.markdown(
    "The encoder's Gaussian q(z|x) is only a guess at the decoder's true posterior "
    "p(z|x) = p(x|z) p(z) / p(x). With two latent dimensions it can be computed: "
    "p(x|z) p(z) is integrated over the plane, on a grid refined where the mass is."
)
show_misses()
if marker not in done:
    if not st.button(
        f"Compute p(z|x) for digit #{index}",
        icon=":material/calculate:",
        key="tour_posterior",
        help="Tens of thousands of decoder calls: up to a minute or two. Kept for this session.",
    ):
        st.stop()
    done.append(marker)
    del done[:-16]
with st.spinner(
    f"Integrating p(x|z) p(z) over the plane for digit #{index} — up to a minute or two…",
    show_time=True,
):
    post, density, extent = exact(key, index)
gap = post.as_dict()["gap"]

left, right = st.columns([3, 2], gap="large")
n = density.shape[0]
fig = go.Figure(
    go.Heatmap(
        z=density,
        x=np.linspace(extent[0], extent[1], n),
        y=np.linspace(extent[2], extent[3], n),
        colorscale="Viridis",
        colorbar={"title": "p(z|x)"},
        name="p(z|x)",
        hovertemplate="z = (%{x:.3f}, %{y:.3f})<br>p(z|x) = %{z:.3g}<extra></extra>",
    )
)
add_q_ellipses(fig, post.z_mean, post.z_std, width=2.5)
fig.add_trace(
    go.Scatter(
        x=[post.mode[0]],
        y=[post.mode[1]],
        mode="markers",
        marker={
            "symbol": "x",
            "size": 15,
            "color": "white",
            "line": {"width": 1.5, "color": "black"},
        },
        name="mode of p(z|x)",
        hovertemplate="mode = (%{x:.3f}, %{y:.3f})<extra></extra>",
    )
)
fig.add_trace(
    go.Scatter(
        x=[post.z_mean[0]],
        y=[post.z_mean[1]],
        mode="markers",
        marker={
            "symbol": "star",
            "size": 16,
            "color": Q_COLOUR,
            "line": {"width": 1, "color": "white"},
        },
        name="μ of q(z|x)",
        hovertemplate="μ = (%{x:.3f}, %{y:.3f})<extra></extra>",
    )
)
fig.update_layout(
    height=PLANE_HEIGHT,
    margin={"l": 10, "r": 10, "t": 10, "b": 10},
    legend={"orientation": "h", "yanchor": "top", "y": -0.16, "font": {"size": 13}},
)
fig.update_xaxes(title="z₁", range=extent[:2], constrain="domain")
fig.update_yaxes(title="z₂", range=extent[2:], scaleanchor="x", scaleratio=1)
left.plotly_chart(fig, key="tour_posterior_map")
left.caption(
    "p(z|x) as a heat map, zoomed to where its mass is (same units on both axes, nothing "
    "exaggerated); red: q(z|x)'s 1σ and 2σ ellipses and its mean μ (star); white cross: "
    "the mode of p(z|x)."
)
m = right.columns(2)
m[0].metric(
    "log p(x)",
    num(post.log_px),
    delta=f"± {post.log_px_error:.2g} quadrature error",
    delta_color="off",
    delta_arrow="off",
)
m[1].metric("ELBO", num(post.elbo))
m = right.columns(2)
m[0].metric("KL(q(z|x) ‖ p(z|x))", num(post.kl_q_posterior, 3))
m[1].metric("log p(x) − ELBO", num(gap, 3))
right.markdown(
    "**The gap is the KL.** log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)), so the ELBO falls short "
    f"of log p(x) by exactly how far q is from the true posterior: here the KL integrated "
    f"around q is {num(post.kl_q_posterior, 3)} nats and the difference of the two "
    f"integrals is {num(post.log_px, 3)} − ({num(post.elbo, 3)}) = {num(gap, 3)} nats. "
    "Training pushes up the ELBO, so it both raises log p(x) and pulls q towards p(z|x).\n\n"
    f"The ± on log p(x) is the quadrature's own error estimate ({post.levels} levels, "
    f"{post.evaluations:,} decoder calls)."
)
