"""Pages under attack in a sandbox: the active model, a private runs folder, tiny data.

A test module imports a fixture's function (``from page_sandbox import runs_folder``) and
takes it by its fixture name (``runs``); the two names differ so the import is not shadowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deadline import DEADLINE_S
from helpers import perturb_weights, tiny_config, write_mnist_npz

from tests.app_pages import clear_caches, copy_default, open_page
from ui import state
from vae.checkpoint import save_checkpoint
from vae.model import build_vae

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = DEADLINE_S  # seconds a test waits for a thread, a child process or a page state


@pytest.fixture(name="active", scope="module")
def active_model(tmp_path_factory) -> Path:
    """A private copy of the shipped model: the model the viewer has active."""
    return copy_default(tmp_path_factory.mktemp("active"))


@pytest.fixture(name="runs")
def runs_folder(tmp_path, monkeypatch) -> Path:
    """The app's runs folder, moved into the test's sandbox."""
    folder = tmp_path / "app" / "runs"
    folder.mkdir(parents=True)
    monkeypatch.setattr(state, "RUNS_DIR", folder)
    return folder


@pytest.fixture(name="tiny_data")
def tiny_mnist(tmp_path, monkeypatch) -> Iterator[Path]:
    """28x28 data small enough for a Train page run to take seconds. Every cache is
    cleared before and after: what the pages computed from one test set (the real one,
    or these 32 images) must not answer for the other."""
    write_mnist_npz(tmp_path / "data", n_train=128, n_test=32)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VAE_SHARED_SERVER", raising=False)
    clear_caches()
    yield tmp_path / "data"
    clear_caches()


def save_tiny(folder: Path, seed: int = 1, epoch: int = 1, **changes) -> Path:
    """A valid tiny checkpoint in ``folder`` with random weights and ``epoch`` of history."""
    model = build_vae(tiny_config(**changes))
    perturb_weights(model, seed)
    history = [{"epoch": e, "test": {"neg_elbo": 50.0 - e}} for e in range(1, epoch + 1)]
    return save_checkpoint(folder, model, epoch=epoch, history=history)


def tree(root: Path) -> dict[str, int]:
    """Every path under ``root`` with its size (folders -1): a snapshot to compare."""
    return {
        str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")
    }


def contents(folder: Path) -> list[str]:
    """Names in ``folder``, hidden ones too; [] if it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def errors_of(at) -> str:
    return " ".join(e.value for e in at.error)


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def number(at, label: str):
    return next(w for w in at.number_input if w.label.startswith(label))


def open_train_page():
    return open_page("train", state.DEFAULT_CHECKPOINT)
