"""The grid file `<out>/grid.json`: every cell of a results folder, resolved once (config, hash, run directory),
at a stable index that workers and Slurm tasks run by. Reading it needs neither torch nor the cards, so `status`
stays fast; writing it (`register`) takes a lock, keeps every index and never overwrites a file it cannot read."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dfkd_bench.engine.spec import ResolvedCell, RunSpec
from dfkd_bench.errors import BadInput, os_failure
from dfkd_bench.files import atomic_write_json

GRID_FILE = "grid.json"


def _to_json(cell: ResolvedCell, out: Path) -> dict[str, Any]:
    spec = cell.spec
    return {
        **spec.identity(),
        "overrides": [list(item) for item in spec.overrides],
        "budget": spec.budget,
        "config_hash": cell.hash,
        "run_dir": str(Path(cell.path).relative_to(out)),
        "config": cell.config,
    }


def _spec_from_json(cell: dict[str, Any]) -> RunSpec:
    overrides = tuple((k, v) for k, v in cell["overrides"])
    return RunSpec(cell["dataset"], cell["pair"], cell["method"], cell["seed"], overrides, cell["budget"])


def _cell_from_json(entry: dict[str, Any], out: Path) -> ResolvedCell:
    """A checked version-2 grid entry as the resolved cell it records."""
    return ResolvedCell(_spec_from_json(entry), entry["config"], entry["config_hash"], out / entry["run_dir"])


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".grid.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


GRID_FIELDS = {
    "dataset": str,
    "pair": str,
    "method": str,
    "seed": int,
    "overrides": list,
    "budget": (str, type(None)),
    "config_hash": str,
    "run_dir": str,
    "config": dict,
}
GRID_VERSION = 2
"""Version 2 stores each cell resolved (config, hash, run directory); version 1 stored only the request."""
GRID_V1_FIELDS = ("dataset", "pair", "method", "seed", "overrides", "budget")


def _unreadable(path: Path, why: str) -> BadInput:
    """A grid file that cannot be read is never replaced (its indices are what workers and Slurm tasks run)."""
    return BadInput(
        f"{path} {why}; it is left as it is: restore it, or move it aside and rerun the `dfkd-bench run` "
        "command(s) that made it (run directories are kept; cell indices may change)"
    )


def _checked_cell(path: Path, n: int, cell: Any, version: int) -> dict[str, Any]:
    if not isinstance(cell, dict):
        raise _unreadable(path, f"has cell {n} that is not an object")
    fields = GRID_FIELDS if version >= 2 else {k: v for k, v in GRID_FIELDS.items() if k in GRID_V1_FIELDS}
    for key, kind in fields.items():
        if key not in cell:
            raise _unreadable(path, f"has cell {n} without '{key}'")
        if not isinstance(cell[key], kind) or isinstance(cell[key], bool):
            raise _unreadable(path, f"has cell {n} whose '{key}' is {type(cell[key]).__name__}")
    scalar = (str, int, float, bool, type(None))
    if not all(
        isinstance(o, list) and len(o) == 2 and isinstance(o[0], str) and isinstance(o[1], scalar)
        for o in cell["overrides"]
    ):
        raise _unreadable(path, f"has cell {n} whose 'overrides' are not [key, scalar value] pairs")
    if version >= 2 and (Path(cell["run_dir"]).is_absolute() or ".." in Path(cell["run_dir"]).parts):
        raise _unreadable(path, f"has cell {n} whose 'run_dir' is not a folder inside the grid's folder")
    return cell


def read_grid_file(out: Path) -> tuple[int, list[dict[str, Any]]]:
    """The grid file's version and its checked cell entries ((GRID_VERSION, []) when there is no grid file). Commands
    that will register cells call it before anything else writes (a teacher trained, a data set fetched), so an
    unreadable grid file is refused with nothing touched."""
    path = Path(out) / GRID_FILE
    if not path.exists():
        return GRID_VERSION, []
    try:
        document = json.loads(path.read_bytes())
    except OSError as err:
        raise _unreadable(path, f"cannot be read ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _unreadable(path, f"is not valid JSON (truncated?): {err}") from err
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise _unreadable(path, "has no list of 'cells'")
    version = document.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= GRID_VERSION:
        raise _unreadable(path, f"has version {version!r}; this dfkd-bench reads versions 1-{GRID_VERSION}")
    return version, [_checked_cell(path, n, cell, version) for n, cell in enumerate(document["cells"])]


def load_grid(out: Path) -> list[ResolvedCell]:
    """The resolved cells recorded in `<out>/grid.json`, in index order (empty when there is none). A file that is
    not a grid (truncated, edited, unreadable), or a version-1 file that the next `run` upgrades, is a BadInput
    naming it and what to do."""
    out = Path(out)
    version, entries = read_grid_file(out)
    if version < GRID_VERSION:
        raise BadInput(
            f"{out / GRID_FILE} was written by an earlier dfkd-bench (grid version {version}) and holds no resolved "
            "cells; rerun the `dfkd-bench run` command that made it to upgrade it (indices and runs are kept)"
        )
    return [_cell_from_json(e, out) for e in entries]


def register(out: Path, specs: list[RunSpec], resolve: Callable[[RunSpec], ResolvedCell]) -> list[int]:
    """Resolve the requested cells once and record them (indices of existing cells never change); returns their
    indices. A cell already in the grid is recorded as it resolves now, so an edited card or a retrained teacher
    shows up as a new hash (its recorded run then counts as changed). A version-1 grid's other cells are resolved
    too, which upgrades the file.

    A grid file that cannot be read is refused, never overwritten; a folder or file that cannot be written (read
    only, a file where the folder should be, a full disk) is a BadInput naming the path."""
    out = Path(out)
    read_grid_file(out)  # an unreadable grid file is refused before even the lock file is made
    resolved = {spec: resolve(spec) for spec in dict.fromkeys(specs)}
    try:
        with _locked(out):
            version, entries = read_grid_file(out)
            cells = [_spec_from_json(e) for e in entries]
            kept = (
                {spec: _cell_from_json(e, out) for spec, e in zip(cells, entries, strict=True)} if version >= 2 else {}
            )
            index = {spec: i for i, spec in enumerate(cells)}
            for spec in resolved:
                if spec not in index:
                    index[spec] = len(cells)
                    cells.append(spec)
            final = [resolved.get(spec) or kept.get(spec) or resolve(spec) for spec in cells]
            document = {"version": GRID_VERSION, "cells": [_to_json(cell, out) for cell in final]}
            atomic_write_json(out / GRID_FILE, document)
    except OSError as err:
        raise os_failure(err, "write the grid file", out / GRID_FILE) from err
    return [index[s] for s in specs]


def cell_at(out: Path, index: int) -> ResolvedCell:
    cells = load_grid(out)
    if not cells:
        raise BadInput(f"no grid in {out}: run `dfkd-bench run ... --out {out}` (or --dry-run) first")
    if not 0 <= index < len(cells):
        raise BadInput(f"cell index {index} out of range: {out}/{GRID_FILE} has cells 0-{len(cells) - 1}")
    return cells[index]
