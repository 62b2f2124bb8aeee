"""`dfkd-bench run`: expand the requested cells, make sure their teachers exist, run them one after another."""

from __future__ import annotations

import fnmatch
import itertools
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from dfkd_bench.config import all_cards, get_card, resolve
from dfkd_bench.data import DATASETS
from dfkd_bench.engine.loop import run_one
from dfkd_bench.engine.spec import RunOptions, RunSpec
from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.methods import METHODS
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.models import MODELS
from dfkd_bench.pairs import expand_pairs, pairs_for, split_pair
from dfkd_bench.progress import Reporter
from dfkd_bench.store import write_summary
from dfkd_bench.teachers import TeacherStore
from dfkd_bench.train import DATASET_RECIPE, RECIPES, train_into_store

DEFAULT_DATASET = "mnist"
DEFAULT_BUDGET = "quick"
CHEAP_RECIPES = {"mnist"}


@dataclass
class GridRequest:
    """What the user asked for; empty lists mean the embedded default (MNIST, its first pair, every method).

    With nothing asked at all, the run uses every card's 'quick' budget so the whole default fits in minutes."""

    methods: list[str] = field(default_factory=list)
    pairs: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    scales: list[int | None] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    budget: str | None = None

    @property
    def is_default(self) -> bool:
        return not (self.methods or self.pairs or self.datasets or self.scales or self.seeds)


def select_methods(patterns: list[str]) -> list[str]:
    """Card names matching each pattern ('all', exact names or wildcards like 'fast*'), in request order.

    No pattern means the cards of the default run (every card not marked `default_run: false`)."""
    cards = all_cards()
    names = list(cards)
    if not patterns:
        return [n for n in names if cards[n].default_run]
    chosen: list[str] = []
    for pattern in patterns:
        matched = names if pattern == "all" else [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            raise unknown("method", pattern, names)
        chosen.extend(n for n in matched if n not in chosen)
    return chosen


def expand(request: GridRequest) -> tuple[list[RunSpec], list[str]]:
    """Every dataset × pair × method × scale × seed cell, in that nesting order, and the skipped combinations
    (methods that match BN statistics on a pair whose teacher has no BatchNorm)."""
    datasets = request.datasets or [DEFAULT_DATASET]
    for name in datasets:
        DATASETS.get(name)
    methods = select_methods(request.methods)
    specs: list[RunSpec] = []
    skipped: list[str] = []
    for dataset in datasets:
        pairs = expand_pairs(request.pairs or [pairs_for(dataset)[0]], dataset)
        for pair, method, scale, seed in itertools.product(
            pairs, methods, request.scales or [None], request.seeds or [0]
        ):
            overrides = dict(request.overrides)
            if scale is not None:
                overrides["train.data_scale"] = scale
            card = get_card(method)
            cfg = resolve(card, dataset, pair, overrides, request.budget)
            if not _compatible(card.algorithm, cfg["method"], pair, dataset):
                skipped.append(f"{dataset}/{pair}/{method}")
                continue
            specs.append(RunSpec(dataset, pair, method, seed, tuple(sorted(overrides.items())), request.budget))
    if skipped and not specs:
        raise BadInput(f"no runnable cell: {', '.join(skipped)} match BatchNorm statistics but the teacher has no BN")
    return specs, skipped


def _compatible(algorithm: str, method_values: dict[str, Any], pair: str, dataset: str) -> bool:
    """False when the method matches BN statistics and the pair's teacher has no BatchNorm layer."""
    cls = METHODS.get(algorithm)
    teacher = split_pair(pair, dataset)[0]
    return MODELS.meta(teacher)["batchnorm"] or not cls.requires_batchnorm(params_from_dict(cls, method_values))


def ensure_teachers(specs: list[RunSpec], opts: RunOptions, reporter: Reporter) -> None:
    """Train missing teachers where the dataset's recipe is cheap (MNIST family); otherwise say how to get one."""
    store = TeacherStore(opts.teachers)
    needed = sorted({(s.dataset, split_pair(s.pair, s.dataset)[0]) for s in specs})
    for dataset, model in needed:
        if store.has(dataset, model):
            continue
        if DATASET_RECIPE.get(dataset) not in CHEAP_RECIPES:
            raise store.missing(dataset, model)
        label = f"train teacher {dataset}/{model}"
        recipe = RECIPES[DATASET_RECIPE[dataset]]
        reporter.message(f"no {model} teacher for {dataset} in {store.root}: training one ({recipe.source})")
        record = train_into_store(
            model,
            dataset,
            store,
            opts.data_root,
            opts.device,
            download=opts.download,
            on_epoch=lambda e, n, r, label=label: reporter.update(label, e + 1, n, f"top1 {r.top1:.2f}%"),
        )
        reporter.message(f"teacher {dataset}/{model}: test top-1 {record['test_top1']:.2f}%")


def run_cells(specs: list[RunSpec], opts: RunOptions, reporter: Reporter) -> list[dict[str, Any]]:
    """Run every cell; a failing cell is recorded and the others still run."""
    results = []
    for spec in specs:
        try:
            result = run_one(spec, opts, reporter)
        except BadInput:
            raise
        except Exception as err:
            reporter.message(f"{spec.label} failed: {type(err).__name__}: {err}")
            result = {
                "status": "failed",
                "dataset": spec.dataset,
                "pair": spec.pair,
                "method": spec.method,
                "seed": spec.seed,
                "error": str(err),
            }
        results.append(result)
    write_summary(opts.out)
    return results


def results_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="dfkd-bench results (top-1 %, seconds)")
    for column in (
        "dataset",
        "pair",
        "method",
        "seed",
        "status",
        "best",
        "last",
        "data scale",
        "synth s",
        "kd s",
        "total s",
    ):
        table.add_column(column)
    for r in results:
        times = r.get("times") or {}
        table.add_row(
            r["dataset"],
            r["pair"],
            r["method"],
            str(r["seed"]),
            r["status"],
            _fmt(r.get("best_top1")),
            _fmt(r.get("last_top1")),
            str(r.get("data_scale", "")),
            _fmt(times.get("synthesis")),
            _fmt(times.get("kd")),
            _fmt(times.get("total")),
        )
    return table


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def run_request(request: GridRequest, opts: RunOptions, dry_run: bool = False) -> tuple[list[dict], Table | None]:
    """The whole `run` command; returns the results and their table (None for a dry run)."""
    if request.is_default and request.budget is None:
        request.budget = DEFAULT_BUDGET
    specs, skipped = expand(request)
    with Reporter() as reporter:
        for label in skipped:
            reporter.message(f"skipping {label}: it matches BatchNorm statistics and the teacher has no BatchNorm")
        if dry_run:
            for spec in specs:
                budget = f" budget={spec.budget}" if spec.budget else ""
                reporter.message(f"would run {spec.label}{budget} {dict(spec.overrides) or ''}".rstrip())
            return [], None
        ensure_teachers(specs, opts, reporter)
        results = run_cells(specs, opts, reporter)
    return results, results_table(results)
