"""Read the numeric arrays of an HDF5 file and nothing else.

A Keras ``.weights.h5`` file is HDF5: groups, and under them float32 datasets. An
HDF5 file can also hold what must never be followed or decoded for a user's file: a
whole model's config (which may name code, such as a ``Lambda`` layer's marshalled
function), object, string, reference or compound data, links to other files, data
stored in other files or assembled from them (external storage, virtual datasets),
and filters that load plugins. Each is refused with a message naming it, before any
dataset is read. Attribute values are never decoded; only their names are looked at.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vae.checkpoint import MAX_WEIGHTS_BYTES
from vae.errors import CorruptCheckpointError, UnsafeFileError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_FILE_BYTES = MAX_WEIGHTS_BYTES  # the weights of the largest model a checkpoint holds
MAX_OBJECTS = 2_000  # groups and datasets together; a VAE's weights file has about 60
MAX_DEPTH = 16  # a weights file nests 5 deep; hard-link cycles stop here too
MAX_ARRAY_BYTES = MAX_WEIGHTS_BYTES  # what all the arrays may unpack to, together
# Root attributes of a whole Keras model (model.save), never of a weights-only file.
MODEL_ATTRIBUTES = ("model_config", "training_config")
NUMERIC_KINDS = "fiu"  # float, signed and unsigned integer
# Filters built into HDF5 itself; any other is a plugin loaded from disk.
BUILTIN_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset"}


class UnsafeHDF5Error(UnsafeFileError):
    """The HDF5 file holds something other than numeric arrays in plain groups."""


def read_numeric_arrays(source: str | Path | bytes, name: str) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 file as ``{"group/sub/dataset": array}``.

    ``source`` is a path or the file's bytes; ``name`` is how messages call the file.
    Raises UnsafeHDF5Error for anything but numeric datasets in groups, and
    CorruptCheckpointError for a file that is not HDF5, too large, or unreadable.
    """
    import h5py

    data = _bounded_bytes(source, name)
    if not data.startswith(HDF5_MAGIC):
        raise CorruptCheckpointError(
            f"{name} is not an HDF5 file (a Keras .weights.h5 file starts with the HDF5 "
            "signature); save the weights with model.save_weights('model.weights.h5')."
        )
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            found = [k for k in MODEL_ATTRIBUTES if k in f.attrs]
            if found:
                raise UnsafeHDF5Error(
                    f"{name} holds a whole Keras model ({found[0]} names its layers, which "
                    "can carry code) and is never loaded. Save the weights only, with "
                    "model.save_weights('model.weights.h5'), and import that file."
                )
            datasets: dict[str, object] = {}
            _walk(f, "", name, datasets, [0])
            _check_total(datasets, name)
            return {path: _read(ds, path, name) for path, ds in datasets.items()}
    except (UnsafeFileError, CorruptCheckpointError):
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise CorruptCheckpointError(f"{name} is not a readable HDF5 file ({exc}).") from exc


def _bounded_bytes(source: str | Path | bytes, name: str) -> bytes:
    """The file's bytes, refusing more than MAX_FILE_BYTES after reading one byte past it."""
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():  # also refuses FIFOs and devices, which may never end
            raise CorruptCheckpointError(f"{name} is not a file.")
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise CorruptCheckpointError(
            f"{name} is over the {MAX_FILE_BYTES // 2**20} MiB limit for the weights of a "
            "model of this kind."
        )
    if not data:
        raise CorruptCheckpointError(f"{name} is empty (0 bytes): the file was cut off.")
    return data


def _walk(group, prefix: str, name: str, out: dict[str, object], count: list[int]) -> None:
    import h5py

    depth = prefix.count("/") + (1 if prefix else 0)
    if depth > MAX_DEPTH:
        raise UnsafeHDF5Error(f"{name} nests groups over {MAX_DEPTH} deep; refused.")
    for key in group:
        path = f"{prefix}{key}"
        count[0] += 1
        if count[0] > MAX_OBJECTS:
            raise UnsafeHDF5Error(
                f"{name} holds over {MAX_OBJECTS} groups and datasets; a VAE's weights "
                "file holds far fewer. Refused."
            )
        link = group.get(key, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise UnsafeHDF5Error(
                f"{name}: {path!r} is an external link to {link.filename!r}; links to other "
                "files are never followed. Refused."
            )
        if isinstance(link, h5py.SoftLink):
            raise UnsafeHDF5Error(
                f"{name}: {path!r} is a soft link; a weights file holds plain groups and "
                "datasets only. Refused."
            )
        obj = group[key]
        if isinstance(obj, h5py.Group):
            _walk(obj, path + "/", name, out, count)
        elif isinstance(obj, h5py.Dataset):
            _check_dataset(obj, path, name)
            out[path] = obj
        else:
            raise UnsafeHDF5Error(
                f"{name}: {path!r} is a {type(obj).__name__}, not a group or a dataset. Refused."
            )


def _check_dataset(ds, path: str, name: str) -> None:
    dtype = ds.dtype
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise UnsafeHDF5Error(
            f"{name}: {path!r} holds {_describe(dtype)} data; only numeric arrays are read "
            "from an HDF5 file. Refused."
        )
    if ds.is_virtual:
        raise UnsafeHDF5Error(
            f"{name}: {path!r} is a virtual dataset assembled from other files. Refused."
        )
    if ds.external:
        raise UnsafeHDF5Error(
            f"{name}: {path!r} stores its data in the external file "
            f"{ds.external[0][0]!r}; data outside the file is never read. Refused."
        )
    dcpl = ds.id.get_create_plist()
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code not in BUILTIN_FILTERS:
            raise UnsafeHDF5Error(
                f"{name}: {path!r} needs the HDF5 filter plugin {code}; plugins are never "
                "loaded for a user's file. Refused."
            )


def _describe(dtype: np.dtype) -> str:
    import h5py

    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "variable-length"
    if dtype.kind == "O":
        return "object"
    if dtype.fields is not None:
        return "compound"
    return f"{dtype} ({dtype.kind!r})"


def _check_total(datasets: dict[str, object], name: str) -> None:
    # Compressed data can unpack far past the file's size; the shapes say how far.
    total = sum(
        int(np.prod(ds.shape or (), dtype=np.float64)) * ds.dtype.itemsize
        for ds in datasets.values()
    )
    if total > MAX_ARRAY_BYTES:
        raise UnsafeHDF5Error(
            f"{name}'s arrays would unpack to {total / 2**20:.0f} MiB, over the "
            f"{MAX_ARRAY_BYTES // 2**20} MiB limit. Refused."
        )


def _read(ds, path: str, name: str) -> np.ndarray:
    array = np.asarray(ds[()])
    if array.dtype.kind not in NUMERIC_KINDS:  # h5py decides the final type; check it too
        raise UnsafeHDF5Error(f"{name}: {path!r} did not read as numbers. Refused.")
    return array
