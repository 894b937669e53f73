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
