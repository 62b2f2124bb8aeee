"""Registering cells in a grid the way `dfkd-bench run` does, for tests that build grids by hand."""

from __future__ import annotations

from pathlib import Path

from dfkd_bench.engine.run import resolve_cell
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.gridfile import register


def register_specs(out: Path, specs: list[RunSpec], teachers: Path | None = None) -> list[int]:
    """Resolve and record `specs` in `<out>/grid.json` (teachers from `teachers`, else the default store)."""
    opts = RunOptions(out=Path(out), teachers=teachers)
    return register(out, specs, lambda spec: resolve_cell(spec, opts))
