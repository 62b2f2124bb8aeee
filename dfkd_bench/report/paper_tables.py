"""The SSD-KD paper's Tables 1-4 rebuilt from our runs (methods × pairs per dataset), next to the published cell.

Cells are computed once as a tidy frame (`table_cells`); `render.py` turns that frame into Markdown or LaTeX, so the
three outputs can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from dfkd_bench.config import all_cards, get_card, table_cards
from dfkd_bench.data import DATASETS
from dfkd_bench.methods.base import params_from_dict
from dfkd_bench.pairs import CIFAR_PAIRS, SEG_PAIR, pairs_for
from dfkd_bench.report.gaps import gap
from dfkd_bench.report.published import load_published
from dfkd_bench.report.tables import seed_stats

Accuracy = Literal["best", "last"]
Time = Literal["total", "synthesis"]
Compare = Literal["published", "none"]

MISSING = "—"
BASELINES = ("teacher", "student")
ABLATION_PAIRS = ("resnet34-resnet18", "wrn40_2-wrn16_1")
PAPER_DATASETS = ("cifar10", "cifar100", "nyuv2")

DATASET_NAMES = {
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "nyuv2": "NYUv2",
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
}
MODEL_NAMES = {
    "resnet34": "ResNet-34",
    "resnet18": "ResNet-18",
    "vgg11": "VGG-11",
    "wrn40_2": "WRN40-2",
    "wrn40_1": "WRN40-1",
    "wrn16_2": "WRN16-2",
    "wrn16_1": "WRN16-1",
    "deeplabv3_resnet50": "DeepLabV3-ResNet50",
    "deeplabv3_mobilenetv2": "DeepLabV3-MobileNetV2",
}
# Rows the paper shows for methods we have no card for (their published numbers only): name and row per table.
PUBLISHED_ONLY = {"dfnd": ("DFND", {"table3": 4})}
# Table 4's check-mark columns and the SSD-KD parameter behind each switch (Baseline: every row).
FLAG_NAMES = ("Baseline", "PS", "Difficulty", "Diversity")
FLAG_SWITCHES = ("priority_sampling", "difficulty", "diversity")


def table_methods(table: str) -> tuple[str, ...]:
    """A paper table's rows in order, from the cards that place themselves in it (`tables:`) and the rows the paper
    has for methods we have no card for."""
    cards = all_cards()
    rows = {name: cards[name].tables[table] for name in table_cards(table)}
    rows.update({name: where[table] for name, (_, where) in PUBLISHED_ONLY.items() if table in where})
    return tuple(sorted(rows, key=lambda name: (rows[name], name)))


def ablation_flags(method: str) -> tuple[bool, ...]:
    """Table 4's check marks of an SSD-KD card: Baseline, then its priority-sampling, difficulty and diversity
    switches as the card sets them."""
    card = get_card(method)
    params = params_from_dict(card.method_class, card.method)
    return (True, *(bool(getattr(params, switch)) for switch in FLAG_SWITCHES))


@dataclass(frozen=True)
class TableSpec:
    """Which methods and pairs a paper table shows, and how each method's data-scale setting is picked.

    Scale preferences are tried in order: 'auto' (the method's own default), 'ten' (10 % of the training set, the
    paper's 5000 on CIFAR), 'max' (largest recorded setting), 'anchor' (the setting closest to the data scale
    recorded by the `anchor` method on the same pair: Fast5 for Table 2, whose SSD-KD scale the paper relaxes "to be
    similar to that for Fast5"; the ablation baseline for Table 4, so that every ablation row has one scale).
    """

    key: str
    number: int
    title: str
    paper_pairs: tuple[str, ...]
    ssdkd_prefs: tuple[str, ...]
    speedup: bool
    metric: str = "top1"
    other_prefs: tuple[str, ...] = ("auto", "ten", "max")
    shown_unless: tuple[str, ...] = BASELINES  # a dataset appears once a row other than these ran
    anchor: str | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        """The table's rows, from the cards (read when asked, so a card added or edited counts at once)."""
        return table_methods(self.key)


TABLES: dict[str, TableSpec] = {
    spec.key: spec
    for spec in (
        TableSpec(
            "table1",
            1,
            "Fast2 vs SSD-KD at a small data scale",
            CIFAR_PAIRS,
            ("ten", "max", "auto"),
            speedup=True,
        ),
        TableSpec(
            "table2",
            2,
            "SSD-KD vs the top-performing D-KD methods",
            CIFAR_PAIRS,
            ("anchor", "max", "auto"),
            speedup=True,
            anchor="fast5",
        ),
        TableSpec(
            "table3",
            3,
            "Semantic segmentation on NYUv2 (mIoU)",
            (SEG_PAIR,),
            ("max", "auto"),
            speedup=False,
            metric="miou",
        ),
        TableSpec(
            "table4",
            4,
            "Ablation of SSD-KD's modules",
            ABLATION_PAIRS,
            ("anchor", "ten", "max", "auto"),
            speedup=False,
            other_prefs=("ten", "max", "auto"),
            shown_unless=(*BASELINES, "ssdkd"),
            anchor="ssdkd_baseline",
        ),
    )
}


def pair_label(pair: str) -> str:
    teacher, _, student = pair.partition("-")
    return f"{MODEL_NAMES.get(teacher, teacher)} → {MODEL_NAMES.get(student, student)}"


def method_label(method: str) -> str:
    """The method's name in tables and figures: its card's label (with its external prior, if any), the paper's
    name for a published-only row."""
    if method in PUBLISHED_ONLY:
        return PUBLISHED_ONLY[method][0]
    cards = all_cards()
    if method not in cards:
        return method
    card = cards[method]
    # Outside knowledge (a pretrained text encoder) is named on every row, so no reader takes it for data-free alone.
    return f"{card.display_name} [external prior: {card.external_prior}]" if card.external_prior else card.display_name


def _choose_scale(available: dict[str, float], prefs: tuple[str, ...], ten: int | None, anchor: float | None) -> str:
    numeric = [s for s in available if s != "auto"]
    for pref in prefs:
        if pref == "auto" and "auto" in available:
            return "auto"
        if pref == "ten" and ten is not None and str(ten) in available:
            return str(ten)
        if pref == "max" and numeric:
            return max(numeric, key=int)
        if pref == "anchor" and anchor is not None and numeric:
            return min(numeric, key=lambda s: abs(int(s) - anchor))
    return next(iter(available))


def _published(spec: TableSpec, compare: Compare, time: Time) -> dict[tuple[str, str, str], dict[str, object]]:
    """(dataset, method, pair) -> published value, hours of the same time kind as ours, and data-scale text."""
    if compare == "none":
        return {}
    paper = load_published("paper")
    paper = paper[paper["table"] == str(spec.number)]
    value = "miou" if spec.metric == "miou" else "accuracy"
    out = {
        (r.dataset, r.method, r.pair): {
            "acc": getattr(r, value),
            "hours": r.hours if time == "total" else math.nan,
            "scale": r.data_scale,
        }
        for r in paper.itertuples()
    }
    if time == "synthesis":
        for r in load_published("readme").itertuples():
            if (r.dataset, r.method, r.pair) in out:
                out[(r.dataset, r.method, r.pair)]["hours"] = r.hours
    return out


def _pair_order(spec: TableSpec, dataset: str, pairs: set[str]) -> list[str]:
    """The paper's pairs for a paper dataset (run or not), then any other pair the runs used."""
    first = list(spec.paper_pairs) if dataset in PAPER_DATASETS else [p for p in pairs_for(dataset) if p in pairs]
    return first + sorted(pairs - set(first))


def table_cells(
    frame: pd.DataFrame,
    spec: TableSpec | str,
    compare: Compare = "published",
    accuracy: Accuracy = "best",
    time: Time = "total",
) -> pd.DataFrame:
    """One row per dataset × method × pair shown in the table (missing cells included, n = 0), tidy.

    Datasets are those with a finished run of one of the table's methods (teacher/student aside; for Table 4 an
    ablation, not SSD-KD alone). Paper datasets
    show the paper's pairs; any other dataset shows the pairs it was run on. A cell without a result says why in
    `gap` (a key of `gaps.GAPS`) and `gap_detail` (the grid's reason for a cell it skips).
    """
    spec = TABLES[spec] if isinstance(spec, str) else spec
    metric, time_col = f"{accuracy}_{spec.metric}", f"{time}_s"
    recorded_teacher = f"teacher_{spec.metric}"
    stats = seed_stats(frame, [metric, time_col, "data_scale", recorded_teacher])
    teacher_score = stats.groupby(["dataset", "pair"])[f"{recorded_teacher}_mean"].mean()
    stats = stats[stats["method"].isin(spec.methods) & (stats[f"{metric}_n"] > 0)]
    distilled = stats[~stats["method"].isin(spec.shown_unless)]
    datasets = [d for d in PAPER_DATASETS if d in set(distilled["dataset"])]
    datasets += sorted(set(distilled["dataset"]) - set(PAPER_DATASETS))
    published = _published(spec, compare, time)
    index = {tuple(k): g.set_index("scale") for k, g in stats.groupby(["dataset", "pair", "method"])}
    rows = []
    for dataset in datasets:
        for pair in _pair_order(spec, dataset, set(stats.loc[stats["dataset"] == dataset, "pair"])):
            size = DATASETS.meta(dataset).get("train_size") if dataset in DATASETS else None
            ten = size // 10 if size else None
            anchor = _anchor_scale(index.get((dataset, pair, spec.anchor)), spec, ten)
            for method in spec.methods:
                rows.append(
                    _cell(index.get((dataset, pair, method)), spec, method, ten, anchor, metric, time_col)
                    | {"dataset": dataset, "pair": pair, "method": method}
                    | _paper_cell(published.get((dataset, method, pair)))
                )
                if method == "teacher" and rows[-1]["n"] == 0:
                    fallback = teacher_score.get((dataset, pair), math.nan)
                    if not math.isnan(fallback):
                        rows[-1] |= {
                            "acc_mean": fallback,
                            "note": f"{recorded_teacher} recorded by the distillation runs",
                        }
                if rows[-1]["n"] == 0 and not rows[-1]["note"]:
                    why, detail = gap(frame, dataset, pair, method, method not in PUBLISHED_ONLY)
                    rows[-1] |= {"gap": why, "gap_detail": detail}
    cells = pd.DataFrame(rows).reindex(columns=CELL_COLUMNS)
    cells["delta"] = cells["acc_mean"] - cells["paper_acc"]
    cells["table"], cells["metric"], cells["accuracy"], cells["time"] = spec.key, spec.metric, accuracy, time
    _speedups(cells, spec)
    return cells[CELL_COLUMNS + ["speedup", "paper_speedup"]]


CELL_COLUMNS = [
    "dataset",
    "pair",
    "method",
    "scale",
    "data_scale",
    "n",
    "acc_mean",
    "acc_std",
    "time_s",
    "hours",
    "paper_acc",
    "paper_hours",
    "paper_scale",
    "note",
    "gap",
    "gap_detail",
    "delta",
    "table",
    "metric",
    "accuracy",
    "time",
]


def _anchor_scale(group: pd.DataFrame | None, spec: TableSpec, ten: int | None) -> float | None:
    """The data scale (images) the anchor method recorded at the setting this table shows for it."""
    if group is None:
        return None
    return float(
        group.loc[_choose_scale(dict(group["data_scale_mean"]), spec.other_prefs, ten, None)]["data_scale_mean"]
    )


def _cell(
    group: pd.DataFrame | None,
    spec: TableSpec,
    method: str,
    ten: int | None,
    anchor: float | None,
    metric: str,
    time_col: str,
) -> dict[str, object]:
    if group is None:
        return {"scale": "", "n": 0, "note": "", "gap": "", "gap_detail": ""}
    prefs = spec.ssdkd_prefs if method.startswith("ssdkd") else spec.other_prefs
    scale = _choose_scale(dict(group["data_scale_mean"]), prefs, ten, anchor)
    row = group.loc[scale]
    return {
        "scale": scale,
        "data_scale": row["data_scale_mean"],
        "n": int(row[f"{metric}_n"]),
        "acc_mean": row[f"{metric}_mean"],
        "acc_std": row[f"{metric}_std"],
        "time_s": row[f"{time_col}_mean"],
        "hours": row[f"{time_col}_mean"] / 3600,
        "note": "",
        "gap": "",
        "gap_detail": "",
    }


def _paper_cell(paper: dict[str, object] | None) -> dict[str, object]:
    if paper is None:
        return {"paper_acc": math.nan, "paper_hours": math.nan, "paper_scale": ""}
    return {"paper_acc": paper["acc"], "paper_hours": paper["hours"], "paper_scale": paper["scale"]}


def _speedups(cells: pd.DataFrame, spec: TableSpec) -> None:
    """speedup = method time ÷ SSD-KD time on the same dataset and pair (how much faster SSD-KD was)."""
    cells["speedup"], cells["paper_speedup"] = math.nan, math.nan
    if not spec.speedup or cells.empty:
        return
    ref = cells[cells["method"] == "ssdkd"].set_index(["dataset", "pair"])
    key = pd.MultiIndex.from_frame(cells[["dataset", "pair"]])
    others = ~cells["method"].isin((*BASELINES, "ssdkd"))
    cells.loc[others, "speedup"] = (cells["time_s"].to_numpy() / ref["time_s"].reindex(key).to_numpy())[others]
    cells.loc[others, "paper_speedup"] = (cells["paper_hours"].to_numpy() / ref["paper_hours"].reindex(key).to_numpy())[
        others
    ]


def paper_tables(
    frame: pd.DataFrame, compare: Compare = "published", accuracy: Accuracy = "best", time: Time = "total"
) -> dict[str, pd.DataFrame]:
    """Cells of Tables 1, 2 and 4, and of Table 3 when the runs recorded segmentation (mIoU) results."""
    keys = ["table1", "table2", "table3", "table4"]
    if "best_miou" not in frame or frame["best_miou"].isna().all():
        keys.remove("table3")
    return {key: table_cells(frame, key, compare, accuracy, time) for key in keys}
