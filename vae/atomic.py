"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

Every file the engine and the app write goes through here: a temporary file in the
same folder, flushed and fsynced, then ``os.replace``. A killed writer leaves only a
``*.tmp-*`` file, which ``clean_temporaries`` removes.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

TMP_MARK = ".tmp-"


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}{TMP_MARK}")
    except OSError as exc:
        raise _named_error(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; checkpoints are meant to be shared
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _named_error(exc, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _named_error(exc: OSError, path: Path) -> OSError:
    """The error again, naming the user's path rather than the temporary they never chose."""
    if exc.errno == errno.ENOENT and not path.parent.exists():
        reason = f"the folder {path.parent} does not exist"
    elif exc.errno == errno.ENOTDIR:
        reason = f"{path.parent} is not a folder"
    else:
        reason = exc.strerror or str(exc)
    return type(exc)(exc.errno, f"cannot write {path}: {reason}")


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False, default=_json_default)
    write_bytes_atomic(path, (text + "\n").encode())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def clean_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Remove leftovers of writes that a killed process never finished."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for p in directory.iterdir():
        if TMP_MARK in p.name and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
