"""One call from a runs folder to a report folder: report.md and report.html (the paper's tables, claims and
figures), the tables as LaTeX and CSV, and the figures."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.files import atomic_write_text
from dfkd_bench.report.contents import TITLE, report_blocks
from dfkd_bench.report.document import to_markdown
from dfkd_bench.report.figures import write_figures
from dfkd_bench.report.html_page import to_html
from dfkd_bench.report.paper_claims import claims_frame
from dfkd_bench.report.paper_tables import (
    TABLES,
    Accuracy,
    Compare,
    Time,
    paper_tables,
)
from dfkd_bench.report.render import render_latex
from dfkd_bench.report.tables import scale_key
from dfkd_bench.rundir import run_dir
from dfkd_bench.summary import SUMMARY, SUMMARY_COLUMNS, collect_rows, summary_text

FORMATS = ("md", "html", "tex", "csv")
DEFAULT_FORMATS = ("md", "html")


def _resolve(runs: Path, row: pd.Series) -> str:
    """The run directory as recorded if it exists (absolute, or relative to the cwd or to `runs`), else rebuilt
    from the row's identity under `runs`: a summary.csv written elsewhere still finds its runs."""
    found = _recorded_folder(runs, row["run_dir"])
    if found is not None:
        return str(found)
    setting = None if scale_key(row["data_scale_setting"]) == "auto" else int(float(row["data_scale_setting"]))
    rebuilt = run_dir(runs, row["dataset"], row["pair"], row["method"], setting, int(row["seed"]))
    return str(rebuilt if rebuilt.is_dir() else Path(str(row["run_dir"])))


def _recorded_folder(runs: Path, recorded: object) -> Path | None:
    """The folder a recorded run_dir names, as written (absolute or cwd-relative) or relative to `runs`."""
    for candidate in (Path(str(recorded)), runs / str(recorded)):
        if candidate.is_dir():
            return candidate
    return None


def _agrees(recorded: pd.DataFrame, fresh: pd.DataFrame, runs: Path) -> bool:
    """Whether summary.csv says what the run directories say: the same rows and values, and run directories that
    exist and are the same folders (a summary written from another cwd names them differently)."""
    if list(recorded.columns) != list(fresh.columns) or len(recorded) != len(fresh):
        return False
    values = [c for c in fresh.columns if c != "run_dir"]
    if not recorded[values].equals(fresh[values]):
        return False
    where = [[_folder_id(runs, text) for text in f["run_dir"]] for f in (recorded, fresh)]
    return where[0] == where[1]


def _folder_id(runs: Path, recorded: object) -> Path | None:
    found = _recorded_folder(runs, recorded)
    return None if found is None else found.resolve()


def load_summary(runs: Path, notify: Callable[[str], None] | None = None) -> pd.DataFrame:
    """`<runs>/summary.csv` once checked against the run directories; when it disagrees with them (truncated,
    stale, edited) it is rebuilt from their result.json files and `notify` is told. A summary.csv whose runs hold
    no verified result (a summary kept without its runs) is used as it is; no summary.csv: the runs collected."""
    runs = Path(runs)
    path = runs / SUMMARY
    rows = collect_rows(runs)
    collected = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    frame = collected
    if path.exists():
        try:
            recorded = pd.read_csv(path)
        except ValueError:  # empty, truncated inside a quoted field, not text
            recorded = None
        text = summary_text(rows)
        fresh = pd.read_csv(io.StringIO(text))  # typed as the file is read back
        frame = recorded if recorded is not None else fresh
        if recorded is None and collected.empty:
            raise BadInput(f"{path} cannot be read as CSV and {runs} holds no run directories to rebuild it from")
        verified = bool((collected["status"] != "corrupt").any())
        if recorded is None or (verified and not _agrees(recorded, fresh, runs)):
            frame = fresh
            try:
                atomic_write_text(path, text)
                said = "rebuilt it from their result.json files"
            except OSError as err:
                said = f"using their result.json files (could not rewrite it: {err.strerror or err})"
            if notify is not None:
                notify(f"{path} did not match the run directories under {runs}; {said}")
    if not frame.empty:
        frame["run_dir"] = [_resolve(runs, row) for _, row in frame.iterrows()]
    return frame


def _check(kind: str, values: Sequence[str], valid: Sequence[str]) -> None:
    for value in values:
        if value not in valid:
            raise unknown(f"report {kind}", str(value), valid)


def write_report(
    runs: Path,
    out_dir: Path,
    formats: Sequence[str] = DEFAULT_FORMATS,
    compare: Compare = "published",
    accuracy: Accuracy = "best",
    time: Time = "total",
    note: str | None = None,
    notify: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write report.md and report.html (tables beside the paper's, claims tested, figures, deviations; the HTML with
    its figures embedded), the figures, tables.tex, tables.csv and claims.csv as asked.

    `note` is a paragraph under the title saying which budget or regime the runs are in (a report's numbers mean
    little without it). `notify` hears about a summary.csv rebuilt from the run directories. Returns the written
    paths. Partial grids render with each empty cell's reason marked; nothing here runs a model.
    """
    _check("format", formats, FORMATS)
    _check("compare", [compare], ("published", "none"))
    _check("accuracy", [accuracy], ("best", "last"))
    _check("time", [time], ("total", "synthesis"))
    runs, out_dir = Path(runs), Path(out_dir)
    frame = load_summary(runs, notify)
    if frame.empty:
        raise BadInput(f"no runs under {runs} (no summary.csv and no run directories)")
    tables = paper_tables(frame, compare, accuracy, time)
    claims = claims_frame(frame, accuracy)
    written: list[Path] = []
    if "md" in formats or "html" in formats:
        figures = write_figures(frame, out_dir, accuracy, time)
        blocks = report_blocks(runs, frame, tables, claims, figures, accuracy, time, compare, note)
        if "md" in formats:
            atomic_write_text(out_dir / "report.md", to_markdown(blocks))
            written.append(out_dir / "report.md")
        if "html" in formats:
            atomic_write_text(out_dir / "report.html", to_html(blocks, TITLE))
            written.append(out_dir / "report.html")
        written += [p for png in figures for p in (png, png.with_suffix(".pdf"))]
    if "tex" in formats:
        tex = "% needs \\usepackage{booktabs,amssymb}\n" + "\n".join(
            render_latex(cells, TABLES[key]) for key, cells in tables.items()
        )
        atomic_write_text(out_dir / "tables.tex", tex)
        written.append(out_dir / "tables.tex")
    if "csv" in formats:
        atomic_write_text(out_dir / "tables.csv", pd.concat(tables.values()).to_csv(index=False))
        atomic_write_text(out_dir / "claims.csv", claims.to_csv(index=False))
        written += [out_dir / "tables.csv", out_dir / "claims.csv"]
    return written
