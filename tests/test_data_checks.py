"""vae.data_checks: arrays of the wrong shape, type, count or label range are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_fixtures import make_arrays, write_idx_set, write_npz

from vae import data
from vae.errors import DataFormatError, DataNotFoundError

pytestmark = pytest.mark.usefixtures("isolated_data")


def test_npz_int64_labels_converted_to_uint8(tmp_path: Path) -> None:
    x_tr, y_tr, x_te, y_te = make_arrays()
    write_npz(tmp_path / "mnist.npz", (x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)))
    ds = data.load_dataset("mnist", data_dir=tmp_path)
    assert ds.y_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.y_train, y_tr)


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


def test_keras_cache_wrong_size_is_recorded(isolated_data: Path) -> None:
    # A cache with 12/5 examples is not the real data set: skipped with its reason.
    write_npz(isolated_data / "datasets" / "mnist.npz", make_arrays())
    with pytest.raises(DataNotFoundError, match="expected the standard 60000"):
        data.load_dataset("mnist", allow_download=False)
