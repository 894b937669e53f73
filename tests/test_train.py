"""train(): reproducible, cancellable, resumable exactly, and stops on NaN."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from deadline import DEADLINE_S

from vae import checkpoint
from vae.config import VAEConfig
from vae.errors import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    NonFiniteLossError,
)
from vae.train import RunDirLock, make_train_dataset, train

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(**changes) -> VAEConfig:
    base = VAEConfig(
        image_shape=(8, 8, 1),
        conv_filters=(8, 16),
        decoder_base_channels=8,
        epochs=3,
        batch_size=16,
        learning_rate=1e-2,
        seed=7,
    )
    return base.replace(**changes)


def blob_data() -> tuple[np.ndarray, np.ndarray]:
    """160 train / 40 test 8x8 images: one of two blocks of pixels, 10% flipped."""
    rng = np.random.default_rng(0)
    # Two blobs of "on" pixels, so there is structure to learn.
    x = np.zeros((200, 8, 8, 1), np.float32)
    x[:100, :4] = 1.0
    x[100:, 4:] = 1.0
    x = np.where(rng.random(x.shape) < 0.1, 1.0 - x, x).astype(np.float32)
    order = rng.permutation(len(x))
    return x[order[:160]], x[order[160:]]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return blob_data()


def weights(model) -> dict[str, np.ndarray]:
    return checkpoint.model_tensors(model)


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


def test_training_lowers_the_test_loss_and_records_history(data):
    x_train, x_test = data
    events = []
    result = train(tiny_config(epochs=6), x_train, x_test, progress=events.append)
    history = result.history
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6]
    # 64 pixels at ln 2 each is 44.4 nats; finding the two blobs roughly halves it.
    assert history[-1]["test"]["neg_elbo"] < history[0]["test"]["neg_elbo"] - 10.0
    for h in history:
        assert h["test"]["neg_elbo"] == pytest.approx(
            h["test"]["recon"] + h["test"]["kl"], rel=1e-5
        )
    batches = [e for e in events if e.kind == "batch"]
    epochs = [e for e in events if e.kind == "epoch"]
    assert len(batches) == 6 * (160 // 16) and len(epochs) == 6
    assert batches[-1].fraction == pytest.approx(1.0)
    assert epochs[-1].history[-1]["epoch"] == 6
    assert result.images_per_s > 0 and result.epochs_done == 6 and not result.cancelled
    # The first batch traces the step: no rate or ETA from it; from the second on, both.
    assert not batches[0].measured and batches[0].images_per_s == 0
    assert all(b.measured and b.images_per_s > 0 for b in batches[1:])
    assert batches[-1].eta_s < batches[1].eta_s
    # Each epoch announces its test evaluation before it is saved.
    kinds = [e.kind for e in events if e.kind != "batch"]
    assert kinds == ["test", "epoch"] * 6


def test_a_finished_run_announces_the_pages_figures_and_times_them(data, tmp_path):
    x_train, x_test = data
    events = []
    result = train(
        tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path / "r", progress=events.append
    )
    assert [e.kind for e in events if e.kind != "batch"] == ["test", "epoch", "finish"]
    assert result.precompute_seconds > 0.0


@pytest.mark.slow
def test_same_seed_gives_same_weights_and_other_seed_differs(data):
    x_train, x_test = data
    a = train(tiny_config(epochs=2), x_train, x_test).model
    b = train(tiny_config(epochs=2), x_train, x_test).model
    c = train(tiny_config(epochs=2, seed=8), x_train, x_test).model
    assert_same_weights(a, b)
    assert any(not np.array_equal(weights(a)[k], weights(c)[k]) for k in weights(a))


def test_epoch_order_is_a_function_of_seed_and_epoch():
    x = np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1)
    full, steps = make_train_dataset(x, 4, seed=3, first_epoch=0, last_epoch=3)
    tail, _ = make_train_dataset(x, 4, seed=3, first_epoch=2, last_epoch=3)
    full_batches = [b.numpy().ravel().tolist() for b in full]
    assert steps == 5 and len(full_batches) == 15
    assert full_batches[10:] == [b.numpy().ravel().tolist() for b in tail]
    assert full_batches[:5] != full_batches[5:10]  # reshuffled every epoch
    assert sorted(sum(full_batches[:5], [])) == list(range(20))  # each image once per epoch


@pytest.mark.slow
def test_resume_gives_exactly_the_uninterrupted_weights(data, tmp_path):
    x_train, x_test = data
    straight = train(tiny_config(epochs=3), x_train, x_test, out_dir=tmp_path / "a")
    train(tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path / "b")
    resumed = train(tiny_config(epochs=3), x_train, x_test, out_dir=tmp_path / "b", resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert_same_weights(straight.model, resumed.model)
    saved = checkpoint.load_checkpoint(tmp_path / "b")
    assert saved.epoch == 3 and len(saved.history) == 3


@pytest.mark.slow
def test_resume_refuses_a_different_config(data, tmp_path):
    x_train, x_test = data
    train(tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path)
    with pytest.raises(CheckpointMismatchError, match="different config"):
        train(tiny_config(epochs=2, latent_dim=3), x_train, x_test, out_dir=tmp_path, resume=True)


def test_resume_without_a_checkpoint_is_an_error_and_creates_nothing(data, tmp_path):
    x_train, x_test = data
    with pytest.raises(CheckpointNotFoundError, match="nothing to resume: .* does not exist"):
        train(tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path / "nowhere", resume=True)
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointNotFoundError, match="holds no checkpoint"):
        train(tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path / "empty", resume=True)
    assert list((tmp_path / "empty").iterdir()) == []


def test_resume_with_no_epochs_left_trains_and_writes_nothing(data, tmp_path):
    x_train, x_test = data
    train(tiny_config(epochs=2), x_train, x_test, out_dir=tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for epochs in (1, 2):
        result = train(tiny_config(epochs=epochs), x_train, x_test, out_dir=tmp_path, resume=True)
        assert (result.epochs_done, result.first_epoch, result.epochs_trained) == (2, 2, 0)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.slow
def test_a_folder_with_a_checkpoint_is_not_overwritten_without_resume(data, tmp_path):
    x_train, x_test = data
    train(tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path)
    before = (tmp_path / checkpoint.WEIGHTS_FILE).read_bytes()
    with pytest.raises(CheckpointError, match="already holds a checkpoint"):
        train(tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path)
    assert (tmp_path / checkpoint.WEIGHTS_FILE).read_bytes() == before


@pytest.mark.slow
def test_cancel_keeps_the_last_finished_epoch(data, tmp_path):
    x_train, x_test = data
    seen = []

    def stop_in_epoch_two() -> bool:
        return len(seen) >= 10 + 2  # 10 batches per epoch: stop 2 batches into epoch 2

    result = train(
        tiny_config(epochs=4),
        x_train,
        x_test,
        out_dir=tmp_path,
        progress=lambda p: seen.append(p) if p.kind == "batch" else None,
        should_stop=stop_in_epoch_two,
    )
    assert result.cancelled and result.epochs_done == 1 and len(result.history) == 1
    one_epoch = train(tiny_config(epochs=1), x_train, x_test).model
    assert_same_weights(result.model, one_epoch)  # the partial epoch was rolled back
    saved = checkpoint.load_checkpoint(tmp_path)
    assert saved.epoch == 1
    assert_same_weights(saved.model, one_epoch)


@pytest.mark.slow
def test_nan_stops_training_and_keeps_the_last_good_checkpoint(data, tmp_path):
    x_train, x_test = data
    train(tiny_config(epochs=1), x_train, x_test, out_dir=tmp_path)
    good = (tmp_path / checkpoint.WEIGHTS_FILE).read_bytes()
    poisoned = x_train.copy()
    poisoned[:] = np.nan
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 1.*learning rate"):
        train(tiny_config(epochs=3), poisoned, x_test, out_dir=tmp_path, resume=True)
    assert (tmp_path / checkpoint.WEIGHTS_FILE).read_bytes() == good
    assert checkpoint.load_checkpoint(tmp_path).epoch == 1


def test_run_folder_lock_refuses_a_second_writer_and_recovers_from_a_dead_one(tmp_path):
    with RunDirLock(tmp_path), pytest.raises(CheckpointError, match="another training run"):
        RunDirLock(tmp_path).__enter__()
    assert not (tmp_path / ".lock").exists()
    # A lock left by a process that no longer exists is taken over.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / ".lock").write_text(dead)
    with RunDirLock(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    # Logical devices must be set before TensorFlow starts, hence a fresh process.
    script = textwrap.dedent(
        """
        import json, sys
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from test_train import blob_data, tiny_config
        from vae.train import train
        x_train, x_test = blob_data()
        r = train(tiny_config(epochs=12), x_train, x_test, out_dir=sys.argv[1],
                  strategy="mirrored")
        print(json.dumps({"replicas": r.replicas,
                          "test": [h["test"]["neg_elbo"] for h in r.history]}))
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE_S,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert len(report["test"]) == 12 and all(np.isfinite(report["test"]))
    # 44.4 nats is the pixel marginal; one device gets to about 22 here, and so must two.
    assert report["test"][-1] < 30.0
    assert checkpoint.load_checkpoint(tmp_path).epoch == 12
