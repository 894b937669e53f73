"""vae.run_list: the runs folder's checkpoints, newest first, described from their JSON files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import tiny_config
from job_fixtures import TIMEOUT, config, manager

from vae import checkpoint
from vae.model import build_vae
from vae.run_list import list_runs


@pytest.fixture(scope="module")
def tiny_model():
    return build_vae(tiny_config())


def save_run(folder: Path, model, epochs: int, mtime: float, metrics: dict | None = None) -> Path:
    """A real checkpoint whose weights carry the modification time ``mtime``."""
    history = [{"epoch": e, "test": {"neg_elbo": 100.0 - e}} for e in range(1, epochs + 1)]
    checkpoint.save_checkpoint(folder, model, epoch=epochs, history=history, metrics=metrics)
    os.utime(folder / checkpoint.WEIGHTS_FILE, (mtime, mtime))
    return folder


@pytest.mark.slow
def test_list_runs_newest_first_with_their_score(tmp_path):
    jobs = manager(tmp_path)
    done = []
    for seed in (1, 2):
        job = jobs.start(config(epochs=1, seed=seed), owner="a")
        assert job.join(TIMEOUT)
        done.append(job.snapshot())
    os.utime(done[0].out_dir / "weights.safetensors", (1e9, 1e9))  # the first is the older
    (tmp_path / "runs" / "not-a-checkpoint").mkdir()
    runs = list_runs(tmp_path / "runs")
    assert [r.path for r in runs] == [done[1].out_dir, done[0].out_dir]
    assert runs[0].test_neg_elbo == pytest.approx(done[1].metrics["neg_elbo"])
    assert runs[0].epochs == 1 and runs[0].latent_dim == 2 and "−ELBO" in runs[0].label


def test_uploads_are_listed_and_hidden_folders_are_not(tmp_path, tiny_model):
    runs = tmp_path / "runs"
    old = save_run(runs / "old", tiny_model, epochs=3, mtime=1_000_000)
    upload = save_run(runs / "uploads" / "u1", tiny_model, epochs=1, mtime=2_000_000)
    save_run(runs / ".staging", tiny_model, epochs=1, mtime=3_000_000)
    listed = list_runs(runs)
    assert [r.path for r in listed] == [upload, old]
    # Without metrics.json the score is the last epoch's test -ELBO from history.json.
    assert listed[1].epochs == 3 and listed[1].test_neg_elbo == 97.0
    assert [r.path for r in list_runs(runs, limit=1)] == [upload]


def test_a_run_with_unreadable_json_is_still_listed(tmp_path, tiny_model):
    runs = tmp_path / "runs"
    good = save_run(runs / "good", tiny_model, epochs=2, mtime=1_000_000, metrics={"neg_elbo": 9})
    bad = save_run(runs / "bad", tiny_model, epochs=2, mtime=2_000_000)
    (bad / checkpoint.CONFIG_FILE).write_text("{ not json")
    with (bad / checkpoint.HISTORY_FILE).open("w") as f:  # over the checkpoint module's cap
        f.write(" " * checkpoint.MAX_JSON_BYTES + "[]")
    listed = list_runs(runs)
    assert [r.path for r in listed] == [bad, good]
    assert listed[0].dataset is None and listed[0].epochs == 0 and listed[0].test_neg_elbo is None
    assert "unreadable config" in listed[0].label and "no score" in listed[0].label
    assert listed[1].test_neg_elbo == 9.0 and listed[1].dataset == "mnist"
    assert json.loads((good / checkpoint.METRICS_FILE).read_text()) == {"neg_elbo": 9}


def test_no_runs_folder_lists_nothing(tmp_path):
    assert list_runs(tmp_path / "never-made") == []
