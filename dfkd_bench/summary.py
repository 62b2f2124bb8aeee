"""summary.csv: one tidy row per run directory, the table `report` and `status` start from.

Rebuilt whole at the end of every `run`; after each cell only that cell's row is replaced, so a grid of n cells
costs n row updates, not n full re-reads. Concurrent runners may overwrite each other's row update; the next full
rebuild (any runner finishing, or `report`, which checks the file against the run directories) restores it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfkd_bench.files import atomic_write_text
from dfkd_bench.rundir import RESULT, CorruptRecord, read_result

if TYPE_CHECKING:
    import pandas as pd

SUMMARY = "summary.csv"

SUMMARY_COLUMNS = [
    "dataset",
    "pair",
    "method",
    "data_scale_setting",
    "seed",
    "status",
    "metric",
    "best_top1",
    "last_top1",
    "best_miou",
    "last_miou",
    "data_scale",
    "teacher_top1",
    "teacher_miou",
    "synthesis_s",
    "sample_s",
    "kd_s",
    "eval_s",
    "total_s",
    "epochs_done",
    "device",
    "config_hash",
    "run_dir",
]


def _row(run: Path) -> dict[str, Any] | None:
    """The summary row of one run directory; a result that cannot be trusted is a row with status 'corrupt'."""
    try:
        result = read_result(run)
    except CorruptRecord as err:
        result = {**_identity(run), "status": "corrupt", "error": str(err)}
    if result is None:
        return None
    row = {k: result.get(k) for k in SUMMARY_COLUMNS}
    row.update({f"{k}_s": v for k, v in (result.get("times") or {}).items()})
    row["run_dir"] = str(run)
    return row


def _identity(run: Path) -> dict[str, Any]:
    """dataset, pair, method and seed read back from a run directory's path."""
    dataset, pair, method, _scale, seed = run.parts[-5:]
    return {"dataset": dataset, "pair": pair, "method": method, "seed": int(seed.removeprefix("seed-"))}


def _results(root: Path) -> list[Path]:
    return sorted(Path(root).glob(f"**/seed-*/{RESULT}"))


def collect_rows(root: Path) -> list[dict[str, Any]]:
    """One row per run directory under `root`, in path order."""
    return [row for path in _results(root) if (row := _row(path.parent)) is not None]


def collect(root: Path) -> pd.DataFrame:
    """One tidy row per run directory found under `root`."""
    import pandas as pd  # here: `status` reads the rows without paying for pandas

    return pd.DataFrame(collect_rows(root), columns=SUMMARY_COLUMNS)


def _line(row: dict[str, Any]) -> str:
    """A row as one CSV line, each value formatted on its own (None empty, numbers as Python writes them), so a
    row reads the same whether the whole file was rebuilt or only this row replaced."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow("" if row.get(k) is None else row[k] for k in SUMMARY_COLUMNS)
    return buffer.getvalue()


def summary_text(rows: list[dict[str, Any]]) -> str:
    """summary.csv's content for these rows."""
    return ",".join(SUMMARY_COLUMNS) + "\n" + "".join(_line(row) for row in rows)


def write_summary(root: Path) -> pd.DataFrame:
    """summary.csv rebuilt from every run directory under `root`."""
    rows = collect_rows(root)
    atomic_write_text(Path(root) / SUMMARY, summary_text(rows))
    import pandas as pd

    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def update_summary(root: Path, run: Path) -> None:
    """Replace (or add) one run's row in summary.csv, keeping path order; a summary that is missing or not one we
    wrote is rebuilt whole."""
    path = Path(root) / SUMMARY
    try:
        lines = path.read_text().splitlines(keepends=True)
        rows = {Path(fields[-1]) / RESULT: line for line in lines[1:] if (fields := next(csv.reader([line]), None))}
    except (OSError, UnicodeDecodeError, csv.Error):
        lines = []
    if not lines or lines[0] != summary_text([]):
        write_summary(root)
        return
    rows.pop(Path(run) / RESULT, None)
    if (row := _row(Path(run))) is not None:
        rows[Path(run) / RESULT] = _line(row)
    atomic_write_text(path, lines[0] + "".join(rows[key] for key in sorted(rows)))
