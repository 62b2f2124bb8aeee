"""slurm: one submitit job array task per cell; pre-empted or timed-out tasks requeue and resume from last.pt.

submitit is the `slurm` extra. Its `local` and `debug` executors run the same code path without a cluster."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from dfkd_bench.claims import Claim, claim_folder
from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.errors import BadInput
from dfkd_bench.gridfile import load_grid
from dfkd_bench.launch.base import LAUNCHERS, GridProgress, LaunchSettings
from dfkd_bench.launch.worker import execute

CLUSTERS = ("slurm", "local", "debug")


class CellTask:
    """The pickled callable of each array task; `checkpoint` is submitit's requeue hook."""

    def __init__(self, opts: RunOptions) -> None:
        self.opts = opts
        self._claim: Claim | None = None

    def __call__(self, index: int) -> dict[str, Any]:
        cell = load_grid(self.opts.out)[index]
        self._claim = Claim(claim_folder(self.opts.out, cell.path))
        return execute(cell, self.opts, claim=self._claim)

    def checkpoint(self, index: int) -> Any:
        """Release the claim so the requeued task takes the cell at once; the run resumes from its checkpoint."""
        import submitit

        if self._claim is not None:
            self._claim.release()
        return submitit.helpers.DelayedSubmission(CellTask(self.opts), index)


def check_cluster(cluster: str | None) -> None:
    """Refuse a cluster that cannot run the array here: without `sbatch` on PATH submitit's default (and even
    'slurm') quietly runs every task on this machine, so that is only done when asked for (local, debug)."""
    if cluster not in (None, *CLUSTERS):
        raise BadInput(f"unknown submitit cluster '{cluster}'; valid choices: {', '.join(CLUSTERS)}")
    if cluster in (None, "slurm") and shutil.which("sbatch") is None:
        raise BadInput(
            "--launcher slurm needs Slurm's sbatch on PATH and it is not there; to run the array on this machine "
            "pass --slurm-cluster local (subprocesses) or --slurm-cluster debug (this process)"
        )


def _executor(settings: LaunchSettings, folder: Path) -> Any:
    try:
        import submitit
    except ImportError as err:
        raise BadInput("the slurm launcher needs submitit: pip install 'dfkd-bench[slurm]'") from err
    check_cluster(settings.slurm_cluster)
    executor = submitit.AutoExecutor(folder=folder, cluster=settings.slurm_cluster)
    executor.update_parameters(
        name="dfkd-bench",
        timeout_min=settings.timeout_min,
        gpus_per_node=1,
        cpus_per_task=settings.cpus_per_task,
        slurm_partition=settings.slurm_partition,
        slurm_array_parallelism=settings.array_parallelism,
    )
    return executor


@LAUNCHERS.register("slurm")
def run_slurm(
    indices: list[int], opts: RunOptions, settings: LaunchSettings, progress: GridProgress
) -> dict[int, dict[str, Any]]:
    """Submit the cells as one array; with `wait`, block until every task ends and return the results."""
    folder = Path(opts.out) / ".slurm" / "%j"
    executor = _executor(settings, folder)
    task = CellTask(opts)
    with executor.batch():
        jobs = [executor.submit(task, index) for index in indices]
    ids = sorted({job.job_id.split("_")[0] for job in jobs})
    progress.message(f"submitted {len(jobs)} cell(s) as job(s) {', '.join(ids)}; logs under {folder.parent}")
    if not settings.wait:
        progress.message(f"follow with: dfkd-bench status {opts.out}")
        return {}
    results: dict[int, dict[str, Any]] = {}
    for index, job in zip(indices, jobs, strict=True):
        try:
            results[index] = job.result()
        except Exception as err:
            spec = load_grid(opts.out)[index].spec
            results[index] = {"status": "failed", "error": f"{type(err).__name__}: {err}", **spec.__dict__}
        progress.cell_done(index, results[index])
    return results
