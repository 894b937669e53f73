"""Many viewers: N headless Chromiums on one server, dragging on Explore and switching pages.

One `streamlit run app.py`, a probe Chromium and a crowd of N (10) more,
one thread each, all on the same machine. Phases, in order:

1. baseline: the probe alone visits every page (`driver.get`, a warm-up that also fills
   the server's caches), then switches pages through the sidebar as a person does
   (Explore -> page -> Explore -> next page ...), `rounds` times, timing each page.
2. idle: the crowd on Explore with their pads ready, nobody moving, for `drag_seconds`:
   the server's CPU time when nothing happens.
3. drag: the crowd presses once and moves the pointer continuously (real CDP mouse
   events, at most `hz` a second each) until its pad has decoded `drag_moves` moves and
   `drag_seconds` have passed, then releases. What each browser sent the server during
   its drag is recorded: every WebSocket message (Streamlit's BackMsgs, by type) and
   every HTTP request of the page and the pad. The server's CPU time during the drags
   is compared with idle and divided by the pointer moves the pads decoded; the
   releases (one rerun each) are measured separately, as the yardstick.
4. mixed: each crowd session drags for `drag_each` s, releases, waits for the nearest
   digits, clicks another page in the sidebar, waits until it rendered, checks it for
   errors, clicks back to Explore, and so on round the pages. Meanwhile the probe
   repeats the baseline's rounds: its page times against the baseline's say whether the
   server still answers in its usual time. The phase ends once the rest of `seconds`
   has passed, the probe has done `rounds` rounds and every crowd session one.

The crowd's browsers run as SCHED_IDLE (`idle_priority`) unless `--same-priority`.
They stand for browsers on the viewers' own machines; at normal priority ten Chromiums
decoding and painting at up to 60 Hz (12 ms of CPU a move, most of it in the renderer)
take both cores, and every page time then measures the browsers' fight for the CPU, not
the server. The crowd's own page times are reported too (`crowd_ms_*`), but they are
that fight.

A page's time runs from the click to its title, its content (the selector from
`tests/browser.py`'s PAGES) and an idle script, held for SETTLE s (not counted).
The server's RSS is sampled every 0.5 s throughout; CPU time is utime + stime from
/proc/<pid>/stat. Prints one JSON line.

    .venv/bin/python bench/load_test.py [--sessions 10] [--seconds 60] [--hz 60]

Every phase ends on events (pages rendered, moves decoded), with generous deadlines that
raise TimeoutError naming what they waited for; only the figures depend on speed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import re
import shutil
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import (
    PAD,
    PAGES,
    chrome,
    in_pad,
    mouse,
    pad_mapper,
    pad_script,
    streamlit_process,
)
from streamlit.proto.BackMsg_pb2 import BackMsg

SETTLE = 0.5  # s a page must stay rendered and idle; not part of its time
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
SELECTOR = dict(PAGES)
NAMES = {path: path or "drag_pad" for path, _ in PAGES}

# A page opened by its URL (not by the sidebar) first asks /<page>/_stcore/health and
# host-config, gets 404 and retries at /: Streamlit's frontend guessing its base path,
# streamlit/streamlit#7074 (open). Harmless, and not this app's doing.
KNOWN_404 = re.compile(r"/_stcore/(health|host-config) - Failed to load resource: .* 404")
# Streamlit's frontend logs this when a component's iframe has not said it is ready after
# 60 s (a constant in its bundle): on a busy machine that is slowness, and the page's
# content is waited for on its own, so it is counted (``component_ready_timeouts``).
COMPONENT_SLOW = re.compile(r"Custom Component \S+ timeout error")
# An image of a run that a newer run (or leaving the page) has already replaced: Streamlit
# drops the old run's media, and a browser slower than the reruns asks for it afterwards.
# The page's own images are checked when it is waited for, so these are counted
# (``stale_media``), not taken as errors.
STALE_MEDIA = re.compile(
    r"/media/[0-9a-f]+\.\w+ - Failed to load resource: .* 404|Image source error - \S*/media/"
)

# Waiting happens inside the page: one WebDriver round trip per wait instead of ten a
# second, which with ten browsers on two cores would itself be a load. ``test(a)`` is
# checked every 25 ms; done({value, held}) once it has been truthy for ``settle`` ms.
WAIT = """
const [a, settle, timeout, done] = arguments;
const test = (a) => { %s };
const start = performance.now();
let since = null;
(function tick() {
  const now = performance.now();
  let value = null;
  try { value = test(a); } catch (e) {}
  if (value) {
    if (since === null) since = now;
    if (now - since >= settle) return done({value: value, held: now - since});
  } else since = null;
  if (now - start > timeout) return done(null);
  setTimeout(tick, 25);
})();
"""
# The page shows its title (any, if a.title is null) and content, and no script runs.
PAGE_DONE = """
const h1 = document.querySelector('h1');
const title = h1 ? h1.innerText : '';
return document.querySelector(a.selector) !== null
  && document.querySelector("[data-testid='stStatusWidget']") === null
  && (a.title === null || title === a.title) && title;
"""
PAD_READY = "const p = window.padState; return p && p.ready && !!p.probs;"
SENT_AFTER = "const v = window.padState.sent; return v && v.seq !== a && v;"
DETAILS_SHOWN = """
return [...document.querySelectorAll('h3')].some((h) => h.innerText.startsWith(a))
  && document.querySelector("[data-testid='stStatusWidget']") === null;
"""
# Installed in every frame before its own scripts: each WebSocket message the page sends
# (base64), and room for every HTTP request in the resource timing list.
NET_WATCH = """
(() => {
  try { performance.setResourceTimingBufferSize(1000000); } catch (e) {}
  const send = WebSocket.prototype.send;
  window.__wsSent = [];
  WebSocket.prototype.send = function (data) {
    let bytes = null;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data))
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let text = '';
    if (bytes) for (const b of bytes) text += String.fromCharCode(b);
    window.__wsSent.push(bytes ? btoa(text) : null);
    return send.call(this, data);
  };
})();
"""
NET_SENT = "return [window.__wsSent.length, performance.getEntriesByType('resource').length];"
PAGE_ERRORS = """
const e = document.querySelector("[data-testid='stException']");
return [e ? e.innerText.slice(0, 300) : '', document.body.innerText.includes('Traceback')];
"""


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far, in ms (10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS  # utime, stime: fields 14, 15


def machine_cpu() -> np.ndarray:
    """(busy, total) CPU time of the whole machine so far, in ms, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return np.array([sum(ticks[:8]) - idle, sum(ticks[:8])], float) * TICK_MS


def busy_share(since: np.ndarray) -> float:
    busy, total = machine_cpu() - since
    return round(busy / total, 2) if total else 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def idle_priority(driver) -> None:
    """Schedule a driver's chromedriver and every process under it as SCHED_IDLE.

    The crowd's browsers stand for browsers on the viewers' own machines: they should
    compete with each other, not with the server or the probe. Nice values do not do
    that: Chromium sets its renderers' nice itself (to 0 for a visible page). The
    scheduling policy it leaves alone, and forks inherit it, so the renderers the
    zygote starts later are idle-class too.
    """
    root = driver.service.process.pid
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            children[int(stat.read_text().rsplit(")", 1)[1].split()[1])].append(
                int(stat.parent.name)
            )
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        for task in Path(f"/proc/{pid}/task").glob("*"):  # the policy is per thread
            with contextlib.suppress(OSError):
                os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))


@dataclass
class Session:
    index: int
    driver: Any
    url: str
    titles: dict[str, str]  # url path -> the page's h1
    errors: list[str]
    to_xy: Callable[[float, float], tuple[float, float]] | None = None
    last_xy: tuple[float, float] = (0.0, 0.0)  # where the pointer is
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    moves_sent: int = 0
    drag_s: float = 0.0
    switches: int = 0
    cycles: int = 0  # mixed phase: drag, release, a page and back
    fallbacks: int = 0  # sidebar links that could not be clicked
    slow_components: int = 0  # COMPONENT_SLOW messages seen
    stale_media: int = 0  # STALE_MEDIA messages seen

    def error(self, where: str, what: str) -> None:
        who = "probe" if self.index < 0 else f"session {self.index}"
        self.errors.append(f"{who} {where}: {what}"[:400])

    def in_pad(self, fn: Callable[[], Any]) -> Any:
        return in_pad(self.driver, fn)

    def script_in_pad(self, script: str) -> Any:
        return pad_script(self.driver, script)

    def net_sent(self) -> tuple[int, int]:
        """(WebSocket messages the page sent, HTTP requests of the page and the pad)."""
        ws, top = self.driver.execute_script(NET_SENT)
        return ws, top + self.script_in_pad(NET_SENT)[1]

    def messages_since(self, k: int) -> list[str]:
        """The types of the BackMsgs the page sent after its first ``k``."""
        sent = self.driver.execute_script("return window.__wsSent.slice(arguments[0])", k)
        return [message_type(m) for m in sent]


def message_type(b64: str | None) -> str:
    """A BackMsg's type, e.g. ``rerun_script`` or ``app_heartbeat``."""
    if b64 is None:
        return "text"
    try:
        return BackMsg.FromString(base64.b64decode(b64)).WhichOneof("type") or "none"
    except Exception:  # not a BackMsg: still something sent to the server
        return "unknown"


def watch_network(driver) -> None:
    """Record what every page this driver opens sends (NET_WATCH), from now on."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": NET_WATCH})


def wait_for(driver, test: str, a: Any = None, settle: float = 0.0, timeout: float = 300.0):
    """Wait in the page until ``test`` holds for ``settle`` s: (its value, when it began
    to hold, on time.monotonic's clock)."""
    driver.set_script_timeout(timeout + 30)
    r = driver.execute_async_script(WAIT % test, a, 1000 * settle, 1000 * timeout)
    if r is None:
        raise TimeoutError(f"{driver.current_url}: not met within {timeout} s: {test.strip()}")
    return r["value"], time.monotonic() - r["held"] / 1000


def rendered(s: Session, path: str, t0: float) -> float:
    """Seconds from t0 until page ``path`` shows its title and content with an idle script.

    wait_rendered's rule (held for SETTLE s, which is not counted) plus the title, so
    that the previous page's content, still on screen right after a sidebar click, does
    not count.
    """
    a = {"selector": SELECTOR[path], "title": s.titles.get(path)}
    _, since = wait_for(s.driver, PAGE_DONE, a, settle=SETTLE)
    return since - t0


def check(s: Session, path: str) -> None:
    """Record an exception box, a traceback or a SEVERE console message as an error."""
    box, traceback = s.driver.execute_script(PAGE_ERRORS)
    if box:
        s.error(f"/{path}", f"stException: {box}")
    if traceback:
        s.error(f"/{path}", "'Traceback' in the page")
    for entry in s.driver.get_log("browser"):
        if entry["level"] != "SEVERE" or KNOWN_404.search(entry["message"]):
            continue
        if COMPONENT_SLOW.search(entry["message"]):
            s.slow_components += 1
        elif STALE_MEDIA.search(entry["message"]):
            s.stale_media += 1
        else:
            s.error(f"/{path}", f"console: {entry['message']}")
    if path == "" and (problem := s.script_in_pad("return window.padState.error")):
        s.error("/", f"pad: {problem}")


def pad_ready(s: Session, timeout: float = 300.0) -> None:
    """Wait until Explore's pad has decoded; measure where its plane is drawn."""
    d = s.driver
    d.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", PAD)
    s.in_pad(lambda: wait_for(d, PAD_READY, timeout=timeout))
    s.to_xy = pad_mapper(d)


def switch(s: Session, path: str) -> float:
    """Click page ``path`` in the sidebar (as a person does: same session); its time."""
    d = s.driver
    links = d.find_elements(
        "css selector", f"[data-testid='stSidebarNav'] a[href='{s.url}/{path}']"
    )
    t0 = time.monotonic()
    try:
        links[0].click()
    except Exception:  # not found, or covered: a script click, then a plain visit
        s.fallbacks += 1
        try:
            d.execute_script("arguments[0].click()", links[0])
        except Exception:
            d.get(f"{s.url}/{path}")
    seconds = rendered(s, path, t0)
    s.switches += 1
    check(s, path)
    if path == "":
        pad_ready(s)
    return seconds


def lissajous(t: float) -> tuple[float, float]:
    """A drag path in z: about 270 px/s on the 600 px plane, a brisk hand."""
    return 1.8 * math.sin(2.0 * t), 1.5 * math.sin(2.7 * t)


def press_and_drag(
    s: Session,
    start: float,
    deadline: float,
    hz: float,
    decoded: int = 0,
    timeout: float = 600.0,
) -> None:
    """Press, then move along the path at most ``hz`` times a second until ``deadline``
    and until the pad has decoded ``decoded`` moves (TimeoutError after ``timeout`` s)."""
    period = 1.0 / hz
    goal = pad_moves(s) + decoded if decoded else 0
    check_every = max(1, round(hz / 2))  # the pad's count is read about twice a second
    while time.monotonic() < start:
        time.sleep(min(0.05, start - time.monotonic()))
    t0 = time.monotonic()
    s.last_xy = s.to_xy(*lissajous(0.0))
    mouse(s.driver, "mouseMoved", s.last_xy, pressed=False)
    mouse(s.driver, "mousePressed", s.last_xy, pressed=True)
    due = t0
    while (now := time.monotonic()) < deadline or (
        goal and (s.moves_sent % check_every or pad_moves(s) < goal)
    ):
        if now - t0 > timeout:
            raise TimeoutError(
                f"session {s.index}: waited {timeout} s for its pad to decode {decoded} moves"
            )
        if now < due:
            time.sleep(due - now)
            now = due
        s.last_xy = s.to_xy(*lissajous(now - t0))
        mouse(s.driver, "mouseMoved", s.last_xy, pressed=True)
        s.moves_sent += 1
        due = max(due + period, time.monotonic() - period)  # no burst to catch up
    s.drag_s += time.monotonic() - t0


def release(s: Session, timeout: float = 300.0) -> float:
    """Let go where the pointer is; wait until the page shows that point's details."""
    d = s.driver
    before = s.script_in_pad("const v = window.padState.sent; return v && v.seq")
    t0 = time.monotonic()
    mouse(d, "mouseReleased", s.last_xy, pressed=False)
    sent, _ = s.in_pad(lambda: wait_for(d, SENT_AFTER, before, timeout=timeout))
    shown = ", ".join(f"{v:.2f}".replace("-", "−") for v in sent["z"][:4])
    _, since = wait_for(d, DETAILS_SHOWN, f"At z = ({shown}", timeout=timeout)
    return since - t0


def pad_moves(s: Session) -> int:
    return int(s.script_in_pad("return window.padStats.moves"))


def in_threads(sessions: list[Session], fn: Callable[[Session], None]) -> list[threading.Thread]:
    def body(s: Session) -> None:
        try:
            fn(s)
        except Exception as exc:
            first = str(exc).strip().splitlines()[:1]  # Selenium appends a stack trace
            s.error("thread", f"{type(exc).__name__}: {' '.join(first)}")

    threads = [threading.Thread(target=body, args=(s,), daemon=True) for s in sessions]
    for t in threads:
        t.start()
    return threads


def join(threads: list[threading.Thread], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        raise TimeoutError(f"waited {timeout:.0f} s for {what}; a session thread is still busy")


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000) if values else None


def log(msg: str) -> None:
    print(f"[load_test {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def page_round(s: Session, pages: list[str], times: dict[str, list[float]]) -> None:
    """Explore -> each page -> Explore, by the sidebar, timing every page."""
    for path in pages:
        times[path].append(switch(s, path))
        times[""].append(switch(s, ""))


def summary(times: dict[str, list[float]]) -> dict[str, int | None]:
    return {NAMES[p]: percentile(times.get(p, []), 50) for p, _ in PAGES}


def run(
    sessions: int = 10,
    seconds: float = 60.0,
    drag_seconds: float = 15.0,
    hz: float = 60.0,
    drag_each: float = 2.0,
    rounds: int = 2,
    idle_crowd: bool = True,
    server_env: dict[str, str] | None = None,
    drag_moves: int = 0,
    timeout: float = 900.0,
) -> dict:
    """Run the load test; returns the figures (see the module docstring).

    ``seconds`` is the time the N sessions spend in use at least: the drag phase plus the
    mixed phase. The idle phase (as long as the drag phase) and the baseline come on top.
    ``drag_moves``: each drag lasts until its pad decoded this many moves too.
    ``timeout``: the most any phase may take before it counts as a failure.
    """
    began = time.monotonic()
    load_before = os.getloadavg()
    errors: list[str] = []
    drivers: list[Any] = []
    rss: list[float] = []
    phase = ["start"]  # the phase each RSS sample belongs to
    rss_max: dict[str, float] = defaultdict(float)
    stop = threading.Event()
    out: dict[str, Any] = {"sessions": sessions, "seconds": seconds, "hz": hz}
    out["crowd_sched_idle"] = idle_crowd
    if server_env:
        out["server_env"] = server_env
    pages = [p for p, _ in PAGES[1:]]  # Explore is where each visit starts and ends
    with streamlit_process(env=server_env) as (url, proc):
        pid = proc.pid

        def sample() -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError, RuntimeError):
                    rss.append(rss_mb(pid))
                    rss_max[phase[0]] = max(rss_max[phase[0]], rss[-1])
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            # --- baseline: the probe alone ----------------------------------------------
            phase[0] = "baseline"
            drivers.append(chrome())
            probe = Session(-1, drivers[0], url, {}, errors)
            for path, selector in PAGES:  # warm-up: every page once, caches filled
                probe.driver.get(f"{url}/{path}")
                a = {"selector": selector, "title": None}  # any title: none known yet
                probe.titles[path], _ = wait_for(probe.driver, PAGE_DONE, a, settle=SETTLE)
                check(probe, path)
            probe.driver.get(f"{url}/")
            rendered(probe, "", time.monotonic())
            pad_ready(probe)
            baseline: dict[str, list[float]] = defaultdict(list)
            for _ in range(rounds):
                page_round(probe, pages, baseline)
            phase[0] = "open"
            log(f"baseline (ms): {summary(baseline)}")

            # --- the crowd: N more browsers on Explore, at low priority -----------------
            for _ in range(sessions):
                drivers.append(chrome())
                watch_network(drivers[-1])
                if idle_crowd:
                    idle_priority(drivers[-1])
            crowd = [Session(i, d, url, probe.titles, errors) for i, d in enumerate(drivers[1:])]

            def open_drag_pad(s: Session) -> None:
                s.driver.get(f"{url}/")
                rendered(s, "", time.monotonic())
                pad_ready(s)
                s.driver.get_log("browser")  # start-up messages are not the load's

            join(in_threads(crowd, open_drag_pad), timeout, "the crowd to open Explore")
            if errors:
                raise RuntimeError(f"the sessions did not open Explore: {errors}")
            log(f"{sessions} sessions on Explore")

            # --- idle, then drag ----------------------------------------------------------
            time.sleep(2.0)  # the pads' reruns are over
            phase[0] = "idle"
            moves0 = [pad_moves(s) for s in crowd]
            c0, m0 = cpu_ms(pid), machine_cpu()
            time.sleep(drag_seconds)
            cpu_idle = cpu_ms(pid) - c0
            busy_idle = busy_share(m0)

            start = time.monotonic() + 1.0
            deadline = start + drag_seconds
            stopped = threading.Semaphore(0)
            may_release = threading.Event()
            latencies: list[float] = []
            decoded = [0] * sessions
            sent_during_drag: dict[str, int] = defaultdict(int)
            sent_on_release: dict[str, int] = defaultdict(int)
            fetched_during_drag = [0] * sessions
            pad_sent_during_drag = [False] * sessions
            drag_ended = [0.0] * sessions

            def drag_phase(s: Session) -> None:
                try:
                    ws0, http0 = s.net_sent()
                    seq0 = s.script_in_pad("const v = window.padState.sent; return v && v.seq")
                    press_and_drag(s, start, deadline, hz, drag_moves, timeout)
                    drag_ended[s.index] = time.monotonic()
                    decoded[s.index] = pad_moves(s) - moves0[s.index]
                    seq1 = s.script_in_pad("const v = window.padState.sent; return v && v.seq")
                    pad_sent_during_drag[s.index] = seq1 != seq0
                    ws1, http1 = s.net_sent()
                    fetched_during_drag[s.index] = http1 - http0
                    for kind in s.messages_since(ws0)[: ws1 - ws0]:
                        sent_during_drag[kind] += 1
                    n = min(decoded[s.index], 5000)
                    latencies.extend(
                        s.script_in_pad(f"return window.padStats.latencies.slice(-{n})")
                    )
                finally:
                    stopped.release()
                may_release.wait(timeout)
                ws0 = s.net_sent()[0]
                s.times["release"].append(release(s, timeout))
                for kind in s.messages_since(ws0):  # the counter's check: a rerun request
                    sent_on_release[kind] += 1

            phase[0] = "drag"
            threads = in_threads(crowd, drag_phase)
            time.sleep(max(0.0, start - time.monotonic()))
            c0, m0 = cpu_ms(pid), machine_cpu()
            for _ in crowd:
                if not stopped.acquire(timeout=timeout + 60):
                    raise TimeoutError(f"waited {timeout} s for the crowd's drags to end")
            cpu_drag = cpu_ms(pid) - c0
            busy_drag = busy_share(m0)
            drag_wall = max(max(drag_ended) - start, 1e-3)
            c0 = cpu_ms(pid)
            may_release.set()
            join(threads, timeout, "the crowd's releases")
            cpu_release = cpu_ms(pid) - c0
            moves = sum(decoded)
            rates = [s.moves_sent / s.drag_s for s in crowd if s.drag_s]
            releases = [t for s in crowd for t in s.times.pop("release", [])]
            out.update(
                {
                    "drag_seconds": drag_seconds,
                    "drag_wall_s": round(drag_wall, 1),
                    "sent_to_server_during_drags": dict(sent_during_drag),
                    "http_requests_during_drags": sum(fetched_during_drag),
                    "sent_to_server_on_release": dict(sent_on_release),
                    "pads_that_sent_a_value_during_drags": sum(pad_sent_during_drag),
                    "moves_min": min(decoded),
                    "server_cpu_ms_idle": round(cpu_idle),
                    "server_cpu_ms_drag": round(cpu_drag),
                    "server_cpu_ms_drag_above_idle": round(
                        cpu_drag - cpu_idle * drag_wall / drag_seconds
                    ),
                    "machine_busy_idle": busy_idle,
                    "machine_busy_drag": busy_drag,
                    "moves": moves,
                    "moves_sent": sum(s.moves_sent for s in crowd),
                    "server_cpu_ms_per_1000_moves": round(1000 * cpu_drag / max(moves, 1), 1),
                    "server_cpu_ms_per_1000_moves_above_idle": round(
                        1000 * (cpu_drag - cpu_idle * drag_wall / drag_seconds) / max(moves, 1), 1
                    ),
                    "server_cpu_ms_per_release": round(cpu_release / sessions),
                    "release_to_details_ms_p50": percentile(releases, 50),
                    "moves_per_s_per_session": round(float(np.mean(rates)), 1) if rates else 0,
                    "moves_per_s_per_session_min": round(min(rates), 1) if rates else 0,
                    "pad_latency_ms_p50": round(float(np.percentile(latencies, 50)), 1)
                    if latencies
                    else None,
                    "pad_latency_ms_p95": round(float(np.percentile(latencies, 95)), 1)
                    if latencies
                    else None,
                }
            )
            log(f"drag phase: {json.dumps(out)}")

            # --- mixed: the crowd drags and switches pages; the probe times the pages -----
            mixed_s = max(0.0, seconds - drag_seconds)
            began_mixed = time.monotonic()
            end = began_mixed + mixed_s
            probe_done = threading.Event()

            def crowd_phase(s: Session) -> None:
                k = s.index
                while not (probe_done.is_set() and s.cycles >= 1):
                    t = time.monotonic()
                    press_and_drag(s, t, t + drag_each, hz, timeout=timeout)
                    release(s, timeout)
                    page_round(s, [pages[k % len(pages)]], s.times)
                    s.cycles += 1
                    k += 1

            def probe_phase(s: Session) -> None:
                try:
                    k = 0
                    while k < rounds * len(pages) or time.monotonic() < end:
                        page_round(s, [pages[k % len(pages)]], s.times)
                        k += 1
                finally:
                    probe_done.set()

            phase[0] = "mixed"
            c0, m0 = cpu_ms(pid), machine_cpu()
            threads = in_threads(crowd, crowd_phase) + in_threads([probe], probe_phase)
            join(threads, mixed_s + timeout, "the mixed phase's rounds")
            mixed_s = time.monotonic() - began_mixed
            cpu_mixed = cpu_ms(pid) - c0
            busy_mixed = busy_share(m0)
            crowd_times: dict[str, list[float]] = defaultdict(list)
            for s in crowd:
                for path, v in s.times.items():
                    crowd_times[path].extend(v)
            table = {}
            for path, _sel in PAGES:
                b, u, c = baseline[path], probe.times.get(path, []), crowd_times.get(path, [])
                b50, u50 = percentile(b, 50), percentile(u, 50)
                table[NAMES[path]] = {
                    "baseline_ms_p50": b50,
                    "load_ms_p50": u50,
                    "load_ms_max": percentile(u, 100),
                    "ratio_p50": round(u50 / b50, 2) if b50 and u50 else None,
                    "n": len(u),
                    "crowd_ms_p50": percentile(c, 50),
                    "crowd_ms_p95": percentile(c, 95),
                    "crowd_n": len(c),
                }
            out.update(
                {
                    "mixed_seconds": round(mixed_s),
                    "server_cpu_ms_mixed": round(cpu_mixed),
                    "machine_busy_mixed": busy_mixed,
                    "page_switches": sum(s.switches for s in crowd),
                    "page_switches_min": min(s.switches for s in crowd),
                    "crowd_cycles_min": min(s.cycles for s in crowd),
                    "probe_switches": sum(len(v) for v in probe.times.values()),
                    "click_fallbacks": sum(s.fallbacks for s in [probe, *crowd]),
                    "component_ready_timeouts": sum(s.slow_components for s in [probe, *crowd]),
                    "stale_media": sum(s.stale_media for s in [probe, *crowd]),
                    "pages": table,
                }
            )
        finally:
            stop.set()
            for d in drivers:
                profile = None
                try:
                    profile = d.capabilities.get("chrome", {}).get("userDataDir")
                    d.quit()
                except Exception as exc:
                    errors.append(f"quit: {type(exc).__name__}")
                if profile and "chromium-profile-" in profile:
                    shutil.rmtree(profile, ignore_errors=True)
            sampler.join(2)
    out.update(
        {
            "errors": errors,
            "server_rss_max_mb": round(max(rss)) if rss else None,
            "server_rss_max_mb_by_phase": {k: round(v) for k, v in rss_max.items()},
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "wall_s": round(time.monotonic() - began),
        }
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--seconds", type=float, default=60.0, help="drag phase + mixed phase")
    p.add_argument("--drag-seconds", type=float, default=15.0, help="drag phase (and idle)")
    p.add_argument("--hz", type=float, default=60.0, help="pointer moves a second, at most")
    p.add_argument("--drag-each", type=float, default=2.0, help="s per drag in the mixed phase")
    p.add_argument(
        "--drag-moves", type=int, default=0, help="each drag phase drag decodes this many at least"
    )
    p.add_argument("--rounds", type=int, default=2, help="baseline rounds of all pages")
    p.add_argument(
        "--same-priority",
        action="store_true",
        help="run the crowd's browsers at normal priority: they then starve the server",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server, e.g. to try an allocator setting",
    )
    args = p.parse_args()
    result = run(
        sessions=args.sessions,
        seconds=args.seconds,
        drag_seconds=args.drag_seconds,
        hz=args.hz,
        drag_each=args.drag_each,
        rounds=args.rounds,
        idle_crowd=not args.same_priority,
        server_env=dict(v.split("=", 1) for v in args.server_env) or None,
        drag_moves=args.drag_moves,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
