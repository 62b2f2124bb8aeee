"""A saved bench result as `run --dry-run`'s calibration: seconds per epoch for cells nothing under --out has
measured yet, from the bench's per-round, per-step and evaluation times instead of two real epochs per cell.

An epoch is the cell's synthesis rounds, then (after the warm-up epochs) its KD steps, then one evaluation, so a
cell of E epochs with W warm-up epochs takes (W · warm-up epoch + (E - W) · KD epoch) / E seconds per epoch on
average. The bench's own budget sets the rounds and steps per epoch: bench at the grid's budget."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dfkd_bench.bench.suite import read_bench
from dfkd_bench.gridstate import CellState


def epoch_seconds(record: dict[str, Any], epochs: int, warmup: int) -> float:
    """Mean seconds per epoch of a cell of `epochs` epochs, `warmup` of them without KD, from one bench record."""
    per = record["epoch_seconds"]
    return (warmup * per["warmup"] + (epochs - warmup) * per["kd"]) / epochs


def bench_measure(path: Path) -> Callable[[CellState], float | None]:
    """For gridstate.estimate: a cell's seconds per epoch from the bench record of the same dataset, pair, method
    and data scale, else of the same dataset, pair and method; None when the bench has neither."""
    exact: dict[tuple, dict[str, Any]] = {}
    loose: dict[tuple, dict[str, Any]] = {}
    for record in read_bench(path)["cells"]:
        key = (record["dataset"], record["pair"], record["method"])
        exact[(*key, record["data_scale"])] = record
        loose.setdefault(key, record)

    def measure(cell: CellState) -> float | None:
        record = exact.get(cell.key) or loose.get(cell.key[:3])
        return None if record is None else epoch_seconds(record, cell.epochs, cell.warmup)

    return measure
