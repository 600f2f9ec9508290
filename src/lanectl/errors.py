"""The one user-facing exception type and the exit codes of SPEC §4."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130


class LaneError(Exception):
    """An error a user can act on: printed as one line, never as a traceback.

    ``where`` is ``file`` or ``file:line`` when the problem is in a file.
    """

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class Refused(LaneError):
    """The gate or the policy said no (exit 3)."""

    exit_code = EXIT_REFUSED


class GitError(LaneError):
    """A git command failed."""
