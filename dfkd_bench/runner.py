"""`dfkd-bench run`: expand the grid, record it in `<out>/grid.json`, make sure teachers exist, hand the cells to
a launcher, and report."""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dfkd_bench.claims import CLAIMS, Claim
from dfkd_bench.dryrun import dry_run_report
from dfkd_bench.engine.evaluate import headline
from dfkd_bench.engine.run import resolve_cell, run_one
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.envinfo import resolve_device
from dfkd_bench.grid import GridRequest, expand
from dfkd_bench.gridfile import cell_at, load_grid, read_grid_file, register
from dfkd_bench.gridstate import CellState, cell_states
from dfkd_bench.launch import LAUNCHERS, LaunchSettings
from dfkd_bench.launch.worker import HELD, execute
from dfkd_bench.prerequisites import absent_teachers, check_data, missing_prerequisites, trained_on_the_fly
from dfkd_bench.progress import Reporter
from dfkd_bench.recipes import DATASET_RECIPE, RECIPES
from dfkd_bench.summary import write_summary
from dfkd_bench.teachers import TeacherStore, describe_score
from dfkd_bench.terminal import Column, FitTable
from dfkd_bench.train import train_into_store


def ensure_teachers(specs: list[RunSpec], opts: RunOptions, reporter: Reporter, poll_s: float = 2.0) -> None:
    """Train missing teachers where the dataset's recipe is cheap (MNIST family); otherwise say how to get one.

    Training is claimed like a cell, so runners that start together on an empty store train each teacher once."""
    store = TeacherStore(opts.teachers)
    missing = absent_teachers(specs, store)
    for dataset, model in missing:
        if not trained_on_the_fly(dataset):
            raise store.missing(dataset, model)
    for dataset, model in missing:
        claim = Claim(store.root / CLAIMS / f"{dataset}__{model}")
        while not store.has(dataset, model):
            if not claim.try_acquire():
                reporter.message(f"another runner is training the {dataset}/{model} teacher; waiting")
                time.sleep(poll_s)
                continue
            with claim:
                if not store.has(dataset, model):
                    _train_teacher(dataset, model, store, opts, reporter)


def _train_teacher(dataset: str, model: str, store: TeacherStore, opts: RunOptions, reporter: Reporter) -> None:
    label = f"train teacher {dataset}/{model}"
    recipe = RECIPES[DATASET_RECIPE[dataset]]
    reporter.message(f"no {model} teacher for {dataset} in {store.root}: training one ({recipe.source})")
    record = train_into_store(
        model,
        dataset,
        store,
        opts.data_root,
        opts.device,
        download=opts.download,
        on_epoch=lambda e, n, r: reporter.update(label, e + 1, n, headline(r)),
    )
    reporter.message(f"teacher {dataset}/{model}: {describe_score(record)}")


def results_table(results: list[dict[str, Any]]) -> FitTable:
    """One row per cell; the caption gives every failed cell's error, so no failure is only in a log file."""
    failures = [
        f"failed {r['dataset']}/{r['pair']}/{r['method']}/seed-{r['seed']}: {r.get('error') or 'see its log.txt'}"
        for r in results
        if r.get("status") == "failed"
    ]
    table = FitTable("results (top-1 % or mIoU, seconds)", RESULT_COLUMNS, caption="\n".join(failures) or None)
    for r in results:
        times = r.get("times") or {}
        metric = r.get("metric") or "top1"
        table.add_row(
            r["dataset"],
            r["pair"],
            r["method"],
            str(r.get("data_scale", "")),
            str(r["seed"]),
            r["status"],
            _fmt(r.get(f"best_{metric}")),
            _fmt(r.get(f"last_{metric}")),
            _fmt(times.get("total")),
            _fmt(times.get("synthesis")),
            _fmt(times.get("kd")),
        )
    return table


RESULT_COLUMNS = (
    Column("dataset", context=True),
    Column("pair", context=True),
    Column("method"),
    Column("data", justify="right"),
    Column("seed", justify="right"),
    Column("status", context=True),
    Column("best", justify="right"),
    Column("last", keep=1, justify="right"),
    Column("total s", justify="right"),
    Column("synth s", keep=2, justify="right"),
    Column("kd s", keep=2, justify="right"),
)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@dataclass
class Outcome:
    """What a `run` produced: the results of the cells it ran or found, and whether the grid is complete."""

    results: list[dict[str, Any]] = field(default_factory=list)
    shown: list[Any] = field(default_factory=list)
    complete: bool = True


def calibrate_cell(cell: CellState, opts: RunOptions) -> float:
    """Seconds per epoch of this cell measured on the current device: two epochs (one of them warm-up when the
    method warms up) of the cell's own config, in a throw-away directory."""
    overrides = dict(cell.spec.overrides)
    overrides.update({"train.epochs": 2, "train.warmup": min(cell.warmup, 1)})
    spec = replace(cell.spec, overrides=tuple(sorted(overrides.items())))
    with tempfile.TemporaryDirectory(prefix="dfkd-calibrate-") as tmp:
        result = run_one(spec, replace(opts, out=Path(tmp), force=False, retry_failed=False))
    return result["times"]["total"] / 2


def run_request(
    request: GridRequest,
    opts: RunOptions,
    dry_run: bool = False,
    launcher: str = "inline",
    settings: LaunchSettings | None = None,
    calibrate: bool = False,
    measure: Callable[[CellState], float | None] | None = None,
) -> Outcome:
    """The whole `run` command. A dry run estimates unmeasured cells from two real epochs each (`calibrate`) or,
    at no cost, with `measure` (e.g. a saved `dfkd-bench bench --json` result's `bench_measure`)."""
    settings = settings or LaunchSettings()
    launch = LAUNCHERS.get(launcher)
    specs, notes = expand(request)
    with Reporter() as reporter:
        for note in notes:
            reporter.message(note)
        if dry_run:
            resolve_device(opts.device)
            if calibrate:
                check_data(specs, opts)
                ensure_teachers(specs, opts, reporter)
            cells = [resolve_cell(s, opts) for s in specs]
            if calibrate:
                measure = functools.partial(calibrate_cell, opts=opts)
            prerequisites = missing_prerequisites(specs, opts)
            return Outcome(shown=dry_run_report(cells, opts, measure, prerequisites))
        resolve_device(opts.device)
        read_grid_file(opts.out)
        check_data(specs, opts)
        ensure_teachers(specs, opts, reporter)
        indices = register(opts.out, specs, lambda spec: resolve_cell(spec, opts))
        cells = load_grid(opts.out)
        states = cell_states([cells[i] for i in indices], opts, indices)
        reporter.start_grid({c.index: c.state for c in states}, [c.spec for c in states])
        found = launch(indices, opts, settings, reporter)
        write_summary(opts.out)
    results = [found[i] for i in indices if i in found]
    complete = len(results) == len(indices) and all(r.get("status") == "done" for r in results)
    submitted_only = launcher == "slurm" and not settings.wait
    return Outcome(results, [results_table(results)] if results else [], complete or submitted_only)


def run_index(index: int, opts: RunOptions) -> str:
    """`run-one --out DIR --index I`: the primitive every launcher calls; returns the cell's status."""
    cell = cell_at(opts.out, index)
    ensure_teachers([cell.spec], opts, Reporter())
    with Reporter() as reporter:
        result = execute(cell, opts, reporter)
    if result["status"] == HELD:
        reporter.message(f"cell {index} ({cell.label}) is held by another worker")
    return result["status"]


def run_described(request: GridRequest, opts: RunOptions) -> str:
    """`run-one --method ...`: the request's first cell registered in the grid (teachers first, since a cell is
    resolved with its teacher's sha256), then run as `run-one --index` runs it."""
    specs, _ = expand(request)
    read_grid_file(opts.out)
    ensure_teachers(specs[:1], opts, Reporter())
    index = register(opts.out, specs[:1], lambda spec: resolve_cell(spec, opts))[0]
    return run_index(index, opts)
