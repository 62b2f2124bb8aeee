"""The launcher protocol: run the given cell indices of `<out>/grid.json` and return their results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.registry import Registry


@dataclass
class LaunchSettings:
    """Everything a launcher may need beyond the run options; each launcher reads its own fields."""

    gpus: list[str] | None = None
    workers: int = 1
    poll_s: float = 5.0
    slurm_cluster: str | None = None
    slurm_partition: str | None = None
    timeout_min: int = 4320
    array_parallelism: int = 64
    cpus_per_task: int = 8
    wait: bool = False


class GridProgress(Protocol):
    def message(self, text: str) -> None: ...
    def cell_done(self, index: int, result: dict[str, Any]) -> None: ...


class Launcher(Protocol):
    def __call__(
        self, indices: list[int], opts: RunOptions, settings: LaunchSettings, progress: GridProgress
    ) -> dict[int, dict[str, Any]]: ...


LAUNCHERS: Registry[Launcher] = Registry("launcher")
