"""vae.data_formats: IDX and .npz files that are damaged or not what they claim are refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import IDX_NAMES, make_arrays, write_idx, write_idx_set, write_npz

from vae import data
from vae.errors import DataFormatError

pytestmark = pytest.mark.usefixtures("isolated_data")


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
