"""The launcher protocol: run the given cell indices of `<out>/grid.json` and return their results."""

from __future__ import annotations

from typing import Any, Protocol

from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.launch_settings import LaunchSettings
from dfkd_bench.registry import Registry


class GridProgress(Protocol):
    def message(self, text: str) -> None: ...
    def cell_done(self, index: int, result: dict[str, Any]) -> None: ...


class Launcher(Protocol):
    def __call__(
        self, indices: list[int], opts: RunOptions, settings: LaunchSettings, progress: GridProgress
    ) -> dict[int, dict[str, Any]]: ...


LAUNCHERS: Registry[Launcher] = Registry("launcher")
