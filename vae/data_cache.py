"""Converted copies of slow sources, so each is decoded once per machine.

Copies go to ``$VAE_CACHE_DIR``, else ``$XDG_CACHE_HOME/vae-latent-explorer`` (by default
``~/.cache/vae-latent-explorer``). A copy's name holds its source's size and modification
time, so a changed source is converted again instead of being shadowed by an old copy.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from vae.atomic import TMP_MARK, write_bytes_atomic
from vae.data_checks import Arrays, checked
from vae.data_formats import load_npz, write_npz
from vae.errors import DataFormatError

CACHE_FOLDER = "vae-latent-explorer"


def cache_dir() -> Path:
    """Where converted copies go: ``$VAE_CACHE_DIR``, else the user's cache folder."""
    if os.environ.get("VAE_CACHE_DIR"):
        return Path(os.environ["VAE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / CACHE_FOLDER


def copy_path(source: Path, prefix: str) -> Path:
    """The converted copy's path for ``source`` as it is now: ``<prefix>-<size>-<mtime>.npz``."""
    stat = source.stat()
    return cache_dir() / f"{prefix}-{stat.st_size}-{int(stat.st_mtime)}.npz"


def _leftovers(copy: Path) -> list[Path]:
    """Copies of the same source from before it changed, and temporaries of killed writers.

    Neither can ever be read again, and each holds tens of megabytes.
    """
    prefix = copy.name.rsplit("-", 2)[0]
    found = []
    for p in copy.parent.glob(f"{prefix}-*"):
        name = p.name.split(TMP_MARK)[0]
        if p != copy and name.endswith(".npz") and name.rsplit("-", 2)[0] == prefix:
            found.append(p)
    return found


def read_copy(copy: Path) -> Arrays | None:
    """The copy's checked arrays, or None when there is none; a damaged copy is deleted."""
    if not copy.is_file():
        return None
    try:
        return checked(load_npz(copy), str(copy), standard=True)
    except DataFormatError:
        copy.unlink(missing_ok=True)  # the caller converts the source again
        return None


def save_copy(copy: Path, arrays: Arrays) -> None:
    """Write ``arrays`` to ``copy`` as an uncompressed .npz, atomically, and drop older copies.

    A failure (read-only home, full disk) is ignored: it only costs speed next time.
    """
    # In memory first: the conversion before this already peaks far higher (float32 pixels).
    buffer = io.BytesIO()
    write_npz(buffer, arrays)
    with contextlib.suppress(OSError):
        copy.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(copy, buffer.getvalue())
        for old in _leftovers(copy):
            old.unlink(missing_ok=True)
