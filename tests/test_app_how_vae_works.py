"""AppTest of the How a VAE works page: the draws, Resample ε, the ELBO and the posterior."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from deadline import DEADLINE_S
from streamlit.testing.v1 import AppTest

from tests.app_pages import ROOT, copy_default, open_page, values
from vae import posterior, tour
from vae.checkpoint import load_checkpoint, save_checkpoint
from vae.config import VAEConfig
from vae.data import load_dataset, to_model_input
from vae.model import build_vae

SMALL = {"conv_filters": (4, 8), "decoder_base_channels": 4, "epochs": 1}  # fast on 28x28


def small_model(folder, **changes):
    model = build_vae(VAEConfig(**{**SMALL, **changes}))
    save_checkpoint(folder, model, epoch=1, include_optimizer=False)
    return folder, model


@pytest.fixture(scope="module")
def tiny2(tmp_path_factory):
    return small_model(tmp_path_factory.mktemp("ckpt") / "tiny2")


@pytest.fixture(scope="module", params=[1, 3])
def not_2d(tmp_path_factory, request):
    j = request.param
    return small_model(tmp_path_factory.mktemp("ckpt") / f"tiny{j}", latent_dim=j)


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("mnist").x_test


def readout(at) -> dict[str, np.ndarray]:
    """The table of μ, σ, ε⁽¹⁾ and z⁽¹⁾ on the page, by row name."""
    body = next(m.value for m in at.markdown if "tour-readout" in m.value)
    rows = re.findall(r"<tr><th[^>]*>([^<]+)</th>(.*?)</tr>", body)
    return {name: np.array([number(v) for v in re.findall(r"<td>([^<]+)</td>", cells)])
            for name, cells in rows}  # fmt: skip


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def chart(at, key: str) -> dict:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if element.proto.id and key in element.proto.id:
            return spec
    raise AssertionError(f"no chart {key}")


def test_the_tour_shows_the_draws_and_resample_moves_z_but_not_mu_or_sigma(tiny2, test_images):
    path, model = tiny2
    at = open_page("how_vae_works", path)
    assert not at.error
    at.slider(key="tour_draws").set_value(5).run()
    at.number_input(key="tour_digit").set_value(3).run()
    assert not at.exception, at.exception
    x = to_model_input(test_images[3:4], "bernoulli")[0]
    seed = at.session_state["tour_seed"]
    expected = tour.draw(model, x, 5, seed)
    first = readout(at)
    np.testing.assert_allclose(first["μ"], expected.z_mean, atol=6e-4)
    np.testing.assert_allclose(first["σ"], expected.z_std, atol=6e-4)
    np.testing.assert_allclose(first["z⁽¹⁾"], expected.z[0], atol=6e-4)
    drawn = next(t for t in chart(at, "tour_zoom")["data"] if t["name"].startswith("drawn z"))
    np.testing.assert_allclose(values(drawn["x"]), expected.z[:, 0], rtol=1e-6)
    np.testing.assert_allclose(values(drawn["y"]), expected.z[:, 1], rtol=1e-6)

    at.button(key="tour_resample").click().run()
    assert not at.exception, at.exception
    assert at.session_state["tour_seed"] == seed + 1
    second = readout(at)
    np.testing.assert_array_equal(second["μ"], first["μ"])
    np.testing.assert_array_equal(second["σ"], first["σ"])
    assert np.all(second["ε⁽¹⁾"] != first["ε⁽¹⁾"])
    assert np.all(second["z⁽¹⁾"] != first["z⁽¹⁾"])
    # The same state again gives the same draws: a rerun is stable.
    at.run()
    np.testing.assert_array_equal(readout(at)["z⁽¹⁾"], second["z⁽¹⁾"])


def test_the_elbo_terms_are_shown_with_numbers_that_add_up(tiny2, test_images):
    path, model = tiny2
    at = open_page("how_vae_works", path)
    at.slider(key="tour_draws").set_value(4).run()
    shown = metrics(at)
    recon_exact = number(shown["E_q[log p(x|z)] exact"])
    kl = number(shown["KL(q(z|x) ‖ p(z))"])
    elbo = number(shown["ELBO"])
    assert elbo == pytest.approx(recon_exact - kl, abs=0.011)
    x = to_model_input(test_images[:1], "bernoulli")[0]
    draws = tour.draw(model, x, 4, at.session_state["tour_seed"])
    terms = tour.elbo_terms(model, x, draws)
    assert number(shown["E_q[log p(x|z)], 4 draws"]) == pytest.approx(terms.recon, abs=0.006)
    assert recon_exact == pytest.approx(terms.recon_exact, abs=0.006)
    assert kl == pytest.approx(terms.kl, abs=0.006)
    text = " ".join(m.value for m in at.markdown)
    assert "1 nat = 1/ln 2 ≈ 1.44 bits" in text
    assert f"= **{shown['ELBO']} nats**" in text
    assert "∂z/∂σ = ε" in text and "<svg" in text  # the diagram, drawn inline


def test_random_digit_picks_a_test_index(tiny2):
    path, _ = tiny2
    at = open_page("how_vae_works", path)
    seen = set()
    for _ in range(3):
        at.button(key="tour_random").click().run()
        assert not at.exception, at.exception
        index = at.number_input(key="tour_digit").value
        assert 0 <= index < 10_000
        assert f"Test digit #{index} " in at.get("image")[0].proto.imgs[0].caption
        seen.add(index)
    assert len(seen) > 1


def test_the_exact_posterior_of_a_2d_model_is_a_heat_map_with_the_identity(tiny2):
    path, _ = tiny2
    at = open_page("how_vae_works", path)
    assert not [c for c in at.get("plotly_chart") if "tour_posterior_map" in c.proto.id]
    at.button(key="tour_posterior").click().run()
    assert not at.exception, at.exception
    spec = chart(at, "tour_posterior_map")
    heat = next(t for t in spec["data"] if t["type"] == "heatmap")
    density = values(heat["z"]).reshape(tour.DENSITY_NODES, -1)  # a typed array is flat
    assert density.shape == (tour.DENSITY_NODES, tour.DENSITY_NODES) and density.max() > 0
    assert {t["name"] for t in spec["data"]} >= {"q(z|x) 1σ", "q(z|x) 2σ", "mode of p(z|x)"}
    shown = metrics(at)
    kl, gap = number(shown["KL(q(z|x) ‖ p(z|x))"]), number(shown["log p(x) − ELBO"])
    assert kl >= 0 and gap == pytest.approx(kl, abs=0.05)
    assert number(shown["log p(x)"]) - number(shown["ELBO"]) == pytest.approx(gap, abs=0.011)
    # Kept for the session: another draw does not ask again.
    at.button(key="tour_resample").click().run()
    assert chart(at, "tour_posterior_map")


def test_the_digits_where_q_misses_most_are_ranked_and_a_click_shows_one(tiny2):
    path, model = tiny2
    at = open_page("how_vae_works", path)
    misses = lambda: [b for b in at.button if (b.key or "").startswith("tour_miss_")]  # noqa: E731
    assert not misses()  # ranked only on request
    at.button(key="tour_rank_misses").click().run()
    assert not at.exception, at.exception
    x = to_model_input(load_dataset("mnist").x_test, "bernoulli")
    worst, gaps = posterior.worst_fits(model, x)
    assert [b.key for b in misses()] == [f"tour_miss_{i}" for i in worst]
    assert np.all(np.diff(gaps) <= 0) and gaps[0] > np.float32(0)
    assert [b.label for b in misses()][0] == f"#{worst[0]} · ≈{gaps[0]:.0f} nats"
    misses()[0].click().run()
    assert not at.exception, at.exception
    assert at.number_input(key="tour_digit").value == worst[0]
    assert chart(at, "tour_posterior_map")  # its exact posterior, without another click
    assert number(metrics(at)["log p(x) − ELBO"]) >= 0


def test_a_model_without_a_plane_gets_a_message_instead_of_the_posterior(not_2d):
    path, model = not_2d
    j = model.config.latent_dim
    at = open_page("how_vae_works", path)
    assert not at.error
    assert any("needs a model with J = 2" in i.value for i in at.info)
    assert not [c for c in at.get("plotly_chart") if "tour_posterior_map" in c.proto.id]
    assert len(readout(at)["μ"]) == j
    # Gauss-Hermite covers J = 1 too (24 nodes); J = 3 would need 24^3.
    assert (metrics(at)["E_q[log p(x|z)] exact"] == "—") == (j == 3)


def test_a_shared_link_gives_the_same_digit_draws_and_seed(tiny2):
    path, model = tiny2
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    at.session_state["active_checkpoint"] = str(path)
    at.query_params.update(tour_digit="7", tour_draws="3", tour_seed="11")
    at.switch_page("pages/how_vae_works.py")
    at.run()
    assert not at.exception, at.exception
    assert at.number_input(key="tour_digit").value == 7
    x = to_model_input(load_dataset("mnist").x_test[7:8], "bernoulli")[0]
    expected = tour.draw(model, x, 3, seed=11)
    np.testing.assert_allclose(readout(at)["z⁽¹⁾"], expected.z[0], atol=6e-4)
    at.button(key="tour_resample").click().run()
    assert at.query_params["tour_seed"] == "12"


def test_the_shipped_model_renders(tmp_path):
    path = copy_default(tmp_path)
    at = open_page("how_vae_works", path)
    assert not at.error
    at.slider(key="tour_draws").set_value(3).run()
    assert not at.exception, at.exception
    model = load_checkpoint(path).model
    x = to_model_input(load_dataset("mnist").x_test[:1], "bernoulli")[0]
    z_mean, z_std = tour.encode_one(model, x)
    np.testing.assert_allclose(readout(at)["σ"], z_std, atol=6e-4)
    assert z_std.max() < 0.2  # the case the zoomed plot exists for
    assert at.button(key="tour_posterior")


def test_animate_draws_new_noise_on_every_run_and_stops_when_turned_off(tiny2):
    path, _ = tiny2
    at = open_page("how_vae_works", path)
    at.slider(key="tour_draws").set_value(2).run()
    still = readout(at)["z⁽¹⁾"]
    at.toggle(key="tour_animate").set_value(True).run()
    assert not at.exception, at.exception
    seed = at.session_state["tour_seed"]
    moving = readout(at)["z⁽¹⁾"]
    assert np.all(moving != still)
    at.run()
    assert at.session_state["tour_seed"] == seed + 1
    assert np.all(readout(at)["z⁽¹⁾"] != moving)
    at.toggle(key="tour_animate").set_value(False).run()
    seed = at.session_state["tour_seed"]
    at.run()
    assert at.session_state["tour_seed"] == seed
