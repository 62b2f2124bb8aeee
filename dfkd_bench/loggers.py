"""Optional experiment loggers (the `tensorboard` and `wandb` extras): mirrors of a run's per-epoch records.

metrics.jsonl stays the record. A logger is fed each epoch after the run has written it, and a logger that fails
is switched off for that cell with one warning, so it can never lose or change a result. Loggers live in
RunOptions, not in the config, so turning one on never changes a cell's config hash."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from dfkd_bench.engine.run import EpochObserver
from dfkd_bench.engine.spec import ResolvedCell, RunOptions, RunSpec
from dfkd_bench.errors import BadInput
from dfkd_bench.files import atomic_write_text
from dfkd_bench.registry import Registry
from dfkd_bench.rundir import METRICS

TENSORBOARD_DIR = "tensorboard"
WANDB_DIR = "wandb"
WANDB_ID = Path(WANDB_DIR) / "dfkd-bench-run-id"
DEFAULT_WANDB_PROJECT = "dfkd-bench"


class CellLogger(Protocol):
    def log(self, record: dict[str, Any]) -> None: ...
    def close(self, ok: bool) -> None: ...


Opener = Callable[[ResolvedCell, RunOptions, list[dict[str, Any]]], CellLogger]
"""Opens a cell's logger and sends it the history so far (every epoch in metrics.jsonl)."""

LOGGERS: Registry[Opener] = Registry("logger")


def check_loggers(names: list[str]) -> tuple[str, ...]:
    """The loggers asked for, checked before anything is written: each one known, and its extra installed."""
    for name in names:
        package = LOGGERS.meta(name)["package"]
        if importlib.util.find_spec(package) is None:
            raise BadInput(f"the {name} logger needs the {package} package: pip install 'dfkd-bench[{name}]'")
    return tuple(dict.fromkeys(names))


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """An epoch record's numeric fields under their metrics.jsonl names (accuracies, losses and their parts, lr,
    seconds, data scale, ...); lists (per-class accuracy, KD sample histograms) and fields without a value this
    epoch (None) stay in metrics.jsonl only. The epoch is the step."""
    return {
        key: value
        for key, value in record.items()
        if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def _history(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / METRICS).read_text().splitlines() if line.strip()]


@LOGGERS.register("tensorboard", package="tensorboard")
class TensorBoardLogger:
    """`<run dir>/tensorboard/`: one scalar per field, the epoch as step. Every process that runs the cell writes
    the whole history with purge_step=0, so TensorBoard discards what an earlier (killed or interrupted) process
    wrote and a resumed run shows each epoch once, even epochs that process never got to send."""

    def __init__(self, cell: ResolvedCell, opts: RunOptions, history: list[dict[str, Any]]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(cell.path / TENSORBOARD_DIR), purge_step=0)
        for record in history:
            self.log(record)

    def log(self, record: dict[str, Any]) -> None:
        for key, value in scalars(record).items():
            self.writer.add_scalar(key, value, record["epoch"])
        self.writer.flush()  # a killed runner loses no epoch it has sent

    def close(self, ok: bool) -> None:
        self.writer.close()


def _wandb_id(cell: ResolvedCell) -> str:
    """The cell's W&B run id: its config hash and a random suffix kept in the run folder, so a resumed cell
    continues its W&B run while a --force restart (a new folder) or the same cell in another --out starts one."""
    path = cell.path / WANDB_ID
    if path.is_file():
        return path.read_text().strip()
    run_id = f"{cell.hash}-{secrets.token_hex(4)}"
    atomic_write_text(path, run_id + "\n")
    return run_id


@LOGGERS.register("wandb", package="wandb")
class WandbLogger:
    """One W&B run per cell, its files in `<run dir>/wandb/`, in the mode the environment sets (WANDB_MODE=offline
    logs without network; `wandb sync` uploads later). Named by the cell's run folder (label and scale), grouped by
    the --out folder's name, in project `dfkd-bench` unless WANDB_PROJECT / WANDB_RUN_GROUP say otherwise; the
    config is the cell's resolved config and hash. A resumed cell reopens the same run (resume="allow") and sends
    the epochs from the step W&B reports on (all of them offline, where W&B keeps one folder per process)."""

    def __init__(self, cell: ResolvedCell, opts: RunOptions, history: list[dict[str, Any]]) -> None:
        import wandb

        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", DEFAULT_WANDB_PROJECT),
            group=os.environ.get("WANDB_RUN_GROUP", Path(opts.out).resolve().name),
            name=Path(os.path.relpath(cell.path, opts.out)).as_posix(),
            id=_wandb_id(cell),
            resume="allow",
            dir=str(cell.path),
            config={"config_hash": cell.hash, **cell.config},
            reinit="create_new",  # never finishes a run of the program that called us
            settings=wandb.Settings(console="off", disable_git=True, save_code=False, quiet=True),
        )
        for record in history:
            if record["epoch"] >= self.run.step:
                self.log(record)

    def log(self, record: dict[str, Any]) -> None:
        self.run.log(scalars(record), step=record["epoch"])

    def close(self, ok: bool) -> None:
        self.run.finish(exit_code=0 if ok else 1)


class _Mirror:
    """The cell's observer: each finished (already written) epoch goes to the loggers, then to the launcher's own
    observer. Loggers open at the first epoch this process runs, so a done cell that is skipped opens none."""

    def __init__(self, cell: ResolvedCell, opts: RunOptions, inner: EpochObserver | None) -> None:
        self.cell, self.opts, self.inner = cell, opts, inner
        self.active: dict[str, CellLogger] | None = None

    def epoch_done(self, spec: RunSpec, record: dict[str, Any], epochs: int) -> None:
        if self.active is None:
            self.active = {}
            for name in self.opts.loggers:
                logger = self._guarded(name, lambda n=name: self._open(n))
                if logger is not None:
                    self.active[name] = logger
        else:
            for name, logger in list(self.active.items()):
                self._guarded(name, lambda lg=logger: lg.log(record))
        if self.inner is not None:
            self.inner.epoch_done(spec, record, epochs)

    def close(self, ok: bool) -> None:
        while self.active:
            name, logger = self.active.popitem()
            self._guarded(name, lambda lg=logger: lg.close(ok))

    def _open(self, name: str) -> CellLogger:
        return LOGGERS.get(name)(self.cell, self.opts, _history(self.cell.path))

    def _guarded(self, name: str, call: Callable[[], Any]) -> Any:
        """`call()`, or None after a one-line warning; the logger is closed as well as it still can be and stays
        off for the rest of the cell."""
        try:
            return call()
        except Exception as err:
            failed = (self.active or {}).pop(name, None)
            if failed is not None:
                with suppress(Exception):
                    failed.close(False)
            reason = " ".join(str(err).split())  # one line, whatever the library's message looks like
            print(
                f"warning: the {name} logger stopped for {self.cell.label} ({type(err).__name__}: {reason}); "
                "the run's own records are unaffected",
                file=sys.stderr,
                flush=True,
            )
            return None


@contextmanager
def mirrored(cell: ResolvedCell, opts: RunOptions, observer: EpochObserver | None) -> Iterator[EpochObserver | None]:
    """`observer`, with the cell's loggers fed each epoch (none asked for: `observer` itself); the loggers are
    closed however the cell ends, marked failed unless it ran to the end."""
    if not opts.loggers:
        yield observer
        return
    mirror = _Mirror(cell, opts, observer)
    ok = False
    try:
        yield mirror
        ok = True
    finally:
        mirror.close(ok)
