"""The checkpoints under the runs folder, described for the Model page's picker.

Only each folder's small JSON files are read, through the checkpoint module's capped
reader, so listing stays fast; the weights are loaded when a run is chosen.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vae import checkpoint
from vae.errors import VAEError

UPLOADS_FOLDER = "uploads"


@dataclass(frozen=True)
class RunInfo:
    """A checkpoint folder under the runs folder, described from its JSON files only."""

    path: Path
    modified: float  # mtime of the weights
    epochs: int  # finished epochs recorded in history.json
    test_neg_elbo: float | None  # from metrics.json, else the last epoch's test -ELBO
    dataset: str | None
    latent_dim: int | None

    @property
    def label(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))
        score = f"−ELBO {self.test_neg_elbo:.2f}" if self.test_neg_elbo is not None else "no score"
        what = f"{self.dataset}, J = {self.latent_dim}" if self.dataset else "unreadable config"
        return f"{self.path.name} · {what} · {self.epochs} epochs · {score} · {when}"


def list_runs(runs_dir: str | os.PathLike, limit: int = 50) -> list[RunInfo]:
    """Checkpoint folders in ``runs_dir`` and ``runs_dir/uploads``, newest first."""
    runs = Path(runs_dir)
    found: list[RunInfo] = []
    for parent in (runs, runs / UPLOADS_FOLDER):
        if not parent.is_dir():
            continue
        for p in parent.iterdir():
            weights = p / checkpoint.WEIGHTS_FILE
            if p.name.startswith(".") or not p.is_dir() or not weights.is_file():
                continue
            found.append(_describe_run(p, weights.stat().st_mtime))
    found.sort(key=lambda r: r.modified, reverse=True)
    return found[:limit]


def _describe_run(path: Path, modified: float) -> RunInfo:
    history = _json_or_none(path / checkpoint.HISTORY_FILE)
    metrics = _json_or_none(path / checkpoint.METRICS_FILE)
    config = _json_or_none(path / checkpoint.CONFIG_FILE)
    history = history if isinstance(history, list) else []
    score = metrics.get("neg_elbo") if isinstance(metrics, dict) else None
    if score is None and history and isinstance(history[-1], dict):
        score = (history[-1].get("test") or {}).get("neg_elbo")
    config = config if isinstance(config, dict) else {}
    return RunInfo(
        path=path,
        modified=modified,
        epochs=len(history),
        test_neg_elbo=float(score) if isinstance(score, int | float) else None,
        dataset=config.get("dataset") if isinstance(config.get("dataset"), str) else None,
        latent_dim=config.get("latent_dim") if isinstance(config.get("latent_dim"), int) else None,
    )


def _json_or_none(path: Path) -> Any:
    """The file's JSON, or None when it is missing, too large or malformed: one bad run
    must not hide the others from the list."""
    try:
        return checkpoint.read_json(path)
    except (VAEError, OSError):
        return None
