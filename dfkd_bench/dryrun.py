"""`run --dry-run`: every cell with its state and estimated time left, a per-method summary, and the
prerequisites (data files, teachers) the real run would stop at, found before anything is run or written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dfkd_bench.config import get_card
from dfkd_bench.data import DATASETS
from dfkd_bench.durations import format_duration
from dfkd_bench.engine.spec import ResolvedCell, RunOptions, RunSpec
from dfkd_bench.errors import BadInput
from dfkd_bench.gridstate import CellState, cell_states, counts, estimate
from dfkd_bench.pairs import split_pair
from dfkd_bench.recipes import DATASET_RECIPE
from dfkd_bench.teachers import TeacherStore
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


def missing_prerequisites(specs: list[RunSpec], opts: RunOptions, cheap_recipes: set[str]) -> list[str]:
    """One line per data set whose files are not found and per teacher that is neither stored nor trained on the
    fly (the MNIST family's recipe is cheap enough to train at the start of a run)."""
    lines = []
    root = Path(opts.data_root).expanduser() if opts.data_root else None
    for dataset in sorted({s.dataset for s in specs}):
        try:
            for split in ("train", "test"):
                DATASETS.get(dataset).locate(split, root, False)
        except BadInput as err:
            lines.append(f"missing data: {err}")
    store = TeacherStore(opts.teachers)
    distilling = [s for s in specs if get_card(s.method).method_class.uses_teacher]
    absent = [
        (dataset, model)
        for dataset, model in sorted({(s.dataset, split_pair(s.pair, s.dataset)[0]) for s in distilling})
        if not store.has(dataset, model)
    ]
    missing = [f"{d}/{m}" for d, m in absent if DATASET_RECIPE.get(d) not in cheap_recipes]
    trained = [f"{d}/{m}" for d, m in absent if DATASET_RECIPE.get(d) in cheap_recipes]
    if missing:
        lines.append(
            f"missing teachers in {store.root}: {', '.join(missing)}; get each with `dfkd-bench train --model M "
            "--dataset D --data-root DIR` or `dfkd-bench teacher import FILE --model M --dataset D`"
        )
    if trained:
        lines.append(f"teachers the run trains first (a cheap recipe): {', '.join(trained)}")
    return lines


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
