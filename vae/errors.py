"""Specific exceptions for the engine.

Every message says what went wrong and what the user can do next; the app
shows them with ``st.error`` and the CLI prints them on one line.
"""

from __future__ import annotations


class VAEError(Exception):
    """Base class for every error the engine raises on purpose."""


class ConfigError(VAEError, ValueError):
    """A setting is out of range or of the wrong type."""


class DataNotFoundError(VAEError, FileNotFoundError):
    """No source could provide the requested data set."""


class DataFormatError(VAEError, ValueError):
    """A data file exists but is not what it claims to be."""


class CheckpointError(VAEError):
    """Base class for checkpoint problems."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint folder or one of its required files is missing."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file is truncated, malformed or not ours."""


class CheckpointMismatchError(CheckpointError):
    """The weights do not fit the architecture the config describes."""


class NonFiniteWeightsError(CheckpointError):
    """The weights contain NaN or Inf."""


class UnsafeFileError(CheckpointError):
    """A file would need code execution or pickle to load; it is refused."""


class NonFiniteLossError(VAEError, ArithmeticError):
    """Training produced NaN or Inf; the last good checkpoint is kept."""


class UnsupportedArchitectureError(VAEError):
    """The decoder has a layer the browser's decoder cannot run; decode on the server."""
