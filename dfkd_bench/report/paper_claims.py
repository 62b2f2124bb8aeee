"""The SSD-KD paper's claims tested against our runs, with statistics over seeds: one tidy row per claim check.

A table cell says what we measured; a claim row says whether that supports what the paper says, given the spread
over seeds. Differences get Welch's t interval, time ratios a percentile bootstrap, Figure 4's linearity a
least-squares R². The methods and data-scale settings compared are the ones the report's Tables 1, 2 and 4 and
Figure 2 show (`table_cells`, `_pick_settings`), so a claim row and the table next to it never disagree.

The paper's side of each claim is computed the same way from its published means (`paper_effects`), so on a data
set the paper has no results on, ours is set beside the paper's own ratios, deltas and ranks, not a number typed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from dfkd_bench.config import ablation_cards
from dfkd_bench.report.document import Block, Paragraph, Table, to_markdown
from dfkd_bench.report.figures import _histograms, _pick_settings, _train_size
from dfkd_bench.report.paper_tables import (
    DATASET_NAMES,
    FLAG_NAMES,
    Accuracy,
    ablation_flags,
    method_label,
    pair_label,
    table_cells,
)
from dfkd_bench.report.published import load_published
from dfkd_bench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_ratio_ci, linear_fit, welch_ci
from dfkd_bench.report.tables import done_runs

LINEAR_R2 = 0.95
MAX_DROP = 10.0  # Figure 4: "less than 10 %" lost even at 1 % of the data, read as top-1 points

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive (no significant difference)"
FEW_SEEDS = "insufficient seeds"

FIGURE2_RIVALS = ("fast2", "fast10", "deepinv")
TABLE2_RIVALS = ("deepinv", "cmi", "dafl", "dfq", "zskt", "fast5", "fast10")

# What the paper says where it prints no number (its figures and text); its tables' numbers are read from
# results/published/ssdkd_cvpr2024.csv (`paper_effects`).
PAPER_LINEAR = "time grows linearly with the data scale"
PAPER_DROP = "drop < 10 points even at 1 % of the data"
PAPER_BALANCE = "SSD-KD's KD samples spread more evenly over the classes"
PAPER_HARDER = "SSD-KD's KD samples have lower teacher confidence"


@dataclass(frozen=True)
class Claim:
    """What one claim row tests: its wording, the measure it computes, and the side of `threshold` the paper puts
    that measure on (`expected` +1: above, −1: below; for a rank, first place)."""

    text: str
    measure: str
    kind: str  # ratio, difference, rank or r2
    expected: int
    threshold: float = 0.0


T1_TIME = Claim("Table 1: SSD-KD (10 % data) is faster than Fast2", "total time SSD-KD / Fast2", "ratio", -1, 1.0)
T1_ACC = Claim(
    "Table 1: SSD-KD (10 % data) is more accurate than Fast2", "Δ top-1 SSD-KD − Fast2 (points)", "difference", +1
)
T4_ORDER = Claim(
    "Table 4: the full SSD-KD is the most accurate ablation row",
    "Δ top-1 full − best other row (points)",
    "difference",
    +1,
)
T4_PS = Claim("Table 4: PS reduces training time", "total time Baseline+PS / Baseline", "ratio", -1, 1.0)
T2_RANK = "Table 2: SSD-KD is the best or near-best method"
F4_LINEAR = Claim(
    "Figure 4: SSD-KD's time grows linearly with the data scale", "R² of total time against images", "r2", +1, LINEAR_R2
)
F4_DROP = Claim(
    f"Figure 4: SSD-KD loses < {MAX_DROP:.0f} points at the smallest data scale",
    "Δ top-1 smallest − largest scale (points)",
    "difference",
    +1,
    -MAX_DROP,
)


def t2_versus(name: str) -> Claim:
    """Table 2's comparison of SSD-KD with one rival, by the rival's display name."""
    return Claim(f"Table 2: SSD-KD vs {name}", f"Δ top-1 SSD-KD − {name} (points)", "difference", +1)


def t2_rank(methods: int) -> Claim:
    """Table 2's ranking claim among `methods` methods (SSD-KD included)."""
    return Claim(T2_RANK, f"SSD-KD's rank by mean top-1 of {methods}", "rank", -1, 1.5)


COLUMNS = [
    "claim",
    "dataset",
    "pair",
    "compared",
    "n_min",
    "kind",
    "measure",
    "effect",
    "ci_low",
    "ci_high",
    "paper",
    "verdict",
    "detail",
    "accuracy",
]


def _verdict(low: float, high: float, claim: Claim) -> str:
    """Supported when the interval lies wholly on the paper's side of the claim's threshold, contradicted when
    wholly on the other side."""
    if math.isnan(low):
        return FEW_SEEDS
    above = claim.expected > 0
    if (low > claim.threshold) if above else (high < claim.threshold):
        return SUPPORTED
    if (high < claim.threshold) if above else (low > claim.threshold):
        return CONTRADICTED
    return INCONCLUSIVE


# ---------------------------------------------------------------- the runs of one dataset × pair


@dataclass(frozen=True)
class _Group:
    """One method at one data-scale setting: the per-seed values of the quantity a claim compares."""

    method: str
    scale: str
    values: np.ndarray

    @property
    def label(self) -> str:
        scale = "auto" if self.scale == "auto" else f"{int(self.scale):,} img"
        return f"{_label(self.method)} @ {scale} (n={len(self.values)})"

    @property
    def mean(self) -> float:
        return float(self.values.mean())


@dataclass(frozen=True)
class _Pair:
    """The finished runs of one dataset × pair, and the report's table cells for it."""

    dataset: str
    pair: str
    runs: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    accuracy: str

    @property
    def acc(self) -> str:
        return f"{self.accuracy}_top1"

    def cell(self, table: str, method: str) -> pd.Series | None:
        """The table's cell for `method` here (its chosen setting and the published value), None if not run."""
        cells = self.tables[table]
        hit = cells[(cells["dataset"] == self.dataset) & (cells["pair"] == self.pair) & (cells["method"] == method)]
        hit = hit[hit["n"] > 0]
        return None if hit.empty else hit.iloc[0]

    def group(self, method: str, scale: str, column: str) -> _Group | None:
        chosen = self.runs[(self.runs["method"] == method) & (self.runs["scale"] == scale)]
        values = chosen[column].dropna().to_numpy(float)
        return _Group(method, scale, values) if len(values) else None

    def row(
        self,
        claim: Claim,
        groups: list[_Group],
        effect: tuple[float, float, float],
        paper: str,
        verdict: str,
        detail: str = "",
        compared: str = "",
    ) -> dict[str, object]:
        return {
            "claim": claim.text,
            "dataset": self.dataset,
            "pair": self.pair,
            "compared": compared or " vs ".join(g.label for g in groups),
            "n_min": min(len(g.values) for g in groups),
            "kind": claim.kind,
            "measure": claim.measure,
            "effect": effect[0],
            "ci_low": effect[1],
            "ci_high": effect[2],
            "paper": paper,
            "verdict": verdict,
            "detail": detail,
            "accuracy": self.accuracy,
        }


def _label(method: str) -> str:
    """Table 4's row name for an ablation ('Baseline+PS'), the method's display name otherwise."""
    if method in ablation_cards():
        return "+".join(name for name, on in zip(FLAG_NAMES, ablation_flags(method), strict=True) if on)
    return method_label(method)


def _ranking(groups: list[_Group]) -> str:
    ordered = sorted(groups, key=lambda g: -g.mean)
    return "ranking " + " > ".join(f"{_label(g.method)} {g.mean:.2f}" for g in ordered)


def _paper_number(value: float, claim: Claim) -> str:
    """The paper's value for this cell, or its range over every published cell where it has none."""
    return paper_range(claim) if pd.isna(value) else paper_value(value, claim.kind)


def paper_value(value: float, kind: str) -> str:
    """A published effect as the claims print it: a ratio, a signed difference, or a rank."""
    return f"{value:.0f}" if kind == "rank" else f"{value:+.2f}" if kind == "difference" else f"{value:.2f}"


# ---------------------------------------------------------------- the claims


def _table1(p: _Pair) -> list[dict[str, object]]:
    """Table 1: SSD-KD at 10 % of the training set is faster than Fast2, and more accurate (the claim is about
    that data scale, so it is skipped when SSD-KD did not run at exactly train_size // 10)."""
    size = _train_size(p.dataset)
    ours, fast = p.cell("table1", "ssdkd"), p.cell("table1", "fast2")
    if not size or ours is None or fast is None or ours["scale"] != str(size // 10):
        return []
    rows = []
    time_s = p.group("ssdkd", ours["scale"], "total_s"), p.group("fast2", fast["scale"], "total_s")
    if None not in time_s:
        ratio = bootstrap_ratio_ci(time_s[0].values, time_s[1].values)
        paper = _paper_number(ours["paper_hours"] / fast["paper_hours"], T1_TIME)
        rows.append(p.row(T1_TIME, list(time_s), ratio, paper, _verdict(ratio[1], ratio[2], T1_TIME)))
    top1 = p.group("ssdkd", ours["scale"], p.acc), p.group("fast2", fast["scale"], p.acc)
    if None not in top1:
        diff = welch_ci(top1[0].values, top1[1].values)
        paper = _paper_number(ours["paper_acc"] - fast["paper_acc"], T1_ACC)
        rows.append(p.row(T1_ACC, list(top1), diff, paper, _verdict(diff[1], diff[2], T1_ACC)))
    return rows


def _table4(p: _Pair) -> list[dict[str, object]]:
    """Table 4: the full model beats every ablation row at the same setting; PS (progressive synthesis) saves time."""
    full = p.cell("table4", "ssdkd")
    if full is None:
        return []
    cells = {m: p.cell("table4", m) for m in ablation_cards()}
    cells = {m: c for m, c in cells.items() if c is not None and c["scale"] == full["scale"]}
    rows = []
    ours = p.group("ssdkd", full["scale"], p.acc)
    others = [g for g in (p.group(m, full["scale"], p.acc) for m in cells) if g is not None]
    if ours is not None and others:
        best = max(others, key=lambda g: g.mean)
        diff = welch_ci(ours.values, best.values)
        verdict = _verdict(diff[1], diff[2], T4_ORDER)
        if verdict == INCONCLUSIVE and any(welch_ci(ours.values, g.values)[2] < 0 for g in others):
            verdict = CONTRADICTED  # a row other than the best-by-mean is significantly better
        paper_best = max((c["paper_acc"] for c in cells.values()), default=math.nan)
        paper = _paper_number(full["paper_acc"] - paper_best, T4_ORDER)
        rows.append(p.row(T4_ORDER, [ours, best], diff, paper, verdict, _ranking([ours, *others])))
    if "ssdkd_ps" in cells and "ssdkd_baseline" in cells:
        time_s = p.group("ssdkd_ps", full["scale"], "total_s"), p.group("ssdkd_baseline", full["scale"], "total_s")
        if None not in time_s:
            ratio = bootstrap_ratio_ci(time_s[0].values, time_s[1].values)
            paper_ratio = cells["ssdkd_ps"]["paper_hours"] / cells["ssdkd_baseline"]["paper_hours"]
            paper = _paper_number(paper_ratio, T4_PS)
            rows.append(p.row(T4_PS, list(time_s), ratio, paper, _verdict(ratio[1], ratio[2], T4_PS)))
    return rows


def _figure4(p: _Pair) -> list[dict[str, object]]:
    """Figure 4: SSD-KD's time is linear in the data scale, and its accuracy decays mildly down to the smallest."""
    runs = p.runs[(p.runs["method"] == "ssdkd") & (p.runs["scale"] != "auto")]
    settings = sorted({int(s) for s in runs["scale"]})
    rows = []
    timed = runs[runs["total_s"].notna()]
    if timed["scale"].nunique() >= 3:
        slope, _, r2 = linear_fit(timed["scale"].astype(int), timed["total_s"])
        groups = [g for g in (p.group("ssdkd", str(s), "total_s") for s in settings) if g is not None]
        verdict = SUPPORTED if r2 >= LINEAR_R2 else INCONCLUSIVE if math.isnan(r2) else CONTRADICTED
        rows.append(
            p.row(
                F4_LINEAR,
                groups,
                (r2, math.nan, math.nan),
                PAPER_LINEAR,
                verdict,
                f"slope {slope * 1000:.3g} s per 1,000 images, {len(timed)} runs",
                f"SSD-KD @ {', '.join(f'{int(g.scale):,}' for g in groups)} img "
                f"(n={', '.join(str(len(g.values)) for g in groups)})",
            )
        )
    if len(settings) >= 2:
        small, large = p.group("ssdkd", str(settings[0]), p.acc), p.group("ssdkd", str(settings[-1]), p.acc)
        if small is not None and large is not None:
            diff = welch_ci(small.values, large.values)
            rows.append(p.row(F4_DROP, [small, large], diff, PAPER_DROP, _verdict(diff[1], diff[2], F4_DROP)))
    return rows


def _kd_sample_stats(p: _Pair, method: str, scale: str) -> tuple[_Group, _Group] | None:
    """Per run: the normalised entropy of the KD samples' teacher classes (1 = uniform) and their mean teacher
    confidence (bin centres), from the same histograms Figure 2 sums."""
    entropy, confidence = [], []
    for run in p.runs.loc[(p.runs["method"] == method) & (p.runs["scale"] == scale), "run_dir"]:
        hist = _histograms([run])
        if hist is None:
            continue
        share = hist[0] / hist[0].sum()
        entropy.append(float(-(share[share > 0] * np.log(share[share > 0])).sum() / math.log(len(share))))
        bins = len(hist[1])
        confidence.append(float((hist[1] / hist[1].sum() * (np.arange(bins) + 0.5) / bins).sum()))
    if not entropy:
        return None
    return _Group(method, scale, np.array(entropy)), _Group(method, scale, np.array(confidence))


def _figure2(p: _Pair) -> list[dict[str, object]]:
    """Figure 2: SSD-KD's KD samples are more class-balanced and harder than its rivals', at the figure's settings."""
    settings = _pick_settings(p.runs, ("ssdkd", *FIGURE2_RIVALS), p.dataset)
    ours = _kd_sample_stats(p, "ssdkd", settings["ssdkd"]) if "ssdkd" in settings else None
    if ours is None:
        return []
    rows = []
    for rival in (r for r in FIGURE2_RIVALS if r in settings):
        theirs = _kd_sample_stats(p, rival, settings[rival])
        if theirs is None:
            continue
        name = method_label(rival)
        aspects = (
            (Claim(f"Figure 2: SSD-KD's KD samples are more class-balanced than {name}'s",
                   f"Δ normalised class entropy SSD-KD − {name}", "difference", +1), PAPER_BALANCE),
            (Claim(f"Figure 2: SSD-KD's KD samples are harder than {name}'s",
                   f"Δ mean teacher confidence SSD-KD − {name}", "difference", -1), PAPER_HARDER),
        )  # fmt: skip
        for i, (claim, paper) in enumerate(aspects):
            effect = welch_ci(ours[i].values, theirs[i].values)
            rows.append(p.row(claim, [ours[i], theirs[i]], effect, paper, _verdict(effect[1], effect[2], claim)))
    return rows


def _table2(p: _Pair) -> list[dict[str, object]]:
    """Table 2: SSD-KD against each top D-KD method at Table 2's settings, and its rank among them."""
    cell = p.cell("table2", "ssdkd")
    ours = None if cell is None else p.group("ssdkd", cell["scale"], p.acc)
    if ours is None:
        return []
    rows, rivals, paper_scores = [], [], {"ssdkd": cell["paper_acc"]}
    for rival in TABLE2_RIVALS:
        theirs_cell = p.cell("table2", rival)
        theirs = None if theirs_cell is None else p.group(rival, theirs_cell["scale"], p.acc)
        if theirs is None:
            continue
        rivals.append(theirs)
        paper_scores[rival] = theirs_cell["paper_acc"]
        diff = welch_ci(ours.values, theirs.values)
        claim = t2_versus(method_label(rival))
        paper = _paper_number(cell["paper_acc"] - theirs_cell["paper_acc"], claim)
        rows.append(p.row(claim, [ours, theirs], diff, paper, _verdict(diff[1], diff[2], claim)))
    if rivals:
        rank = 1 + sum(g.mean > ours.mean for g in rivals)
        if min(len(g.values) for g in [ours, *rivals]) < 2:
            verdict = FEW_SEEDS
        elif any(welch_ci(ours.values, g.values)[2] < 0 for g in rivals):
            verdict = CONTRADICTED
        else:  # not significantly behind any rival: supported when also first by mean
            verdict = SUPPORTED if rank == 1 else INCONCLUSIVE
        claim = t2_rank(len(rivals) + 1)
        paper = paper_range(claim)
        if not any(pd.isna(v) for v in paper_scores.values()):
            paper = f"rank {_rank(paper_scores)} of {len(paper_scores)}"
        rows.append(
            p.row(claim, [ours, *rivals], (float(rank), math.nan, math.nan), paper, verdict, _ranking([ours, *rivals]))
        )
    return rows


CLAIMS: tuple[Callable[[_Pair], list[dict[str, object]]], ...] = (_table1, _table4, _figure4, _figure2, _table2)


def claims_frame(frame: pd.DataFrame, accuracy: Accuracy = "best") -> pd.DataFrame:
    """One row per claim check per dataset × pair, from the run frame of `load_summary` (finished runs only).

    A claim whose methods or settings were not run is left out; one with a single seed in a group gets its effect
    without an interval and the verdict 'insufficient seeds'. `accuracy`: the best or the last epoch's top-1.
    """
    runs = done_runs(frame)
    if runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    tables = {key: table_cells(frame, key, "published", accuracy) for key in ("table1", "table2", "table4")}
    rows = []
    for (dataset, pair), block in runs.groupby(["dataset", "pair"], sort=False):
        here = _Pair(dataset, pair, block, tables, accuracy)
        for claim in CLAIMS:
            rows += claim(here)
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------- the paper's own effects


def _rank(scores: dict[str, float]) -> int:
    """SSD-KD's place among `scores` (method -> top-1), 1 = best."""
    return 1 + sum(v > scores["ssdkd"] for v in scores.values())


def _published_claims(table: str, acc: dict[str, float], hours: dict[str, float]) -> Iterator[tuple[Claim, float]]:
    """Each claim one published dataset × pair of a table supports, with the paper's value for it: the same point
    estimate our claim rows compute (a ratio of mean hours, a difference of mean top-1, a rank), from its means."""
    if table == "1":
        yield T1_TIME, hours["ssdkd"] / hours["fast2"]
        yield T1_ACC, acc["ssdkd"] - acc["fast2"]
    elif table == "4":
        yield T4_ORDER, acc["ssdkd"] - max(acc[m] for m in ablation_cards())
        yield T4_PS, hours["ssdkd_ps"] / hours["ssdkd_baseline"]
    elif table == "2":
        for rival in TABLE2_RIVALS:
            yield t2_versus(method_label(rival)), acc["ssdkd"] - acc[rival]
        scores = {m: acc[m] for m in ("ssdkd", *TABLE2_RIVALS)}
        yield t2_rank(len(scores)), float(_rank(scores))


@cache
def paper_effects() -> pd.DataFrame:
    """The paper's own effect for every claim its Tables 1, 2 and 4 print numbers for, one row per published
    dataset × pair (columns claim, table, measure, kind, dataset, pair, effect). This is what a claim row on a data
    set the paper has no results on is compared with: the same measure, over the paper's own cells."""
    paper = load_published("paper")
    rows = []
    for (table, dataset, pair), cells in paper.groupby(["table", "dataset", "pair"], sort=False):
        by_method = cells.set_index("method")
        for claim, value in _published_claims(str(table), dict(by_method["accuracy"]), dict(by_method["hours"])):
            rows.append(
                {
                    "claim": claim.text,
                    "table": f"table{table}",
                    "measure": claim.measure,
                    "kind": claim.kind,
                    "dataset": dataset,
                    "pair": pair,
                    "effect": value,
                }
            )
    return pd.DataFrame(rows)


def paper_range(claim: Claim) -> str:
    """The claim's published values summed up: their range over the paper's cells and how many of them lie on the
    side the paper claims ('0.25–0.53 over the paper's 10 cells, 10 of them below 1')."""
    values = paper_effects().loc[lambda f: f["claim"] == claim.text, "effect"].to_numpy(float)
    if not len(values):
        return "not in the paper's tables"
    side = values > claim.threshold if claim.expected > 0 else values < claim.threshold
    where = f"over the paper's {len(values)} cells"
    if claim.kind == "rank":
        span = f"{values.min():.0f}" if values.min() == values.max() else f"{values.min():.0f}–{values.max():.0f}"
        return f"rank {span} of {1 + len(TABLE2_RIVALS)} {where}, first in {side.sum()} of them"
    low, high = paper_value(values.min(), claim.kind), paper_value(values.max(), claim.kind)
    unit = " points" if claim.kind == "difference" else ""
    relation = f"{'above' if claim.expected > 0 else 'below'} {claim.threshold:g}"
    return f"{low} to {high}{unit} {where}, {side.sum()} of them {relation}"


# ---------------------------------------------------------------- the report's section


def effect_text(row: pd.Series, measure: bool = True) -> str:
    """`measure: effect [low, high]`, with three decimals for quantities below 1 (entropies, confidences, R²)."""
    values = [row["effect"], *([row["ci_low"], row["ci_high"]] if pd.notna(row["ci_low"]) else [])]
    small = max((abs(v) for v in values if pd.notna(v)), default=0.0) < 1
    decimals = 0 if row["kind"] == "rank" else 3 if row["kind"] == "r2" or small else 2
    sign = "+" if row["kind"] == "difference" else ""
    number = [f"{v:{sign}.{decimals}f}" for v in values]
    text = f"{row['measure']}: {number[0]}" if measure else number[0]
    if len(number) == 3:
        text += f" [{number[1]}, {number[2]}]"
    return f"{text}; {row['detail']}" if row["detail"] and measure else text


def verdict_counts(claims: pd.DataFrame) -> str:
    """'14 claim checks: 6 supported, 4 contradicted, 4 inconclusive (no significant difference)'."""
    order = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, FEW_SEEDS)
    counts = claims["verdict"].value_counts()
    parts = [f"{counts[v]} {v}" for v in order if v in counts]
    return f"{len(claims)} claim check{'s' if len(claims) != 1 else ''}: {', '.join(parts)}"


def claims_blocks(claims: pd.DataFrame) -> list[Block]:
    """The claims as a table (Claim | Data | Our effect (95 % CI) | Paper | Verdict) and a note on how each effect
    and verdict was computed, so a reader can weigh a verdict by its seeds."""
    if claims.empty:
        return [Paragraph("(no claim of the paper could be tested: the runs it compares are missing)")]
    rows = tuple(
        (
            row["claim"],
            f"{DATASET_NAMES.get(row['dataset'], row['dataset'])}, {pair_label(row['pair'])}: {row['compared']}",
            effect_text(row),
            row["paper"],
            row["verdict"],
        )
        for _, row in claims.iterrows()
    )
    accuracy = ", ".join(sorted(set(claims["accuracy"])))
    low, high = int(claims["n_min"].min()), int(claims["n_min"].max())
    seeds = f"{low}" if low == high else f"{low} to {high}"
    note = (
        f"Each row tests one claim of the paper on our finished runs (top-1 at the {accuracy} epoch, total time), "
        "at the methods and data-scale settings the tables and figures above show. Differences of means come with "
        "Welch's 95 % t interval (Welch–Satterthwaite degrees of freedom, seeds as independent samples); time "
        f"ratios with a 95 % percentile bootstrap of the ratio of means ({BOOTSTRAP_RESAMPLES:,} resamples, each "
        f"group resampled on its own, fixed RNG seed {BOOTSTRAP_SEED}); Figure 4's linearity with the R² of a "
        f"least-squares line through every run (supported from R² ≥ {LINEAR_R2}). A claim is supported when its "
        "interval lies wholly on the paper's side, contradicted when wholly on the other side, and inconclusive "
        f"otherwise. The smallest group of a comparison has {seeds} seeds; a group of one seed gets no interval and "
        "the verdict 'insufficient seeds'. Claims whose runs are missing are left out. Paper: the published cell "
        "for the same dataset and pair where the paper has one, else the range of the paper's values for the same "
        "measure over its cells (its tables), or its statement (its figures)."
    )
    header = ("Claim", "Data", "Our effect (95 % CI)", "Paper", "Verdict")
    return [Table(header, rows), Paragraph(note)]


def claims_markdown(claims: pd.DataFrame) -> str:
    """`claims_blocks` as Markdown."""
    return to_markdown(claims_blocks(claims))
