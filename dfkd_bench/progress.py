"""Rich progress bars on a terminal, plain one-line updates otherwise (CI logs, Slurm output files)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dfkd_bench.engine.spec import RunSpec


class Reporter:
    """One bar per task (a teacher's training, a grid cell); also the engine's per-epoch observer."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.rich = self.console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._grid: dict[int, str] = {}
        self._grid_started = 0.0
        self._grid_finished = 0

    def __enter__(self) -> Reporter:
        if self.rich:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
            )
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, label: str, done: int, total: int, info: str = "") -> None:
        if self._progress is None:
            print(f"[{label}] {done}/{total} {info}".rstrip(), file=sys.stdout, flush=True)
            return
        if label not in self._tasks:
            self._tasks[label] = self._progress.add_task(label, total=total, info="")
        self._progress.update(self._tasks[label], completed=done, total=total, info=info)

    def message(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            print(text, flush=True)

    def start_grid(self, states: dict[int, str]) -> None:
        """The grid-level bar over cell index -> state: done, running elsewhere, failed, pending, with an ETA."""
        self._grid = dict(states)
        self._grid_started, self._grid_finished = time.monotonic(), 0
        self._show_grid()

    def cell_done(self, index: int, result: dict[str, Any]) -> None:
        was_done = self._grid.get(index) == "done"
        self._grid[index] = str(result.get("status"))
        self._grid_finished += 0 if was_done else 1
        self._show_grid()

    def _show_grid(self) -> None:
        states = list(self._grid.values())
        done, failed = states.count("done"), states.count("failed")
        running = states.count("running")
        left = len(states) - done - failed
        eta = ""
        if self._grid_finished and left:
            per_cell = (time.monotonic() - self._grid_started) / self._grid_finished
            eta = f", ETA {per_cell * left / 60:.1f} min"
        info = f"{done} done, {running} running elsewhere, {failed} failed, {left} left{eta}"
        self.update("grid", done + failed, len(states), info)

    def epoch_done(self, spec: RunSpec, record: dict[str, Any], epochs: int) -> None:
        score = f"mIoU {record['miou']:.4f}" if "miou" in record else f"top1 {record['top1']:.2f}%"
        info = f"{score}  data {record['data_scale']}"
        self.update(spec.label, record["epoch"] + 1, epochs, info)
