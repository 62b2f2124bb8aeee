"""What `list`, `show` and `status` print: tables of models, methods, presets, datasets, pairs, teachers and
runs, as FitTables (terminal) whose rows are also what `--json` prints. Each function imports what it needs, so
that a listing that needs no model (status, teachers, pairs) does not pay for importing torch."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from dfkd_bench.errors import BadInput
from dfkd_bench.terminal import Column, FitTable


def _pattern(pattern: str) -> Callable[[str], bool]:
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def models_listing(pattern: str = "*") -> FitTable:
    from dfkd_bench.models import MODELS, count_parameters, create_model, list_models

    table = FitTable(
        "models",
        (Column("name"), Column("family"), Column("in_channels"), Column("params_10"), Column("params_100")),
    )
    for name in list_models(pattern):
        meta = MODELS.meta(name)
        counts = [f"{count_parameters(create_model(name, n)):,}" for n in (10, 100)]
        table.add_row(name, str(meta.get("family", "")), str(meta.get("in_channels", "")), *counts)
    return table


def methods_listing(pattern: str = "*") -> FitTable:
    from dfkd_bench.config import all_cards

    columns = (
        Column("name"),
        Column("label", keep=1, wrap=True),
        Column("algorithm", keep=2),
        Column("data_free"),
        Column("external prior", keep=3, wrap=True),
        Column("default"),
        Column("datasets", keep=3, wrap=True),
        Column("paper", keep=4, wrap=True),
    )
    table = FitTable("methods (cards in methods/)", columns)
    for name, card in filter(lambda item: _pattern(pattern)(item[0]), all_cards().items()):
        yes = {True: "yes", False: "no"}
        table.add_row(
            name,
            card.display_name,
            card.algorithm,
            yes[card.data_free],
            card.external_prior or "",
            yes[card.default_run],
            ", ".join(card.datasets),
            card.paper,
        )
    return table


def presets_listing() -> FitTable:
    from dfkd_bench.presets import presets

    table = FitTable(
        "presets (--preset)", (Column("name"), Column("seeds"), Column("budget"), Column("grid", wrap=True))
    )
    for name, preset in presets().items():
        table.add_row(name, ",".join(map(str, preset.seeds)), preset.budget or "card", preset.description)
    return table


def datasets_listing() -> FitTable:
    from dfkd_bench.datasets_catalog import dataset_names, get_spec
    from dfkd_bench.pairs import DATASET_PAIRS

    table = FitTable(
        "datasets", (Column("name"), Column("classes"), Column("input"), Column("pairs", keep=1, wrap=True))
    )
    for name in dataset_names():
        spec = get_spec(name)
        shape = f"{spec.in_channels}x{spec.image_size}x{spec.image_size}"
        table.add_row(name, str(spec.num_classes), shape, ", ".join(DATASET_PAIRS.get(name, ())))
    return table


def pairs_listing() -> FitTable:
    from dfkd_bench.pairs import DATASET_PAIRS

    table = FitTable(
        "teacher-student pairs (--pairs all: every pair of the dataset)", (Column("dataset"), Column("pair"))
    )
    for dataset, pairs in DATASET_PAIRS.items():
        for pair in pairs:
            table.add_row(dataset, pair)
    return table


def teachers_listing(root: Path | None = None) -> FitTable:
    from dfkd_bench.teachers import TeacherStore, describe_score

    store = TeacherStore(root)
    columns = (Column("dataset"), Column("model"), Column("score"), Column("source", keep=1), Column("sha256"))
    table = FitTable(f"teacher store {store.root}", columns)
    for r in store.records():
        table.add_row(r["dataset"], r["model"], describe_score(r).removeprefix("test "), r["source"], r["sha256"][:12])
    return table


LISTINGS: dict[str, Callable[..., FitTable]] = {
    "models": models_listing,
    "methods": methods_listing,
    "presets": presets_listing,
    "datasets": datasets_listing,
    "pairs": pairs_listing,
    "teachers": teachers_listing,
}


def kd_budget(train: dict[str, Any]) -> dict[str, Any]:
    """The KD budget a resolved train section gives: steps per epoch and whether they follow the buffer."""
    from dfkd_bench.train_config import TrainConfig

    config = TrainConfig(**train)
    if config.kd_passes is None:
        rule = f"fixed: kd_steps = {config.kd_steps} per synthesis round"
    else:
        rule = (
            f"buffer: max(1, round(kd_passes {config.kd_passes:g} x |B| {config.data_scale:,} / batch_size "
            f"{config.batch_size})) per epoch"
        )
    return {
        "rule": rule,
        "synthesis_rounds_per_epoch": config.rounds_per_epoch,
        "kd_steps_per_epoch": config.kd_steps_per_epoch,
        "kd_steps_total": config.kd_steps_per_epoch * max(0, config.epochs - config.warmup),
    }


def show_method(
    name: str,
    dataset: str,
    pair: str,
    overrides: dict[str, Any] | None = None,
    budget: str | None = None,
    scale: str | None = None,
) -> str:
    """The card's provenance, its resolved config for one cell (dataset, pair, budget, data scale and other
    overrides), the KD budget that config gives, and the card's deviations, as YAML."""
    from dfkd_bench.config import get_card, resolve
    from dfkd_bench.data import get_spec
    from dfkd_bench.grid import parse_scale
    from dfkd_bench.pairs import split_pair

    card = get_card(name)
    get_spec(dataset)
    split_pair(pair, dataset)
    overrides = dict(overrides or {})
    if scale is not None and parse_scale(scale, dataset) is not None:
        overrides["train.data_scale"] = parse_scale(scale, dataset)
    sources: dict[str, str] = {}
    resolved = resolve(card, dataset, pair, overrides, budget, sources)
    document = {
        "name": card.name,
        "label": card.display_name,
        "algorithm": card.algorithm,
        "paper_tables": card.tables,
        "segmentation": card.supports_segmentation,
        "summary": card.summary,
        "paper": card.paper,
        "reference": card.reference,
        "external_prior": card.external_prior,
        "preset_source": card.datasets.get(dataset, {}).get("source", "card defaults (no dataset block)"),
        "dataset": dataset,
        "pair": pair,
        "budget": budget,
        "budget_source": ((card.datasets.get(dataset, {}).get("budgets") or {}).get(budget) or {}).get("source"),
        **resolved,
        "kd_budget": kd_budget(resolved["train"]),
        "sources": sources,
        "deviations": card.deviations,
    }
    return yaml.safe_dump(document, sort_keys=False, width=110)


STATUS_COLUMNS = (
    Column("dataset", context=True),
    Column("pair", context=True),
    Column("method"),
    Column("data", justify="right"),
    Column("seed", justify="right"),
    Column("status"),
    Column("epochs", keep=2, justify="right"),
    Column("best", justify="right"),
    Column("last", keep=1, justify="right"),
    Column("total s", justify="right"),
)


def grid_status(out: Path) -> dict[str, Any]:
    """The grid in `out` as data (what `status --json` prints): cells by state, every run's numbers, and notes:
    one line per stale, failed or corrupt cell with its log, and one per done cell whose checkpoint or metrics are
    missing or do not match (a done result alone is not a trustworthy run). Stale: its runner died;
    `dfkd-bench run` resumes it."""
    from dfkd_bench.engine.spec import RunOptions
    from dfkd_bench.gridfile import GRID_FILE, load_grid
    from dfkd_bench.gridstate import cell_states, counts
    from dfkd_bench.rundir import run_damage
    from dfkd_bench.summary import collect_rows

    out = Path(out)
    if not out.is_dir():
        raise BadInput(f"no results folder {out}; pass the --out of a `dfkd-bench run`")
    if not (out / GRID_FILE).exists():
        raise BadInput(f"no grid in {out} ({GRID_FILE} missing); pass the --out of a `dfkd-bench run`")
    states = cell_states(load_grid(out), RunOptions(out=out), compare_config=False)
    notes: list[str] = []
    for c in (c for c in states if c.state in ("stale", "failed", "corrupt")):
        age = f", heartbeat {c.claim.age:.0f} s ago" if c.claim else ""
        error = f": {(c.result or {}).get('error')}" if (c.result or {}).get("error") else ""
        notes.append(f"{c.state} #{c.index} {c.spec.label} at epoch {c.epochs_done}/{c.epochs}{age}{error}")
        notes.append(f"    log: {c.log}")
    for c in (c for c in states if c.state == "done"):
        if problems := run_damage(c.path):
            notes.append(f"damaged #{c.index} {c.spec.label} (done): {'; '.join(problems)} in {c.path}")
    runs = collect_rows(out)
    return {"grid": str(out / GRID_FILE), "cells": len(states), "states": counts(states), "runs": runs, "notes": notes}


def status_tables(out: Path) -> tuple[list[Any], list[str]]:
    """`status` for a terminal: the state tally and every run's numbers, laid out to fit its width; the notes
    stay plain lines so that paths stay whole for copy and paste."""
    status = grid_status(out)
    tally = Table(title=f"grid {status['grid']}: {status['cells']} cells")
    for state in ("state", "cells"):
        tally.add_column(state)
    for state, n in status["states"].items():
        if n:
            tally.add_row(state, str(n))
    segmentation = any(r.get("best_miou") is not None for r in status["runs"])
    metric = "miou" if segmentation else "top1"
    runs = FitTable(f"runs under {out} ({'mIoU' if segmentation else 'top-1 %'}; seconds)", STATUS_COLUMNS)
    for r in status["runs"]:
        runs.add_row(
            r["dataset"],
            r["pair"],
            r["method"],
            _whole(r.get("data_scale")),
            _whole(r.get("seed")),
            str(r.get("status") or ""),
            _whole(r.get("epochs_done")),
            _decimal(r.get(f"best_{metric}")),
            _decimal(r.get(f"last_{metric}")),
            _decimal(r.get("total_s")),
        )
    return [tally, runs], status["notes"]


def _whole(value: Any) -> str:
    return "" if value is None else str(int(value))


def _decimal(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}"
