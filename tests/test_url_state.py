"""The URL as user input: what a link may set, and what a bad link gets instead.

Parsers are checked as functions; the pages (AppTest) are checked to restore what a
good link says, to warn by name about a bad parameter and keep their default, and to
write their state back so the address bar holds the view.
"""

from __future__ import annotations

import math

import pytest
from deadline import DEADLINE_S
from page_sandbox import runs_folder  # noqa: F401  (the `runs` fixture)
from streamlit.testing.v1 import AppTest

from tests.app_pages import ROOT, copy_default
from ui import state, url_state
from vae import manifold
from vae.config import MAX_LATENT_DIM

PAD_KEY = "drag_pad.pad"  # pages/drag_pad.py: the component's key
RELEASED = "drag_pad.released"  # pages/drag_pad.py: the point the details describe


# --- parsers ------------------------------------------------------------------------
def test_a_point_round_trips_through_its_text():
    z = [1.23456789, -0.5, 0.0, -0.00001]
    text = url_state.show_latent(z)
    assert text == "1.2346,-0.5,0,0"
    assert url_state.latent(4)(text) == pytest.approx(z, abs=10**-url_state.Z_DECIMALS)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("nan,0", "not a finite number"),
        ("0,inf", "not a finite number"),
        ("-Infinity,0", "not a finite number"),
        ("1e9,0", f"within ±{url_state.Z_LIMIT:g}"),
        (f"{url_state.Z_LIMIT + 0.01},0", f"within ±{url_state.Z_LIMIT:g}"),
        ("1,2,3", "J = 2"),
        ("1", "J = 2"),
        ("one,two", "not a number"),
        ("", "not a number"),
        (",".join(["0"] * (MAX_LATENT_DIM + 1)), f"at most {MAX_LATENT_DIM}"),
    ],
)
def test_a_bad_point_is_refused_with_its_reason(raw, why):
    with pytest.raises(ValueError, match=why):
        url_state.latent(2)(raw)


def test_a_point_at_the_limit_is_kept():
    edge = url_state.Z_LIMIT
    assert url_state.latent(2)(f"{edge},-{edge}") == [edge, -edge]


def test_switch_parsers_refuse_what_a_widget_could_not_show():
    assert url_state.flag("1") is True and url_state.flag("off") is False
    assert url_state.integer(5, 30)("12") == 12
    assert url_state.number(0.5, 6.0)("2.5") == 2.5
    for parse, raw in (
        (url_state.flag, "maybe"),
        (url_state.integer(5, 30), "31"),
        (url_state.integer(5, 30), "12.5"),
        (url_state.number(0.5, 6.0), "nan"),
        (url_state.number(0.5, 6.0), "-1"),
        (url_state.choice(manifold.GRID_MODES), "spiral"),
    ):
        with pytest.raises(ValueError):
            parse(raw)


def test_a_quoted_value_cannot_carry_markdown():
    shown = url_state.quote("`](http://evil.example) " + "x" * 100)
    assert shown.startswith("`") and shown.endswith("…`") and shown.count("`") == 2
    assert len(shown) < 50


# --- pages: what a link restores, and what a bad one gets -------------------------
def open_with(page: str, params: dict[str, str], active=None) -> AppTest:
    """Open ``page`` as a fresh session from a link with ``params``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=DEADLINE_S)
    if active is not None:
        at.session_state[state.ACTIVE] = str(active)
    at.query_params.update(params)
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def warnings_of(at) -> str:
    return " ".join(w.value for w in at.warning)


@pytest.fixture(scope="module")
def shipped_copy(tmp_path_factory):
    return copy_default(tmp_path_factory.mktemp("active"))


def test_a_link_to_a_listed_run_makes_it_active_and_keeps_naming_it(runs):
    run = copy_default(runs).rename(runs / "20250101-000000-mnist-j2-aaaaaa")
    at = open_with("manifold", {url_state.MODEL: f"runs/{run.name}"})
    assert at.session_state[state.ACTIVE] == str(run)
    assert at.query_params[url_state.MODEL] == f"runs/{run.name}"
    assert not at.warning
    assert run.name in at.markdown[0].value  # the page names the active model
    # The Model page opens on the picker that lists it.
    at.switch_page("pages/model.py").run()
    assert at.radio(key="model_source").value == "run"
    assert run.name in at.subheader[0].value


@pytest.mark.parametrize(
    "bad",
    [
        "../checkpoints/mnist-2d",
        "runs/../../checkpoints/mnist-2d",
        str(state.DEFAULT_CHECKPOINT),  # an absolute path, even of a real checkpoint
        "/etc/passwd",
        "runs/no-such-run",
        "mnist-2d/../mnist-2d",
    ],
)
def test_a_model_the_app_does_not_list_is_refused_by_name(runs, bad):
    at = open_with("manifold", {url_state.MODEL: bad})
    warned = warnings_of(at)
    assert "`model`" in warned and "is not a model this app lists" in warned
    assert at.session_state[state.ACTIVE] == str(state.DEFAULT_CHECKPOINT)
    # The page still works, and the link now names the model it shows.
    assert at.get("download_button") and not at.error  # the grid was drawn
    assert at.query_params[url_state.MODEL] == state.DEFAULT_CHECKPOINT.name


def test_model_names_are_only_those_the_app_lists(runs):
    run = copy_default(runs).rename(runs / "20250102-000000-mnist-j2-bbbbbb")
    listed = state.listed_models()
    assert listed[state.DEFAULT_CHECKPOINT.name] == state.DEFAULT_CHECKPOINT
    assert listed[f"runs/{run.name}"] == run
    assert all(".." not in name and not name.startswith("/") for name in listed)
    assert state.model_name("/tmp/elsewhere/mnist-2d") is None


def test_a_link_restores_the_marker_and_a_release_writes_it(shipped_copy):
    at = open_with("drag_pad", {url_state.Z: "1.5,-0.5"}, active=shipped_copy)
    assert not at.warning
    assert at.subheader[0].value == "At z = (1.50, −0.50)"
    (pad,) = at.get("component_instance")
    assert '"z_init": [1.5, -0.5]' in pad.proto.json_args
    at.session_state[PAD_KEY] = {"z": [0.25, 2.0], "seq": 3, "final": True}  # a release
    at.run()
    assert at.query_params[url_state.Z] == "0.25,2"
    at.button[0].click().run()  # Back to the origin
    assert at.query_params[url_state.Z] == "0,0"


@pytest.mark.parametrize("bad", ["nan,0", "1e9,0", "1,2,3", "x,y"])
def test_a_bad_marker_is_refused_by_name_and_the_pad_starts_at_the_origin(shipped_copy, bad):
    at = open_with("drag_pad", {url_state.Z: bad}, active=shipped_copy)
    assert "`z`" in warnings_of(at)
    assert at.subheader[0].value == "At z = (0.00, 0.00)"
    assert at.query_params[url_state.Z] == "0,0"
    assert not at.error


def test_manifold_switches_come_from_the_link_and_go_back_into_it(shipped_copy):
    at = open_with("manifold", {"grid": "linear", "n": "12", "span": "2.5"}, active=shipped_copy)
    assert not at.warning
    assert at.radio(key=state.MANIFOLD_MODE).value == "linear"
    assert at.slider(key=state.MANIFOLD_SIZE).value == 12
    assert at.slider(key=state.MANIFOLD_SPAN).value == 2.5
    at.slider(key=state.MANIFOLD_SIZE).set_value(7).run()
    assert at.query_params["n"] == "7"  # the link follows the page, not the other way


def test_bad_switches_are_each_named_and_fall_back_to_their_defaults(shipped_copy):
    at = open_with("manifold", {"grid": "spiral", "n": "999", "span": "inf"}, active=shipped_copy)
    warned = warnings_of(at)
    for name in ("`grid`", "`n`", "`span`"):
        assert name in warned
    assert at.radio(key=state.MANIFOLD_MODE).value == manifold.DEFAULT_MODE
    assert at.slider(key=state.MANIFOLD_SIZE).value == manifold.DEFAULT_SIZE
    assert math.isclose(at.slider(key=state.MANIFOLD_SPAN).value, manifold.DEFAULT_SPAN)
    assert at.get("download_button") and not at.error  # the grid was drawn


def test_the_presentation_parameter_is_left_in_the_link(shipped_copy):
    at = open_with("manifold", {"present": "1", "n": "9"}, active=shipped_copy)
    assert at.query_params["present"] == "1" and at.query_params["n"] == "9"
