"""Readers for the two file formats data sets come in: IDX (plain or .gz) and keras-layout .npz.

Both return the arrays as stored; ``vae.data_checks.checked`` decides whether they fit.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vae.data_checks import Arrays
from vae.errors import DataFormatError, DataNotFoundError

IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
IDX_FILES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
NPZ_KEYS: tuple[str, str, str, str] = ("x_train", "y_train", "x_test", "y_test")


def _read_bytes(path: Path) -> bytes:
    """Whole file content, gunzipped if the name ends in .gz; any failure names the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile is an OSError; a truncated .gz raises EOFError.
        raise DataFormatError(f"Cannot read {path}: {exc}") from exc


def _read_idx(path: Path, magic: int) -> np.ndarray:
    data = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{path} is truncated: {len(data)} bytes, shorter than its header.")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataFormatError(
            f"{path} is not an IDX file of the expected kind: magic number 0x{found:08x}, "
            f"expected 0x{magic:08x}."
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than declared"
        raise DataFormatError(
            f"{path} is {what}: its header declares dimensions {dims} "
            f"({expected} bytes), but it has {len(data)} bytes."
        )
    # frombuffer on immutable bytes gives a read-only array without copying.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (optionally .gz) into uint8 [N, rows, cols]."""
    return _read_idx(Path(path), IDX_IMAGES_MAGIC)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX label file (optionally .gz) into uint8 [N]."""
    return _read_idx(Path(path), IDX_LABELS_MAGIC)


def find_idx_files(folder: Path) -> tuple[list[Path], list[str]]:
    """The four IDX files in ``folder`` (.gz preferred over plain) and the names missing."""
    found: list[Path] = []
    missing: list[str] = []
    for stem in IDX_FILES:
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            missing.append(f"{stem}[.gz]")
    return found, missing


def load_idx_folder(folder: Path) -> Arrays:
    """The four IDX files of ``folder`` as (x_train, y_train, x_test, y_test)."""
    files, missing = find_idx_files(folder)
    if missing:
        raise DataNotFoundError(f"{folder} lacks the IDX files {', '.join(missing)}.")
    train_images, train_labels, test_images, test_labels = files
    return (
        read_idx_images(train_images),
        read_idx_labels(train_labels),
        read_idx_images(test_images),
        read_idx_labels(test_labels),
    )


def load_npz(path: Path) -> Arrays:
    """Read a keras-layout .npz; pickled (object) arrays are refused, never executed."""
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataFormatError(f"{path} is a single .npy array, not an .npz archive.")
        with npz:
            absent = [k for k in NPZ_KEYS if k not in npz.files]
            if absent:
                raise DataFormatError(
                    f"{path} lacks the arrays {', '.join(absent)} "
                    f"(expected keys: {', '.join(NPZ_KEYS)})."
                )
            arrays = tuple(npz[k] for k in NPZ_KEYS)
    except DataFormatError:
        raise
    except ValueError as exc:
        # np.load raises ValueError for object arrays when allow_pickle=False.
        raise DataFormatError(f"{path} cannot be loaded safely: {exc}") from exc
    except Exception as exc:  # BadZipFile, OSError, EOFError, zlib.error, ...
        raise DataFormatError(f"{path} is not a readable .npz archive: {exc}") from exc
    return arrays  # type: ignore[return-value]


def write_npz(file: BinaryIO, arrays: Arrays) -> None:
    """Write ``arrays`` to an open binary file as an uncompressed keras-layout .npz."""
    np.savez(file, **dict(zip(NPZ_KEYS, arrays, strict=True)))
