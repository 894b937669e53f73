"""Server time of ordinary interactions, page by page (target: <= 300 ms each).

Each interaction is a widget change followed by the rerun Streamlit does for it,
timed around ``AppTest.run()`` in this process: that is the script's whole server
time plus AppTest's own small overhead, so the figures are upper bounds. Every
interaction is first done once to warm the caches ("cold" is reported too, for
settings never seen before), then repeated; the median of the repeats is the figure.

    .venv/bin/python bench/interactions.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception}")
    return at


def timed(at: AppTest, change: Callable[[AppTest], object]) -> float:
    change(at)
    start = time.perf_counter()
    at.run()
    took = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(str(at.exception))
    return took * 1000.0


def by_label(elements, label: str):
    return next(e for e in elements if e.label == label)


# (page, interaction, two settings to alternate between)
INTERACTIONS: list[tuple[str, str, Callable[[AppTest, int], object]]] = [
    ("latent_map", "toggle the prior contours",
     lambda at, i: by_label(at.toggle, "Prior 1σ, 2σ, 3σ").set_value(i % 2 == 0)),
    ("latent_map", "toggle the aggregate posterior",
     lambda at, i: by_label(at.toggle, "Aggregate posterior").set_value(i % 2 == 0)),
    ("latent_map", "select a test image",
     lambda at, i: by_label(at.number_input, "Select test image #").set_value(17 + i % 2)),
    ("manifold", "change the grid size",
     lambda at, i: by_label(at.slider, "Grid size (n × n)").set_value(15 if i % 2 == 0 else 20)),
    ("samples", "change the seed",
     lambda at, i: by_label(at.number_input, "Seed").set_value(1 + i % 2)),
    ("model", "rerun the page", lambda at, i: None),
]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    pages: dict[str, AppTest] = {}
    results = []
    for page, what, change in INTERACTIONS:
        at = pages.get(page) or pages.setdefault(page, open_page(page))
        cold = timed(at, lambda a, c=change: c(a, 0))
        timed(at, lambda a, c=change: c(a, 1))  # both settings are now cached
        warm = [timed(at, lambda a, c=change, i=i: c(a, i)) for i in range(args.repeats)]
        row = {
            "page": page,
            "interaction": what,
            "cold_ms": round(cold),
            "median_ms": round(statistics.median(warm)),
            "max_ms": round(max(warm)),
        }
        results.append(row)
        print(
            f"{page:>11}  {what:<32} median {row['median_ms']:>4} ms  "
            f"max {row['max_ms']:>4} ms  first time {row['cold_ms']:>5} ms",
            file=sys.stderr,
        )
    worst = max(r["median_ms"] for r in results)
    print(json.dumps({"target_ms": 300, "worst_median_ms": worst, "interactions": results}))


if __name__ == "__main__":
    main()
