"""What a launcher may need beyond the run options, with the defaults the command line shows: kept apart from
`launch/` (which imports the engine and torch) so that `dfkd-bench run --help` reads these defaults cheaply and
they are written only here."""

from __future__ import annotations

from dataclasses import dataclass


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
