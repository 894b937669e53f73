"""The machine a benchmark runs on, and how much of it other processes take meanwhile."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from progress_log import log


@dataclass
class CpuShare:
    """How much of the machine other processes used while a variant ran.

    On a shared machine a figure is only as good as the cores it got; this makes
    the interference visible instead of silently lowering the rate.
    """

    wall: float = 0.0
    busy: float = 0.0
    steal: float = 0.0
    own: float = 0.0

    @staticmethod
    def now() -> CpuShare:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
        tick = os.sysconf("SC_CLK_TCK")
        t = os.times()
        return CpuShare(
            time.perf_counter(),
            (user + nice + system + irq + softirq) / tick,
            steal / tick,
            t.user + t.system,
        )

    def since(self, start: CpuShare) -> dict[str, float]:
        capacity = (self.wall - start.wall) * len(os.sched_getaffinity(0))
        others = (self.busy - start.busy) - (self.own - start.own)
        return {
            "others_cpu_share": round(max(0.0, others) / capacity, 3),
            "steal_share": round((self.steal - start.steal) / capacity, 3),
        }


def cpu_share_or_none(start: CpuShare | None) -> dict[str, float]:
    if start is None:
        return {}
    with contextlib.suppress(OSError, ValueError):
        return CpuShare.now().since(start)
    return {}


def start_cpu_share() -> CpuShare | None:
    with contextlib.suppress(OSError, ValueError):
        return CpuShare.now()
    return None


def wait_until_quiet(max_seconds: float, max_load: float = 1.0) -> bool:
    """Poll until no other 'vae train' runs and the 1-minute load is below max_load."""
    deadline = time.monotonic() + max_seconds
    while True:
        busy = other_training_runs()
        load = os.getloadavg()[0]
        if not busy and load < max_load:
            return True
        if time.monotonic() >= deadline:
            return False
        log(f"waiting for a quiet machine: load {load:.2f}, other runs {len(busy)}")
        time.sleep(20)


def machine() -> dict[str, Any]:
    model_name = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model_name,
        "cpus": len(os.sched_getaffinity(0)),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def other_training_runs() -> list[str]:
    """Other 'vae train' processes, which would share the cores with this benchmark."""
    try:
        out = subprocess.run(["pgrep", "-af", "vae train"], capture_output=True, text=True)
    except OSError:
        return []
    return [line for line in out.stdout.splitlines() if str(os.getpid()) not in line.split()[:1]]
