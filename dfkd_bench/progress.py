"""Rich progress bars on a terminal, plain one-line updates otherwise (CI logs, Slurm output files).

The bars are laid out for 80 columns first: the facts every cell of the grid shares (dataset, pair, budget) are
printed once as a title, each bar is labelled with what varies (method, data scale, seed), and every bar keeps its
count, elapsed time and ETA. Plain output keeps the full cell label on every line, so a log can be grepped."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column

from dfkd_bench.durations import format_duration
from dfkd_bench.engine.spec import RunSpec
from dfkd_bench.terminal import constant_facts, short_label

GRID = "grid"


def _eta(started: float, done_since_start: int, left: int) -> str:
    """Time left at the pace seen since this process started the task; '?' before anything finished."""
    if left <= 0:
        return "0 s"
    if done_since_start <= 0:
        return "?"
    return format_duration((time.monotonic() - started) / done_since_start * left)


class Reporter:
    """One bar per task (a teacher's training, a grid cell); also the engine's per-epoch observer."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.rich = self.console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._starts: dict[str, tuple[float, int]] = {}
        self._labels: dict[str, str] = {}
        self._cell_labels: dict[int, str] = {}
        self._grid: dict[int, str] = {}
        self._grid_started = 0.0
        self._grid_finished = 0

    def __enter__(self) -> Reporter:
        if self.rich:
            self._progress = Progress(
                TextColumn("{task.description}", table_column=Column(no_wrap=True)),
                BarColumn(bar_width=12),
                MofNCompleteColumn(table_column=Column(no_wrap=True)),
                TimeElapsedColumn(table_column=Column(no_wrap=True)),
                TextColumn("ETA {task.fields[eta]}", table_column=Column(no_wrap=True)),
                TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True)),
                console=self.console,
            )
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, label: str, done: int, total: int, info: str = "", eta: str | None = None) -> None:
        """Move the bar `label` to done/total; `eta` defaults to the pace of this task since its first update."""
        started, first = self._starts.setdefault(label, (time.monotonic(), done))
        eta = eta if eta is not None else _eta(started, done - first, total - done)
        if self._progress is None:
            print(f"[{label}] {done}/{total} {info} ETA {eta}".rstrip(), file=sys.stdout, flush=True)
            return
        if label not in self._tasks:
            description = self._labels.get(label, label)
            self._tasks[label] = self._progress.add_task(description, total=total, info="", eta="?")
        self._progress.update(self._tasks[label], completed=done, total=total, info=info, eta=eta)

    def message(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            print(text, flush=True)

    def start_grid(self, states: dict[int, str], specs: Sequence[RunSpec] = ()) -> None:
        """The grid-level bar over cell index -> state (done, running elsewhere, failed, pending), with an ETA;
        on a terminal, a title with what the grid's cells share and short bar labels with what varies."""
        self._grid = dict(states)
        self._grid_started, self._grid_finished = time.monotonic(), 0
        if specs and self._progress is not None:
            facts, varying = constant_facts(specs)
            self._labels = {spec.label: short_label(spec, varying) for spec in specs}
            self._cell_labels = {index: spec.label for index, spec in zip(self._grid, specs, strict=True)}
            shared = f" of {', '.join(facts)}" if facts else ""
            self.message(f"grid: {len(self._grid)} cells{shared}")
            self.message(f"bars: {' '.join([*varying, 'method', 'scale', 'seed'])}")
        self._show_grid()

    def cell_done(self, index: int, result: dict[str, Any]) -> None:
        was_done = self._grid.get(index) == "done"
        self._grid[index] = str(result.get("status"))
        self._grid_finished += 0 if was_done else 1
        self._retire(self._cell_labels.get(index), result)
        self._show_grid()

    def _retire(self, label: str | None, result: dict[str, Any]) -> None:
        """A finished cell's bar becomes one line above the bars, so a long grid never fills the screen."""
        if self._progress is None or label not in self._tasks:
            return
        self._progress.remove_task(self._tasks.pop(label))
        metric = result.get("metric") or "top1"
        best = result.get(f"best_{metric}")
        score = "" if best is None else f", best {metric} {best:.2f}"
        took = (result.get("times") or {}).get("total")
        self.message(f"{self._labels.get(label, label)}: {result.get('status')}{score}, {format_duration(took)}")

    def _show_grid(self) -> None:
        states = list(self._grid.values())
        done, failed = states.count("done"), states.count("failed")
        running = states.count("running")
        left = len(states) - done - failed
        elsewhere = f", {running} elsewhere" if running else ""
        info = f"{done} done, {failed} failed, {left} left{elsewhere}"
        eta = _eta(self._grid_started, self._grid_finished, left)
        self.update(GRID, done + failed, len(states), info, eta)

    def epoch_done(self, spec: RunSpec, record: dict[str, Any], epochs: int) -> None:
        """A cell's bar shows its score; a plain line also the epoch's data scale, which its label lacks."""
        score = f"mIoU {record['miou']:.4f}" if "miou" in record else f"top1 {record['top1']:.2f}%"
        info = score if self.rich else f"{score}  data {record['data_scale']}"
        self.update(spec.label, record["epoch"] + 1, epochs, info)
