"""The SSD-KD paper's claims tested against our runs, with statistics over seeds: one tidy row per claim check.

A table cell says what we measured; a claim row says whether that supports what the paper says, given the spread
over seeds. Differences get Welch's t interval, time ratios a percentile bootstrap, Figure 4's linearity a
least-squares R². The methods and data-scale settings compared are the ones the report's Tables 1, 2 and 4 and
Figure 2 show (`table_cells`, `_pick_settings`), so a claim row and the table next to it never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dfkd_bench.config import ablation_cards
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
from dfkd_bench.report.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_ratio_ci, linear_fit, welch_ci
from dfkd_bench.report.tables import done_runs, markdown_table

LINEAR_R2 = 0.95
MAX_DROP = 10.0  # Figure 4: "less than 10 %" lost even at 1 % of the data, read as top-1 points

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive (no significant difference)"
FEW_SEEDS = "insufficient seeds"

FIGURE2_RIVALS = ("fast2", "fast10", "deepinv")
TABLE2_RIVALS = ("deepinv", "cmi", "dafl", "dfq", "zskt", "fast5", "fast10")

# What the paper reports, for datasets and pairs outside its tables (results/published/ssdkd_cvpr2024.csv).
PAPER_SPEEDUP = "0.25–0.53 (every Table 1 cell)"
PAPER_TABLE1_GAIN = "−0.29 to +10.19 points (SSD-KD higher in 9 of 10 cells)"
PAPER_ABLATION_GAIN = "full model first in every cell, +0.88 to +2.64 over the next row"
PAPER_PS_RATIO = "0.82–0.85 (rows with PS are faster)"
PAPER_LINEAR = "time grows linearly with the data scale"
PAPER_DROP = "drop < 10 points even at 1 % of the data"
PAPER_BALANCE = "SSD-KD's KD samples spread more evenly over the classes"
PAPER_HARDER = "SSD-KD's KD samples have lower teacher confidence"
PAPER_TABLE2 = "SSD-KD best or near-best"

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


def _verdict(low: float, high: float, expected: int, threshold: float = 0.0) -> str:
    """Supported when the interval lies wholly on the paper's side of `threshold` (`expected` +1: above, −1:
    below), contradicted when wholly on the other side."""
    if math.isnan(low):
        return FEW_SEEDS
    if (low > threshold) if expected > 0 else (high < threshold):
        return SUPPORTED
    if (high < threshold) if expected > 0 else (low > threshold):
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
        claim: str,
        groups: list[_Group],
        kind: str,
        measure: str,
        effect: tuple[float, float, float],
        paper: str,
        verdict: str,
        detail: str = "",
        compared: str = "",
    ) -> dict[str, object]:
        return {
            "claim": claim,
            "dataset": self.dataset,
            "pair": self.pair,
            "compared": compared or " vs ".join(g.label for g in groups),
            "n_min": min(len(g.values) for g in groups),
            "kind": kind,
            "measure": measure,
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


def _paper_number(value: float, fallback: str, signed: bool = False) -> str:
    if pd.isna(value):
        return fallback
    return f"{value:+.2f}" if signed else f"{value:.2f}"


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
        paper = _paper_number(ours["paper_hours"] / fast["paper_hours"], PAPER_SPEEDUP)
        rows.append(
            p.row(
                "Table 1: SSD-KD (10 % data) is faster than Fast2",
                list(time_s),
                "ratio",
                "total time SSD-KD / Fast2",
                ratio,
                paper,
                _verdict(ratio[1], ratio[2], -1, 1.0),
            )
        )
    top1 = p.group("ssdkd", ours["scale"], p.acc), p.group("fast2", fast["scale"], p.acc)
    if None not in top1:
        diff = welch_ci(top1[0].values, top1[1].values)
        paper = _paper_number(ours["paper_acc"] - fast["paper_acc"], PAPER_TABLE1_GAIN, signed=True)
        rows.append(
            p.row(
                "Table 1: SSD-KD (10 % data) is more accurate than Fast2",
                list(top1),
                "difference",
                "Δ top-1 SSD-KD − Fast2 (points)",
                diff,
                paper,
                _verdict(diff[1], diff[2], +1),
            )
        )
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
        verdict = _verdict(diff[1], diff[2], +1)
        if verdict == INCONCLUSIVE and any(welch_ci(ours.values, g.values)[2] < 0 for g in others):
            verdict = CONTRADICTED  # a row other than the best-by-mean is significantly better
        paper_best = max((c["paper_acc"] for c in cells.values()), default=math.nan)
        paper = _paper_number(full["paper_acc"] - paper_best, PAPER_ABLATION_GAIN, signed=True)
        rows.append(
            p.row(
                "Table 4: the full SSD-KD is the most accurate ablation row",
                [ours, best],
                "difference",
                "Δ top-1 full − best other row (points)",
                diff,
                paper,
                verdict,
                _ranking([ours, *others]),
            )
        )
    if "ssdkd_ps" in cells and "ssdkd_baseline" in cells:
        time_s = p.group("ssdkd_ps", full["scale"], "total_s"), p.group("ssdkd_baseline", full["scale"], "total_s")
        if None not in time_s:
            ratio = bootstrap_ratio_ci(time_s[0].values, time_s[1].values)
            paper_ratio = cells["ssdkd_ps"]["paper_hours"] / cells["ssdkd_baseline"]["paper_hours"]
            rows.append(
                p.row(
                    "Table 4: PS reduces training time",
                    list(time_s),
                    "ratio",
                    "total time Baseline+PS / Baseline",
                    ratio,
                    _paper_number(paper_ratio, PAPER_PS_RATIO),
                    _verdict(ratio[1], ratio[2], -1, 1.0),
                )
            )
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
                "Figure 4: SSD-KD's time grows linearly with the data scale",
                groups,
                "r2",
                "R² of total time against images",
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
            rows.append(
                p.row(
                    f"Figure 4: SSD-KD loses < {MAX_DROP:.0f} points at the smallest data scale",
                    [small, large],
                    "difference",
                    "Δ top-1 smallest − largest scale (points)",
                    diff,
                    PAPER_DROP,
                    _verdict(diff[1], diff[2], +1, -MAX_DROP),
                )
            )
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
            ("more class-balanced", "normalised class entropy", PAPER_BALANCE, +1),
            ("harder", "mean teacher confidence", PAPER_HARDER, -1),
        )
        for i, (claim, measure, paper, sign) in enumerate(aspects):
            effect = welch_ci(ours[i].values, theirs[i].values)
            rows.append(
                p.row(
                    f"Figure 2: SSD-KD's KD samples are {claim} than {name}'s",
                    [ours[i], theirs[i]],
                    "difference",
                    f"Δ {measure} SSD-KD − {name}",
                    effect,
                    paper,
                    _verdict(effect[1], effect[2], sign),
                )
            )
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
        name = method_label(rival)
        paper = _paper_number(cell["paper_acc"] - theirs_cell["paper_acc"], PAPER_TABLE2, signed=True)
        rows.append(
            p.row(
                f"Table 2: SSD-KD vs {name}",
                [ours, theirs],
                "difference",
                f"Δ top-1 SSD-KD − {name} (points)",
                diff,
                paper,
                _verdict(diff[1], diff[2], +1),
            )
        )
    if rivals:
        rank = 1 + sum(g.mean > ours.mean for g in rivals)
        if min(len(g.values) for g in [ours, *rivals]) < 2:
            verdict = FEW_SEEDS
        elif any(welch_ci(ours.values, g.values)[2] < 0 for g in rivals):
            verdict = CONTRADICTED
        else:  # not significantly behind any rival: supported when also first by mean
            verdict = SUPPORTED if rank == 1 else INCONCLUSIVE
        paper = PAPER_TABLE2
        if not any(pd.isna(v) for v in paper_scores.values()):
            paper = f"rank {1 + sum(v > paper_scores['ssdkd'] for v in paper_scores.values())} of {len(paper_scores)}"
        rows.append(
            p.row(
                "Table 2: SSD-KD is the best or near-best method",
                [ours, *rivals],
                "rank",
                f"SSD-KD's rank by mean top-1 of {len(rivals) + 1}",
                (float(rank), math.nan, math.nan),
                paper,
                verdict,
                _ranking([ours, *rivals]),
            )
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


# ---------------------------------------------------------------- Markdown


def _effect_text(row: pd.Series) -> str:
    """`measure: effect [low, high]`, with three decimals for quantities below 1 (entropies, confidences, R²)."""
    values = [row["effect"], *([row["ci_low"], row["ci_high"]] if pd.notna(row["ci_low"]) else [])]
    small = max((abs(v) for v in values if pd.notna(v)), default=0.0) < 1
    decimals = 0 if row["kind"] == "rank" else 3 if row["kind"] == "r2" or small else 2
    sign = "+" if row["kind"] == "difference" else ""
    number = [f"{v:{sign}.{decimals}f}" for v in values]
    text = f"{row['measure']}: {number[0]}"
    if len(number) == 3:
        text += f" [{number[1]}, {number[2]}]"
    return f"{text}; {row['detail']}" if row["detail"] else text


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims as a Markdown table (Claim | Data | Our effect (95 % CI) | Paper | Verdict) and a note on how
    each effect and verdict was computed, so a reader can weigh a verdict by its seeds."""
    if claims.empty:
        return "(no claim of the paper could be tested: the runs it compares are missing)\n"
    table = pd.DataFrame(
        {
            "Claim": claims["claim"],
            "Data": [
                f"{DATASET_NAMES.get(r.dataset, r.dataset)}, {pair_label(r.pair)}: {r.compared}"
                for r in claims.itertuples()
            ],
            "Our effect (95 % CI)": [_effect_text(r) for _, r in claims.iterrows()],
            "Paper": claims["paper"],
            "Verdict": claims["verdict"],
        }
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
        "for the same dataset and pair where the paper has one, else the paper's range or statement."
    )
    return f"{markdown_table(table)}\n\n{note}\n"
