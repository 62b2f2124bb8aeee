"""What `list`, `show` and `status` print: tables of models, methods, datasets, pairs, teachers and runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from dfkd_bench.config import all_cards, get_card, resolve
from dfkd_bench.data import DATASETS, get_spec
from dfkd_bench.errors import BadInput
from dfkd_bench.models import MODELS, count_parameters, create_model, list_models
from dfkd_bench.pairs import DATASET_PAIRS, split_pair
from dfkd_bench.rundir import run_damage
from dfkd_bench.summary import collect
from dfkd_bench.teachers import TeacherStore, describe_score
from dfkd_bench.train_config import TrainConfig


def models_table(pattern: str = "*") -> Table:
    table = Table(title="models")
    for column in ("name", "family", "in_channels", "params (10 classes)", "params (100 classes)"):
        table.add_column(column)
    for name in list_models(pattern):
        meta = MODELS.meta(name)
        counts = [f"{count_parameters(create_model(name, n)):,}" for n in (10, 100)]
        table.add_row(name, str(meta.get("family", "")), str(meta.get("in_channels", "")), *counts)
    return table


def methods_table(pattern: str = "*") -> Table:
    import fnmatch

    table = Table(title="methods (cards in methods/)")
    for column in ("name", "algorithm", "data-free", "datasets with presets", "paper"):
        table.add_column(column)
    for name, card in all_cards().items():
        if fnmatch.fnmatchcase(name, pattern):
            table.add_row(name, card.algorithm, "yes" if card.data_free else "no", ", ".join(card.datasets), card.paper)
    return table


def datasets_table() -> Table:
    table = Table(title="datasets")
    for column in ("name", "classes", "input", "defined pairs"):
        table.add_column(column)
    for name in DATASETS.names():
        spec = get_spec(name)
        shape = f"{spec.in_channels}x{spec.image_size}x{spec.image_size}"
        table.add_row(name, str(spec.num_classes), shape, ", ".join(DATASET_PAIRS.get(name, ())))
    return table


def pairs_table() -> Table:
    table = Table(title="teacher-student pairs")
    table.add_column("dataset")
    table.add_column("pairs (--pairs all)")
    for dataset, pairs in DATASET_PAIRS.items():
        table.add_row(dataset, ", ".join(pairs))
    return table


def teachers_table(root: Path | None = None) -> Table:
    store = TeacherStore(root)
    table = Table(title=f"teacher store {store.root}")
    for column in ("dataset", "model", "test score", "source", "sha256"):
        table.add_column(column)
    for r in store.records():
        table.add_row(r["dataset"], r["model"], describe_score(r).removeprefix("test "), r["source"], r["sha256"][:12])
    return table


def kd_budget(train: dict[str, Any]) -> dict[str, Any]:
    """The KD budget a resolved train section gives: steps per epoch and whether they follow the buffer."""
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
    from dfkd_bench.grid import parse_scale

    card = get_card(name)
    get_spec(dataset)
    split_pair(pair, dataset)
    overrides = dict(overrides or {})
    if scale is not None and parse_scale(scale, dataset) is not None:
        overrides["train.data_scale"] = parse_scale(scale, dataset)
    resolved = resolve(card, dataset, pair, overrides, budget)
    document = {
        "name": card.name,
        "label": card.display_name,
        "algorithm": card.algorithm,
        "paper_tables": card.tables,
        "segmentation": card.supports_segmentation,
        "summary": card.summary,
        "paper": card.paper,
        "reference": card.reference,
        "preset_source": card.datasets.get(dataset, {}).get("source", "card defaults (no dataset block)"),
        "dataset": dataset,
        "pair": pair,
        "budget": budget,
        "budget_source": ((card.datasets.get(dataset, {}).get("budgets") or {}).get(budget) or {}).get("source"),
        **resolved,
        "kd_budget": kd_budget(resolved["train"]),
        "deviations": card.deviations,
    }
    return yaml.safe_dump(document, sort_keys=False, width=110)


def status_tables(out: Path) -> tuple[list[Table], list[str]]:
    """Counts by state and every run's numbers; then one plain line per stale, failed or corrupt cell with its log
    (plain so that paths stay whole for copy and paste), and one per done cell whose checkpoint or metrics are
    missing or do not match (a done result alone is not a trustworthy run). Stale: its runner died;
    `dfkd-bench run` resumes it."""
    from dfkd_bench.engine.spec import RunOptions
    from dfkd_bench.grid import GRID_FILE, load_grid
    from dfkd_bench.gridstate import cell_states, counts

    out = Path(out)
    if not out.is_dir():
        raise BadInput(f"no results folder {out}; pass the --out of a `dfkd-bench run`")
    if not (out / GRID_FILE).exists():
        raise BadInput(f"no grid in {out} ({GRID_FILE} missing); pass the --out of a `dfkd-bench run`")
    cells = load_grid(out)
    frame = collect(out)
    tables: list[Table] = []
    notes: list[str] = []
    states = cell_states(cells, RunOptions(out=out), compare_config=False)
    tally = Table(title=f"grid {out / GRID_FILE}: {len(states)} cells")
    for state in ("state", "cells"):
        tally.add_column(state)
    for state, n in counts(states).items():
        if n:
            tally.add_row(state, str(n))
    tables.append(tally)
    for c in (c for c in states if c.state in ("stale", "failed", "corrupt")):
        age = f", heartbeat {c.claim.age:.0f} s ago" if c.claim else ""
        error = f": {(c.result or {}).get('error')}" if (c.result or {}).get("error") else ""
        notes.append(f"{c.state} #{c.index} {c.spec.label} at epoch {c.epochs_done}/{c.epochs}{age}{error}")
        notes.append(f"    log: {c.log}")
    for c in (c for c in states if c.state == "done"):
        if problems := run_damage(c.path):
            notes.append(f"damaged #{c.index} {c.spec.label} (done): {'; '.join(problems)} in {c.path}")
    columns = ["dataset", "pair", "method", "data_scale", "seed", "status", "epochs_done", "best_top1", "last_top1"]
    if frame["best_miou"].notna().any():
        columns += ["best_miou", "last_miou"]
    columns.append("total_s")
    runs = Table(title=f"runs under {out}")
    for column in columns:
        runs.add_column(column)
    for row in frame.itertuples(index=False):
        values = [getattr(row, c) for c in columns]
        runs.add_row(*["" if v is None or v != v else f"{v:.2f}" if isinstance(v, float) else str(v) for v in values])
    tables.append(runs)
    return tables, notes
