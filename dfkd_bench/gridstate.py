"""What a grid looks like on disk (done, partial, running, failed, pending...) and how long the rest will take."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfkd_bench.claims import STALE_AFTER_S, ClaimInfo, claim_folder, current_claim
from dfkd_bench.engine.spec import ResolvedCell, RunOptions, RunSpec
from dfkd_bench.rundir import LOG, CorruptRecord, read_result

STATES = ("done", "running", "partial", "stale", "failed", "changed", "corrupt", "pending")


@dataclass
class CellState:
    index: int
    spec: RunSpec
    path: Path
    state: str
    epochs: int
    warmup: int
    epochs_done: int = 0
    result: dict[str, Any] | None = None
    claim: ClaimInfo | None = None
    seconds_left: float | None = None

    @property
    def key(self) -> tuple[str, str, str, Any]:
        return (self.spec.dataset, self.spec.pair, self.spec.method, dict(self.spec.overrides).get("train.data_scale"))

    @property
    def log(self) -> Path:
        return self.path / LOG


def _state(result: dict[str, Any] | None, digest: str | None, claim: ClaimInfo | None) -> str:
    live = claim is not None and not claim.is_stale(STALE_AFTER_S)
    if result is None:
        return "running" if live else "pending"
    if digest is not None and result.get("config_hash") != digest:
        return "changed"
    status = result.get("status")
    if status in ("done", "failed"):
        return status
    if live:
        return "running"
    return "stale" if status == "running" else "partial"


def cell_states(
    cells: list[ResolvedCell], opts: RunOptions, indices: list[int] | None = None, compare_config: bool = True
) -> list[CellState]:
    """The state of every cell, read without touching anything; `compare_config` flags runs whose recorded
    config differs from the cell's resolved config."""
    states = []
    for n, cell in enumerate(cells):
        spec, path = cell.spec, cell.path
        claim = current_claim(claim_folder(opts.out, path))
        train = cell.config["train"]
        try:
            result = read_result(path)
            state = _state(result, cell.hash if compare_config else None, claim)
        except CorruptRecord:
            result, state = None, "corrupt"
        done = (result or {}).get("epochs_done") or 0
        index = indices[n] if indices is not None else n
        states.append(CellState(index, spec, path, state, train["epochs"], train["warmup"], done, result, claim))
    return states


def counts(states: list[CellState]) -> dict[str, int]:
    tally = {s: 0 for s in STATES}
    for cell in states:
        tally[cell.state] += 1
    return tally


def _per_epoch(result: dict[str, Any]) -> float | None:
    done = result.get("epochs_done") or 0
    total = (result.get("times") or {}).get("total")
    return total / done if done and total else None


def measured_epoch_seconds(out: Path) -> dict[tuple, list[float]]:
    """Seconds per epoch of every run with progress under `out`, keyed by (dataset, pair, method, scale)."""
    from dfkd_bench.summary import collect

    table: dict[tuple, list[float]] = defaultdict(list)
    for row in collect(out).itertuples(index=False):
        if row.status == "corrupt" or not row.epochs_done or row.total_s != row.total_s or not row.total_s:
            continue
        scale = None if row.data_scale_setting != row.data_scale_setting else row.data_scale_setting
        table[(row.dataset, row.pair, row.method, None if scale is None else int(scale))].append(
            row.total_s / row.epochs_done
        )
    return table


def estimate(
    states: list[CellState], opts: RunOptions, measure: Callable[[CellState], float] | None = None
) -> dict[tuple, float]:
    """Fill `seconds_left` of every unfinished cell from measured throughput: the cell's own finished epochs, else
    runs of the same method, pair, dataset and scale (then any scale) under --out, else `measure` (a calibration
    run, which the runner provides: this module only reads)."""
    measured = measured_epoch_seconds(opts.out)
    by_method: dict[tuple, list[float]] = defaultdict(list)
    for key, values in measured.items():
        by_method[key[:3]].extend(values)
    calibrated: dict[tuple, float] = {}
    for cell in states:
        if cell.state in ("done", "failed"):
            cell.seconds_left = 0.0 if cell.state == "done" else None
            continue
        own = _per_epoch(cell.result) if cell.result and cell.state not in ("changed",) else None
        values = measured.get(cell.key) or by_method.get(cell.key[:3])
        per_epoch = own or (sum(values) / len(values) if values else None)
        if per_epoch is None and measure is not None:
            if cell.key not in calibrated:
                calibrated[cell.key] = measure(cell)
            per_epoch = calibrated[cell.key]
        done = cell.epochs_done if cell.state in ("partial", "stale", "running") else 0
        cell.seconds_left = None if per_epoch is None else per_epoch * (cell.epochs - done)
    return calibrated
