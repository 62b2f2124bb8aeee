"""The `bench` command: the requested cells resolved as `run` resolves them, every prerequisite checked before the
first measurement, each cell measured in turn (bench/measure.py), and the result as one JSON-ready dict."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from dfkd_bench.bench.measure import BLOCKS, BenchSettings, CellBench, build_loop
from dfkd_bench.bench.peaks import Peak, device_peak
from dfkd_bench.config import get_card
from dfkd_bench.engine.run import resolve_cell
from dfkd_bench.engine.spec import ResolvedCell, RunOptions
from dfkd_bench.envinfo import device_name, resolve_device
from dfkd_bench.errors import BadInput
from dfkd_bench.files import utc_now
from dfkd_bench.grid import GridRequest, expand
from dfkd_bench.prerequisites import check_data
from dfkd_bench.teachers import TeacherStore

RESULT_KEYS = ("device", "cells", "peaks", "settings")


def _check_teachers(cells: list[ResolvedCell], opts: RunOptions) -> None:
    """A bench never trains or writes anything: a missing teacher is an error naming how to get one."""
    store = TeacherStore(opts.teachers)
    for cell in cells:
        run = cell.config["run"]
        if get_card(run["method"]).method_class.uses_teacher and not store.has(run["dataset"], run["teacher"]):
            raise store.missing(run["dataset"], run["teacher"])


def run_bench(
    request: GridRequest,
    opts: RunOptions,
    settings: BenchSettings,
    on_cell: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Measure every cell of `request` on `opts.device`; `on_cell` sees each cell's record as it is measured."""
    device = resolve_device(opts.device)
    specs, notes = expand(request)
    cells = [resolve_cell(spec, opts) for spec in specs]
    check_data(specs, opts)
    _check_teachers(cells, opts)
    for cell in cells:  # every cell builds before the first is measured, so bad input fails at once
        build_loop(cell, opts)
    peaks: dict[str, Peak] = {}
    records = []
    for cell in cells:
        record = CellBench(cell, opts, settings).measure()
        precision = record["fast_path"]["precision"]
        if precision not in peaks:
            peaks[precision] = device_peak(device, precision, settings.peak_tflops)
        record["peak_tflops"] = peaks[precision].tflops
        record["utilisation"] = record["achieved_tflops"] / peaks[precision].tflops
        records.append(record)
        if on_cell is not None:
            on_cell(record)
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "measured_at": utc_now(),
        "settings": {**asdict(settings), "blocks": BLOCKS},
        "peaks": {precision: peak.record() for precision, peak in peaks.items()},
        "notes": notes,
        "cells": records,
    }


def read_bench(path: Path) -> dict[str, Any]:
    """A saved `bench --json` result, checked to be one (a one-line error otherwise)."""
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInput(f"{path} is not a bench result (`dfkd-bench bench --json` output): {err}") from err
    if not isinstance(result, dict) or any(key not in result for key in RESULT_KEYS):
        raise BadInput(f"{path} is not a bench result: it lacks {', '.join(RESULT_KEYS)}")
    return result
