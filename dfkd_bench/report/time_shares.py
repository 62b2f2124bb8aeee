"""Where each method's time goes (synthesis, sampling, KD steps, evaluation), so a reader can check that a grid is
in the regime it claims: in the paper's CIFAR recipe KD steps are 96-97.5 % of Fast2's compute."""

from __future__ import annotations

import pandas as pd

from dfkd_bench.report.document import Block, Heading, Paragraph, frame_table
from dfkd_bench.report.tables import done_runs

PARTS = ("synthesis_s", "sample_s", "kd_s", "eval_s")


def time_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × pair × method × data-scale setting: the mean total seconds and each part's share of
    every run's total (mean over seeds, with the KD share's range)."""
    done = done_runs(frame)
    done = done[done["total_s"] > 0]
    if done.empty:
        return pd.DataFrame()
    for part in PARTS:
        done[f"{part}_share"] = done[part].fillna(0) / done["total_s"] * 100
    rows = []
    for (dataset, pair, method, scale), runs in done.groupby(["dataset", "pair", "method", "scale"], sort=True):
        kd = runs["kd_s_share"]
        rows.append(
            {
                "dataset": dataset,
                "pair": pair,
                "method": method,
                "scale": scale,
                "n": len(runs),
                "total s": f"{runs['total_s'].mean():.0f}",
                "synthesis %": f"{runs['synthesis_s_share'].mean():.1f}",
                "sample %": f"{runs['sample_s_share'].mean():.1f}",
                "KD %": f"{kd.mean():.1f} ({kd.min():.1f}-{kd.max():.1f})",
                "eval %": f"{runs['eval_s_share'].mean():.1f}",
            }
        )
    return pd.DataFrame(rows)


def time_shares_blocks(frame: pd.DataFrame) -> list[Block]:
    """The report section (empty when no run is finished)."""
    shares = time_shares(frame)
    if shares.empty:
        return []
    return [
        Heading(2, "Where the time goes"),
        Paragraph(
            "Share of each run's total time (mean over seeds; KD: mean and range). Only the KD steps grow with the "
            "data scale, so a grid reproduces the paper's speed claims only where they dominate Fast2's time (the "
            "CIFAR recipe's analytic share: 96-97.5 %)."
        ),
        frame_table(shares),
    ]
