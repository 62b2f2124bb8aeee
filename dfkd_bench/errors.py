"""Errors the CLI turns into a one-line message and exit code 2, and the other exit codes it uses."""

import difflib
from collections.abc import Iterable

EXIT_BAD_INPUT = 2
EXIT_HELD = 75
"""`run-one --index` exits with this code when another live worker holds the cell (EX_TEMPFAIL): the launcher
that started it moves on instead of counting a failure."""


class BadInput(ValueError):
    """The user asked for something that does not exist or cannot be used."""


def unknown(kind: str, name: str, valid: Iterable[str]) -> BadInput:
    """An error naming the unknown value, the closest valid ones (a typo such as 'ssdk' or 'tabel2') and every
    valid choice."""
    choices = sorted(valid)
    close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return BadInput(f"unknown {kind} '{name}'{hint}; valid choices: {', '.join(choices)}")


def os_failure(err: OSError, doing: str, path: object) -> BadInput:
    """A one-line error from a file-system failure: what was being done, to which path, and the system's reason
    (e.g. 'cannot write x/grid.json: No space left on device'), instead of a traceback."""
    return BadInput(f"cannot {doing} {path}: {err.strerror or err}")
