"""vae.export_html: one HTML file of the drag pad that needs no server, no CDN, no network.

The quick tests build the page for a tiny model; the integration test exports the
shipped model with the CLI; the browser test opens that file from file:// with the
network off, drags the marker with a mouse and a finger, and compares the image with
the Keras decoder's.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from browser import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM, ROOT, until
from helpers import perturb_weights, tiny_config

from vae import export, export_html
from vae.cli import main as cli_main
from vae.errors import UnsupportedArchitectureError
from vae.model import build_vae
from vae.palette import CLASS_PALETTE

SHIPPED = ROOT / "checkpoints" / "mnist-2d"
TARGET = (1.8, 0.6)  # where the mouse drag ends: away from the origin, among the 2s
TOUCH_TARGET = (-1.5, -1.0)  # where the finger lifts: among the 1s
MOVES, EVERY = 60, 15  # the drag's pointer moves; it waits for every EVERY-th to be drawn


# --- reading a page ---------------------------------------------------------------------
class _Page(HTMLParser):
    """Every tag with its attributes, and the text of every <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def _parse(page: bytes) -> _Page:
    parsed = _Page()
    parsed.feed(page.decode("utf-8"))
    return parsed


def _data_block(parsed: _Page) -> dict:
    blocks = [t for a, t in parsed.scripts if a.get("id") == export_html.DATA_ID]
    assert len(blocks) == 1
    return json.loads(blocks[0])


def _tiny_checkpoint(latent_dim: int = 2, metrics: dict | None = None):
    model = build_vae(tiny_config(latent_dim=latent_dim))
    perturb_weights(model, seed=3)
    return SimpleNamespace(
        path=Path("tiny-run"), config=model.config, model=model, metrics=metrics or {}, epoch=4
    )


def _codes(n: int = 50, j: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, j)).astype(np.float32), rng.integers(0, 10, n)


NAMES = tuple(str(i) for i in range(10))


# --- the page, for a tiny model ---------------------------------------------------------
def test_the_page_holds_the_decoder_the_points_and_the_figures_and_refers_to_nothing_outside():
    ckpt = _tiny_checkpoint(
        metrics={"neg_elbo": 101.234, "kl": 5.5, "recon": 95.7, "log_px": -99.1, "n_images": 50}
    )
    z_mean, labels = _codes()
    page = export_html.build_html(ckpt, z_mean, labels, NAMES)
    parsed = _parse(page)

    # Nothing to fetch: no URL of any server, no attribute naming another file.
    assert not re.search(rb"\b(https?|wss?|ftp)://", page, re.I)
    assert not re.search(rb"//[\w.-]+\.\w+/", page), "a protocol-relative URL"
    for tag, attrs in parsed.tags:
        for attr in ("src", "href", "srcset", "action", "data", "poster"):
            assert attrs.get(attr) is None, f"<{tag} {attr}=...> refers to another file"
        assert tag not in ("link", "iframe", "img", "object", "embed", "base")
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in (
        parsed.tags
    )

    data = _data_block(parsed)
    # The decoder exactly as vae/export.py exports it.
    spec, weights = export.export_decoder(ckpt.model.decoder)
    assert data["decoder"]["spec"] == spec
    assert base64.b64decode(data["decoder"]["weights"]) == weights
    # The points: float32 xy of the codes' first two coordinates, uint8 labels.
    xy = np.frombuffer(base64.b64decode(data["points"]["xy"]), "<f4").reshape(-1, 2)
    np.testing.assert_array_equal(xy, z_mean[:, :2])
    got_labels = np.frombuffer(base64.b64decode(data["points"]["labels"]), np.uint8)
    np.testing.assert_array_equal(got_labels, labels)
    args = data["args"]
    assert args["palette"] == list(CLASS_PALETTE) and args["class_names"] == list(NAMES)
    assert args["decoder_url"] == "decoder" and args["points_url"] == "points"
    assert args["z_init"] == [0.0, 0.0]

    # The model's name, its figures and the instructions are on the page.
    text = page.decode()
    assert "<h1>tiny-run: drag through" in text and "Drag the marker" in text
    assert "<b>101.23</b>" in text and "<b>−99.10</b>" in text and "on 50 test images" in text


def test_the_modules_come_each_after_what_it_imports_with_the_server_parts_stood_in_for():
    modules = export_html.bundle_modules()
    names = [name for name, _ in modules]
    assert names[-1] == export_html.ENTRY and len(set(names)) == len(names)
    assert "protocol.js" not in names and "loading.js" not in names
    assert {"offline_host.js", "offline_loading.js", "network.js"} <= set(names)
    for i, (name, source) in enumerate(modules):
        for dep in re.findall(r'\bfrom\s*"\./([\w.-]+\.js)"', source):
            assert dep in names[:i], f"{name} imports {dep}, which does not come before it"


def test_a_stand_in_without_a_name_the_pad_imports_is_refused(tmp_path):
    frontend = tmp_path / "frontend"
    shutil.copytree(
        export_html.FRONTEND, frontend, ignore=shutil.ignore_patterns("models", "points")
    )
    host = frontend / "offline_host.js"
    host.write_text(host.read_text().replace("export function start(", "function start("))
    with pytest.raises(RuntimeError, match="imports start from protocol.js.*offline_host.js"):
        export_html.bundle_modules(frontend)


def test_a_model_the_browser_cannot_run_is_refused_by_name_and_nothing_is_written(tmp_path):
    L = keras.layers
    decoder = keras.Sequential(
        [keras.Input((2,)), L.Dense(16, activation="tanh", name="squash"), L.Reshape((4, 4, 1))],
        name="decoder",
    )
    ckpt = SimpleNamespace(path=Path("odd-run"), model=SimpleNamespace(decoder=decoder))
    out = tmp_path / "odd.html"
    z_mean, labels = _codes()
    with pytest.raises(UnsupportedArchitectureError, match="odd-run cannot be exported.*'tanh'"):
        export_html.write_html(ckpt, z_mean, labels, NAMES, out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_codes_that_do_not_fit_the_decoder_are_refused():
    ckpt = _tiny_checkpoint(latent_dim=3)
    z_mean, labels = _codes(j=2)
    with pytest.raises(ValueError, match=r"codes must be \[N, 3\]"):
        export_html.build_html(ckpt, z_mean, labels, NAMES)


def test_the_size_line_says_where_how_big_and_warns_above_what_mail_takes():
    assert export_html.size_line("a.html", 410_650).startswith("wrote a.html (0.41 MB): open it")
    big = export_html.size_line("b.html", export_html.MAIL_BYTES + 1)
    assert "over the 3 MB" in big


# --- the shipped model, through the CLI -------------------------------------------------
@pytest.fixture(scope="module")
def shipped_export(tmp_path_factory):
    """(path, stdout, stderr) of ``python -m vae export-html`` on the shipped model."""
    out = tmp_path_factory.mktemp("export") / "mnist-2d.html"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli_main(["export-html", str(SHIPPED), "--out", str(out)])
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


@pytest.mark.integration
def test_cli_exports_the_shipped_model_under_3_mb_and_says_so_in_one_line(shipped_export):
    out, stdout, stderr = shipped_export
    size = out.stat().st_size
    assert size < export_html.MAIL_BYTES
    assert stdout.splitlines() == [export_html.size_line(out, size)]
    assert f"({size / 1e6:.2f} MB)" in stdout
    assert "encoding the 10,000 test images" in stderr
    assert not list(out.parent.glob("*.tmp-*"))  # written atomically: no leftovers
    data = _data_block(_parse(out.read_bytes()))
    assert len(base64.b64decode(data["points"]["labels"])) == 10_000


def test_cli_refuses_a_missing_checkpoint_in_one_line(tmp_path, capsys):
    out = tmp_path / "x.html"
    code = cli_main(["export-html", str(tmp_path / "nowhere"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error:") and "nowhere" in err[0]
    assert not out.exists()


# --- the file in a real browser, offline ------------------------------------------------
@pytest.fixture(scope="module")
def offline_driver():
    """A headless Chromium that logs every network event, with the network switched off."""
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1280,720")
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-profile-')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
    )
    yield d
    d.quit()


def _state(driver) -> dict | None:
    return driver.execute_script(
        "const s = window.padState;"
        "return s && Object.assign({}, s, {probs: s.probs ? Array.from(s.probs) : null});"
    )


def _shows(driver, z, atol: float = 0.02) -> dict | None:
    s = _state(driver)
    return s if s and s["z"] and np.allclose(s["z"], z, atol=atol) else None


def _drawn_pixels(driver) -> np.ndarray:
    """The grey levels the page drew on the image canvas, [H * W]."""
    rgba = driver.execute_script(
        "const c = document.getElementById('image');"
        "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);"
    )
    return np.asarray(rgba, np.float64).reshape(-1, 4)[:, 0]


def _network_requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.mark.browser
def test_the_file_works_offline_from_disk_and_draws_what_keras_decodes(
    shipped_export, offline_driver
):
    from vae import checkpoint, evaluate

    driver = offline_driver
    out, _, _ = shipped_export
    driver.get_log("performance")  # start the record here
    driver.get(out.as_uri())
    start = until(
        lambda: (s := _state(driver)) and s["ready"] and s["probs"] and s,
        what="the exported page to decode its first image",
    )
    assert start["mode"] == "browser" and start["error"] is None and start["z"] == [0, 0]
    assert driver.execute_script("return navigator.onLine") is False  # the network was off

    # A mouse drag from the marker to TARGET, waiting for the page to draw on the way.
    def to_px(z1, z2):
        p = driver.execute_script("return window.padPoint(arguments[0], arguments[1])", z1, z2)
        return p["x"], p["y"]

    def mouse(kind, z, pressed):
        x, y = to_px(*z)
        driver.execute_cdp_cmd(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": x, "y": y, "button": "left" if pressed or kind ==
             "mouseReleased" else "none", "buttons": 1 if pressed else 0,
             "clickCount": 1 if kind in ("mousePressed", "mouseReleased") else 0},
        )  # fmt: skip

    mouse("mouseMoved", (0.0, 0.0), pressed=False)
    mouse("mousePressed", (0.0, 0.0), pressed=True)
    for i, t in enumerate(np.linspace(0, 1, MOVES + 1)[1:], 1):
        z = (TARGET[0] * t, TARGET[1] * t)
        mouse("mouseMoved", z, pressed=True)
        if i % EVERY == 0:
            until(lambda z=z: _shows(driver, z), what=f"the image at move {i} of the drag")
    mouse("mouseReleased", TARGET, pressed=False)
    end = until(lambda: _shows(driver, TARGET), what="the image at the end of the drag")
    assert end["marker"] == end["z"] and not end["hovering"]
    probs = np.asarray(end["probs"], np.float64)
    assert np.abs(probs - np.asarray(start["probs"])).max() > 0.2, "the image did not change"

    # What the page shows is what the Keras decoder computes at that z.
    model = checkpoint.load_checkpoint(SHIPPED).model
    want = evaluate.decode(model, np.asarray([end["z"]], np.float32))[0].ravel()
    assert np.abs(probs - want).max() <= 1e-4
    # And the canvas holds those values as grey levels, each within one of 255 * p.
    assert np.abs(_drawn_pixels(driver) - 255 * want).max() <= 1 + 255 * 1e-4

    # A finger: press on the marker, drag it to TOUCH_TARGET, lift.
    def touch(kind, z):
        points = [] if kind == "touchEnd" else [dict(zip("xy", to_px(*z), strict=True))]
        driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", end["z"])
    for t in np.linspace(0, 1, 11)[1:]:
        touch("touchMove", (end["z"][0] + (TOUCH_TARGET[0] - end["z"][0]) * t,
                            end["z"][1] + (TOUCH_TARGET[1] - end["z"][1]) * t))  # fmt: skip
    touch("touchEnd", TOUCH_TARGET)
    touched = until(lambda: _shows(driver, TOUCH_TARGET), what="the image where the finger lifted")
    want = evaluate.decode(model, np.asarray([touched["z"]], np.float32))[0].ravel()
    assert np.abs(np.asarray(touched["probs"]) - want).max() <= 1e-4

    # No request left the page: only the file itself and the modules it made in memory.
    requests = _network_requests(driver)
    assert out.as_uri() in requests
    assert all(u == out.as_uri() or u.startswith("blob:") for u in requests), requests
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert all(u.startswith("blob:") for u in resources), resources


# --- the Model page's download button ---------------------------------------------------
@pytest.fixture
def deferred(monkeypatch):
    """Every callable a download button hands Streamlit to run on a click, in order."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    calls: list = []
    original = MediaFileManager.add_deferred

    def record(manager, data_callable, *args, **kwargs):
        calls.append(data_callable)
        return original(manager, data_callable, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return calls


def test_the_model_page_offers_the_file_and_a_click_makes_the_page_of_the_active_model(
    tmp_path, deferred
):
    from app_pages import copy_default, open_page

    from ui import export_button

    at = open_page("model", copy_default(tmp_path))
    (button,) = at.get("download_button")
    assert button.label == export_button.LABEL and not button.proto.disabled
    assert button.proto.deferred_file_id, "the file is made on the click, not on every visit"
    assert any("works offline" in c.value for c in at.caption)

    page = deferred[-1]()  # what a click runs
    assert len(page) < export_html.MAIL_BYTES
    data = _data_block(_parse(page))
    assert data["decoder"]["spec"]["latent_dim"] == 2
    assert len(base64.b64decode(data["points"]["labels"])) == 10_000
    assert b"<h1>mnist-2d: drag through" in page


def test_the_model_page_says_why_a_model_cannot_be_exported(tmp_path, deferred):
    from app_pages import open_page

    from vae.checkpoint import save_checkpoint
    from vae.config import VAEConfig

    # bfloat16 layers would not match Keras to 1e-4 in JavaScript: the exporter refuses them.
    model = build_vae(VAEConfig(precision="mixed_bfloat16", seed=1))
    try:
        save_checkpoint(tmp_path / "bf16", model, epoch=0, include_optimizer=False)
    finally:
        keras.config.set_dtype_policy("float32")
    at = open_page("model", tmp_path / "bf16")
    assert not at.get("download_button") and not deferred
    (info,) = [i for i in at.info if i.value.startswith("No offline file")]
    assert "bf16 cannot be exported" in info.value and "bfloat16" in info.value
