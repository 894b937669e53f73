"""Encode latency: one 28x28 image through the exported encoder in headless Chromium.

The shipped model's encoder is exported (``vae.export``) and run by
``components/drag_pad/frontend/network.js``, imported as a module into a blank page of
Debian's headless Chromium. Inside the page, ``--warmup`` encodes (the JIT's compile)
come first, then ``--encodes`` timed ones (at least 200), each of one image, cycling
through real MNIST test digits prepared as the model sees them (``to_model_input``),
or the model's own binarized samples when MNIST is not installed.

``browser_p50_ms`` / ``browser_p95_ms`` come from ``performance.now()`` around each
``encode()`` call; ``timer_resolution_ms`` is the smallest step that clock showed,
since Chromium coarsens it in pages that are not cross-origin isolated;
``browser_mean_ms`` (the whole timed loop over ``--encodes``) is finer. In the same run,
``python_p50_ms`` / ``python_p95_ms`` time ``VAE.encode_fn`` on one image (after its
trace), and ``python_over_browser`` is the ratio of the medians. ``others_cpu_share``
says how much of the machine other processes took meanwhile.

    .venv/bin/python bench/encode_latency.py [--encodes 300] [--warmup 50]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from browser import chrome  # noqa: E402
from machine import cpu_share_or_none, machine, start_cpu_share  # noqa: E402

from vae import checkpoint, export  # noqa: E402
from vae.data import load_dataset, to_model_input  # noqa: E402
from vae.errors import DataNotFoundError  # noqa: E402

NETWORK_JS = ROOT / "components" / "drag_pad" / "frontend" / "network.js"
MIN_ENCODES = 200

IMPORT_MODULE = """
const done = arguments[arguments.length - 1];
const url = URL.createObjectURL(new Blob([arguments[0]], {type: "text/javascript"}));
import(url).then((m) => { window.VAENetwork = m; done("loaded"); }, (e) => done(String(e)));
"""

TIME_ENCODES = """
const [spec, b64, images, warmup, n] = arguments;
const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const enc = VAENetwork.fromSpec(spec, bytes.buffer);
const xs = images.map((x) => Float32Array.from(x));
for (let i = 0; i < warmup; i++) enc.encode(xs[i % xs.length]);
const ms = [];
const start = performance.now();
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  enc.encode(xs[i % xs.length]);
  ms.push(performance.now() - t0);
}
const total = performance.now() - start;
let step = Infinity;
for (let i = 0, last = performance.now(); i < 200000 && step === Infinity; i++) {
  const t = performance.now();
  if (t > last) step = t - last;
  last = t;
}
return { ms: ms, total: total, step: step };
"""


def _images(model, n: int) -> tuple[np.ndarray, str]:
    try:
        ds = load_dataset("mnist")
        return to_model_input(ds.x_test[:n], model.config.decoder), "mnist test"
    except DataNotFoundError:
        sampled = model.sample(n, seed=0)
        return (sampled > 0.5).astype(np.float32), "model samples, binarized"


def _percentiles(ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(ms, n=20, method="inclusive")
    return statistics.median(ms), cuts[18]


def _python_encode_ms(model, images: np.ndarray, warmup: int, n: int) -> list[float]:
    xs = [tf.constant(images[i : i + 1]) for i in range(len(images))]
    for i in range(warmup):
        model.encode_fn(xs[i % len(xs)])[0].numpy()
    ms = []
    for i in range(n):
        t0 = time.perf_counter()
        model.encode_fn(xs[i % len(xs)])[0].numpy()
        ms.append(1000 * (time.perf_counter() - t0))
    return ms


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "mnist-2d")
    p.add_argument("--encodes", type=int, default=300, help=f"timed encodes (>= {MIN_ENCODES})")
    p.add_argument("--warmup", type=int, default=50)
    args = p.parse_args()
    if args.encodes < MIN_ENCODES:
        p.error(f"--encodes must be at least {MIN_ENCODES}")

    model = checkpoint.load_checkpoint(args.checkpoint).model
    spec, blob = export.export_model(model)["encoder"]
    images, source = _images(model, 100)
    share = start_cpu_share()

    driver = chrome(800, 600)
    try:
        driver.get("data:text/html,<!doctype html><title>encode latency</title>")
        loaded = driver.execute_async_script(IMPORT_MODULE, NETWORK_JS.read_text())
        if loaded != "loaded":
            raise RuntimeError(f"network.js did not load: {loaded}")
        out = driver.execute_script(
            TIME_ENCODES,
            spec,
            base64.b64encode(blob).decode(),
            images.reshape(len(images), -1).tolist(),
            args.warmup,
            args.encodes,
        )
    finally:
        driver.quit()

    py_ms = _python_encode_ms(model, images, args.warmup, args.encodes)
    b50, b95 = _percentiles(out["ms"])
    p50, p95 = _percentiles(py_ms)
    print(
        json.dumps(
            {
                "bench": "encode_latency",
                "checkpoint": str(args.checkpoint),
                "images": source,
                "encodes": args.encodes,
                "warmup": args.warmup,
                "browser_p50_ms": round(b50, 3),
                "browser_p95_ms": round(b95, 3),
                "browser_mean_ms": round(out["total"] / args.encodes, 3),
                "timer_resolution_ms": round(out["step"], 4),
                "python_p50_ms": round(p50, 3),
                "python_p95_ms": round(p95, 3),
                "python_over_browser": round(p50 / b50, 1) if b50 > 0 else None,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                **cpu_share_or_none(share),
                **machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
