"""The page's URL: the one place that reads and writes its query parameters.

A link carries the view: the page (Streamlit keeps it in the path), the active model,
the Drag pad's marker and each page's switches, so a teacher can hand out exactly the
view they mean. The URL is user input. Each parameter is parsed by a function that
raises ``ValueError`` saying what is wrong; a bad one is named in an ``st.warning``,
removed from the URL, and the page keeps its default.

A parameter is read once per session, the first time a page asks for it: the link
opens the view, and later changes on the page are never overridden by it. After that
the pages write their state back on every run, so the address bar shows the view.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st

from vae.config import MAX_LATENT_DIM

T = TypeVar("T")

MODEL = "model"  # the active checkpoint, by the name the app lists it under
Z = "z"  # the Drag pad's marker: "z1,z2,..."
# No test digit is encoded this far out (the prior puts e^-50 of its mass beyond 10σ
# on one axis), so a larger value is a typo or an attack, never a view worth restoring.
Z_LIMIT = 10.0
Z_DECIMALS = 4  # 1e-4 in z is far below a pixel of the pad
_READ = "url_state.read"  # session_state: names of the parameters already read
_MAX_CHARS = 1000  # longer than any parameter the app writes


def read(name: str, parse: Callable[[str], T]) -> T | None:
    """The URL's ``name``, parsed, the first time a page asks in this session; else None.

    A bad value is named in a warning and removed from the URL; the caller keeps its
    default.
    """
    done = st.session_state.setdefault(_READ, set())
    if name in done:
        return None
    done.add(name)
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        if len(raw) > _MAX_CHARS:
            raise ValueError(f"it is {len(raw):,} characters long.")
        return parse(raw)
    except ValueError as exc:
        st.warning(f"The link's `{name}` parameter was ignored: {exc} This page shows its default.")
        write(name, None)
        return None


def write(name: str, value: str | None) -> None:
    """Set ``name`` in the URL (None removes it); unchanged values send nothing."""
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != value:
        st.query_params[name] = value


# --- parsers: each returns the value or raises ValueError saying what is wrong ----------
def quote(raw: str) -> str:
    """``raw`` as inline code, cut short, so a link cannot put markdown (links, images)
    into the page's warning."""
    cut = raw[:40].replace("`", "'") + ("…" if len(raw) > 40 else "")
    return f"`{cut}`"


def flag(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"{quote(raw)} is not 1 or 0.")


def show_flag(value: Any) -> str:
    return "1" if value else "0"


def choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"{quote(raw)} is not one of {', '.join(options)}.")
        return raw

    return parse


def integer(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{quote(raw)} is not a whole number.") from None
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo} – {hi}.")
        return value

    return parse


def number(lo: float, hi: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = _finite(raw)
        if not lo <= value <= hi:
            raise ValueError(f"{value:g} is outside {lo:g} – {hi:g}.")
        return value

    return parse


def _finite(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{quote(raw)} is not a number.") from None
    if not math.isfinite(value):
        raise ValueError(f"{quote(raw)} is not a finite number.")
    return value


def latent(j: int) -> Callable[[str], list[float]]:
    """Parser of a point z for a model with ``j`` latent dimensions: "z1,z2,...,zJ"."""

    def parse(raw: str) -> list[float]:
        parts = raw.split(",")
        if len(parts) > MAX_LATENT_DIM:
            raise ValueError(f"it has {len(parts)} values; a model has at most {MAX_LATENT_DIM}.")
        z = [_finite(p.strip()) for p in parts]
        if len(z) != j:
            raise ValueError(f"it has {len(z)} values, but the active model has J = {j}.")
        if any(abs(v) > Z_LIMIT for v in z):
            raise ValueError(f"every value must lie within ±{Z_LIMIT:g}.")
        return z

    return parse


def show_latent(z: Sequence[float]) -> str:
    def one(v: float) -> str:
        text = f"{round(float(v), Z_DECIMALS):.{Z_DECIMALS}f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text

    return ",".join(one(v) for v in z)


# --- switches: widgets whose value the URL carries -----------------------------------
@dataclass(frozen=True)
class Switch:
    """A keyed widget whose value the URL carries as ``name``."""

    key: str  # the widget's session_state key
    name: str  # its URL parameter
    parse: Callable[[str], Any]
    show: Callable[[Any], str] = str


def restore(switches: Sequence[Switch]) -> None:
    """Before the widgets draw: seed each one the link sets (once per session)."""
    for s in switches:
        value = read(s.name, s.parse)
        if value is not None:
            st.session_state[s.key] = value


def record(switches: Sequence[Switch]) -> None:
    """After the widgets drew: write their values into the URL."""
    for s in switches:
        if s.key in st.session_state:
            write(s.name, s.show(st.session_state[s.key]))
