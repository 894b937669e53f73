"""vae.restricted_pickle: numpy arrays come through; code named in a pickle never runs."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from vae.errors import DataFormatError
from vae.restricted_pickle import load_restricted_pickle


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
        load_restricted_pickle(io.BytesIO(blob))
    assert not marker.exists()


def test_restricted_unpickler_accepts_numpy_arrays() -> None:
    parts = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([3, 1], dtype=np.int64))
    got = load_restricted_pickle(io.BytesIO(pickle.dumps(parts, protocol=4)))
    assert isinstance(got, tuple) and len(got) == 2
    np.testing.assert_array_equal(got[0], parts[0])
    np.testing.assert_array_equal(got[1], parts[1])
    assert got[0].dtype == np.float32 and got[1].dtype == np.int64


def test_restricted_unpickler_refuses_garbage() -> None:
    with pytest.raises(DataFormatError):
        load_restricted_pickle(io.BytesIO(b"\x80\x04 definitely not a pickle"))
