"""Aggregate runs over seeds (shared by every report), and what the harness fixes relative to the reference code."""

from __future__ import annotations

import pandas as pd

from dfkd_bench.report.document import Block, Bullets, Heading

HARNESS_FIXES = [
    "Generator baselines distil into the student they attack (the Fast-Datafree code passes the teacher as the "
    "student, which zeroes their adversarial term).",
    "Every KD temperature is an explicit card value (the reference silently overrides --T with 1 for DAFL/ZSKT/DFQ).",
    "Synthetic images stay in memory on the device; no PNG round trip, no leftovers from earlier runs.",
    "Time is measured for synthesis, batch sampling, KD and evaluation apart, with CUDA synchronisation; "
    "the reference counts synthesis only.",
    "Both the best-epoch accuracy (model selection on the test set, as published) and the last-epoch accuracy.",
    "Runs resume exactly after a crash; a changed config never silently reuses old results.",
]

GROUP = ["dataset", "pair", "method", "scale"]
OPTIONAL = ["best_miou", "last_miou", "teacher_miou"]


def scale_key(setting: object) -> str:
    """'auto' when the method chose its data scale, else the integer setting as text ('600', not '600.0')."""
    return "auto" if pd.isna(setting) else str(int(float(setting)))


def done_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Finished runs only, with a `scale` key and the optional segmentation columns present (NaN when absent)."""
    done = frame[frame["status"] == "done"].copy()
    done["scale"] = done["data_scale_setting"].map(scale_key)
    for column in OPTIONAL:
        if column not in done:
            done[column] = float("nan")
    done["kd_sample_s"] = done["kd_s"] + done["sample_s"].fillna(0)
    return done


def seed_stats(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per dataset × pair × method × scale: `n` finished seeds, and `<col>_mean`, `<col>_std` (ddof=1), `<col>_n`."""
    done = done_runs(frame)
    out = done.groupby(GROUP, sort=False).size().rename("n").to_frame()
    for column in columns:
        grouped = done.groupby(GROUP, sort=False)[column]
        out[f"{column}_mean"] = grouped.mean()
        out[f"{column}_std"] = grouped.std(ddof=1)
        out[f"{column}_n"] = grouped.count()
    return out.reset_index()


def _mean_std(stats: pd.Series, column: str) -> str:
    if stats[f"{column}_n"] == 0:
        return "—"
    if stats[f"{column}_n"] == 1:
        return f"{stats[f'{column}_mean']:.2f}"
    return f"{stats[f'{column}_mean']:.2f} ± {stats[f'{column}_std']:.2f}"


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × pair × method × data-scale setting: mean ± std (ddof=1) over seeds, and n seeds."""
    columns = ["best_top1", "last_top1", "data_scale", "synthesis_s", "kd_sample_s", "total_s", "teacher_top1"]
    rows = []
    for _, stats in seed_stats(frame, columns).iterrows():
        rows.append(
            {
                **{k: stats[k] for k in GROUP},
                "n": int(stats["n"]),
                "best top-1": _mean_std(stats, "best_top1"),
                "last top-1": _mean_std(stats, "last_top1"),
                "data scale used": int(stats["data_scale_mean"]),
                "synthesis s": f"{stats['synthesis_s_mean']:.1f}",
                "KD s": f"{stats['kd_sample_s_mean']:.1f}",
                "total s": f"{stats['total_s_mean']:.1f}",
                "teacher top-1": f"{stats['teacher_top1_mean']:.2f}",
            }
        )
    return pd.DataFrame(rows)


def harness_blocks() -> list[Block]:
    """The report section on what the harness fixed relative to the reference code (every method alike)."""
    return [Heading(2, "What this harness does differently from the reference code"), Bullets(tuple(HARNESS_FIXES))]
