"""One self-contained HTML file of a model's drag pad: a class drags without a server.

The file holds the drag pad's own page and ES modules (``components/drag_pad/frontend``),
the decoder as ``vae/export.py`` exports it (spec and float32 weights, base64), the test
set's encodings with their labels, and the model's name and figures. It fetches
nothing, so it works opened from disk, mailed to a class or put on any static host, and
every student's browser does its own decoding: a class of any size can drag at once.

How the modules get in: a page opened from ``file://`` cannot load modules from other
files, so each module's text goes into a JSON block and ``offline_boot.js`` turns each
into a ``blob:`` URL, in an order where every module comes after those it imports. Two
modules have stand-ins here: ``protocol.js`` (Streamlit) becomes ``offline_host.js``,
which hands the pad its arguments from the page, and ``loading.js`` (fetching from the
server) becomes ``offline_loading.js``, which reads the data block. The rest is the
app's pad as it is, so the file and the app cannot drift apart.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vae import export, latent_plane
from vae.atomic import write_bytes_atomic
from vae.errors import UnsupportedArchitectureError
from vae.palette import CLASS_PALETTE

FRONTEND = Path(__file__).resolve().parents[1] / "components" / "drag_pad" / "frontend"
PAGE = "index.html"  # the pad's page: its styles and elements
ENTRY = "pad.js"  # the module that wires the pad
BOOT = "offline_boot.js"  # a classic script: makes the modules and starts ENTRY
STAND_INS = {"protocol.js": "offline_host.js", "loading.js": "offline_loading.js"}
# What mails and free static hosts take without complaint; the CLI and the app say so
# when a file is larger (a wide decoder can be), but still write it.
MAIL_BYTES = 3_000_000
DATA_ID = "vae-export"  # the JSON block's element id, read by offline_boot.js
DECODER, POINTS = "decoder", "points"  # the pad's decoder_url and points_url in the file

_FROM = re.compile(r'\bfrom\s*"([^"]*)"')
_SPECIFIER = re.compile(r"\./([\w.-]+\.js)")  # what offline_boot.js can link
_IMPORT_NAMES = re.compile(r'\bimport\s*\{([^}]*)\}\s*from\s*"\./([\w.-]+\.js)"')
_EXPORT_NAMES = re.compile(
    r"\bexport\s+(?:async\s+)?(?:function\s*\*?|const|let|var|class)\s+([A-Za-z_$][\w$]*)"
)
_OTHER_IMPORT = re.compile(r'\bimport\s*\(|^\s*import\s*"', re.M)  # dynamic or bare imports
_PAD_SCRIPT = re.compile(r'<script\s+type="module"\s+src="' + re.escape(ENTRY) + r'">\s*</script>')

Progress = Callable[[str], None]


# --- the page --------------------------------------------------------------------------
def build_html(
    ckpt: Any,
    z_mean: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    palette: Sequence[str] = CLASS_PALETTE,
) -> bytes:
    """The page for ``ckpt`` with the test set's codes ``z_mean`` [N, J] and ``labels`` [N].

    Raises UnsupportedArchitectureError, naming the layer, if the decoder cannot run in
    a browser.
    """
    spec, weights = page_decoder(ckpt)
    z_mean = np.asarray(z_mean)
    labels = np.asarray(labels)
    if z_mean.ndim != 2 or z_mean.shape[1] != spec["latent_dim"] or labels.shape != (len(z_mean),):
        raise ValueError(
            f"codes must be [N, {spec['latent_dim']}] with labels [N], "
            f"not {z_mean.shape} and {labels.shape}"
        )
    xy = z_mean[:, :2]
    args = {
        "decoder_url": DECODER,
        "points_url": POINTS,
        "class_names": list(class_names),
        "palette": list(palette),
        "z_init": [0.0] * spec["latent_dim"],
        "reset": 0,
        "extent": latent_plane.plane_extent(xy),
        "manifold_range": None,  # the Manifold page's grid: no such page in the file
        "height": None,  # offline_host.js fits the plane to the window
        "present": False,
        "server_image": None,
    }
    data = {
        "entry": ENTRY,
        "modules": bundle_modules(),
        "args": args,
        DECODER: {"spec": spec, "weights": _b64(weights)},
        POINTS: {
            "xy": _b64(np.ascontiguousarray(xy, dtype="<f4").tobytes()),
            "labels": _b64(np.ascontiguousarray(labels, dtype=np.uint8).tobytes()),
        },
    }
    return _page(ckpt, len(xy), data).encode()


def write_html(
    ckpt: Any,
    z_mean: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    out: str | Path,
) -> int:
    """Build the page and write it to ``out`` atomically; its size in bytes."""
    page = build_html(ckpt, z_mean, labels, class_names)
    write_bytes_atomic(out, page)
    return len(page)


def export_checkpoint(
    checkpoint_dir: str | Path,
    out: str | Path,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> int:
    """Load a checkpoint and its test set, encode it, and write the page; its size in bytes.

    The decoder is checked before the test set is loaded or encoded, so a model that
    cannot be exported is refused at once.
    """
    from vae import checkpoint, evaluate
    from vae.data import load_dataset, to_model_input

    say = progress or (lambda message: None)
    say(f"loading {checkpoint_dir}…")
    ckpt = checkpoint.load_checkpoint(checkpoint_dir)
    page_decoder(ckpt)
    ds = load_dataset(ckpt.config.dataset, data_dir=data_dir)
    say(f"encoding the {len(ds.x_test):,} test images of {ds.name}…")
    z_mean, _ = evaluate.encode(ckpt.model, to_model_input(ds.x_test, ckpt.config.decoder))
    say("packing the page…")
    return write_html(ckpt, z_mean, ds.y_test, ds.class_names, out)


def page_decoder(ckpt: Any) -> tuple[dict[str, Any], bytes]:
    """(spec, weights) of ``ckpt``'s decoder for the page: a few milliseconds.

    Raises UnsupportedArchitectureError, naming the layer, if it cannot run in a browser.
    """
    try:
        return export.export_decoder(ckpt.model.decoder)
    except UnsupportedArchitectureError as exc:
        raise UnsupportedArchitectureError(
            f"{ckpt.path.name} cannot be exported as an HTML file: {exc} Its drag pad "
            "decodes on the server instead: use the app."
        ) from None


def size_line(out: str | Path, size: int) -> str:
    """One line for the user: where the file is, how big, and what to do with it."""
    mb = f"{size / 1e6:.2f} MB"
    if size > MAIL_BYTES:
        mb += f", over the {MAIL_BYTES / 1e6:g} MB many mail servers accept"
    return (
        f"wrote {out} ({mb}): open it in any browser, offline; mail it to a class or put "
        "it on any static web host."
    )


# --- the modules -------------------------------------------------------------------------
def bundle_modules(frontend: Path = FRONTEND) -> list[list[str]]:
    """[[file name, source], ...] of the pad's modules, each after the ones it imports.

    Starts at ENTRY, with STAND_INS in place of the modules they replace. Raises
    RuntimeError if a module imports in a way offline_boot.js cannot link, or a stand-in
    lacks a name that a module imports from the module it replaces.
    """
    ordered: list[list[str]] = []
    done: set[str] = set()
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise RuntimeError(f"the pad's modules import in a cycle: {' -> '.join(visiting)}")
        visiting.append(name)
        source = (frontend / name).read_text(encoding="utf-8")
        if _OTHER_IMPORT.search(source):
            raise RuntimeError(f"{name} imports dynamically or for effect only; name imports")
        for spec in _FROM.findall(source):
            m = _SPECIFIER.fullmatch(spec)
            if not m:
                raise RuntimeError(f"{name} imports {spec!r}; the file links './name.js' only")
        _check_stand_ins(name, source, frontend)
        source = _FROM.sub(_swap_stand_in, source)
        for dep in _FROM.findall(source):
            visit(dep[2:])
        visiting.pop()
        done.add(name)
        ordered.append([name, source])

    visit(ENTRY)
    return ordered


def _swap_stand_in(m: re.Match) -> str:
    target = m.group(1)[2:]
    return f'from "./{STAND_INS.get(target, target)}"'


def _check_stand_ins(name: str, source: str, frontend: Path) -> None:
    for names, target in _IMPORT_NAMES.findall(source):
        stand_in = STAND_INS.get(target)
        if stand_in is None:
            continue
        offered = set(_EXPORT_NAMES.findall((frontend / stand_in).read_text(encoding="utf-8")))
        for wanted in (n.split(" as ")[0].strip() for n in names.split(",")):
            if wanted and wanted not in offered:
                raise RuntimeError(
                    f"{name} imports {wanted} from {target}, and its stand-in {stand_in} "
                    "has no such export: add it there."
                )


# --- internals ---------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _script_json(obj: Any) -> str:
    """JSON that cannot end its <script> early: <, > and & as \\u escapes."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fmt(value: Any, digits: int = 2) -> str | None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return f"{value:.{digits}f}".replace("-", "\u2212")


def _figures(ckpt: Any, n_points: int) -> str:
    """The model card: what was trained, on what, and its test figures (metrics.json)."""
    c, m = ckpt.config, ckpt.metrics
    what = (
        f"{c.dataset.upper()} · latent dimension J = {c.latent_dim} · {c.decoder} decoder · "
        f"{c.estimator.upper()} · {ckpt.epoch} epochs"
    )
    rows = []
    for key, label, unit in (
        ("neg_elbo", "−ELBO", " nats"),
        ("recon", "reconstruction", " nats"),
        ("kl", "KL(q(z|x) ‖ p(z))", " nats"),
        ("log_px", "log p(x)", ""),
        ("iw_log_px", "importance-weighted log p(x)", ""),
    ):
        value = _fmt(m.get(key))
        if value is None:
            continue
        if key == "log_px" and _fmt(m.get("log_px_error")) is not None:
            value += f" ± {m['log_px_error']:.2g}"
        rows.append(f"<li>{html.escape(label)} <b>{value}</b>{unit}</li>")
    if rows:
        n = m.get("n_images")
        on = f" on {n:,} test images" if isinstance(n, int) else ""
        figures = f"<div>Test figures{on}, per image:</div><ul>{''.join(rows)}</ul>"
    else:
        figures = "<div>This model has no metrics.json: its test figures were not measured.</div>"
    dots = f"<div>Dots: the {n_points:,} test images at the mean of their code, by class.</div>"
    return f'<section id="about"><div>{html.escape(what)}</div>{figures}{dots}</section>'


_STYLE = """
<style>
  html, body { overflow: auto; background: var(--bg); }
  body > header { padding: 10px 14px 12px; }
  body > header h1 { margin: 0; font-size: 24px; font-weight: 600; line-height: 1.25; }
  body > header p { margin: 3px 0 0; font-size: 16px; line-height: 1.35; color: var(--muted); }
  #pad { justify-content: center; padding-bottom: 12px; }
  #pad.stacked #side, #pad.stacked #foot { box-sizing: border-box; padding: 0 10px; }
  /* The pad's own hint speaks of the app's server; the header says how to use this file. */
  #hint { display: none; }
  #about { font-size: 14px; line-height: 1.4; color: var(--muted); }
  #about b { color: var(--text); font-weight: 600; }
  #about ul { margin: 2px 0 4px; padding-left: 18px; }
  @media (max-width: 600px) {
    body > header h1 { font-size: 20px; }
    body > header p { font-size: 15px; }
  }
</style>
"""

_INSTRUCTIONS = (
    "Drag the marker, or tap or click anywhere on the plane: the image shows what the "
    "decoder makes of that point. Everything runs in this page, offline."
)


def _page(ckpt: Any, n_points: int, data: dict[str, Any]) -> str:
    page = (FRONTEND / PAGE).read_text(encoding="utf-8")
    boot = (FRONTEND / BOOT).read_text(encoding="utf-8")
    name = html.escape(ckpt.path.name)
    head = (
        '<meta name="viewport" content="width=device-width, initial-scale=1" />'
        f"<title>{name}: a VAE's latent plane</title>"
    )
    header = (
        f"<header><h1>{name}: drag through a VAE's latent plane</h1>"
        f"<p>{html.escape(_INSTRUCTIONS)}</p></header>"
    )
    scripts = (
        _figures(ckpt, n_points)
        + f'<script type="application/json" id="{DATA_ID}">{_script_json(data)}</script>'
        + f"<script>\n{boot}</script>"
    )
    if "</script" in boot.lower():
        raise RuntimeError(f"{BOOT} holds '</script', which would end its inline script")
    for anchor, text in (
        ("<head>", "<head>" + head),
        ("</head>", _STYLE + "</head>"),
        ("<body>", "<body>" + header),
    ):
        if page.count(anchor) != 1:
            raise RuntimeError(f"{PAGE} must hold {anchor} exactly once to be exported")
        page = page.replace(anchor, text)
    page, n = _PAD_SCRIPT.subn(lambda _: scripts, page)
    if n != 1:
        raise RuntimeError(f'{PAGE} must load {ENTRY} with one <script type="module" src=...>')
    return page
