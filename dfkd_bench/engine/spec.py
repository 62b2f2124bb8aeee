"""RunSpec: one cell of a grid as asked for; ResolvedCell: that cell resolved once (config, hash, run directory);
RunOptions: where and how it runs (not part of the experiment's identity)."""

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

    def identity(self) -> dict[str, Any]:
        """The fields that name a cell in every record (grid.json, config.yaml, result.json, a launcher's result):
        written once here so the records cannot drift apart."""
        return {"dataset": self.dataset, "pair": self.pair, "method": self.method, "seed": self.seed}


@dataclass(kw_only=True)
class RunOptions:
    out: Path = Path("results/runs")
    data_root: str | None = None
    download: bool = False
    teachers: Path | None = None
    device: str = "auto"
    force: bool = False
    retry_failed: bool = False
    loggers: tuple[str, ...] = ()
    """Experiment loggers mirroring each epoch (dfkd_bench.loggers: tensorboard, wandb); off by default."""


@dataclass(frozen=True)
class ResolvedCell:
    """A cell resolved once, when its grid is registered: the full config it runs (cards, budget, overrides and
    the teacher's sha256 folded in), that config's hash and its run directory. grid.json stores it, so launchers,
    status and workers read what was registered instead of loading cards and the teacher store again; a card or
    teacher changed later shows up as a different hash at the next registration."""

    spec: RunSpec
    config: dict[str, Any]
    hash: str
    path: Path

    @property
    def label(self) -> str:
        return self.spec.label
