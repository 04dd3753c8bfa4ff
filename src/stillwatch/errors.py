"""One base exception: every error a user can cause says what, where, and what to do."""

from __future__ import annotations


class StillwatchError(Exception):
    """Base of every error stillwatch raises on purpose. The CLI prints it on one line, exit 2."""

    exit_code = 2


class UsageError(StillwatchError):
    """A flag, setting or argument that cannot be used as given."""


class InputError(StillwatchError):
    """A file that cannot be read as the table its name or ``--format`` says."""

    def __init__(self, path: str, problem: str, expected: str = "") -> None:
        self.path = path
        self.problem = problem
        self.expected = expected
        msg = f"{path}: {problem}"
        if expected:
            msg += f" (expected {expected})"
        super().__init__(msg)


class StoreError(StillwatchError):
    """The store file cannot be opened or is not a stillwatch store."""
