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

from dfkd_bench.config import Card, ablation_cards, all_cards, get_card, require_task_support, resolve, table_cards
from dfkd_bench.data import DATASETS, task_of
from dfkd_bench.engine.spec import RunSpec
from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.models import MODELS
from dfkd_bench.pairs import SEG_PAIR, expand_pairs, pairs_for, split_pair

DEFAULT_DATASET = "mnist"
DEFAULT_BUDGET = "quick"
CIFAR = ("cifar10", "cifar100")


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


@dataclass(frozen=True)
class Block:
    """One rectangular piece of a preset: every method × pair × dataset × scale."""

    methods: tuple[str, ...]
    pairs: tuple[str, ...] = ("all",)
    datasets: tuple[str, ...] = CIFAR
    scales: tuple[str, ...] = ("auto",)


@dataclass(frozen=True)
class Preset:
    description: str
    blocks: tuple[Block, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    budget: str | None = None


MNIST_BASELINES = ("kd", "deepinv", "cmi", "dafl", "dfq", "zskt", "dfad", "fast2", "fast5", "fast10")
MNIST_BN_PAIR = ("lenet5_bn-lenet5_half_bn",)
TABLE4_PAIRS = ("resnet34-resnet18", "wrn40_2-wrn16_1")
# The CPU proxy of the paper's regime (every card's `proxy` budget): Fast-N's pool ends at 56,320 images (94 % of
# the 60,000), SSD-KD holds 10 % in Tables 1 and 4, and KD dominates the time as in the CIFAR recipe.
CPU_PROXY = ("mnist", "fashion_mnist")
PROXY_BUDGET = "proxy"


def paper_table(
    table: str, scale: str, pairs: tuple[str, ...] = ("all",), datasets: tuple[str, ...] = CIFAR
) -> tuple[Block, ...]:
    """The blocks of a paper table's preset: its rows from the cards (`tables:`), the SSD-KD family (algorithm
    ssdkd) at the table's data scale, every other method at its own ('auto'). A new card with a `tables:` entry
    joins the preset and the report's table without another edit."""
    methods = table_cards(table)
    scaled = tuple(m for m in methods if get_card(m).algorithm == "ssdkd")
    rest = tuple(m for m in methods if m not in scaled)
    blocks = (Block(rest, pairs, datasets), Block(scaled, pairs, datasets, (scale,)))
    return tuple(block for block in blocks if block.methods)


def presets() -> dict[str, Preset]:
    """Every preset by name; the paper tables' method lists are read from the cards each time."""
    return {
        "table1": Preset(
            "SSD-KD Table 1: Teacher, Student, Fast2 and SSD-KD at 5,000 samples; CIFAR-10/100, 5 pairs, 3 seeds",
            paper_table("table1", "5000"),
        ),
        "table2": Preset(
            "SSD-KD Table 2: Teacher, Student, 7 baselines and SSD-KD at 50,000 samples (the paper relaxes its scale "
            "'to be similar to Fast5', whose pool holds 56,320); CIFAR-10/100, 5 pairs, 3 seeds",
            paper_table("table2", "50000"),
        ),
        "table4": Preset(
            "SSD-KD Table 4: the six ablation rows at 5,000 samples; CIFAR-10/100, ResNet-34/18 and WRN40-2/16-1, "
            "3 seeds",
            paper_table("table4", "5000", TABLE4_PAIRS),
        ),
        "figure4": Preset(
            "SSD-KD Figure 4: SSD-KD at 500, 2,500, 5,000 and 10,000 samples (1-20 %); CIFAR-10/100, 3 pairs, 3 seeds",
            (
                Block(
                    ("ssdkd",),
                    pairs=("resnet34-resnet18", "vgg11-resnet18", "wrn40_2-wrn16_1"),
                    scales=("500", "2500", "5000", "10000"),
                ),
            ),
        ),
        "mnist": Preset(
            "CPU reference grid on MNIST at the cards' quick budget: Teacher/Student rows and every baseline on both "
            "pairs; SSD-KD at 150-1,200 samples (Figure 4), kd and deepinv at 600 (Figure 1) and the Table 4 "
            "ablations at 600 on the BN pair; 3 seeds",
            (
                Block(("teacher", "student", *MNIST_BASELINES), datasets=("mnist",)),
                Block(("ssdkd",), MNIST_BN_PAIR, ("mnist",), ("150", "300", "600", "1200")),
                Block(("kd", "deepinv", *ablation_cards()), MNIST_BN_PAIR, ("mnist",), ("600",)),
            ),
            budget=DEFAULT_BUDGET,
        ),
        "proxy-table1": Preset(
            "Table 1 in the CPU proxy (budget proxy): Teacher, Student, Fast2 and SSD-KD at 10 % (6,000) on the BN "
            "pair of MNIST and Fashion-MNIST, 3 seeds",
            paper_table("table1", "10%", MNIST_BN_PAIR, CPU_PROXY),
            budget=PROXY_BUDGET,
        ),
        "proxy-table4": Preset(
            "Table 4 in the CPU proxy: the six ablation rows at 10 % (6,000) on the BN pair of MNIST and "
            "Fashion-MNIST, 3 seeds",
            paper_table("table4", "10%", MNIST_BN_PAIR, CPU_PROXY),
            budget=PROXY_BUDGET,
        ),
        "proxy-figure4": Preset(
            "Figure 4 in the CPU proxy: SSD-KD at 1 / 5 / 10 / 20 / 100 % of the training set on the BN pair of "
            "MNIST and Fashion-MNIST, 3 seeds",
            (Block(("ssdkd",), MNIST_BN_PAIR, CPU_PROXY, ("1%", "5%", "10%", "20%", "100%")),),
            budget=PROXY_BUDGET,
        ),
        "table3": Preset(
            "SSD-KD Table 3: NYUv2 segmentation (mIoU), DeepLabV3-ResNet50 -> DeepLabV3-MobileNetV2: Teacher, "
            "Student, KD on the 795 training images, DAFL, DFAD, Fast10 (17,280 synthetic) and SSD-KD at 16,000; "
            "3 seeds",
            paper_table("table3", "16000", (SEG_PAIR,), ("nyuv2",)),
        ),
    }


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
