"""`run --dry-run`: every cell with its state and estimated time left, a per-method summary, and the
prerequisites (data files, teachers) the real run would stop at (prerequisites.py finds them), all before anything
is run or written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dfkd_bench.durations import format_duration
from dfkd_bench.engine.spec import ResolvedCell, RunOptions
from dfkd_bench.gridstate import CellState, cell_states, counts, estimate
from dfkd_bench.terminal import Column, FitTable, scale_of

CELL_COLUMNS = (
    Column("#", justify="right"),
    Column("dataset", context=True),
    Column("pair", context=True),
    Column("method"),
    Column("scale", justify="right"),
    Column("seed", justify="right"),
    Column("budget", context=True),
    Column("state"),
    Column("epochs", keep=1, justify="right"),
    Column("est. left", justify="right"),
)
METHOD_COLUMNS = (
    Column("method"),
    Column("cells", justify="right"),
    Column("done", justify="right"),
    Column("to run", justify="right"),
    Column("est. left", justify="right"),
)


def _total(states: list[CellState], short: bool = False) -> str:
    """The time left over `states`: 'nothing left' for a finished grid, '?' (or why, in a title) when nothing
    comparable has been measured yet."""
    left = [c.seconds_left for c in states if c.state != "done"]
    if not left:
        return "nothing left"
    known = [x for x in left if x is not None]
    if not known:
        return "?" if short else "unknown (nothing measured yet: add --calibrate)"
    unknown = f" (+{len(left) - len(known)} cells without an estimate)" if len(known) < len(left) else ""
    return f"{format_duration(sum(known))}{unknown}"


def dry_run_report(
    cells: list[ResolvedCell],
    opts: RunOptions,
    measure: Callable[[CellState], float] | None,
    prerequisites: list[str],
) -> list[Any]:
    """The cell table, the per-method summary and the prerequisite lines, in the order they are printed."""
    states = cell_states(cells, opts)
    estimate(states, opts, measure)
    summary = ", ".join(f"{n} {state}" for state, n in counts(states).items() if n)
    table = FitTable(f"{len(states)} cells: {summary}; estimated remaining {_total(states)}", CELL_COLUMNS)
    for cell in states:
        spec = cell.spec
        left = "" if cell.state == "done" else format_duration(cell.seconds_left)
        table.add_row(
            str(cell.index),
            spec.dataset,
            spec.pair,
            spec.method,
            scale_of(spec),
            str(spec.seed),
            spec.budget or "default",
            cell.state,
            f"{cell.epochs_done}/{cell.epochs}",
            left,
        )
    per_method = FitTable("per method", METHOD_COLUMNS)
    for method in dict.fromkeys(c.spec.method for c in states):
        mine = [c for c in states if c.spec.method == method]
        done = sum(c.state == "done" for c in mine)
        per_method.add_row(method, str(len(mine)), str(done), str(len(mine) - done), _total(mine, short=True))
    blocked = [f"  {line}" for line in prerequisites]
    verdict = ["prerequisites: all found"] if not blocked else ["prerequisites:", *blocked]
    return [table, per_method, "\n".join(verdict)]
