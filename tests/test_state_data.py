"""The pages' shared test set follows the data folder it was read from."""

from __future__ import annotations

from types import SimpleNamespace

from helpers import write_mnist_npz

from ui import state


def test_a_data_folder_set_later_is_never_answered_from_an_earlier_one(tmp_path, monkeypatch):
    for name, n_test in (("a", 5), ("b", 7)):
        write_mnist_npz(tmp_path / name, n_train=8, n_test=n_test)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "a"))
    assert len(state.test_set("mnist")[1]) == 5
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "b"))
    x, y, _ = state.test_set("mnist")
    assert len(y) == 7 and len(x) == 7
    ckpt = SimpleNamespace(config=SimpleNamespace(dataset="mnist", decoder="bernoulli"))
    assert state.test_inputs(ckpt).shape == (7, 28, 28, 1)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "a"))
    assert len(state.test_set("mnist")[1]) == 5  # still cached, for its own folder
