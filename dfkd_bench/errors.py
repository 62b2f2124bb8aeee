"""Errors the CLI turns into a one-line message and exit code 2, and the other exit codes it uses."""

from collections.abc import Iterable

EXIT_BAD_INPUT = 2
EXIT_HELD = 75
"""`run-one --index` exits with this code when another live worker holds the cell (EX_TEMPFAIL): the launcher
that started it moves on instead of counting a failure."""


class BadInput(ValueError):
    """The user asked for something that does not exist or cannot be used."""


def unknown(kind: str, name: str, valid: Iterable[str]) -> BadInput:
    """An error naming the unknown value and every valid choice."""
    choices = ", ".join(sorted(valid))
    return BadInput(f"unknown {kind} '{name}'; valid choices: {choices}")


def os_failure(err: OSError, doing: str, path: object) -> BadInput:
    """A one-line error from a file-system failure: what was being done, to which path, and the system's reason
    (e.g. 'cannot write x/grid.json: No space left on device'), instead of a traceback."""
    return BadInput(f"cannot {doing} {path}: {err.strerror or err}")
