"""AppTest of the Model page: metrics, config table, curves, and choosing a run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import no_tensorflow
import numpy as np
import pytest
from deadline import DEADLINE_S
from streamlit.testing.v1 import AppTest

from ui import state
from vae import checkpoint, evaluate
from vae.data import to_model_input

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def copy_default(dst: Path) -> Path:
    """A private copy of the default model, so the job that retrains it cannot race us."""
    shutil.copytree(
        state.DEFAULT_CHECKPOINT,
        dst,
        ignore=shutil.ignore_patterns(".lock", "optimizer*", "*.tmp*"),
    )
    return dst


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Path:
    """A copy of the default with its metrics.json (computed small here if it has none yet)."""
    ckpt_dir = copy_default(tmp_path_factory.mktemp("evaluated") / "mnist-2d")
    if not (ckpt_dir / checkpoint.METRICS_FILE).is_file():
        ckpt = checkpoint.load_checkpoint(ckpt_dir)
        rng = np.random.default_rng(0)
        x = to_model_input(rng.integers(0, 256, (40, 28, 28), dtype=np.uint8))
        metrics = evaluate.evaluate(ckpt.model, x, iw_samples=5, grid_size=20)
        checkpoint.save_metrics(ckpt_dir, metrics)
    return ckpt_dir


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """An empty runs folder in place of the repository's."""
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setattr(state, "RUNS_DIR", folder)
    return folder


def open_page(active: Path | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=DEADLINE_S)
    if active is not None:
        at.session_state[state.ACTIVE] = str(active)
    at.run()
    at.switch_page("pages/model.py")
    at.run()
    assert not at.exception, at.exception
    return at


def metrics_shown(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_metrics_equal_the_checkpoints_metrics_json(evaluated):
    at = open_page(evaluated)
    m = json.loads((evaluated / checkpoint.METRICS_FILE).read_text())
    assert metrics_shown(at) == {
        "−ELBO": f"{m['neg_elbo']:.2f}",
        "Reconstruction": f"{m['recon']:.2f}",
        "KL": f"{m['kl']:.2f}",
        "log p(x)": f"{m['log_px']:.2f}",
        "iw log p(x)": f"{m['iw_log_px']:.2f}",
    }
    # The quadrature's error sits under its figure, where it cannot cut the figure short.
    assert f"± {m['log_px_error']:.2g} (the grid's error)" in [c.value for c in at.caption]
    assert not at.info  # no "metrics.json missing" note
    assert evaluated.name in at.subheader[0].value


def test_without_metrics_json_the_last_epochs_test_terms_are_shown(tmp_path):
    ckpt_dir = copy_default(tmp_path / "mnist-2d")
    (ckpt_dir / checkpoint.METRICS_FILE).unlink(missing_ok=True)
    at = open_page(ckpt_dir)
    last = checkpoint.load_checkpoint(ckpt_dir).history[-1]["test"]
    shown = metrics_shown(at)
    assert shown["−ELBO"] == f"{last['neg_elbo']:.2f}" and shown["KL"] == f"{last['kl']:.2f}"
    assert shown["log p(x)"] == "—" and shown["iw log p(x)"] == "—"
    assert "no metrics.json" in at.info[0].value and "--write" in at.info[0].value


def test_config_table_and_training_curves(evaluated):
    at = open_page(evaluated)
    ckpt = checkpoint.load_checkpoint(evaluated)
    table = at.dataframe[0].value
    rows = dict(zip(table["setting"], table["value"], strict=True))
    assert list(rows) == list(ckpt.config.to_dict())
    assert rows["latent_dim"] == "2" and rows["image_shape"] == "28 × 28 × 1"
    assert rows["learning_rate"] == f"{ckpt.config.learning_rate:g}"

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = spec["data"]
    # train and test, each in three panels: -ELBO, reconstruction, KL.
    assert len(traces) == 6
    assert all(len(t["x"]) == len(t["y"]) == len(ckpt.history) for t in traces)
    test_elbo = next(t for t in traces if t["name"] == "test" and t["xaxis"] == "x")
    assert test_elbo["y"] == pytest.approx([h["test"]["neg_elbo"] for h in ckpt.history])
    train_kl = next(t for t in traces if t["name"] == "train" and t["xaxis"] == "x3")
    assert train_kl["y"] == pytest.approx([h["train"]["kl"] for h in ckpt.history])


def test_runs_are_listed_newest_first_and_a_good_one_becomes_active(runs, evaluated):
    old = copy_default(runs / "20250101-000000-mnist-j2-aaaaaa")
    new = copy_default(runs / "20250102-000000-mnist-j2-bbbbbb")
    os.utime(old / checkpoint.WEIGHTS_FILE, (1e9, 1e9))  # make the order unambiguous
    at = open_page()
    at.radio(key="model_source").set_value("run").run()
    box = at.selectbox(key="model_run")
    assert box.options[0].startswith(new.name) and box.options[1].startswith(old.name)
    assert "−ELBO" in box.options[0]
    at.button[0].click().run()  # "Use this run"
    assert not at.exception and not at.error
    assert at.session_state[state.ACTIVE] == str(new)
    assert new.name in at.subheader[0].value


def test_a_corrupt_run_shows_an_error_and_the_active_model_stays(runs, evaluated):
    bad = runs / "20250103-000000-mnist-j2-cccccc"
    bad.mkdir()
    shutil.copy(evaluated / checkpoint.CONFIG_FILE, bad)
    data = (evaluated / checkpoint.WEIGHTS_FILE).read_bytes()
    (bad / checkpoint.WEIGHTS_FILE).write_bytes(data[: len(data) // 2])  # cut off mid-file

    at = open_page(evaluated)
    before = metrics_shown(at)
    at.radio(key="model_source").set_value("run").run()
    at.selectbox(key="model_run").set_value(str(bad)).run()
    at.button[0].click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert bad.name in errors and "truncated or corrupt" in errors
    assert "previous model stays active" in errors
    assert at.session_state[state.ACTIVE] == str(evaluated)
    assert metrics_shown(at) == before and evaluated.name in at.subheader[0].value


def test_with_no_runs_the_page_says_where_they_come_from(runs):
    at = open_page()
    at.radio(key="model_source").set_value("run").run()
    assert "No runs yet" in at.info[0].value
    at.radio(key="model_source").set_value("upload").run()
    assert not at.exception
    assert "never executed" in at.caption[0].value


# Opens the Model page in a fresh interpreter where importing TensorFlow or Keras raises
# and building a model raises; prints what the page showed, as JSON.
WITHOUT_TENSORFLOW = no_tensorflow.page_script(
    "model",
    r"""
print(json.dumps({
    "exceptions": [str(e.value) for e in at.exception],
    "errors": [e.value for e in at.error],
    "subheader": [s.value for s in at.subheader],
    "metrics": {m.label: m.value for m in at.metric},
    "tables": len(at.dataframe),
    "charts": len(at.get("plotly_chart")),
    "tried": tried,
    "tensorflow_loaded": "tensorflow" in sys.modules or "keras" in sys.modules,
}))
""",
)


def test_the_model_page_shows_a_model_without_building_it(evaluated):
    seen = no_tensorflow.run(WITHOUT_TENSORFLOW, str(ROOT), str(evaluated), str(DEADLINE_S))
    assert seen["exceptions"] == [] and seen["errors"] == []
    assert seen["tried"] == [] and not seen["tensorflow_loaded"]
    assert seen["subheader"] == [f"Active: `{evaluated.name}`"]
    metrics = json.loads((evaluated / checkpoint.METRICS_FILE).read_text())
    assert seen["metrics"]["−ELBO"] == f"{metrics['neg_elbo']:.2f}"
    assert seen["tables"] == 1 and seen["charts"] == 1
