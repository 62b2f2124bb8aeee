"""What a report says, in order, as blocks (`document.py`) that report.md and report.html are both written from.

It reads like the results section of the paper it checks: each table beside the paper's (its numbers where our
data set is one of its own, its claims where it is not), the claims tested with their verdicts, the figures, and
then what a reader needs to trust the numbers: every cell, the runs not done, and each card's deviations once.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dfkd_bench.report.deviations import deviation_blocks
from dfkd_bench.report.document import Block, Bullets, Figure, Heading, Paragraph, frame_table
from dfkd_bench.report.paper_claims import claims_blocks, verdict_counts
from dfkd_bench.report.paper_tables import DATASET_NAMES, PAPER_DATASETS, TABLES
from dfkd_bench.report.render import table_blocks
from dfkd_bench.report.tables import aggregate, harness_blocks
from dfkd_bench.report.time_shares import time_shares_blocks

TITLE = "SSD-KD paper tables and figures, from our runs"
PAPER = "Liu et al., *Small Scale Data-Free Knowledge Distillation* (SSD-KD), CVPR 2024"
FIGURE_NOTES = {
    "figure1_per_class": "Figure 1: per-class accuracy (last epoch) of KD on real data vs DeepInv and SSD-KD, each "
    "at the data scale its title names; error bars: std over seeds where n > 1.",
    "figure2_kd_distributions": "Figure 2: difficulty (teacher confidence) and diversity (teacher class) of the "
    "samples the student was distilled on, summed over epochs and seeds.",
    "figure4_data_scale": "Figure 4: SSD-KD accuracy and training time against the data scale.",
    "accuracy_vs_time": "Beyond the paper: accuracy against wall-clock time for every method and data scale.",
}


def _names(datasets: list[str]) -> str:
    """'CIFAR-10', 'CIFAR-10 and CIFAR-100', 'A, B and C'."""
    names = [DATASET_NAMES.get(d, d) for d in datasets]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _comparison(done: pd.DataFrame, compare: str, claims: pd.DataFrame) -> list[Block]:
    """What the report compares with, said once at the top, and the verdicts in one line."""
    datasets = list(dict.fromkeys(done["dataset"]))
    ours = [d for d in datasets if d in PAPER_DATASETS]
    others = [d for d in datasets if d not in PAPER_DATASETS]
    lines = []
    if compare == "none":
        lines.append("**Compared with the paper:** not asked for (`--compare none`); its claims are still tested.")
    elif ours:
        lines.append(
            f"**Compared with the paper:** on {_names(ours)} each cell of Tables 1-4 carries the published number "
            f"beside ours ({PAPER}; synthesis-only hours from the Fast-Datafree README), and Δ = ours − paper."
        )
    if others and compare != "none":
        lines.append(
            f"The paper has no results on {_names(others)}, so there the comparison is of its claims, not its "
            "numbers: Tables 1, 2 and 4 are each followed by the paper's ratios, deltas and orderings per published "
            f"pair ({PAPER}) with ours beside them."
        )
    where = "[The paper's claims, tested](#claims)"
    if claims.empty:
        lines.append(f"**Verdicts:** no claim of the paper could be tested on these runs ({where}).")
    else:
        lines.append(f"**Verdicts:** {verdict_counts(claims)} ({where}).")
    lines.append("Published values are transcribed in `results/published/` (its README gives the sources).")
    return [Paragraph(line) for line in lines]


def _row_methods(tables: dict[str, pd.DataFrame], table: pd.DataFrame) -> list[str]:
    """Methods with finished runs, in the order the tables show them, then the other methods run."""
    shown = [m for cells in tables.values() for m in cells.loc[cells["n"] > 0, "method"]]
    return list(dict.fromkeys([*shown, *(table["method"] if not table.empty else [])]))


def report_blocks(
    runs: Path,
    frame: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    claims: pd.DataFrame,
    figures: list[Path],
    accuracy: str,
    time: str,
    compare: str = "published",
    note: str | None = None,
) -> list[Block]:
    """Every section of the report. `note` is a paragraph under the title on the budget or regime of the runs."""
    done = frame[frame["status"] == "done"]
    devices = sorted(set(done["device"].dropna().astype(str)))
    blocks: list[Block] = [
        Heading(1, TITLE),
        Paragraph(
            f"Runs: `{runs}` — {len(done)} finished of {len(frame)} recorded. Device: "
            f"{', '.join(devices) or 'unknown'}. Accuracy: {accuracy} epoch. Time: {time}."
        ),
        *([Paragraph(note)] if note else []),
        *_comparison(done, compare, claims),
    ]
    beside = claims if compare == "published" else None
    for key, cells in tables.items():
        blocks += table_blocks(cells, TABLES[key], beside)
    blocks += [Heading(2, "The paper's claims, tested", ("claims",)), *claims_blocks(claims)]
    blocks += time_shares_blocks(frame)
    blocks.append(Heading(2, "Figures", ("figures",)))
    blocks += [Figure(path, FIGURE_NOTES.get(path.stem, "")) for path in figures if path.suffix == ".png"]
    table = aggregate(frame)
    blocks.append(Heading(2, "Every cell (all methods and data scales)", ("cells",)))
    blocks.append(frame_table(table) if not table.empty else Paragraph("(no finished runs)"))
    missing = frame[frame["status"] != "done"]
    if not missing.empty:
        blocks.append(Heading(2, "Runs not done", ("not-done",)))
        blocks.append(
            Bullets(
                tuple(f"{r.method} on {r.dataset}/{r.pair} seed {r.seed} ({r.status})" for r in missing.itertuples())
            )
        )
    blocks += harness_blocks()
    blocks.append(Heading(2, "Deviations from the paper and the reference code, per method card", ("deviations",)))
    blocks.append(
        Paragraph(
            "Each card's list once, from `methods/<card>.yaml`; cards that share a list share an entry, and a card "
            "that inherits a list and adds to it links to that list and shows only its additions. Table rows link "
            "here.",
            note=True,
        )
    )
    blocks += deviation_blocks(_row_methods(tables, table))
    return blocks
