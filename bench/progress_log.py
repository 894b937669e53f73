"""Progress for the benchmarks that print results on stdout: it goes to stderr."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
