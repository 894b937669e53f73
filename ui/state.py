"""Shared state for the pages: which model is active, and cached models and arrays.

Models and the test set live in ``st.cache_resource`` (shared by every session,
read-only); other arrays in ``st.cache_data``, keyed by a checkpoint's ``Key``.
``st.session_state`` holds only small UI state, such as the active checkpoint's path,
set only when absent.

Nothing here imports TensorFlow until a page asks for the model itself: a page served
from what is stored beside the weights (vae/precompute.py) draws without it, and
``warm_up`` builds the model in the background afterwards, so the next page finds it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from ui import streamlit_patches, url_state
from vae import checkpoint, encoding_history, manifold, palette, precompute, run_list, zoo
from vae.config import VAEConfig
from vae.data import load_dataset, to_model_input
from vae.errors import VAEError

streamlit_patches.apply()  # before any page draws: see ui/streamlit_patches.py

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_DIR = ROOT / "checkpoints"
DEFAULT_CHECKPOINT = SHIPPED_DIR / "mnist-2d"
# Trained in the app; ignored by git. VAE_RUNS_DIR puts them elsewhere (a server whose
# code folder is read-only, or a test that must not touch the real runs).
RUNS_DIR = Path(os.environ.get("VAE_RUNS_DIR") or ROOT / "runs")
ACTIVE = "active_checkpoint"  # session_state key: str path of the active checkpoint
# session_state keys of the Manifold page's grid, which the Drag pad outlines too.
MANIFOLD_SIZE, MANIFOLD_MODE, MANIFOLD_SPAN = "manifold_n", "manifold_mode", "manifold_span"
# (path, stamp) of a checkpoint: the one key for every cache of what its weights compute.
Key = tuple[str, float]
# Class colours of the latent plane (Latent map, Drag pad, the exported HTML file).
CLASS_PALETTE = palette.CLASS_PALETTE
# The warm-up waits this long after the first page is sent, so the browser fetches what
# that page needs (its components, the decoder) before TensorFlow's import competes for
# the two cores and the interpreter.
WARM_UP_DELAY_S = 2.0
# What the other pages import next, besides the model: the engine's TensorFlow functions
# and the figures' library.
WARM_MODULES = ("vae.evaluate", "plotly.graph_objects")


def _stamp(path: str) -> float:
    """Changes when the weights change, so a retrained folder is reloaded."""
    try:
        return (Path(path) / checkpoint.WEIGHTS_FILE).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _load(path: str, stamp: float) -> checkpoint.Checkpoint:
    import_tensorflow()
    ckpt = checkpoint.load_checkpoint(path)
    # TensorFlow's many long-lived objects make every full collection slow; moving
    # what exists now out of the collector's reach keeps later ones cheap.
    gc.collect()
    gc.freeze()
    return ckpt


@st.cache_resource(max_entries=16, show_spinner=False)
def _config(path: str, stamp: float) -> VAEConfig:
    return checkpoint.load_config(path)


def config_at(key: Key) -> VAEConfig:
    """The config of the checkpoint ``key``, read from its config.json alone: no model
    is built, so TensorFlow is not imported. Raises a VAEError if it is unreadable."""
    return _config(*key)


def import_tensorflow() -> None:
    """Import TensorFlow before Keras, as every page's ``vae.evaluate`` does.

    TensorFlow and Keras import each other. Two threads that start them in opposite
    orders (one ``import keras``, as building a model does, the other ``import
    tensorflow``) each hold the lock the other waits for; Python then hands one of them
    a half-imported module, and it fails. The same order everywhere makes the later
    thread simply wait: this matters once the warm-up imports them in the background
    while a page imports them too.
    """
    importlib.import_module("tensorflow")


def key_of(path: str | Path) -> Key:
    """The key of the checkpoint at ``path``, as its weights are now."""
    return str(path), _stamp(str(path))


def checkpoint_at(key: Key) -> checkpoint.Checkpoint:
    """The cached checkpoint of ``key``: how a page's cached function reaches the model.

    Pass the key, never the model, to ``st.cache_data`` functions: the key is hashed, and
    the model is found here in ``st.cache_resource``. Raises a VAEError if it cannot load.
    """
    return _load(*key)


def load(path: str | Path) -> checkpoint.Checkpoint:
    """The cached checkpoint at ``path``; raises a VAEError if it cannot be loaded."""
    return checkpoint_at(key_of(path))


def model_name(path: str | Path) -> str | None:
    """The name a link gives the checkpoint at ``path``, or None if the app does not list it."""
    p, runs = Path(path), Path(RUNS_DIR)
    if p.parent == SHIPPED_DIR:
        return p.name
    if p.parent == runs:
        return f"runs/{p.name}"
    if p.parent == runs / run_list.UPLOADS_FOLDER:
        return f"{run_list.UPLOADS_FOLDER}/{p.name}"
    return None


def shipped_names() -> list[str]:
    """The shipped models' folder names: the zoo's first, in its order (vae/zoo.py)."""
    folders = SHIPPED_DIR.iterdir() if SHIPPED_DIR.is_dir() else ()
    return zoo.order(p.name for p in folders if (p / checkpoint.WEIGHTS_FILE).is_file())


def listed_models() -> dict[str, Path]:
    """Every checkpoint the app lists (shipped, runs, uploads), by its name in a link."""
    shipped = [SHIPPED_DIR / name for name in shipped_names()]
    runs = [r.path for r in run_list.list_runs(RUNS_DIR)]
    return {model_name(p): p for p in [*shipped, *runs]}


def _linked_model(raw: str) -> Path:
    """The checkpoint a link names. Only names the app lists are looked up, so a link can
    never reach a path of its own choosing (no ../, no absolute paths)."""
    models = listed_models()
    if raw not in models:
        raise ValueError(
            f"{url_state.quote(raw)} is not a model this app lists; the Model page shows "
            "the ones it has."
        )
    return models[raw]


def active_path() -> str:
    if ACTIVE not in st.session_state:
        linked = url_state.read(url_state.MODEL, _linked_model)
        st.session_state[ACTIVE] = str(linked or DEFAULT_CHECKPOINT)
    path = st.session_state[ACTIVE]
    url_state.write(url_state.MODEL, model_name(path))  # a link reopens this model
    return path


def activate(path: str | Path) -> bool:
    """Make ``path`` the active model if it loads; otherwise show why and keep the old one."""
    try:
        load(path)
    except VAEError as exc:
        st.error(f"Could not load {Path(path).name}: {exc} The previous model stays active.")
        return False
    st.session_state[ACTIVE] = str(path)
    return True


def active() -> checkpoint.Checkpoint:
    """The active checkpoint; falls back to the default, and stops the page if none loads."""
    path = active_path()
    try:
        return load(path)
    except VAEError as exc:
        if path != str(DEFAULT_CHECKPOINT):
            st.warning(f"{Path(path).name} can no longer be loaded ({exc}); using the default.")
            st.session_state[ACTIVE] = str(DEFAULT_CHECKPOINT)
            return active()
        st.error(f"The default model could not be loaded: {exc}")
        st.stop()


@st.cache_resource(max_entries=16, show_spinner=False)
def _records(path: str, stamp: float) -> checkpoint.Checkpoint:
    return checkpoint.load_records(path)


def active_records() -> checkpoint.Checkpoint:
    """The active checkpoint's config, epoch, history and metrics; its ``model`` is None.

    For a page that shows these but never runs the model: read from the files without
    TensorFlow, so its first visit does not wait for the model to be built. A folder
    that cannot be read falls back to the default as ``active`` does.
    """
    try:
        return _records(*key_of(active_path()))
    except VAEError:
        return active()


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.flags.writeable = False  # shared by every session: a write would be a bug
    return a


# The test set and its model inputs live in st.cache_resource, not st.cache_data: one
# shared, read-only copy. st.cache_data hands every call its own unpickled copy (31 MB
# for the float inputs), which cost time on every rerun and, under ten viewers
# switching pages, hundreds of MB of garbage waiting for the collector.
def test_set(dataset: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(x_test uint8 [N, 28, 28], y_test [N], class names) of a data set; read-only."""
    return _test_set(dataset, _data_dir())


def _data_dir() -> str:
    """Where the data sets are read from ($VAE_DATA_DIR, else the usual places): part of
    the test set's cache key, so a folder set later is never answered from an older one."""
    return os.environ.get("VAE_DATA_DIR", "")


@st.cache_resource(show_spinner="Loading the test set…", max_entries=2)
def _test_set(dataset: str, data_dir: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    ds = load_dataset(dataset)
    return _read_only(ds.x_test), _read_only(ds.y_test), tuple(ds.class_names)


def test_inputs(ckpt: checkpoint.Checkpoint) -> np.ndarray:
    """The test images as ``ckpt``'s model sees them: [N, 28, 28, 1] float32."""
    return _inputs(ckpt.config.dataset, ckpt.config.decoder, _data_dir())


def train_inputs(ckpt: checkpoint.Checkpoint) -> np.ndarray:
    """The training images as ``ckpt``'s model sees them; not kept (188 MB for MNIST)."""
    return to_model_input(load_dataset(ckpt.config.dataset).x_train, ckpt.config.decoder)


@st.cache_resource(max_entries=4)
def _inputs(dataset: str, decoder: str, data_dir: str) -> np.ndarray:
    x, _, _ = test_set(dataset)
    return _read_only(to_model_input(x, decoder))


@st.cache_data(show_spinner="Encoding the test set…", max_entries=8)
def encodings(key: Key) -> tuple[np.ndarray, np.ndarray]:
    """(z_mean, z_log_var) [N, J] of the whole test set under the checkpoint ``key``."""
    if (kept := stored(key)) is not None:
        return kept.z_mean, kept.z_log_var
    from vae import evaluate  # TensorFlow: only when nothing stored fits the weights

    ckpt = checkpoint_at(key)
    return evaluate.encode(ckpt.model, test_inputs(ckpt))


def stored(key: Key) -> precompute.Stored | None:
    """The figures stored beside the weights of ``key`` (vae/precompute.py), if theirs.

    None if there are none, or they are stale; a damaged file is named in a warning,
    and the caller computes instead.
    """
    return _beside(key, precompute.FILE, _stored, "The page computes its figures instead.")


def stored_export(key: Key) -> tuple[dict, bytes] | None:
    """The decoder's browser export stored beside the weights of ``key``, if theirs:
    (spec, weights) as ``export.export_decoder`` makes them.

    None if there is none, or it is stale; a damaged file is named in a warning, and
    the caller exports the model instead.
    """
    return _beside(
        key,
        precompute.EXPORT_FILE,
        _stored_export,
        "The page exports the decoder from the model instead.",
    )


def _beside(key: Key, name: str, read, instead: str):
    """What ``read`` keeps of the file ``name`` beside the weights of ``key``; a damaged
    file is named in a warning that ends with ``instead``."""
    kept, problem = _read_beside(key, name, read)
    if problem:
        st.warning(f"{problem} {instead}")
    return kept


def _read_beside(key: Key, name: str, read) -> tuple:
    """``read(key, file_stamp)``: the file's stamp keys the cache, so a rewritten file is
    read again."""
    return read(key, _read_beside_stamp(key, name))


def _read_beside_stamp(key: Key, name: str) -> float:
    file = Path(key[0]) / name
    return file.stat().st_mtime if file.is_file() else 0.0


@st.cache_resource(max_entries=8, show_spinner=False)
def _stored(key: Key, file_stamp: float) -> tuple[precompute.Stored | None, str | None]:
    try:
        config = config_at(key)
        n_test = len(test_set(config.dataset)[1])
        kept = precompute.read(
            key[0], dataset=config.dataset, latent_dim=config.latent_dim, n_test=n_test
        )
        return kept, None
    except (VAEError, OSError) as exc:
        return None, str(exc)


@st.cache_resource(max_entries=8, show_spinner=False)
def _stored_export(key: Key, file_stamp: float) -> tuple[tuple[dict, bytes] | None, str | None]:
    try:
        return precompute.read_export(key[0]), None
    except (VAEError, OSError) as exc:
        return None, str(exc)


def training_codes(key: Key) -> encoding_history.EncodingHistory | None:
    """The followed test codes after each epoch of the checkpoint ``key``'s training
    (vae/encoding_history.py), up to its weights' epoch; None if it kept none. A
    damaged file is named in a warning."""
    return _beside(
        key, encoding_history.FILE, _training_codes, "The playback of its training is left out."
    )


@st.cache_resource(max_entries=8, show_spinner=False)
def _training_codes(key: Key, file_stamp: float):
    try:
        records = _records(*key)
        n_test = len(test_set(records.config.dataset)[1])
        return encoding_history.read(key[0], n_test=n_test, epoch=records.epoch), None
    except (VAEError, OSError) as exc:
        return None, str(exc)


def training_playback_figure(key: Key, *, height: int = 560, playable: bool = True):
    """The Plotly figure playing back ``training_codes(key)``, or None if it kept none.

    Built once per file and kept: the pages that show it rerun on every selection or,
    while a training runs, every second, and a figure of every epoch is costly to build.
    """
    if training_codes(key) is None:  # also names a damaged file
        return None
    stamp = _read_beside_stamp(key, encoding_history.FILE)
    return _playback_figure(key, stamp, height, playable)


@st.cache_resource(max_entries=8, show_spinner=False)
def _playback_figure(key: Key, file_stamp: float, height: int, playable: bool):
    from ui import training_playback

    codes, _ = _training_codes(key, file_stamp)
    records = _records(*key)
    _, y_test, names = test_set(records.config.dataset)
    return training_playback.figure(
        codes,
        y_test[codes.indices],
        list(names),
        list(CLASS_PALETTE),
        records.history,
        height=height,
        playable=playable,
    )


def active_encodings() -> tuple[np.ndarray, np.ndarray]:
    return encodings(active_key())


def active_key() -> Key:
    """The key of the active checkpoint."""
    return key_of(active_path())


def manifold_settings() -> tuple[int, str, float]:
    """(n, mode, span) of the Manifold page's grid: its widgets' values, or their defaults."""
    return (
        int(st.session_state.get(MANIFOLD_SIZE, manifold.DEFAULT_SIZE)),
        st.session_state.get(MANIFOLD_MODE, manifold.DEFAULT_MODE),
        float(st.session_state.get(MANIFOLD_SPAN, manifold.DEFAULT_SPAN)),
    )


@dataclass(frozen=True)
class Plane:
    """The active model's config with its test set and the test set's codes: what a
    plane needs. The model itself is loaded only when ``ckpt`` is first read."""

    key: Key
    config: VAEConfig
    x_test: np.ndarray  # uint8 [N, H, W], read-only
    y_test: np.ndarray  # [N], read-only
    names: tuple[str, ...]
    z_mean: np.ndarray  # [N, J]
    z_log_var: np.ndarray  # [N, J]

    @property
    def ckpt(self) -> checkpoint.Checkpoint:
        """The loaded checkpoint: builds the model (TensorFlow) on its first use."""
        return checkpoint_at(self.key)

    @property
    def path(self) -> Path:
        """The checkpoint's folder; with ``config``, what ``share.share_bar`` names."""
        return Path(self.key[0])


def _light_config(key: Key) -> VAEConfig | None:
    """The config of ``key`` when its stored figures fit its weights, else None.

    The stored figures were computed from these very weights (their sha256 matches), so
    the weights loaded then: the page may trust them without building the model now.
    """
    try:
        config = config_at(key)
    except VAEError:
        return None  # the full load says what is wrong, and falls back to the default
    # Quietly: a damaged file is named once, by the page's own call for the figures.
    return config if _read_beside(key, precompute.FILE, _stored)[0] is not None else None


def active_plane(what: str) -> Plane:
    """The active model's test set and encodings, for a page that draws the latent plane.

    Stops the page with a message if the test set cannot be encoded, or if the model
    has a single latent dimension; ``what`` names the thing that needs the plane. Served
    from the figures stored beside the weights when they fit, without the model.
    """
    key = active_key()
    config = _light_config(key)
    if config is None:
        config = active().config
        key = active_key()  # active() may have fallen back to the default
    try:
        x_test, y_test, names = test_set(config.dataset)
        z_mean, z_log_var = encodings(key)
    except VAEError as exc:
        st.error(
            f"The test set could not be encoded: {exc} Choose another model on the Model page."
        )
        st.stop()
    if config.latent_dim < 2:
        st.info(
            f"This model has a one-dimensional latent space; {what} needs a plane (J ≥ 2). "
            "The Manifold and Samples pages work for it; or choose a model with J ≥ 2."
        )
        st.stop()
    return Plane(key, config, x_test, y_test, names, z_mean, z_log_var)


_warm_lock = threading.Lock()
_warmed: set[str] = set()


def warm_up(path: str | Path | None = None) -> None:
    """Build the model at ``path`` (the active one by default) in a background thread,
    once per server process and model, so the next page that needs it finds it loaded.

    A page calls this last, once it is drawn: the thread waits WARM_UP_DELAY_S, then
    imports TensorFlow and loads the checkpoint into the same cache ``load`` reads, then
    imports WARM_MODULES.
    """
    path = str(path or active_path())
    with _warm_lock:
        if path in _warmed:
            return
        _warmed.add(path)
    threading.Thread(target=_warm, args=(path,), name="vae-warm-up", daemon=True).start()


@st.cache_resource(max_entries=8, show_spinner=False)
def _warmed_checkpoint(path: str, stamp: float) -> checkpoint.Checkpoint:
    # Called from the warm-up thread, where no page is drawn: as a cached function that
    # calls _load, _load runs nested and shows no spinner.
    return _load(path, stamp)


def _warm(path: str) -> None:
    time.sleep(WARM_UP_DELAY_S)
    import_tensorflow()  # first, alone: see import_tensorflow
    # A model that does not load is left to the page that asks for it: it says why.
    with contextlib.suppress(VAEError):
        _warmed_checkpoint(*key_of(path))
    for module in WARM_MODULES:
        importlib.import_module(module)


@st.cache_data(show_spinner="Computing the ELBO of every test image…", max_entries=4)
def test_terms(key: Key) -> dict[str, np.ndarray]:
    """Per-example ``recon``, ``kl``, ``neg_elbo`` [N] of the whole test set (seed 0)."""
    if (kept := stored(key)) is not None:
        return dict(kept.terms)
    from vae import evaluate  # TensorFlow: only when nothing stored fits the weights

    ckpt = checkpoint_at(key)
    return evaluate.per_example_terms(ckpt.model, test_inputs(ckpt))


def training_curves(history: list[dict]):
    """Plotly figure of per-epoch −ELBO, reconstruction and KL, train and test (Model, Train)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = (("neg_elbo", "−ELBO"), ("recon", "Reconstruction"), ("kl", "KL"))
    fig = make_subplots(rows=1, cols=3, subplot_titles=[title for _, title in panels])
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    # Fixed colours that read on light and dark backgrounds; dashes tell train from test too.
    for split, colour, dash in (("train", "#4C78A8", "dot"), ("test", "#F58518", "solid")):
        for col, (term, title) in enumerate(panels, start=1):
            values = [(h.get(split) or {}).get(term) for h in history]
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=values,
                    name=split,
                    legendgroup=split,
                    showlegend=col == 1,
                    mode="lines+markers" if len(history) < 30 else "lines",
                    line={"color": colour, "dash": dash},
                    hovertemplate=f"epoch %{{x}}<br>{split} {title}: %{{y:.2f}} nats"
                    "<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="nats per image", col=1)
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
