"""RunSpec: one cell of a grid, and RunOptions: where and how it runs (not part of the experiment's identity)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    pair: str
    method: str
    seed: int = 0
    overrides: tuple[tuple[str, Any], ...] = ()
    budget: str | None = None

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.pair}/{self.method}/seed-{self.seed}"


@dataclass
class RunOptions:
    out: Path = Path("results/runs")
    data_root: str | None = None
    download: bool = False
    teachers: Path | None = None
    device: str = "auto"
    force: bool = False
    retry_failed: bool = False
