"""The run folder: exactly one holder of its lock however claims interleave, and the
checks that say whether a run may start there.

Claimants are paused at named steps of the claim through ``run_folder._step``; every
wait is on an event, and the deadlines only bound a hang.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import tiny_config

from vae import atomic, run_folder
from vae.checkpoint import WEIGHTS_FILE, load_checkpoint, save_checkpoint
from vae.errors import CheckpointError, CheckpointNotFoundError
from vae.model import build_vae
from vae.run_folder import LOCK_FILE, RunDirLock, check_run_folder

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds; generous, since every wait ends on an event long before
BUSY = "being written by another training run"

# The steps each claim passes, by what the folder held when it began.
FRESH_STEPS = ["claim written", "linked"]
STALE_STEPS = [
    "claim written",
    "lock exists",
    "lock opened",
    "stale lock flocked",
    "stale lock checked",
    "replaced",
]


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return int(done.stdout)


def leave_stale_lock(folder: Path) -> None:
    """What a killed run leaves: a lock file naming a dead pid, flocked by nobody."""
    (folder / LOCK_FILE).write_text(str(dead_pid()))


class Claimant(threading.Thread):
    """Claims the folder's lock in a thread of its own and keeps it until released."""

    def __init__(self, name: str, folder: Path):
        super().__init__(name=name, daemon=True)
        self.lock = RunDirLock(folder)
        self.outcome: str | CheckpointError | None = None
        self.halted = threading.Event()  # paused at a seam, or finished
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.lock.__enter__()
            self.outcome = "held"
        except CheckpointError as exc:
            self.outcome = exc
        finally:
            self.done.set()
            self.halted.set()

    def wait_halted(self, what: str) -> None:
        assert self.halted.wait(TIMEOUT), f"{self.name} never {what}"

    def wait_done(self) -> None:
        assert self.done.wait(TIMEOUT), f"{self.name} never finished its claim"


class Seams:
    """Pauses the named threads once each at ``step``, until ``release(name)``."""

    def __init__(self, step: str, claimants: dict[str, Claimant]):
        self.step = step
        self.claimants = claimants
        self.paused: set[str] = set()
        self.go = {name: threading.Event() for name in claimants}

    def __call__(self, name: str) -> None:
        who = threading.current_thread().name
        if name != self.step or who not in self.claimants or who in self.paused:
            return
        self.paused.add(who)
        self.claimants[who].halted.set()
        assert self.go[who].wait(TIMEOUT), f"{who} was never released from {name!r}"

    def release(self, name: str) -> None:
        self.go[name].set()


def assert_one_holder(folder: Path, claimants: list[Claimant]) -> Claimant:
    holders = [c for c in claimants if c.outcome == "held"]
    refused = [c.outcome for c in claimants if isinstance(c.outcome, CheckpointError)]
    assert len(holders) == 1 and len(refused) == len(claimants) - 1, [c.outcome for c in claimants]
    assert all(BUSY in str(r) for r in refused), refused
    assert (folder / LOCK_FILE).read_text() == str(os.getpid())  # never without its pid
    # The holder's flock is on the file named .lock: a newcomer is refused.
    with pytest.raises(CheckpointError, match=BUSY):
        RunDirLock(folder).__enter__()
    return holders[0]


def assert_released_cleanly(folder: Path, holder: Claimant) -> None:
    holder.lock.__exit__(None, None, None)
    assert sorted(p.name for p in folder.iterdir()) == []  # no lock, no claim left over
    with RunDirLock(folder):  # and the folder can be claimed again
        assert (folder / LOCK_FILE).is_file()


def race(folder: Path, step: str, *, both_pause: bool, monkeypatch) -> list[Claimant]:
    """A pauses at ``step``; B claims meanwhile (pausing there too if ``both_pause``);
    then A finishes, then B."""
    a, b = Claimant("A", folder), Claimant("B", folder)
    seams = Seams(step, {"A": a, "B": b} if both_pause else {"A": a})
    monkeypatch.setattr(run_folder, "_step", seams)
    a.start()
    a.wait_halted(f"reached {step!r}")
    assert "A" in seams.paused and not a.done.is_set(), f"A never passed {step!r}"
    b.start()
    b.wait_halted(f"reached {step!r} or finished")
    seams.release("A")
    a.wait_done()
    if both_pause:
        seams.release("B")
    b.wait_done()
    monkeypatch.setattr(run_folder, "_step", lambda name: None)
    return [a, b]


@pytest.mark.parametrize("both_pause", [False, True], ids=["one-pauses", "both-pause"])
@pytest.mark.parametrize("step", FRESH_STEPS)
def test_two_claims_on_a_fresh_folder_give_one_holder(tmp_path, monkeypatch, step, both_pause):
    claimants = race(tmp_path, step, both_pause=both_pause, monkeypatch=monkeypatch)
    holder = assert_one_holder(tmp_path, claimants)
    assert_released_cleanly(tmp_path, holder)


@pytest.mark.parametrize("both_pause", [False, True], ids=["one-pauses", "both-pause"])
@pytest.mark.parametrize("step", STALE_STEPS)
def test_two_takeovers_of_a_dead_runs_lock_give_one_holder(tmp_path, monkeypatch, step, both_pause):
    leave_stale_lock(tmp_path)
    claimants = race(tmp_path, step, both_pause=both_pause, monkeypatch=monkeypatch)
    holder = assert_one_holder(tmp_path, claimants)
    assert_released_cleanly(tmp_path, holder)


@pytest.mark.parametrize("step", ["lock exists", "lock opened"])
def test_a_claim_that_saw_a_live_lock_wins_once_it_is_released(tmp_path, monkeypatch, step):
    first = Claimant("first", tmp_path)
    first.start()
    first.wait_done()
    assert first.outcome == "held"
    late = Claimant("late", tmp_path)
    seams = Seams(step, {"late": late})
    monkeypatch.setattr(run_folder, "_step", seams)
    late.start()
    late.wait_halted(f"reached {step!r}")
    assert "late" in seams.paused
    first.lock.__exit__(None, None, None)  # released while the late claim looked at it
    seams.release("late")
    late.wait_done()
    monkeypatch.setattr(run_folder, "_step", lambda name: None)
    holder = assert_one_holder(tmp_path, [late])
    assert_released_cleanly(tmp_path, holder)


def test_a_claim_during_a_release_waits_for_nothing_and_holds_alone(tmp_path, monkeypatch):
    first = Claimant("first", tmp_path)
    first.start()
    first.wait_done()
    releasing, second = threading.Event(), Claimant("second", tmp_path)

    def pause_after_unlink(name: str) -> None:
        if name == "unlinked" and not releasing.is_set():
            releasing.set()
            second.start()  # the old file is gone but its flock is not yet dropped
            second.wait_done()

    monkeypatch.setattr(run_folder, "_step", pause_after_unlink)
    first.lock.__exit__(None, None, None)
    monkeypatch.setattr(run_folder, "_step", lambda name: None)
    assert releasing.is_set()
    holder = assert_one_holder(tmp_path, [second])
    assert_released_cleanly(tmp_path, holder)


def test_a_claim_whose_temporary_was_cleaned_away_claims_again(tmp_path, monkeypatch):
    def clean_first(name: str) -> None:  # another start-up's clean-up of temporaries
        if name == "claim written" and not cleaned:
            cleaned.extend(atomic.clean_temporaries(tmp_path))

    cleaned: list[Path] = []
    monkeypatch.setattr(run_folder, "_step", clean_first)
    with RunDirLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == str(os.getpid())
    assert [p.name for p in cleaned][0].startswith(f"{LOCK_FILE}{atomic.TMP_MARK}")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ claimants in other processes

CHILD = """
import sys
from vae import run_folder
from vae.errors import CheckpointError

folder, pause_at = sys.argv[1], sys.argv[2]


def step(name, paused=[]):
    if name == pause_at and not paused:
        paused.append(name)
        print("AT", name, flush=True)
        sys.stdin.readline()


run_folder._step = step
lock = run_folder.RunDirLock(folder)
try:
    lock.__enter__()
except CheckpointError as exc:
    print("REFUSED", exc, flush=True)
    raise SystemExit(0)
print("HELD", flush=True)
sys.stdin.readline()
lock.__exit__(None, None, None)
print("RELEASED", flush=True)
"""


class Child:
    """A claimant in another process, paused at ``pause_at`` until told to go on."""

    def __init__(self, folder: Path, pause_at: str = "-"):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder), pause_at],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def expect(self, *prefixes: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                assert line, f"child ended without saying {prefixes}: {self.proc.stderr.read()}"
                assert line.startswith(prefixes), line
                return line.strip()
        raise AssertionError(f"the child never said any of {prefixes}")

    def go_on(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=TIMEOUT)


def test_a_live_process_holds_and_a_killed_one_is_taken_over(tmp_path):
    child = Child(tmp_path)
    try:
        child.expect("HELD")
        with pytest.raises(CheckpointError, match=rf"{BUSY} \(pid {child.proc.pid}\)"):
            RunDirLock(tmp_path).__enter__()
        os.kill(child.proc.pid, signal.SIGKILL)
        child.proc.wait(TIMEOUT)
    finally:
        child.close()
    assert (tmp_path / LOCK_FILE).read_text() == str(child.proc.pid)  # left by the dead run
    with RunDirLock(tmp_path):  # the kernel dropped its flock, so the lock is free
        assert (tmp_path / LOCK_FILE).read_text() == str(os.getpid())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("stale", "step"),
    [
        (False, "claim written"),
        (True, "lock opened"),
        (True, "stale lock flocked"),
        (True, "stale lock checked"),
    ],
)
def test_a_process_and_a_thread_claiming_at_once_give_one_holder(tmp_path, stale, step):
    if stale:
        leave_stale_lock(tmp_path)
    child = Child(tmp_path, pause_at=step)
    try:
        child.expect(f"AT {step}")
        here = RunDirLock(tmp_path)
        try:
            here.__enter__()
            held_here = True
        except CheckpointError as exc:
            assert BUSY in str(exc)
            held_here = False
        child.go_on()
        said = child.expect("HELD", "REFUSED")
        assert held_here != said.startswith("HELD"), (held_here, said)
        if held_here:
            assert BUSY in said
            here.__exit__(None, None, None)
        else:
            assert (tmp_path / LOCK_FILE).read_text() == str(child.proc.pid)
            child.go_on()
            child.expect("RELEASED")
    finally:
        child.close()
    assert list(tmp_path.iterdir()) == []


def test_a_claimant_killed_mid_claim_leaves_only_a_temporary(tmp_path):
    child = Child(tmp_path, pause_at="claim written")
    try:
        child.expect("AT claim written")
        os.kill(child.proc.pid, signal.SIGKILL)
        child.proc.wait(TIMEOUT)
    finally:
        child.close()
    (leftover,) = tmp_path.iterdir()  # its claim, never linked: no lock without a holder
    assert leftover.name.startswith(f"{LOCK_FILE}{atomic.TMP_MARK}")
    with RunDirLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == str(os.getpid())
    assert atomic.clean_temporaries(tmp_path) == [leftover]  # what a run's start-up does


# ------------------------------------------------------------ may a run start here?


def test_check_run_folder(tmp_path):
    assert check_run_folder(tmp_path / "new", resume=False) == 0
    assert not (tmp_path / "new").exists()  # checking creates nothing
    with pytest.raises(CheckpointNotFoundError, match=r"nothing to resume: .*new does not exist"):
        check_run_folder(tmp_path / "new", resume=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointNotFoundError, match="empty holds no checkpoint"):
        check_run_folder(tmp_path / "empty", resume=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointNotFoundError, match="is a file"):
        check_run_folder(tmp_path / "file", resume=True)

    run = save_checkpoint(tmp_path / "run", build_vae(tiny_config()), epoch=3, history=[])
    assert (run / WEIGHTS_FILE).is_file()
    assert check_run_folder(run, resume=True) == 3
    with pytest.raises(CheckpointError, match="already holds a checkpoint"):
        check_run_folder(run, resume=False)


def test_loading_a_folder_a_live_run_writes_keeps_its_temporaries(tmp_path):
    model = build_vae(tiny_config())
    run = save_checkpoint(tmp_path / "run", model, epoch=1, history=[])
    under_way = run / f"{WEIGHTS_FILE}{atomic.TMP_MARK}w1r1ting"
    with RunDirLock(run):
        assert run_folder.is_being_written(run)
        under_way.write_bytes(b"half of the next epoch's weights")
        assert load_checkpoint(run).epoch == 1
        assert under_way.exists()  # the writer's os.replace still finds it
    assert not run_folder.is_being_written(run)
    assert load_checkpoint(run).epoch == 1
    assert not under_way.exists()  # no live writer: a leftover, removed
