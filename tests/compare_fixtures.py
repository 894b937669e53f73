"""Two models for the Compare page's tests, over a test set of a few digits.

The shipped model and its mirror: the same weights, but the decoder's first layer
negated, so it decodes z where the shipped one decodes −z. Both decode real digits (a
drag changes both images) and differ at every z but the origin.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import write_mnist_npz

from tests.app_pages import DEFAULT
from vae import precompute
from vae.checkpoint import load_checkpoint, save_checkpoint

N_TEST = 32  # test digits: the planes' codes are encoded in a moment
SHIPPED, MIRROR = "shipped", "mirror"  # the models' folders in the runs folder


def make_runs(root: Path) -> tuple[Path, Path]:
    """(runs folder holding SHIPPED and MIRROR, data folder with a tiny mnist.npz)."""
    runs, data = root / "runs", root / "data"
    shipped = runs / SHIPPED
    skip = shutil.ignore_patterns(".lock", "optimizer*", "*.tmp*")
    shutil.copytree(DEFAULT, shipped, ignore=skip)
    # The stored figures describe the full test set; this one has N_TEST digits.
    (shipped / precompute.FILE).unlink()
    model = load_checkpoint(shipped).model
    kernel = model.decoder.get_layer("dense").kernel
    kernel.assign(-kernel)
    save_checkpoint(runs / MIRROR, model, epoch=1, include_optimizer=False)
    write_mnist_npz(data, n_train=64, n_test=N_TEST)
    return runs, data
