"""AppTest of the Train page: the form, validation, the shared-server switch, and real tiny runs."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import no_tensorflow
import pytest
from deadline import DEADLINE_S
from helpers import write_mnist_npz
from streamlit.testing.v1 import AppTest

from tests.app_pages import clear_caches
from ui import state
from vae import checkpoint, evaluate
from vae.config import LR_SCHEDULES, PRECISIONS, STRATEGIES, VAEConfig

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TIMEOUT = DEADLINE_S


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Iterator[Path]:
    """A private runs folder, and 28x28 data small enough to train in seconds."""
    folder = tmp_path / "runs"
    monkeypatch.setattr(state, "RUNS_DIR", folder)
    write_mnist_npz(tmp_path / "data", n_train=128, n_test=32)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VAE_SHARED_SERVER", raising=False)
    clear_caches()
    yield folder
    clear_caches()


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    return at


def field(at: AppTest, label: str):
    return next(w for w in at.number_input if w.label.startswith(label))


def submit(at: AppTest, **values) -> AppTest:
    for label, value in values.items():
        field(at, label).set_value(value)
    at.button[0].click().run()  # the form's "Start training"
    assert not at.exception, at.exception
    return at


def rerun_until(at: AppTest, done, timeout: float = TIMEOUT) -> AppTest:
    """Rerun the page (as the fragment's timer would) until ``done(at)`` holds."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < deadline, [e.value for e in at.markdown]
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    return at


def epoch_shown(at: AppTest) -> int:
    """The epoch in the progress bar's text, 0 before the first batch."""
    found = [re.search(r"Epoch (\d+) of", p.proto.text) for p in at.get("progress")]
    return max((int(m.group(1)) for m in found if m), default=0)


def radio(at: AppTest, label: str):
    return next(w for w in at.radio if w.label == label)


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def test_form_has_every_setting(runs):
    at = open_page()
    assert [w.label for w in at.number_input] == [
        "Latent dimension J",
        "Epochs",
        "Batch size",
        "Learning rate",
        "β (weight of the KL term; 1 is the true ELBO)",
        "Seed",
        "Samples of z per image, L",
    ]
    assert at.selectbox[0].options == ["MNIST", "Fashion-MNIST"]
    estimator = next(r for r in at.radio if r.label == "Estimator")
    assert estimator.options == ["SGVB-A", "SGVB-B"] and estimator.value == "sgvb-b"
    assert next(r for r in at.radio if r.label.startswith("Decoder")).options == [
        "bernoulli",
        "gaussian",
    ]
    # Every setting of the engine the command line has, the advanced ones folded away.
    for label, options in [
        ("Learning-rate schedule", list(LR_SCHEDULES)),
        ("Precision", list(PRECISIONS)),
        ("Strategy", list(STRATEGIES)),
    ]:
        assert radio(at, label).options == options, label
    assert radio(at, "Evaluation after training").value is False  # quick by default
    assert [e.label for e in at.expander] == [
        "Advanced: schedule, samples L, precision, strategy, evaluation"
    ]
    assert labels(at) == ["Start training"] and not at.button[0].disabled
    assert not at.get("progress")
    # The form starts from the config's own defaults, not a copy of them.
    defaults = VAEConfig()
    for label, name in [("Latent dimension J", "latent_dim"), ("Epochs", "epochs"),
                        ("Batch size", "batch_size"), ("Learning rate", "learning_rate"),
                        ("β", "beta"), ("Seed", "seed"),
                        ("Samples of z", "n_samples")]:  # fmt: skip
        assert field(at, label).value == getattr(defaults, name), label
    assert radio(at, "Learning-rate schedule").value == defaults.lr_schedule
    assert radio(at, "Precision").value == defaults.precision


def test_the_shipped_default_can_be_reproduced_from_the_form(runs):
    shipped = checkpoint.load_config(ROOT / "checkpoints" / "mnist-2d")
    at = open_page()
    radio(at, "Learning-rate schedule").set_value(shipped.lr_schedule)
    radio(at, "Precision").set_value(shipped.precision)
    at = submit(
        at,
        **{
            "Latent dimension J": shipped.latent_dim,
            "Epochs": shipped.epochs,
            "Batch size": shipped.batch_size,
            "Learning rate": shipped.learning_rate,
            "β": shipped.beta,
            "Seed": shipped.seed,
            "Samples of z": shipped.n_samples,
        },
    )
    assert not at.error
    # The run folder holds its config.json from the start: the shipped one, field by field.
    rerun_until(at, lambda a: any((r / "config.json").is_file() for r in runs.glob("*")))
    (run,) = list(runs.iterdir())
    assert checkpoint.load_config(run) == shipped
    if "Cancel" in labels(at):
        next(b for b in at.button if b.label == "Cancel").click().run()
    rerun_until(at, lambda a: "Cancel" not in labels(a))


def test_the_evaluation_has_its_own_progress_and_can_be_skipped(runs, monkeypatch):
    evaluating = threading.Event()

    def waiting_evaluate(model, x, *, progress, **options):
        """An evaluation that reports progress until the page skips it."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            progress("quadrature on a 8x8 grid", 0.5)
            evaluating.set()
            time.sleep(0.2)
        raise AssertionError("the page never skipped the evaluation")

    monkeypatch.setattr(evaluate, "evaluate", waiting_evaluate)
    at = submit(open_page(), **{"Epochs": 1, "Batch size": 32})
    # Rerun only once training has ended: Python 3.11.7 can fail to parse a page while
    # another thread traces a tf.function (both use the ast module at once).
    assert evaluating.wait(TIMEOUT), "the job never reached its evaluation"
    at.run()
    assert "Skip log p(x)" in labels(at)
    texts = [p.proto.text for p in at.get("progress")]
    assert "Evaluating: quadrature on a 8x8 grid · 50%" in texts
    assert any(t.startswith("Trained 1 epoch in ") for t in texts)  # no stale "ETA 0s"
    assert "Cancel" not in labels(at)  # Skip is the evaluation's own cancel
    next(b for b in at.button if b.label == "Skip log p(x)").click().run()
    rerun_until(at, lambda a: bool(a.success))
    assert "log p(x) skipped" in at.success[0].value
    assert "Use this model" in labels(at)  # the trained model is kept


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"Latent dimension J": 1000}, "latent_dim = 1000 is out of range; choose 1 to 64"),
        ({"Learning rate": 5.0}, "learning_rate = 5.0 is out of range"),
        ({"Batch size": 100_000}, "batch_size = 100000 is out of range"),
    ],
)
def test_an_absurd_setting_shows_the_error_and_starts_nothing(runs, values, message):
    at = submit(open_page(), **values)
    assert len(at.error) == 1 and message in at.error[0].value
    assert "train_job" not in at.session_state
    assert not at.get("progress") and not runs.exists()


def test_shared_server_disables_the_form(runs, monkeypatch):
    monkeypatch.setenv("VAE_SHARED_SERVER", "1")
    at = open_page()
    assert "switched off on this shared server" in at.info[0].value
    assert all(w.disabled for w in [*at.number_input, *at.radio, *at.selectbox])
    assert at.button[0].label == "Start training" and at.button[0].disabled


@pytest.mark.slow
def test_a_tiny_run_trains_live_and_can_be_used_straight_away(runs):
    at = submit(open_page(), **{"Epochs": 2, "Batch size": 32})
    assert not at.error
    job_id = at.session_state["train_job"]
    rerun_until(at, lambda a: "Use this model" in labels(a))
    assert "Finished 2 epochs" in at.success[0].value and "log p(x)" in at.success[0].value
    (run,) = [p for p in runs.iterdir()]
    assert run.name.endswith(tuple("0123456789abcdef")) and "-mnist-j2-" in run.name
    assert job_id  # the session remembers its job across reruns
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(spec["data"]) == 6 and all(len(t["x"]) == 2 for t in spec["data"])
    assert json.loads((run / checkpoint.METRICS_FILE).read_text())["n_images"] == 32
    # The latent space as it formed: the run kept its codes, and plays them back.
    (codes,) = [c for c in at.get("plotly_chart") if "codes-" in c.proto.id]
    assert [f["name"] for f in json.loads(codes.proto.spec)["frames"]] == ["1", "2"]

    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.exception and not at.error
    assert at.session_state[state.ACTIVE] == str(run)
    assert "Now active on every page." in [s.value for s in at.success]
    at.run()
    assert "This model is active." in [c.value for c in at.caption]


def test_a_second_session_is_refused_and_cancel_keeps_finished_epochs(runs):
    # The most epochs a config allows: no machine finishes them before Cancel is pressed.
    alice = submit(open_page(), **{"Epochs": 10_000, "Batch size": 32})
    # Wait until at least one epoch is saved, so cancelling has something to keep.
    rerun_until(alice, lambda a: epoch_shown(a) >= 2)

    bob = submit(open_page(), **{"Epochs": 1})
    refusal = bob.error[0].value
    assert refusal.startswith("Not started: a training is already running")
    assert alice.session_state["train_owner"][:8] in refusal
    assert "train_job" not in bob.session_state
    # Bob sees Alice's job, read-only but cancellable, and is not offered her model.
    assert "Training by another session" in " ".join(m.value for m in bob.markdown)
    assert "Cancel this training (started by another session)" in labels(bob)

    next(b for b in alice.button if b.label == "Cancel").click().run()
    rerun_until(alice, lambda a: bool(a.warning))
    assert "keeps the last finished epoch" in alice.warning[0].value
    (run,) = [p for p in runs.iterdir()]
    ckpt = checkpoint.load_checkpoint(run)
    assert ckpt.epoch >= 1 and ckpt.epoch < 10_000 and f"({ckpt.epoch})" in alice.warning[0].value
    assert "Use this model" in labels(alice)


FORM_WITHOUT_TENSORFLOW = (
    no_tensorflow.BLOCK
    + r"""

from streamlit.testing.v1 import AppTest
from ui import state

state.warm_up = lambda path=None: None
at = AppTest.from_file(sys.argv[1] + "/app.py", default_timeout=float(sys.argv[2]))
at.switch_page("pages/train.py")
at.run()
print(json.dumps({
    "exceptions": [str(e.value) for e in at.exception],
    "buttons": [b.label for b in at.button],
    "tried": tried,
}))
"""
)


def test_the_form_is_drawn_without_importing_tensorflow():
    """A first visit need not wait for TensorFlow: only a started job imports it."""
    seen = no_tensorflow.run(FORM_WITHOUT_TENSORFLOW, str(ROOT), str(DEADLINE_S))
    assert seen["exceptions"] == [] and seen["tried"] == []
    assert "Start training" in seen["buttons"], seen["buttons"]
