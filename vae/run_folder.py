"""A training run's output folder: whether a run may start there, and its lock.

One training run writes a folder at a time. Its lock is ``<folder>/.lock``, which
holds the holder's pid, for messages; the holder keeps an exclusive ``fcntl.flock``
on it for the run's life, and that flock is the only proof that a holder is alive.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from vae import checkpoint
from vae.atomic import TMP_MARK
from vae.errors import CheckpointError, CheckpointNotFoundError

LOCK_FILE = ".lock"
_ATTEMPTS = 5  # each retry means another claimant moved in between; five is plenty


def check_run_folder(out_dir: str | os.PathLike, *, resume: bool) -> int:
    """Epochs already saved in ``out_dir`` (0 for a new run), or why a run may not start.

    Cheap and free of TensorFlow, so a caller can check before it loads any data.
    """
    out = Path(out_dir)
    has_checkpoint = (out / checkpoint.WEIGHTS_FILE).is_file()
    if has_checkpoint and not resume:
        raise CheckpointError(
            f"{out} already holds a checkpoint; resume it or choose another output folder."
        )
    if resume and not has_checkpoint:
        if not out.exists():
            state = "does not exist"
        elif out.is_dir():
            state = "holds no checkpoint"
        else:
            state = "is a file, not a checkpoint folder"
        raise CheckpointNotFoundError(
            f"nothing to resume: {out} {state}. Name the folder of the run to continue, "
            "or start a new run without resume."
        )
    return checkpoint.read_weights(out)[1] if has_checkpoint else 0


def is_being_written(out_dir: str | os.PathLike) -> bool:
    """Whether a live run holds ``out_dir``'s lock, so its temporaries are writes under way."""
    try:
        fd = os.open(Path(out_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # dropped again by the close below
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _step(name: str) -> None:
    """A seam between the steps of a claim or release; tests replace it to pause there."""


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    here = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino)


class RunDirLock:
    """Claims a run folder, so two trainings never write to the same checkpoint.

    A claimant writes its pid to a temporary it has already flocked and links that
    to ``.lock`` (a link fails if the name exists), so ``.lock`` never exists
    without its pid and its flock. If ``.lock`` exists, the claimant tries its flock:
    refused means a live holder; granted means the holder is gone.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.path = Path(out_dir) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> RunDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(_ATTEMPTS):
            fd, claim = self._write_claim()
            try:
                placed = self._place(fd, claim)
            except BaseException:
                os.close(fd)
                raise
            finally:
                claim.unlink(missing_ok=True)  # .lock, if placed, is another name for it
            if placed:
                self._fd = fd
                return self
            os.close(fd)
        raise CheckpointError(f"could not lock {self.path.parent}; try again.")

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        # Unlink while the flock is still held: a claimant that gets this file's flock
        # afterwards finds that .lock is no longer this file and claims afresh.
        if _same_file(self._fd, self.path):
            self.path.unlink(missing_ok=True)
        _step("unlinked")
        os.close(self._fd)
        self._fd = None

    def _write_claim(self) -> tuple[int, Path]:
        """A temporary holding our pid, flocked by us before anyone can see it as .lock."""
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f"{LOCK_FILE}{TMP_MARK}")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh file: granted at once
            os.write(fd, str(os.getpid()).encode())
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; the pid is for everyone's messages
        except BaseException:
            os.close(fd)
            os.unlink(name)
            raise
        return fd, Path(name)

    def _place(self, fd: int, claim: Path) -> bool:
        """Make our claim the lock; False if another claimant moved and we must look again."""
        _step("claim written")
        try:
            os.link(claim, self.path)
        except FileExistsError:
            pass
        except FileNotFoundError:
            return False  # a clean-up of temporaries took our claim: write another
        else:
            _step("linked")
            return True
        _step("lock exists")
        try:
            old = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False  # released meanwhile
        try:
            _step("lock opened")
            try:
                fcntl.flock(old, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(old, 32, 0).decode(errors="replace").strip() or "?"
                raise CheckpointError(
                    f"{self.path.parent} is being written by another training run "
                    f"(pid {pid}); wait for it or choose another folder."
                ) from None
            _step("stale lock flocked")
            # flock, not the pid, proves the holder gone (pids get reused), and only one
            # claimant at a time can hold this stale file's flock while swapping in its own.
            if not _same_file(old, self.path):
                return False  # its holder released it, or another claimant took it over
            _step("stale lock checked")
            try:
                os.replace(claim, self.path)
            except FileNotFoundError:
                return False
            _step("replaced")
            return True
        finally:
            os.close(old)
