"""Absurd settings start nothing; a diverging run stops at its first non-finite loss.

The Train page names the wrong setting before any work, and a run whose weights blow up
stops there, keeping the last good checkpoint loadable.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import weights_of
from page_sandbox import (
    button,
    number,
    open_train_page,
    runs_folder,  # noqa: F401 (fixture)
    tiny_mnist,  # noqa: F401 (fixture)
)
from safetensors.numpy import load_file

from vae.checkpoint import WEIGHTS_FILE, load_checkpoint
from vae.errors import NonFiniteLossError
from vae.model import build_vae
from vae.train import train


@pytest.mark.parametrize(
    ("label", "value", "phrase"),
    [
        ("Learning rate", 1e3, "learning_rate = 1000.0 is out of range; choose 1e-07 to 1"),
        ("Epochs", 0, "epochs = 0 is out of range; choose 1 to 10000"),
        ("Batch size", 0, "batch_size = 0 is out of range; choose 1 to 8192"),
        ("Latent dimension J", 0, "latent_dim = 0 is out of range; choose 1 to 64"),
        ("Latent dimension J", 10_000, "latent_dim = 10000 is out of range; choose 1 to 64"),
    ],
    ids=["lr-1e3", "epochs-0", "batch-size-0", "latent-dim-0", "latent-dim-10000"],
)
def test_absurd_settings_on_the_train_page_start_nothing(runs, tiny_data, label, value, phrase):
    at = open_train_page()
    number(at, label).set_value(value)
    button(at, "Start training").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [f"Check the settings: {phrase}."]
    assert "train_job" not in at.session_state and not at.get("progress")
    assert list(runs.iterdir()) == []  # no run folder: nothing started


def test_divergence_stops_at_the_first_non_finite_loss(tmp_path, monkeypatch):
    from test_train import blob_data
    from test_train import tiny_config as train_config

    import vae.train

    x_train, x_test = blob_data()
    built = []
    monkeypatch.setattr(vae.train, "build_vae", lambda c: built.append(build_vae(c)) or built[-1])
    seen, saved = [], {}

    def progress(p):
        seen.append((p.kind, p.epoch, p.batch))
        if p.kind == "epoch":
            saved[p.epoch] = load_file(tmp_path / WEIGHTS_FILE)
        if (p.kind, p.epoch, p.batch) == ("batch", 2, 3):  # the weights blow up here
            kernel = next(v for v in built[-1].weights if v.path == "x_logits/kernel")
            kernel.assign(np.full(kernel.shape, np.inf, np.float32))

    with pytest.raises(NonFiniteLossError) as info:
        train(train_config(epochs=3), x_train, x_test, out_dir=tmp_path, progress=progress)
    message = str(info.value)
    assert message.startswith("the loss became NaN or Inf at epoch 2, batch 4; training stopped.")
    assert f"The last good weights are saved in {tmp_path} (epoch 1)." in message
    assert seen[-1] == ("batch", 2, 3)  # nothing ran past the first non-finite loss
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.epoch == 1 and len(ckpt.history) == 1
    for key, value in saved[1].items():
        np.testing.assert_array_equal(weights_of(ckpt.model)[key], value, err_msg=key)
    assert all(np.isfinite(v).all() for v in weights_of(ckpt.model).values())
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or p.name == ".lock"]
