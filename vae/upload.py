"""Unpack an uploaded checkpoint safely into a fresh folder, then validate it.

An upload is either one ``.zip`` of a checkpoint folder or the checkpoint's files
themselves. Only the known file names are ever written (``config.json``,
``weights.safetensors``, ``history.json``, ``metrics.json``); anything else (paths,
``..``, symlinks, other members, encrypted members, sizes over the caps) is refused
before a byte is written. Sizes are checked twice in an archive: the size each
member declares, and the bytes actually produced while inflating it, so a zip bomb
stops at the cap. The files go to a hidden staging folder that becomes
``<uploads>/<unique>/`` only after ``vae.checkpoint.load_checkpoint`` accepted it;
any failure removes the staging folder, so a failed upload leaves nothing behind.

Model files that can carry code (``.keras``, ``.h5``, pickles, ``.npz``) are refused
by name with vae.checkpoint's message and never opened. The one way in for Keras weights
is ``save_keras_upload``: vae.import_keras reads the numeric arrays of a
``.weights.h5`` file only and rebuilds the model from a config inferred from their shapes.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from vae import checkpoint, encoding_history, import_keras, precompute
from vae.errors import CheckpointError, UnsafeFileError

# What the browser may send in one upload, a checkpoint or a digit's picture; the server's
# own cap, server.maxUploadSize in .streamlit/config.toml, is this in MB.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 24 * 1024 * 1024  # everything unpacked from one upload together
# Per file: the 2-D default's weights are 0.3 MB; a 64-D model's are still under 1 MB.
MEMBER_LIMITS: dict[str, int] = {
    checkpoint.CONFIG_FILE: checkpoint.MAX_CONFIG_BYTES,
    checkpoint.WEIGHTS_FILE: MAX_UPLOAD_BYTES,
    checkpoint.HISTORY_FILE: checkpoint.MAX_JSON_BYTES,
    checkpoint.METRICS_FILE: 1024 * 1024,
}
REQUIRED = (checkpoint.CONFIG_FILE, checkpoint.WEIGHTS_FILE)
# A run folder zipped whole also holds the optimizer state, the pages' stored figures and
# the codes kept per epoch; none is needed to load the model, so each is skipped unread
# (the figures are computed again) rather than making the user re-zip the folder.
SKIPPED = (
    checkpoint.OPTIMIZER_FILE,
    checkpoint.PREVIOUS_OPTIMIZER_FILE,
    precompute.FILE,
    precompute.EXPORT_FILE,
    encoding_history.FILE,
)
KERAS_WEIGHTS_SUFFIX = ".weights.h5"  # what Keras 3's save_weights requires
MAX_MEMBERS = 16  # a checkpoint has at most 5 files and a folder entry
MAX_KEPT_UPLOADS = 20  # older uploads are pruned so repeated uploads cannot fill the disk
STAGING_PREFIX = ".incoming-"
_CHUNK = 64 * 1024
_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$")


class UploadError(CheckpointError):
    """An upload cannot be used as a checkpoint; nothing of it was kept."""


class UploadTooLargeError(UploadError):
    """The upload, or one file in it, is over its size cap."""


class UnsafeArchiveError(UploadError, UnsafeFileError):
    """A zip member has a path, a link, an unknown name or a lying size; refused unread."""


class NotAZipError(UploadError):
    """A file named .zip is not a readable zip archive."""


def save_upload(files: Iterable[tuple[str, bytes]], uploads_dir: str | os.PathLike) -> Path:
    """Unpack uploaded ``(file name, content)`` pairs into a new folder and validate it.

    One ``.zip`` is unpacked; otherwise the pairs are the checkpoint's own files.
    Returns the new folder ``<uploads_dir>/<unique>/``. Raises an UploadError, or the
    CheckpointError that ``load_checkpoint`` raised, and then leaves no folder behind.
    """
    files = list(files)
    if not files:
        raise UploadError(
            f"nothing was uploaded; choose a .zip of a checkpoint folder or its files "
            f"({checkpoint.CONFIG_FILE} and {checkpoint.WEIGHTS_FILE})."
        )
    total = sum(len(data) for _, data in files)
    if total > MAX_UPLOAD_BYTES:
        raise UploadTooLargeError(
            f"the upload is {_mib(total)}, over the {_mib(MAX_UPLOAD_BYTES)} limit; "
            "a checkpoint of this app is well under 1 MB."
        )
    for name, _ in files:
        _refuse_code_formats(name)
    zips = [n for n, _ in files if n.lower().endswith(".zip")]
    if zips and len(files) > 1:
        raise UploadError(
            f"upload either one .zip or the checkpoint's files, not both ({', '.join(zips)} "
            "came with other files)."
        )
    contents = _unzip(*files[0]) if zips else _loose_files(files)

    uploads = Path(uploads_dir)
    uploads.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=uploads))
    try:
        for name, data in contents.items():
            # O_EXCL on a name from a fixed list, in a folder only we created: no link to follow.
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        checkpoint.load_checkpoint(staging)  # raises a specific CheckpointError if unusable
        final = uploads / _unique_name()
        os.rename(staging, final)
        os.chmod(final, 0o755)  # mkdtemp makes 0700; other server processes may read it
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    prune_uploads(uploads, keep=MAX_KEPT_UPLOADS, spare=final)
    return final


def save_keras_upload(
    name: str,
    data: bytes,
    origin: str,
    latent_dim: int,
    uploads_dir: str | os.PathLike,
    sigma: str = import_keras.DEFAULT_SIGMA,
) -> Path:
    """Import an uploaded Keras ``.weights.h5`` file (see vae.import_keras) as a new folder.

    Returns ``<uploads_dir>/<unique>/``. Raises an UploadError or the CheckpointError
    that the import raised, and then leaves no folder behind.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLargeError(
            f"{name} is {_mib(len(data))}, over the {_mib(MAX_UPLOAD_BYTES)} limit; the "
            "weights of the examples' models are under 1 MB."
        )
    base = PurePosixPath(name.replace("\\", "/")).name
    if not base.lower().endswith(KERAS_WEIGHTS_SUFFIX):
        raise UploadError(
            f"{name} is not a Keras weights file; save the weights with "
            f"model.save_weights('model{KERAS_WEIGHTS_SUFFIX}') and upload that file."
        )
    model = import_keras.build_imported(data, origin, latent_dim, sigma, name=base)
    uploads = Path(uploads_dir)
    uploads.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=uploads))
    try:
        import_keras.write_imported(model, staging)
        final = uploads / _unique_name()
        os.rename(staging, final)
        os.chmod(final, 0o755)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    prune_uploads(uploads, keep=MAX_KEPT_UPLOADS, spare=final)
    return final


def prune_uploads(uploads_dir: str | os.PathLike, keep: int, spare: Path | None = None) -> None:
    """Remove all but the ``keep`` newest upload folders (and stale staging folders)."""
    uploads = Path(uploads_dir)
    if not uploads.is_dir():
        return
    folders = [p for p in uploads.iterdir() if p.is_dir() and not p.is_symlink()]
    hour_ago = time.time() - 3600
    for p in folders:
        # A staging folder older than an hour belongs to a killed server process.
        if p.name.startswith(STAGING_PREFIX) and p.stat().st_mtime < hour_ago:
            shutil.rmtree(p, ignore_errors=True)
    done = [p for p in folders if not p.name.startswith(STAGING_PREFIX)]
    done.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for p in done[keep:]:
        if p != spare:
            shutil.rmtree(p, ignore_errors=True)


# --- loose files -------------------------------------------------------------
def _loose_files(files: list[tuple[str, bytes]]) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    for name, data in files:
        if name != PurePosixPath(name).name or "\\" in name:
            raise UnsafeArchiveError(f"the file name {name!r} holds a path; upload plain files.")
        if name in SKIPPED:
            continue
        _check_known(name)
        if name in contents:
            raise UploadError(f"{name} was uploaded twice; upload each file once.")
        _check_member_size(name, len(data))
        contents[name] = data
    _check_required(contents)
    return contents


# --- zip -----------------------------------------------------------------------
def _unzip(zip_name: str, data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise NotAZipError(
            f"{zip_name} is not a readable zip archive ({exc}); zip the checkpoint folder "
            "again, or upload its files one by one."
        ) from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise UnsafeArchiveError(
                f"{zip_name} has {len(members)} entries; a checkpoint has at most "
                f"{len(MEMBER_LIMITS) + len(SKIPPED)} files."
            )
        wanted = _plan(zip_name, members)
        total_declared = sum(info.file_size for info in wanted.values())
        if total_declared > MAX_TOTAL_BYTES:
            raise UploadTooLargeError(
                f"{zip_name} would unpack to {_mib(total_declared)}, over the "
                f"{_mib(MAX_TOTAL_BYTES)} limit."
            )
        contents = {
            name: _read_member(archive, zip_name, name, info) for name, info in wanted.items()
        }
    _check_required(contents, zip_name)
    return contents


def _plan(zip_name: str, members: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Map each checkpoint file name to its member, or refuse the archive.

    Members may sit at the top or in one common folder (what zipping a folder gives).
    """
    folders: set[str] = set()
    wanted: dict[str, zipfile.ZipInfo] = {}
    unknown: list[str] = []
    for info in members:
        raw = info.filename
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(
                f"{zip_name}: {raw!r} is encrypted; zip it without a password."
            )
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchiveError(f"{zip_name}: {raw!r} is a symbolic link; links are refused.")
        parts = _safe_parts(zip_name, raw)
        if info.is_dir():
            if len(parts) != 1:
                raise UnsafeArchiveError(
                    f"{zip_name}: the folder {raw!r} is nested; zip one checkpoint folder."
                )
            folders.add(parts[0])
            continue
        if len(parts) == 2:
            folders.add(parts[0])
        elif len(parts) > 2:
            raise UnsafeArchiveError(
                f"{zip_name}: {raw!r} is nested too deep; zip one checkpoint folder."
            )
        name = parts[-1]
        if name in SKIPPED:
            continue
        if name not in MEMBER_LIMITS:
            unknown.append(raw)
            continue
        if name in wanted:
            raise UnsafeArchiveError(f"{zip_name} holds {name} twice; keep one checkpoint in it.")
        _check_member_size(name, info.file_size, zip_name)
        wanted[name] = info
    if unknown:
        raise UnsafeArchiveError(
            f"{zip_name} holds files that are not part of a checkpoint: "
            f"{', '.join(repr(u) for u in unknown[:5])}{' …' if len(unknown) > 5 else ''}. "
            f"Only {', '.join(MEMBER_LIMITS)} are accepted"
            + (
                "; a Keras model file (.keras/.h5) is never loaded."
                if any(u.endswith((".h5", ".keras")) for u in unknown)
                else "."
            )
        )
    if len(folders) > 1:
        raise UnsafeArchiveError(
            f"{zip_name} holds several folders ({', '.join(sorted(folders))}); zip one checkpoint."
        )
    return wanted


def _safe_parts(zip_name: str, raw: str) -> tuple[str, ...]:
    """The path components of a member name; refuses absolute, parent and odd names."""
    if (
        not raw
        or "\\" in raw
        or "\x00" in raw
        or raw.startswith("/")
        or re.match(r"^[A-Za-z]:", raw)
    ):
        raise UnsafeArchiveError(
            f"{zip_name}: the member {raw!r} has an absolute or malformed path; refused."
        )
    parts = tuple(p for p in raw.split("/") if p)
    if not parts or any(p in (".", "..") for p in parts):
        raise UnsafeArchiveError(
            f"{zip_name}: the member {raw!r} points outside its folder; refused."
        )
    if len(parts) > 1 and not all(_SAFE_FOLDER.match(p) for p in parts[:-1]):
        raise UnsafeArchiveError(f"{zip_name}: the folder name in {raw!r} is not allowed.")
    return parts


def _read_member(
    archive: zipfile.ZipFile, zip_name: str, name: str, info: zipfile.ZipInfo
) -> bytes:
    """Inflate one member, stopping as soon as it exceeds its declared size or its cap."""
    limit = min(info.file_size, MEMBER_LIMITS[name])
    out = bytearray()
    try:
        with archive.open(info) as f:
            while chunk := f.read(_CHUNK):
                out += chunk
                if len(out) > limit:
                    raise UploadTooLargeError(
                        f"{zip_name}: {name} inflates past {_mib(limit)} (its declared size or "
                        "cap); the archive is malformed or a zip bomb. Refused."
                    )
    except UploadError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise NotAZipError(f"{zip_name}: {name} cannot be unpacked ({exc}).") from exc
    if len(out) != info.file_size:
        raise UnsafeArchiveError(
            f"{zip_name}: {name} declares {info.file_size} bytes but holds {len(out)}; refused."
        )
    return bytes(out)


# --- shared checks -------------------------------------------------------------
def _refuse_code_formats(name: str) -> None:
    path = Path(PurePosixPath(name.replace("\\", "/")).name or "upload")
    # Named by suffix alone, so the file is never opened; the message is vae.checkpoint's.
    checkpoint.refuse_by_name(path)


def _check_known(name: str, where: str = "") -> None:
    if name not in MEMBER_LIMITS:
        prefix = f"{where}: " if where else ""
        raise UnsafeArchiveError(
            f"{prefix}{name!r} is not part of a checkpoint; upload a .zip of a checkpoint "
            f"folder or the files {', '.join(MEMBER_LIMITS)}."
        )


def _check_member_size(name: str, size: int, where: str = "") -> None:
    if size > MEMBER_LIMITS[name]:
        prefix = f"{where}: " if where else ""
        raise UploadTooLargeError(
            f"{prefix}{name} is {_mib(size)}, over its {_mib(MEMBER_LIMITS[name])} limit."
        )


def _check_required(contents: dict[str, bytes], where: str = "the upload") -> None:
    missing = [n for n in REQUIRED if n not in contents]
    if missing:
        raise UploadError(
            f"{where} lacks {' and '.join(missing)}; a checkpoint needs both "
            f"{checkpoint.CONFIG_FILE} and {checkpoint.WEIGHTS_FILE}."
        )


def _unique_name() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _mib(n: int) -> str:
    # Exact bytes below a megabyte, so "65,537 over 65,536" never rounds to "64 KB over 64 KB".
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"
