"""local: one worker process per GPU (CUDA_VISIBLE_DEVICES pinned), or N CPU workers, on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from dfkd_bench.engine.spec import RunOptions
from dfkd_bench.errors import EXIT_HELD, BadInput
from dfkd_bench.gridfile import load_grid
from dfkd_bench.launch.base import LAUNCHERS, GridProgress, LaunchSettings
from dfkd_bench.rundir import CorruptRecord, read_result


def worker_command(out: Path, index: int, opts: RunOptions, device: str) -> list[str]:
    """The `run-one --index` command line that reproduces these options in a fresh process."""
    cmd = [sys.executable, "-m", "dfkd_bench", "run-one", "--out", str(out), "--index", str(index)]
    cmd += ["--device", device]
    if opts.data_root:
        cmd += ["--data-root", str(opts.data_root)]
    if opts.teachers:
        cmd += ["--teachers", str(opts.teachers)]
    cmd += [flag for flag, on in (("--download", opts.download), ("--force", opts.force)) if on]
    cmd += ["--retry-failed"] if opts.retry_failed else []
    cmd += ["--loggers", ",".join(opts.loggers)] if opts.loggers else []
    return cmd


def _slots(settings: LaunchSettings) -> list[str | None]:
    """One slot per requested or visible GPU; None slots are CPU workers."""
    if settings.gpus:
        return list(settings.gpus)
    count = torch.cuda.device_count()
    return [str(i) for i in range(count)] if count else [None] * max(1, settings.workers)


def _result(index: int, opts: RunOptions, code: int) -> dict[str, Any]:
    cell = load_grid(opts.out)[index]
    spec = cell.spec
    try:
        result = read_result(cell.path)
    except CorruptRecord as err:
        result = {"status": "corrupt", "error": str(err)}
    identity = spec.identity()
    if result is None or (code != 0 and result.get("status") == "done"):
        result = {"status": "failed", "error": f"worker exited with code {code}"}
    return {**result, **identity}


def cpu_threads(workers: int) -> int:
    """Threads per CPU worker: the cores shared out, so that N workers never oversubscribe them (small
    convolutions on an oversubscribed core run several times slower than on one thread alone)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


@LAUNCHERS.register("local")
def run_local(
    indices: list[int], opts: RunOptions, settings: LaunchSettings, progress: GridProgress
) -> dict[int, dict[str, Any]]:
    """Workers pull cells from a shared queue; a cell held elsewhere goes back to the end of the queue."""
    slots = _slots(settings)
    logs = Path(opts.out) / ".workers"
    logs.mkdir(parents=True, exist_ok=True)
    queue = list(indices)
    not_before: dict[int, float] = {}
    running: dict[int, tuple[subprocess.Popen, int]] = {}
    results: dict[int, dict[str, Any]] = {}
    progress.message(f"local launcher: {len(slots)} worker(s) on {', '.join(s or 'cpu' for s in slots)}; logs {logs}")
    while queue or running:
        for slot, gpu in enumerate(slots):
            ready = [i for i in queue if not_before.get(i, 0.0) <= time.monotonic()]
            if slot in running or not ready:
                continue
            index = ready[0]
            queue.remove(index)
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu if gpu is not None else ""}
            if gpu is None:
                env.setdefault("OMP_NUM_THREADS", str(cpu_threads(len(slots))))
            device = opts.device if gpu is None or opts.device != "auto" else "cuda"
            with open(logs / f"worker-{slot}.log", "a") as log:
                # no terminal input: a worker whose output goes to a log must never wait on a prompt (W&B's login)
                proc = subprocess.Popen(
                    worker_command(opts.out, index, opts, device),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            running[slot] = (proc, index)
        time.sleep(0.2)
        for slot, (proc, index) in list(running.items()):
            code = proc.poll()
            if code is None:
                continue
            del running[slot]
            if code == 2:
                raise BadInput(f"worker for cell {index} rejected its input; see {logs / f'worker-{slot}.log'}")
            if code == EXIT_HELD:
                queue.append(index)
                not_before[index] = time.monotonic() + settings.poll_s
                continue
            results[index] = _result(index, opts, code)
            progress.cell_done(index, results[index])
    return results
