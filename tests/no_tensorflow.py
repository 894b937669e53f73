"""The opening of a child script in which importing TensorFlow or Keras raises.

A page test runs a script that starts with ``BLOCK`` in a fresh interpreter to prove
the page draws without TensorFlow; ``tried`` lists every attempt to import it.
"""

BLOCK = r"""
import importlib.abc, json, sys

tried = []

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            tried.append(name)
            raise ImportError(f"{name} is not to be imported here")
        return None

sys.meta_path.insert(0, NoTensorFlow())
"""


def run(script: str, *args: str) -> dict:
    """Run ``script`` (BLOCK + a page's AppTest) in a fresh interpreter with ``args``;
    the JSON object it printed last. Fails with the child's stderr if it failed."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from deadline import DEADLINE_S

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=DEADLINE_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
