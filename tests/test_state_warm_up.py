"""The background warm-up: after a page drawn without the model, the model is built once,
into the cache the next page reads."""

from __future__ import annotations

import threading

from tests.app_pages import copy_default
from ui import state
from vae import checkpoint

JOIN_TIMEOUT = 600  # seconds to wait for the thread: a bound, never a verdict


def test_warm_up_builds_the_model_once_into_the_pages_cache(tmp_path, monkeypatch):
    folder = copy_default(tmp_path)
    loads = []
    real = checkpoint.load_checkpoint

    def counting(directory):
        loads.append(str(directory))
        return real(directory)

    monkeypatch.setattr(checkpoint, "load_checkpoint", counting)
    monkeypatch.setattr(state, "WARM_UP_DELAY_S", 0.0)
    before = set(threading.enumerate())
    state.warm_up(folder)
    state.warm_up(folder)  # a second page, or a rerun: no second thread
    started = [t for t in threading.enumerate() if t not in before and t.name == "vae-warm-up"]
    assert len(started) == 1
    started[0].join(JOIN_TIMEOUT)
    assert not started[0].is_alive()
    assert loads == [str(folder)]
    ckpt = state.load(folder)  # what a page asks for next: already there
    assert loads == [str(folder)] and ckpt.config.latent_dim == 2


def test_a_model_that_does_not_load_is_left_to_the_page(tmp_path, monkeypatch):
    folder = copy_default(tmp_path)
    (folder / checkpoint.WEIGHTS_FILE).write_bytes(b"not weights")
    monkeypatch.setattr(state, "WARM_UP_DELAY_S", 0.0)
    before = set(threading.enumerate())
    state.warm_up(folder)
    (thread,) = [t for t in threading.enumerate() if t not in before and t.name == "vae-warm-up"]
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive()  # ended quietly; the page says why when it loads it
