"""Seconds as people read them, one rule for the terminal and the reports: seconds below 2 minutes, minutes below
2 hours, hours above."""

from __future__ import annotations

import math


def time_unit(seconds: float | None) -> tuple[float, str]:
    """(divisor, unit) so the largest time of a table or axis reads naturally."""
    if not seconds or math.isnan(seconds) or seconds < 120:
        return 1.0, "s"
    if seconds < 7200:
        return 60.0, "min"
    return 3600.0, "h"


def format_duration(seconds: float | None) -> str:
    """'45 s', '12.5 min', '3.9 h'; '?' when unknown."""
    if seconds is None:
        return "?"
    divisor, unit = time_unit(seconds)
    return f"{seconds:.0f} s" if unit == "s" else f"{seconds / divisor:.1f} {unit}"
