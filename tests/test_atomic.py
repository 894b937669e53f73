"""Atomic writes: a reader sees the old file or the whole new one; a failed write leaves
no temporary, and its error names the user's path, never the temporary's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vae.atomic import TMP_MARK, clean_temporaries, write_bytes_atomic, write_json_atomic
from vae.images import save_png


def test_write_bytes_atomic_replaces_the_whole_content(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    write_bytes_atomic(path, b"x" * 10_000)
    write_bytes_atomic(path, b"short")
    assert path.read_bytes() == b"short"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


class _HalfWriter:
    """A file whose write() stores half the data, then fails like a full disk."""

    def __init__(self, f, seen: list, directory: Path):
        self._f = f
        self._seen = seen
        self._dir = directory

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        self._f.flush()
        self._seen.append(sorted(p.name for p in self._dir.iterdir()))
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
@pytest.mark.parametrize("had_old_file", [True, False], ids=["old-file", "new-file"])
def test_failed_write_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str, had_old_file: bool
) -> None:
    path = tmp_path / "weights.safetensors"
    if had_old_file:
        path.write_bytes(b"old content")
    seen: list[list[str]] = []  # the folder while the write was under way
    error: type[BaseException] = OSError
    if fail_at == "write":
        real_fdopen = os.fdopen

        def fdopen(fd, *args, **kwargs):
            return _HalfWriter(real_fdopen(fd, *args, **kwargs), seen, tmp_path)

        monkeypatch.setattr(os, "fdopen", fdopen)
    elif fail_at == "fsync":
        error = KeyboardInterrupt  # Ctrl-C mid-write must clean up too

        def fsync(fd):
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "fsync", fsync)
    else:

        def replace(src, dst):
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "replace", replace)

    with pytest.raises(error):
        write_bytes_atomic(path, b"new content that never lands")
    monkeypatch.undo()

    assert len(seen) == 1
    assert any(".tmp-" in name for name in seen[0])  # a temporary did exist mid-write
    if had_old_file:
        assert path.read_bytes() == b"old content"
        assert [p.name for p in tmp_path.iterdir()] == [path.name]
    else:
        assert list(tmp_path.iterdir()) == []


def test_clean_temporaries_removes_only_leftovers(tmp_path: Path) -> None:
    keep = ["weights.safetensors", "notes.txt", "tmp-notes.txt", "history.json"]
    leftovers = ["weights.safetensors.tmp-a1b2c3", "config.json.tmp-zz9"]
    for name in keep + leftovers:
        (tmp_path / name).write_bytes(b"data")
    (tmp_path / "sub.tmp-folder").mkdir()  # only files are leftovers of a write

    removed = clean_temporaries(tmp_path)

    assert sorted(p.name for p in removed) == sorted(leftovers)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "sub.tmp-folder"])
    assert clean_temporaries(tmp_path) == []
    assert clean_temporaries(tmp_path / "missing") == []


@pytest.mark.parametrize("write", ["bytes", "json", "png"])
def test_a_missing_folder_is_named_as_the_user_gave_it(tmp_path: Path, write: str) -> None:
    target = tmp_path / "no-such-folder" / "s.png"
    with pytest.raises(FileNotFoundError) as caught:
        if write == "bytes":
            write_bytes_atomic(target, b"data")
        elif write == "json":
            write_json_atomic(target, {"a": 1})
        else:
            save_png(np.zeros((4, 4), np.uint8), target)
    message = str(caught.value)
    assert f"cannot write {target}: the folder {target.parent} does not exist" in message
    assert TMP_MARK not in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["parent-is-a-file", "target-is-a-folder"])
def test_other_unwritable_targets_are_named_as_the_user_gave_them(tmp_path, case) -> None:
    if case == "parent-is-a-file":
        (tmp_path / "notes.txt").write_text("x")
        target, error = tmp_path / "notes.txt" / "s.png", NotADirectoryError
    else:
        target, error = tmp_path / "s.png", IsADirectoryError
        target.mkdir()
    with pytest.raises(error) as caught:
        write_bytes_atomic(target, b"data")
    assert f"cannot write {target}" in str(caught.value)
    assert TMP_MARK not in str(caught.value)
    assert not [p for p in tmp_path.rglob("*") if TMP_MARK in p.name]
