"""The shipped model zoo: each folder is what its command trains, carries its figures,
and opens on every page, the Compare page included."""

from __future__ import annotations

import json
import math

import pytest
from deadline import DEADLINE_S
from streamlit.testing.v1 import AppTest

from tests.app_pages import ROOT, clear_caches
from ui import state
from vae import checkpoint, cli, precompute, zoo
from vae.config import VAEConfig
from vae.data import load_dataset

SHIPPED = ROOT / "checkpoints"
NAMES = [m.name for m in zoo.ZOO]
PAGES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
MB = 2**20


def _json(path):
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", NAMES)
def test_each_folder_holds_what_its_command_trains(name):
    folder = SHIPPED / name
    args = cli.build_parser().parse_args(zoo.BY_NAME[name].argv)
    want = cli._config_from_args(args).to_dict()
    got = VAEConfig(**_json(folder / checkpoint.CONFIG_FILE)).to_dict()
    assert got == want
    history = _json(folder / checkpoint.HISTORY_FILE)
    assert len(history) == args.epochs
    # The README's figures: `python -m vae evaluate --write`, every test image.
    metrics = _json(folder / checkpoint.METRICS_FILE)
    assert metrics["n_images"] == 10_000 and metrics["grid_size"] == 300
    assert math.isfinite(metrics["neg_elbo"]) and math.isfinite(metrics["log_px"])
    assert metrics["neg_elbo"] == pytest.approx(metrics["recon"] + metrics["kl"], abs=0.01)
    # log p(x) is at least the ELBO (within the quadrature's error).
    assert -metrics["log_px"] <= metrics["neg_elbo"] + 3 * metrics["log_px_error"]
    # Only the default keeps its optimizer (to resume it); the others stay small.
    assert (folder / checkpoint.OPTIMIZER_FILE).exists() == (name == "mnist-2d")
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < (3 if name == "mnist-2d" else 1.5) * MB, size


def test_the_readme_lists_each_model_with_its_command_and_figures():
    rows = [r for r in (ROOT / "README.md").read_text().splitlines() if r.startswith("| `")]
    for model in zoo.ZOO:
        (row,) = [r for r in rows if r.startswith(f"| `{model.name}` |")]
        metrics = _json(SHIPPED / model.name / checkpoint.METRICS_FILE)
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == model.lesson
        shown = [f"{metrics[k]:.2f}" for k in ("neg_elbo", "recon", "kl")]
        assert cells[2:5] == shown, (cells, shown)
        assert cells[5] == f"{metrics['log_px']:.2f}".replace("-", "−")
        assert cells[6] == f"`{model.command}`"


@pytest.mark.integration
@pytest.mark.parametrize("name", NAMES)
def test_each_folders_stored_figures_fit_its_weights(name):
    folder = SHIPPED / name
    config = checkpoint.load_config(folder)
    x_test = load_dataset(config.dataset).x_test
    stored = precompute.read(
        folder, dataset=config.dataset, latent_dim=config.latent_dim, n_test=len(x_test)
    )
    assert stored is not None, f"{name}: run `python -m vae precompute checkpoints/{name}`"
    assert precompute.read_export(folder) is not None


@pytest.fixture
def app(tmp_path, monkeypatch):
    """An AppTest of app.py with no runs listed, and a function opening one of its pages."""
    monkeypatch.setattr(state, "RUNS_DIR", tmp_path)
    clear_caches()  # figures an earlier test computed from another test set
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)

    def open_page(page: str) -> AppTest:
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, (page, at.exception)
        return at

    return at, open_page


def test_the_model_page_offers_the_zoo_in_order_and_switches_to_one(app):
    _, open_page = app
    at = open_page("model")
    picker = at.selectbox(key="model_shipped")
    assert picker.options[: len(NAMES)] == [f"{m.name} · {m.lesson}" for m in zoo.ZOO], (
        picker.options
    )
    picker.set_value("mnist-2d-beta4").run()
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.exception, at.exception
    assert at.session_state[state.ACTIVE] == str(SHIPPED / "mnist-2d-beta4")
    assert "mnist-2d-beta4" in at.subheader[0].value


@pytest.mark.integration
@pytest.mark.parametrize("name", NAMES)
def test_every_page_opens_each_zoo_model(name, app):
    at, open_page = app
    at.session_state[state.ACTIVE] = str(SHIPPED / name)
    for page in PAGES:
        if page == "compare":  # this model on the left, the default on the right
            at.query_params["a"], at.query_params["b"] = name, "mnist-2d"
        open_page(page)
        assert not at.error, (page, [e.value for e in at.error])
        text = " ".join(e.value for e in [*at.markdown, *at.subheader, *at.caption])
        assert f"`{name}`" in text, (page, text[:500])
        if page == "compare":
            (pad,) = at.get("component_instance")
            planes = json.loads(pad.proto.json_args)["planes"]
            assert [p["name"] for p in planes] == [name, "mnist-2d"]
        assert at.session_state[state.ACTIVE] == str(SHIPPED / name), page


@pytest.mark.integration
def test_the_compare_pages_default_pair_shows_the_autoencoder_off_the_prior(app):
    _, open_page = app
    at = open_page("compare")
    (pad,) = at.get("component_instance")
    ae, vae_ = json.loads(pad.proto.json_args)["planes"]
    assert (ae["name"], vae_["name"]) == ("mnist-2d-ae", "mnist-2d")
    # The lesson in numbers: without the prior's pull the codes drift off N(0, I), so
    # far fewer of them lie inside its 2σ circle, where it puts 86.5% of its mass.
    captions = [c.value for c in at.caption if "inside the prior's 2σ circle" in c.value]
    shares = [float(c.split("%")[0]) for c in captions]
    assert len(shares) == 2 and all(c.endswith("puts 86% of its mass.") for c in captions)
    assert shares[0] < 60 < 75 < shares[1], captions
    for plane in (ae, vae_):
        assert 0 < plane["empty_prior_mass"] < 0.1  # 10,000 codes cover most cells
