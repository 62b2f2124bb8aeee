"""Errors the CLI turns into a one-line message and exit code 2."""

from collections.abc import Iterable


class BadInput(ValueError):
    """The user asked for something that does not exist or cannot be used."""


def unknown(kind: str, name: str, valid: Iterable[str]) -> BadInput:
    """An error naming the unknown value and every valid choice."""
    choices = ", ".join(sorted(valid))
    return BadInput(f"unknown {kind} '{name}'; valid choices: {choices}")
