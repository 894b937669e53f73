"""The model zoo shipped in ``checkpoints/``: each model's name, lesson and training command.

The README lists these commands, the Model page offers these models in this order, and
a test checks that each folder's config is what its command trains.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class ZooModel:
    name: str  # its folder under checkpoints/
    lesson: str  # what a lecturer shows with it
    settings: str  # the train command's options after --out

    @property
    def argv(self) -> list[str]:
        """The arguments of ``python -m vae`` that train it."""
        return ["train", "--out", f"checkpoints/{self.name}", *shlex.split(self.settings)]

    @property
    def command(self) -> str:
        return ".venv/bin/python -m vae " + shlex.join(self.argv)


_SCHEDULE = "--batch-size 128 --lr 2e-3 --lr-schedule cosine"
ZOO = (
    ZooModel("mnist-2d", "the default VAE", f"--epochs 80 {_SCHEDULE}"),
    ZooModel(
        "mnist-2d-ae",
        "β = 0, a plain autoencoder: its codes drift off the prior",
        f"--epochs 10 {_SCHEDULE} --beta 0",
    ),
    ZooModel(
        "mnist-2d-beta4",
        "β = 4: the prior pulls the codes together and the digits blur",
        f"--epochs 10 {_SCHEDULE} --beta 4",
    ),
    ZooModel(
        "fashion-2d",
        "the same VAE on Fashion-MNIST",
        f"--dataset fashion_mnist --epochs 10 {_SCHEDULE}",
    ),
)
BY_NAME = {m.name: m for m in ZOO}


def order(names) -> list[str]:
    """``names`` with the zoo's models first, in the zoo's order, then the rest sorted."""
    rank = {m.name: i for i, m in enumerate(ZOO)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))
