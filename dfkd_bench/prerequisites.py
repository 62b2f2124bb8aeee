"""What a grid needs before its first cell runs: the data sets' files and the teachers. `run` checks them and
stops at the first missing one (training the MNIST family's teachers itself: their recipe is cheap); `--dry-run`
lists every one that is missing; `bench` checks the data. One rule for all three."""

from __future__ import annotations

from pathlib import Path

from dfkd_bench.config import get_card
from dfkd_bench.data import DATASETS
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.errors import BadInput
from dfkd_bench.pairs import split_pair
from dfkd_bench.recipes import DATASET_RECIPE
from dfkd_bench.teachers import TeacherStore

CHEAP_RECIPES = {"mnist"}


def _data_root(opts: RunOptions) -> Path | None:
    return Path(opts.data_root).expanduser() if opts.data_root else None


def check_data(specs: list[RunSpec], opts: RunOptions) -> None:
    """Find every dataset's files before anything is recorded, so a wrong --data-root fails at once (exit 2)."""
    for dataset in sorted({s.dataset for s in specs}):
        for split in ("train", "test"):
            DATASETS.get(dataset).locate(split, _data_root(opts), opts.download)


def trained_on_the_fly(dataset: str) -> bool:
    """Whether `run` trains a missing teacher of this dataset itself (a recipe of seconds, not GPU-hours)."""
    return DATASET_RECIPE.get(dataset) in CHEAP_RECIPES


def absent_teachers(specs: list[RunSpec], store: TeacherStore) -> list[tuple[str, str]]:
    """(dataset, teacher model) of every cell that distils from a teacher the store does not hold, sorted."""
    distilling = [s for s in specs if get_card(s.method).method_class.uses_teacher]
    needed = sorted({(s.dataset, split_pair(s.pair, s.dataset)[0]) for s in distilling})
    return [(d, m) for d, m in needed if not store.has(d, m)]


def missing_prerequisites(specs: list[RunSpec], opts: RunOptions) -> list[str]:
    """One line per data set whose files are not found, one naming the teachers that are neither stored nor
    trained on the fly, and one naming those the run will train first."""
    lines = []
    for dataset in sorted({s.dataset for s in specs}):
        try:
            for split in ("train", "test"):
                DATASETS.get(dataset).locate(split, _data_root(opts), False)
        except BadInput as err:
            lines.append(f"missing data: {err}")
    store = TeacherStore(opts.teachers)
    absent = absent_teachers(specs, store)
    missing = [f"{d}/{m}" for d, m in absent if not trained_on_the_fly(d)]
    trained = [f"{d}/{m}" for d, m in absent if trained_on_the_fly(d)]
    if missing:
        lines.append(
            f"missing teachers in {store.root}: {', '.join(missing)}; get each with `dfkd-bench train --model M "
            "--dataset D --data-root DIR` or `dfkd-bench teacher import FILE --model M --dataset D`"
        )
    if trained:
        lines.append(f"teachers the run trains first (a cheap recipe): {', '.join(trained)}")
    return lines
