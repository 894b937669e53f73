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


def page_script(page: str, report: str) -> str:
    """A child script that opens ``pages/<page>.py`` with the checkpoint ``argv[2]``
    active (app at ``argv[1]``, deadline ``argv[3]``) where TensorFlow cannot be imported
    and no model can be built, then runs ``report``, which prints what it saw as JSON."""
    return (
        BLOCK
        + rf"""
from streamlit.testing.v1 import AppTest
from ui import state
from vae import checkpoint

state.warm_up = lambda path=None: None

def no_model(*args, **kwargs):
    raise AssertionError("the model was built for pages/{page}.py")

checkpoint.load_checkpoint = no_model

at = AppTest.from_file(sys.argv[1] + "/app.py", default_timeout=float(sys.argv[3]))
at.session_state["active_checkpoint"] = sys.argv[2]
at.switch_page("pages/{page}.py")
at.run()
"""
        + report
    )


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
