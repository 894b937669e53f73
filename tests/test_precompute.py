"""The figures stored beside a checkpoint: kept exactly, tied to their weights, never trusted."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from vae import checkpoint, export, precompute
from vae.config import VAEConfig
from vae.model import build_vae
from vae.precompute import FILE, CorruptPrecomputeError

N, J = 12, 2


def stored(seed: int = 0) -> precompute.Stored:
    rng = np.random.default_rng(seed)
    gv = {
        e: {g: {"variance": float(rng.uniform(1, 9)), "mean_sq_norm": 2.5} for g in
            ("encoder", "decoder", "all")}
        for e in ("sgvb-a", "sgvb-b")
    }  # fmt: skip
    n_gap = len(precompute.GAP_INDICES)
    return precompute.Stored(
        z_mean=rng.normal(size=(N, J)).astype(np.float32),
        z_log_var=rng.normal(-5, 1, size=(N, J)).astype(np.float32),
        terms={t: rng.uniform(50, 200, N).astype(np.float32) for t in precompute.TERMS},
        gradient_variance=gv,
        gap_neg_elbo=rng.uniform(90, 100, n_gap).astype(np.float32),
        gap_neg_log_px=rng.uniform(80, 90, n_gap).astype(np.float32),
        gap_how="log p(x) by quadrature",
    )


@pytest.fixture
def folder(tmp_path):
    """A folder with a weights file: all that ties stored figures to their weights."""
    (tmp_path / checkpoint.WEIGHTS_FILE).write_bytes(b"weights, as far as the digest goes")
    return tmp_path


def read(folder, **kwargs):
    return precompute.read(folder, **{"dataset": "mnist", "latent_dim": J, "n_test": N, **kwargs})


def test_round_trip_keeps_every_figure_exactly(folder):
    kept = stored()
    precompute.save(folder, kept, dataset="mnist")
    back = read(folder)
    np.testing.assert_array_equal(back.z_mean, kept.z_mean)
    np.testing.assert_array_equal(back.z_log_var, kept.z_log_var)
    for t in precompute.TERMS:
        np.testing.assert_array_equal(back.terms[t], kept.terms[t])
    np.testing.assert_array_equal(back.gap_neg_log_px, kept.gap_neg_log_px)
    assert back.gradient_variance == kept.gradient_variance
    assert back.gap_how == kept.gap_how
    assert not back.z_mean.flags.writeable  # shared by every session


def test_no_file_is_none(folder):
    assert read(folder) is None


def test_figures_of_other_weights_data_or_settings_are_ignored(folder, monkeypatch):
    precompute.save(folder, stored(), dataset="mnist")
    assert read(folder, dataset="fashion_mnist") is None
    assert read(folder, n_test=N + 1) is None  # a test set of another size
    monkeypatch.setattr(precompute, "SETTINGS", {**precompute.SETTINGS, "gv_repeats": 31})
    assert read(folder) is None
    monkeypatch.undo()
    assert read(folder) is not None
    (folder / checkpoint.WEIGHTS_FILE).write_bytes(b"retrained weights")
    assert read(folder) is None


def test_an_oversized_file_is_refused_before_it_is_parsed(folder, monkeypatch):
    precompute.save(folder, stored(), dataset="mnist")
    monkeypatch.setattr(precompute, "MAX_BYTES", (folder / FILE).stat().st_size - 1)
    with pytest.raises(CorruptPrecomputeError, match="larger than"):
        read(folder)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[: len(data) // 2], "damaged"),
        (lambda data: b"", "damaged"),
        (lambda data: pickle.dumps({"z_mean": [1.0]}), "damaged"),
        (lambda data: b"\x10\x00\x00\x00\x00\x00\x00\x00" + b'{"a": [1, 2]}   ', "damaged"),
    ],
    ids=["truncated", "empty", "pickle", "foreign header"],
)
def test_a_damaged_file_says_so(folder, damage, message):
    precompute.save(folder, stored(), dataset="mnist")
    path = folder / FILE
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptPrecomputeError, match=message) as exc:
        read(folder)
    assert "python -m vae precompute" in str(exc.value)  # says what to do


def test_non_finite_or_misshapen_figures_are_refused(folder):
    bad = stored()
    bad.z_mean[3, 1] = np.nan
    precompute.save(folder, bad, dataset="mnist")
    with pytest.raises(CorruptPrecomputeError, match="z_mean holds NaN"):
        read(folder)
    precompute.save(folder, stored(), dataset="mnist")
    with pytest.raises(CorruptPrecomputeError, match="z_mean is missing or not float32"):
        read(folder, latent_dim=3)


def test_a_negative_gradient_variance_is_refused(folder):
    bad = stored()
    bad.gradient_variance["sgvb-b"]["all"]["variance"] = -1.0
    precompute.save(folder, bad, dataset="mnist")
    with pytest.raises(CorruptPrecomputeError, match="gradient variance"):
        read(folder)


def test_a_failed_write_leaves_the_old_file_whole_and_no_leftovers(folder, monkeypatch):
    precompute.save(folder, stored(0), dataset="mnist")
    before = (folder / FILE).read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        precompute.save(folder, stored(1), dataset="mnist")
    assert (folder / FILE).read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == sorted([checkpoint.WEIGHTS_FILE, FILE])


# --- the decoder's browser export -------------------------------------------------------
def export_spec(n_out: int = 3) -> tuple[dict, bytes]:
    """A small export as vae/export.py lays one out: a Dense layer's kernel, then its bias."""
    weights = np.arange(2 * n_out + n_out, dtype="<f4") / 10
    spec = {
        "format": export.FORMAT,
        "network": "decoder",
        "latent_dim": 2,
        "input_shape": [2],
        "output_shape": [n_out],
        "layers": [
            {"type": "dense", "name": "dense", "units": n_out, "activation": "relu",
             "kernel": {"offset": 0, "shape": [2, n_out]},
             "bias": {"offset": 2 * n_out, "shape": [n_out]}},
        ],
        "head": dict(export.SIGMOID_HEAD),
    }  # fmt: skip
    return spec, weights.tobytes()


def test_a_stored_export_is_read_back_exactly(folder):
    spec, weights = export_spec()
    precompute.save_export(folder, spec, weights)
    back_spec, back_weights = precompute.read_export(folder)
    assert back_spec == spec and back_weights == weights
    assert export.network_digest(back_spec, back_weights) == export.network_digest(spec, weights)


def test_the_models_own_export_is_stored_byte_for_byte(tmp_path):
    model = build_vae(VAEConfig(seed=3))
    checkpoint.save_checkpoint(tmp_path, model, epoch=0, include_optimizer=False)
    assert precompute.write_export(tmp_path, model) == tmp_path / precompute.EXPORT_FILE
    fresh = export.export_decoder(model.decoder)
    kept = precompute.read_export(tmp_path)
    assert kept == fresh
    # What the browser fetches is written from either one as the same two files.
    a = export.write_export(*fresh, tmp_path / "a", "decoder")
    b = export.write_export(*kept, tmp_path / "b", "decoder")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_an_export_the_browser_cannot_run_stores_nothing(tmp_path):
    model = build_vae(VAEConfig(precision="mixed_bfloat16", seed=1))
    checkpoint.save_checkpoint(tmp_path, model, epoch=0, include_optimizer=False)
    assert precompute.write_export(tmp_path, model) is None
    assert precompute.read_export(tmp_path) is None


def test_an_export_of_other_weights_is_ignored(folder):
    assert precompute.read_export(folder) is None  # none stored
    precompute.save_export(folder, *export_spec())
    (folder / checkpoint.WEIGHTS_FILE).write_bytes(b"retrained weights")
    assert precompute.read_export(folder) is None


def _flip_last_weight(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])  # the last float's lowest bit


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[: len(data) // 2], "damaged"),
        (lambda data: pickle.dumps({"weights": [1.0]}), "damaged"),
        (_flip_last_weight, "not the ones it was written with"),
    ],
    ids=["truncated", "pickle", "flipped bit"],
)
def test_a_damaged_export_says_so(folder, damage, message):
    precompute.save_export(folder, *export_spec())
    path = folder / precompute.EXPORT_FILE
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptPrecomputeError, match=message) as exc:
        precompute.read_export(folder)
    assert precompute.EXPORT_FILE in str(exc.value)
    assert "python -m vae precompute" in str(exc.value)  # says what to do


def test_an_export_whose_tensors_lie_outside_its_weights_is_refused(folder):
    spec, weights = export_spec()
    spec["layers"][0]["bias"]["offset"] = 7  # 3 floats from 7 run past the 9 there are
    precompute.save_export(folder, spec, weights)
    with pytest.raises(CorruptPrecomputeError, match="'dense''s bias lies outside"):
        precompute.read_export(folder)


def test_an_export_with_non_finite_weights_is_refused(folder):
    spec, weights = export_spec()
    bad = np.frombuffer(weights, "<f4").copy()
    bad[4] = np.inf
    precompute.save_export(folder, spec, bad.tobytes())
    with pytest.raises(CorruptPrecomputeError, match="NaN or Inf"):
        precompute.read_export(folder)


def test_an_oversized_export_is_refused_before_it_is_parsed(folder, monkeypatch):
    precompute.save_export(folder, *export_spec())
    size = (folder / precompute.EXPORT_FILE).stat().st_size
    monkeypatch.setattr(precompute, "EXPORT_MAX_BYTES", size - 1)
    with pytest.raises(CorruptPrecomputeError, match="larger than"):
        precompute.read_export(folder)
