"""save_upload: only a checkpoint's own files are written, and only if they load."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import perturb_weights, tiny_config, weights_of

from vae import checkpoint, encoding_history, precompute, upload
from vae.errors import CheckpointMismatchError, CorruptCheckpointError, UnsafeFileError
from vae.model import build_vae
from vae.upload import (
    NotAZipError,
    UnsafeArchiveError,
    UploadError,
    UploadTooLargeError,
    save_upload,
)


@pytest.fixture(scope="module")
def ckpt_files(tmp_path_factory) -> dict[str, bytes]:
    """The files of a real tiny run folder: a checkpoint, its optimizer state, the pages'
    stored figures and the codes kept per epoch."""
    folder = tmp_path_factory.mktemp("ckpt")
    model = build_vae(tiny_config())
    perturb_weights(model, seed=3)
    history = [{"epoch": 1, "train": {"neg_elbo": 5.0}, "test": {"neg_elbo": 6.0}}]
    checkpoint.save_checkpoint(folder, model, epoch=1, history=history, metrics={"neg_elbo": 6.0})
    # What a run folder holds besides: none of it is needed, none of it is read.
    for name in (
        checkpoint.OPTIMIZER_FILE,
        precompute.FILE,
        precompute.EXPORT_FILE,
        encoding_history.FILE,
    ):
        (folder / name).write_bytes(b"never read: " + name.encode())
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def root(tmp_path) -> Path:
    """A sandbox: uploads go to root/runs/uploads; nothing may appear elsewhere in root."""
    (tmp_path / "runs").mkdir()
    return tmp_path


def uploads_of(root: Path) -> Path:
    return root / "runs" / "uploads"


def make_zip(members: list[tuple[str | zipfile.ZipInfo, bytes]], **kwargs) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, **kwargs) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def files_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_nothing_left(root: Path) -> None:
    """A failed upload leaves no folder (staging or final) and writes nowhere else."""
    assert files_in(root) <= {"runs", "runs/uploads"}


def test_valid_zip_of_a_folder_loads_with_the_same_weights(root, ckpt_files):
    data = make_zip([("my-run/", b"")] + [(f"my-run/{n}", b) for n, b in ckpt_files.items()])
    folder = save_upload([("my-run.zip", data)], uploads_of(root))
    assert folder.parent == uploads_of(root) and not folder.name.startswith(".")
    # The rest of a run folder is skipped unread; the four checkpoint files are written.
    assert sorted(p.name for p in folder.iterdir()) == sorted(upload.MEMBER_LIMITS)
    loaded = checkpoint.load_checkpoint(folder)
    original = checkpoint.read_weights(folder)[0]
    assert weights_of(loaded.model).keys() == original.keys()
    assert loaded.metrics == {"neg_elbo": 6.0} and loaded.epoch == 1
    assert files_in(root) == {
        "runs",
        "runs/uploads",
        *(f"{folder.relative_to(root)}/{n}" for n in upload.MEMBER_LIMITS),
        str(folder.relative_to(root)),
    }


def test_loose_files_are_accepted_and_each_upload_gets_a_new_folder(root, ckpt_files):
    files = [(n, ckpt_files[n]) for n in (checkpoint.CONFIG_FILE, checkpoint.WEIGHTS_FILE)]
    a = save_upload(files, uploads_of(root))
    b = save_upload(files, uploads_of(root))
    assert a != b
    assert {p.name for p in a.iterdir()} == {checkpoint.CONFIG_FILE, checkpoint.WEIGHTS_FILE}
    assert checkpoint.load_checkpoint(b).epoch == 1


@pytest.mark.parametrize(
    "name",
    [
        "../../x",
        "../config.json",
        "/etc/config.json",
        "a/../../config.json",
        "C:/config.json",
        "a\\..\\config.json",
        "./config.json",
    ],
)
def test_traversal_and_absolute_names_are_refused(root, ckpt_files, name):
    data = make_zip(
        [
            (name, ckpt_files[checkpoint.CONFIG_FILE]),
            (checkpoint.WEIGHTS_FILE, ckpt_files[checkpoint.WEIGHTS_FILE]),
        ]
    )
    with pytest.raises(UnsafeArchiveError) as err:
        save_upload([("evil.zip", data)], uploads_of(root))
    assert name in str(err.value) or repr(name) in str(err.value)
    assert_nothing_left(root)
    assert not (root / "x").exists() and not (root.parent / "x").exists()


def test_symlink_member_is_refused(root, ckpt_files):
    link = zipfile.ZipInfo(checkpoint.CONFIG_FILE)
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = make_zip(
        [(link, b"/etc/passwd"), (checkpoint.WEIGHTS_FILE, ckpt_files[checkpoint.WEIGHTS_FILE])]
    )
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        save_upload([("link.zip", data)], uploads_of(root))
    assert_nothing_left(root)


def test_unknown_members_are_refused_by_name(root, ckpt_files):
    data = make_zip([*ckpt_files.items(), ("run.sh", b"rm -rf /")])
    with pytest.raises(UnsafeArchiveError, match="run.sh"):
        save_upload([("extra.zip", data)], uploads_of(root))
    assert_nothing_left(root)


def test_a_keras_model_renamed_zip_is_refused_and_named(root):
    data = make_zip(
        [("config.json", b"{}"), ("model.weights.h5", b"\x89HDF"), ("metadata.json", b"{}")]
    )
    with pytest.raises(UnsafeArchiveError, match="Keras model file"):
        save_upload([("model.zip", data)], uploads_of(root))
    assert_nothing_left(root)


def test_oversized_member_is_refused_before_reading(root, ckpt_files):
    big = b" " * (upload.MEMBER_LIMITS[checkpoint.CONFIG_FILE] + 1)
    data = make_zip(
        [
            (checkpoint.CONFIG_FILE, big),
            (checkpoint.WEIGHTS_FILE, ckpt_files[checkpoint.WEIGHTS_FILE]),
        ]
    )
    assert len(data) < 10_000  # small on the wire, big when unpacked
    with pytest.raises(
        UploadTooLargeError, match=r"config\.json is 65,537 bytes, over its 65,536 bytes limit"
    ):
        save_upload([("big.zip", data)], uploads_of(root))
    assert_nothing_left(root)


def test_zip_bomb_declared_huge_is_refused(root, ckpt_files):
    bomb = b"\0" * (upload.MAX_UPLOAD_BYTES + 1)  # deflates to about 16 KB
    data = make_zip(
        [
            (checkpoint.CONFIG_FILE, ckpt_files[checkpoint.CONFIG_FILE]),
            (checkpoint.WEIGHTS_FILE, bomb),
        ]
    )
    assert len(data) < 100_000
    with pytest.raises(UploadTooLargeError, match="weights.safetensors"):
        save_upload([("bomb.zip", data)], uploads_of(root))
    assert_nothing_left(root)


def test_zip_bomb_with_a_lying_small_declared_size_stops_at_the_declared_size(root, ckpt_files):
    bomb = b"\0" * (8 * 1024 * 1024)
    data = bytearray(
        make_zip(
            [
                (checkpoint.CONFIG_FILE, ckpt_files[checkpoint.CONFIG_FILE]),
                (checkpoint.WEIGHTS_FILE, bomb),
            ]
        )
    )
    # Rewrite the weights' uncompressed size to 1000 bytes in both headers.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo(checkpoint.WEIGHTS_FILE)
    size = (8 * 1024 * 1024).to_bytes(4, "little")
    lie = (1000).to_bytes(4, "little")
    assert bytes(data).count(size) == 2
    data = bytes(data).replace(size, lie)
    assert info.file_size == 8 * 1024 * 1024
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.getinfo(checkpoint.WEIGHTS_FILE).file_size == 1000
    with pytest.raises(UploadError) as err:  # zipfile stops at the declared size: bad CRC
        save_upload([("liar.zip", data)], uploads_of(root))
    assert "weights.safetensors" in str(err.value)
    assert_nothing_left(root)


def test_a_non_zip_renamed_zip_is_refused(root):
    with pytest.raises(NotAZipError, match="not a readable zip"):
        save_upload([("photo.zip", b"\xff\xd8\xff\xe0 not a zip at all")], uploads_of(root))
    assert_nothing_left(root)


def test_upload_over_the_cap_is_refused(root):
    with pytest.raises(UploadTooLargeError, match="16.0 MB limit"):
        save_upload([("huge.zip", b"0" * (upload.MAX_UPLOAD_BYTES + 1))], uploads_of(root))
    assert_nothing_left(root)


@pytest.mark.parametrize("name", ["model.keras", "model.h5", "weights.pkl", "data.npz"])
def test_code_carrying_formats_are_refused_unopened(root, name):
    with pytest.raises(UnsafeFileError, match="never loaded"):
        save_upload([(name, b"\x80\x04 pickle that must never be read")], uploads_of(root))
    assert_nothing_left(root)


def test_loose_unknown_or_pathed_files_are_refused(root, ckpt_files):
    with pytest.raises(UnsafeArchiveError, match="not part of a checkpoint"):
        save_upload([("notes.txt", b"hi"), *ckpt_files.items()], uploads_of(root))
    with pytest.raises(UnsafeArchiveError, match="holds a path"):
        save_upload([("../config.json", ckpt_files[checkpoint.CONFIG_FILE])], uploads_of(root))
    assert_nothing_left(root)


def test_missing_weights_is_refused(root, ckpt_files):
    with pytest.raises(UploadError, match="lacks weights.safetensors"):
        save_upload(
            [(checkpoint.CONFIG_FILE, ckpt_files[checkpoint.CONFIG_FILE])], uploads_of(root)
        )
    assert_nothing_left(root)


def test_files_that_do_not_load_are_removed_with_the_checkpoint_error(root, ckpt_files):
    # A config for J = 3 beside weights for J = 2: unpacked, then refused by load_checkpoint.
    config = tiny_config(latent_dim=3).to_json().encode()
    files = [
        (checkpoint.CONFIG_FILE, config),
        (checkpoint.WEIGHTS_FILE, ckpt_files[checkpoint.WEIGHTS_FILE]),
    ]
    with pytest.raises(CheckpointMismatchError, match="latent_dim 2"):
        save_upload(files, uploads_of(root))
    truncated = ckpt_files[checkpoint.WEIGHTS_FILE][:100]
    with pytest.raises(CorruptCheckpointError):
        save_upload(
            [
                (checkpoint.CONFIG_FILE, ckpt_files[checkpoint.CONFIG_FILE]),
                (checkpoint.WEIGHTS_FILE, truncated),
            ],
            uploads_of(root),
        )
    assert_nothing_left(root)


# ------------------------------------------------------------ Keras weights upload


@pytest.fixture(scope="module")
def keras_example_weights(tmp_path_factory) -> tuple[object, bytes]:
    """The Keras VAE example's model and its save_weights file."""
    from keras_examples import saved_keras_model

    model, path = saved_keras_model(tmp_path_factory.mktemp("keras"), "keras-example", 2, "log_var")
    return model, path.read_bytes()


def test_keras_weights_upload_becomes_a_checkpoint_that_decodes_like_keras(
    root, keras_example_weights
):
    keras_model, data = keras_example_weights
    folder = upload.save_keras_upload("vae.weights.h5", data, "keras-example", 2, uploads_of(root))
    assert folder.parent == uploads_of(root)
    assert sorted(p.name for p in folder.iterdir()) == [
        checkpoint.CONFIG_FILE, checkpoint.HISTORY_FILE, checkpoint.WEIGHTS_FILE
    ]  # fmt: skip
    ckpt = checkpoint.load_checkpoint(folder)
    z = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    expected = np.asarray(keras_model.decode(z))
    assert np.abs(ckpt.model.decode_fn(z).numpy() - expected).max() <= 1e-5


def test_keras_upload_refusals_leave_nothing(root, keras_example_weights):
    _, data = keras_example_weights
    uploads = uploads_of(root)
    with pytest.raises(UploadError, match="is not a Keras weights file"):
        upload.save_keras_upload("vae.keras", data, "keras-example", 2, uploads)
    with pytest.raises(CheckpointMismatchError, match="It fits --from keras-example"):
        upload.save_keras_upload("vae.weights.h5", data, "tf-tutorial", 2, uploads)
    with pytest.raises(CheckpointMismatchError, match="takes 2 latent numbers, not"):
        upload.save_keras_upload("vae.weights.h5", data, "keras-example", 5, uploads)
    big = b"\x89HDF" + b"\0" * upload.MAX_UPLOAD_BYTES
    with pytest.raises(UploadTooLargeError, match="over the 16.0 MB limit"):
        upload.save_keras_upload("vae.weights.h5", big, "keras-example", 2, uploads)
    # The checkpoint upload still refuses the same file by its name, unopened.
    with pytest.raises(UnsafeFileError, match=".h5 files can hold code"):
        save_upload([("vae.weights.h5", data)], uploads)
    assert_nothing_left(root)
