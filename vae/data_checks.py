"""The shape every data set must have, and the check that holds each source's arrays to it."""

from __future__ import annotations

import numpy as np

from vae.errors import DataFormatError

IMAGE_SHAPE: tuple[int, int] = (28, 28)
NUM_CLASSES = 10
# (train, test) sizes every automatic source must have; an explicit folder may hold any size.
STANDARD_COUNTS: tuple[int, int] = (60000, 10000)

# (x_train, y_train, x_test, y_test): images uint8 [N, 28, 28], labels uint8 [N].
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def checked(arrays: Arrays, where: str, standard: bool) -> Arrays:
    """Validate shapes, dtypes, label range and counts; return read-only C-contiguous arrays.

    ``standard`` demands the 60000/10000 split; otherwise any non-empty, matching counts pass.
    """
    out: list[np.ndarray] = []
    for split, x, y, want in (
        ("train", arrays[0], arrays[1], STANDARD_COUNTS[0]),
        ("test", arrays[2], arrays[3], STANDARD_COUNTS[1]),
    ):
        x = np.asarray(x)
        y = np.asarray(y)
        if x.dtype.kind == "O" or y.dtype.kind == "O":
            raise DataFormatError(f"{where}: {split} arrays hold Python objects; refused.")
        if x.dtype != np.uint8:
            raise DataFormatError(f"{where}: {split} images are {x.dtype}, expected uint8.")
        if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
            raise DataFormatError(
                f"{where}: {split} images have shape {x.shape}, expected [N, 28, 28]."
            )
        if y.ndim != 1:
            raise DataFormatError(f"{where}: {split} labels have shape {y.shape}, expected [N].")
        if y.dtype.kind not in "iu":
            # Integer labels other than uint8 are converted losslessly after the range check.
            raise DataFormatError(f"{where}: {split} labels are {y.dtype}, expected uint8.")
        if len(x) != len(y):
            raise DataFormatError(f"{where}: {len(x)} {split} images but {len(y)} {split} labels.")
        if standard and len(x) != want:
            raise DataFormatError(
                f"{where}: {len(x)} {split} examples, expected the standard {want}."
            )
        if len(x) == 0:
            raise DataFormatError(f"{where}: no {split} examples.")
        if y.min() < 0 or y.max() >= NUM_CLASSES:
            raise DataFormatError(
                f"{where}: {split} labels range {y.min()}..{y.max()}, "
                f"expected 0..{NUM_CLASSES - 1}."
            )
        for a in (x, y.astype(np.uint8, copy=False)):
            a = np.ascontiguousarray(a)
            a.flags.writeable = False
            out.append(a)
    return out[0], out[1], out[2], out[3]
