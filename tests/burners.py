"""Run a command while other processes keep the CPU busy, as on a shared machine.

A test whose verdict depends on the machine's speed passes on an idle machine and
fails on a busy one. This starts N processes that each spin one core (default 2), runs
the command, stops the burners (also on Ctrl-C, on failure and on SIGTERM) and exits
with the command's exit code.

    .venv/bin/python tests/burners.py -- .venv/bin/python -m pytest
    .venv/bin/python tests/burners.py -n 4 -- .venv/bin/python -m pytest -m "not slow"

The burners run at normal priority (nice 0), like the other work of a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence


def burn(parent: int) -> None:
    """Spin until killed, or until the parent is gone (even if it was SIGKILLed)."""
    # Ctrl-C in the terminal reaches the whole group: the parent stops the burners.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    n = 0
    while os.getppid() == parent:
        for _ in range(1_000_000):
            n = (n * 1103515245 + 12345) & 0x7FFFFFFF


@contextlib.contextmanager
def burning(n: int = 2) -> Iterator[list[mp.Process]]:
    """N busy processes for the duration of the block; all stopped and reaped after it."""
    # spawn, not fork: a fork of a process holding TensorFlow's threads is unsafe.
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=burn, args=(os.getpid(),), name=f"burner-{i}", daemon=True)
        for i in range(n)
    ]
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            if p.pid is not None and p.is_alive():
                p.kill()
        for p in procs:
            if p.pid is not None:
                p.join(10)


def run(command: Sequence[str], n: int = 2) -> int:
    """Run ``command`` with ``n`` burners beside it; its exit code (128 + N if killed by N)."""

    def stop(signum, _frame):  # SIGTERM: unwind, so the burners are reaped
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with burning(n):
            child = subprocess.Popen(command)
            try:
                code = child.wait()
            except KeyboardInterrupt:
                code = finish(child, (None, child.terminate, child.kill))
            except Terminated:
                code = finish(child, (child.terminate, child.kill))
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 128 - code if code < 0 else code


class Terminated(Exception):
    """This process got SIGTERM."""


def finish(child: subprocess.Popen, steps) -> int:
    """Stop the command step by step, 10 s apart; its exit code.

    After Ctrl-C (which the terminal sends the command too) the first step is to wait:
    pytest then prints its report.
    """
    for send in steps:
        if send:
            send()
        try:
            return child.wait(10)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            continue
    return child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("-n", "--burners", type=int, default=2, help="busy processes (default 2)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("no command given: put it after --")
    if args.burners < 0:
        p.error("--burners must be 0 or more")
    try:
        return run(command, args.burners)
    except FileNotFoundError as exc:
        print(f"burners: cannot run {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
