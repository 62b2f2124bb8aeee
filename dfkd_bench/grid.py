"""Grids: CLI requests and the paper's presets expanded into RunSpecs, and the grid file every launcher reads.

A grid is stored as `<out>/grid.json`, an append-only list of cells, each resolved once when it is registered
(its config, hash and run directory); `run-one --out DIR --index I` runs cell I as recorded, so a loop, one worker
per GPU or a Slurm array all drive the same list without loading cards or teachers again.
"""

from __future__ import annotations

import fnmatch
import itertools
from dataclasses import dataclass, field
from typing import Any

from dfkd_bench.config import Card, all_cards, get_card, require_task_support, resolve
from dfkd_bench.data import DATASETS, task_of
from dfkd_bench.engine.spec import RunSpec
from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.models import MODELS
from dfkd_bench.pairs import expand_pairs, pairs_for, split_pair
from dfkd_bench.presets import DEFAULT_BUDGET, Preset, presets

DEFAULT_DATASET = "mnist"


@dataclass
class GridRequest:
    """What the user asked for; empty lists mean the embedded default (MNIST, its first pair, every method).

    Scales are strings: an image count, a percentage of the training set ('10%') or 'auto'."""

    methods: list[str] = field(default_factory=list)
    pairs: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    scales: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    budget: str | None = None
    preset: str | None = None

    @property
    def is_default(self) -> bool:
        """The embedded default run, perhaps with more seeds, scales or pairs: it names no method, data set or
        preset, so `--seeds 0,1` repeats the no-argument run instead of silently changing its budget."""
        return not (self.methods or self.datasets or self.preset)


def select_methods(patterns: list[str] | tuple[str, ...]) -> list[str]:
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


def parse_scale(text: str, dataset: str) -> int | None:
    """'auto' -> None (the method decides), '10%' -> that share of the training set, '5000' -> 5000 images."""
    size = DATASETS.meta(dataset).get("train_size")
    text = str(text).strip()
    if text == "auto":
        return None
    try:
        n = round(float(text[:-1]) / 100 * size) if text.endswith("%") and size else int(text)
    except ValueError as err:
        raise BadInput(f"bad data scale '{text}': use an image count (5000), a percentage (10%) or auto") from err
    if n < 1:
        raise BadInput(f"data scale '{text}' is {n} images for {dataset}; it must be at least 1")
    # A segmentation set's few images bound no synthetic crop count (SSD-KD: 16K synthetic vs NYUv2's 795).
    if size and n > size and task_of(dataset) != "segmentation":
        raise BadInput(f"data scale '{text}' ({n:,} images) is larger than {dataset}'s training set ({size:,})")
    return n


@dataclass(frozen=True)
class Budget:
    """The named budget a grid runs at; `by_default` when nobody asked for it (the no-argument run's `quick`), so
    a card that lacks it is left out with a note instead of failing the whole run."""

    name: str | None
    by_default: bool = False

    @staticmethod
    def of(request: GridRequest, preset: Preset | None = None) -> Budget:
        """The one rule: --budget, else the preset's, else `quick` for the no-argument run, else the card's own."""
        if request.budget is not None:
            return Budget(request.budget)
        if preset is not None:
            return Budget(preset.budget)
        return Budget(DEFAULT_BUDGET, by_default=True) if request.is_default else Budget(None)


def _has_budget(card: Card, dataset: str, budget: str) -> bool:
    return budget in ((card.datasets.get(dataset) or {}).get("budgets") or {})


def _cells(
    methods: list[str],
    pairs: list[str],
    datasets: list[str],
    scales: list[str],
    seeds: list[int],
    request: GridRequest,
    budget: Budget,
) -> tuple[list[RunSpec], list[str]]:
    """The cells of one block, and notes for the user: combinations skipped (BN matching on a BN-free teacher, a
    card without the no-argument run's budget) and pairs the data set does not define, which run on the card's
    defaults where its per-pair values are missing."""
    specs: list[RunSpec] = []
    notes: list[str] = []
    for dataset in datasets:
        DATASETS.get(dataset)
        counts = [parse_scale(s, dataset) for s in scales or ["auto"]]
        for pair, method in itertools.product(expand_pairs(pairs or [pairs_for(dataset)[0]], dataset), methods):
            card = get_card(method)
            require_task_support(card, dataset)
            if budget.by_default and not _has_budget(card, dataset, budget.name):
                notes.append(
                    f"note: {method} has no '{budget.name}' budget for {dataset} and is left out of the no-argument "
                    f"run; run it with --methods {method} (and --budget or --set to size it)"
                )
                continue
            cls = card.method_class
            method_scales = counts if cls.has_data_scale else [None]
            for scale, seed in itertools.product(dict.fromkeys(method_scales), seeds or [0]):
                overrides = dict(request.overrides)
                if scale is not None:
                    overrides["train.data_scale"] = scale
                cfg = resolve(card, dataset, pair, overrides, budget.name)
                reason = skip_reason(card, cfg["method"], dataset, pair)
                if reason is not None:
                    notes.append(f"skipping {dataset}/{pair}/{method}: {reason}")
                    break
                if pair not in pairs_for(dataset):
                    notes.append(_undefined_pair_note(card, dataset, pair, cfg))
                specs.append(RunSpec(dataset, pair, method, seed, tuple(sorted(overrides.items())), budget.name))
    return specs, list(dict.fromkeys(notes))


def _undefined_pair_note(card: Card, dataset: str, pair: str, cfg: dict[str, Any]) -> str:
    """Name the per-pair values a card sets for its defined pairs and the defaults this pair falls back to."""
    blocks = [*card.pairs.values(), *((card.datasets.get(dataset) or {}).get("pairs") or {}).values()]
    keys = sorted({f"{s}.{k}" for block in blocks for s in ("train", "method") for k in (block.get(s) or {})})
    values = ", ".join(f"{k}={cfg[k.split('.')[0]][k.split('.')[1]]}" for k in keys)
    fallback = f"; {card.name} has no per-pair values for it and uses its defaults {values}" if keys else ""
    return f"note: {pair} is not a defined pair for {dataset} ({', '.join(pairs_for(dataset))}){fallback}"


def expand(request: GridRequest) -> tuple[list[RunSpec], list[str]]:
    """Every dataset × pair × method × scale × seed cell (methods without a data scale run once, at their own),
    and notes for the user (skipped combinations, undefined pairs)."""
    bad_seeds = [seed for seed in request.seeds if not 0 <= seed < 2**32]
    if bad_seeds:
        raise BadInput(f"bad seed(s) {', '.join(map(str, bad_seeds))}: a seed is an integer from 0 to 2**32 - 1")
    if request.preset is not None:
        return _expand_preset(request)
    methods = select_methods(request.methods)
    datasets = request.datasets or [DEFAULT_DATASET]
    specs, notes = _cells(methods, request.pairs, datasets, request.scales, request.seeds, request, Budget.of(request))
    if not specs:
        raise BadInput(f"no runnable cell: {'; '.join(notes)}")
    return specs, notes


def _expand_preset(request: GridRequest) -> tuple[list[RunSpec], list[str]]:
    known = presets()
    if request.preset not in known:
        raise unknown("preset", request.preset, known)
    if request.methods or request.pairs or request.scales:
        raise BadInput(
            "--preset fixes methods, pairs and scales; --datasets narrows it, and --seeds, --budget and --set combine"
        )
    preset = known[request.preset]
    offered = list(dict.fromkeys(d for block in preset.blocks for d in block.datasets))
    for dataset in request.datasets:
        if dataset not in offered:
            raise unknown(f"dataset of preset {request.preset}", dataset, offered)
    budget = Budget.of(request, preset)
    specs: list[RunSpec] = []
    notes: list[str] = []
    for block in preset.blocks:
        seeds = request.seeds or list(preset.seeds)
        datasets = [d for d in block.datasets if not request.datasets or d in request.datasets]
        s, k = _cells(list(block.methods), list(block.pairs), datasets, list(block.scales), seeds, request, budget)
        specs.extend(x for x in s if x not in specs)
        notes.extend(k)
    return specs, list(dict.fromkeys(notes))


def skip_reason(card: Card, method_values: dict[str, Any], dataset: str, pair: str) -> str | None:
    """Why a grid never runs this card on this pair (None: it runs it): a method that matches BatchNorm statistics
    needs a teacher with BatchNorm. The report asks the same rule, to tell a cell left out on purpose from one not
    run."""
    teacher = split_pair(pair, dataset)[0]
    cls = card.method_class
    if MODELS.meta(teacher)["batchnorm"] or not cls.requires_batchnorm(params_from_dict(cls, method_values)):
        return None
    return "it matches BatchNorm statistics and the teacher has no BatchNorm"
