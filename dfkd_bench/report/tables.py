"""Aggregate runs over seeds and render the benchmark table as Markdown, with what the harness fixed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dfkd_bench.config import all_cards
from dfkd_bench.store import atomic_write_text, collect

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


def _mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "—"
    if len(values) == 1:
        return f"{values.iloc[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × pair × method × data-scale setting: mean ± std (ddof=1) over seeds, and n seeds."""
    done = frame[frame["status"] == "done"].copy()
    done["scale"] = done["data_scale_setting"].map(lambda v: "auto" if pd.isna(v) else str(int(v)))
    rows = []
    for key, group in done.groupby(GROUP, sort=False):
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "n": len(group),
                "best top-1": _mean_std(group["best_top1"]),
                "last top-1": _mean_std(group["last_top1"]),
                "data scale used": int(group["data_scale"].mean()),
                "synthesis s": f"{group['synthesis_s'].mean():.1f}",
                "KD s": f"{(group['kd_s'] + group['sample_s'].fillna(0)).mean():.1f}",
                "total s": f"{group['total_s'].mean():.1f}",
                "teacher top-1": f"{group['teacher_top1'].mean():.2f}",
            }
        )
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def benchmark_report(root: Path, title: str, command: str) -> str:
    frame = collect(root)
    table = aggregate(frame)
    devices = sorted(set(frame["device"].dropna()))
    missing = frame[frame["status"] != "done"]
    lines = [
        f"# {title}",
        "",
        f"Regenerate with: `{command}`",
        "",
        f"Device: {', '.join(devices) or 'unknown'}. Accuracy in % on the full test split: *best* is the best epoch "
        "(what papers report), *last* the final epoch. Seconds: synthesis = synthesis rounds; KD = student steps "
        "plus drawing their batches (for generator methods this includes the generator forwards); total = "
        "synthesis + KD + evaluation. Data scale: distinct synthetic images held for KD (pool methods), real images "
        "(kd), or fresh generator samples consumed (generator methods).",
        "",
        _markdown(table) if not table.empty else "(no finished runs)",
        "",
    ]
    if not missing.empty:
        lines += ["Cells not done: " + ", ".join(f"{r.method} on {r.pair} ({r.status})" for r in missing.itertuples())]
        lines.append("")
    lines += ["## What this harness does differently from the reference code", ""]
    lines += [f"- {fix}" for fix in HARNESS_FIXES]
    cards = all_cards()
    lines += ["", "## Per-method deviations (from the method cards)", ""]
    for method in table["method"].unique() if not table.empty else []:
        if method in cards:
            lines.append(f"**{method}**")
            lines += [f"- {' '.join(d.split())}" for d in cards[method].deviations]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_benchmark_report(root: Path, out: Path, title: str, command: str) -> Path:
    atomic_write_text(out, benchmark_report(root, title, command))
    return out
