"""What a user can fix, apart from the bugs: only these end a command with one line and no traceback.

Every message says what to do. Anything else (a bug, including a bare ``ValueError`` from deep inside a library)
keeps its traceback, so it can be reported and fixed.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix (a setting, a name, a file, the state of a run): printed as one line."""


class ConfigError(UserError, ValueError):
    """A name or setting that does not exist or does not fit (an unknown network, a batch BN cannot split)."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the command needs is not there."""


class RecordError(UserError, ValueError):
    """A run's record (``run.json``, ``metrics.csv``, ...) exists but cannot be read."""
