"""inline: every cell in this process, one after another (the default; also what each local worker does)."""

from __future__ import annotations

import time
from typing import Any

from dfkd_bench.engine.run import EpochObserver
from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.gridfile import load_grid
from dfkd_bench.launch.base import LAUNCHERS, GridProgress, LaunchSettings
from dfkd_bench.launch.worker import HELD, execute


@LAUNCHERS.register("inline")
def run_inline(
    indices: list[int], opts: RunOptions, settings: LaunchSettings, progress: GridProgress
) -> dict[int, dict[str, Any]]:
    """Cells held by another runner are retried after the others, until they are done or their claim goes stale."""
    cells = load_grid(opts.out)
    observer: EpochObserver | None = progress if hasattr(progress, "epoch_done") else None
    results: dict[int, dict[str, Any]] = {}
    pending = list(indices)
    while pending:
        deferred = []
        for index in pending:
            result = execute(cells[index], opts, observer)
            if result["status"] == HELD:
                deferred.append(index)
                continue
            results[index] = result
            progress.cell_done(index, result)
        if deferred:
            progress.message(f"{len(deferred)} cell(s) held by other runners; checking again in {settings.poll_s:g} s")
            time.sleep(settings.poll_s)
        pending = deferred
    return results
