"""Why a table cell has no result, each reason with its own footnote mark: a "—" alone cannot tell a cell the grid
leaves out on purpose (BatchNorm matching on a BN-free teacher) from one that failed or was never asked for.

A cell left out on purpose is found with the grid's own rule (`grid.skip_reason`), so the report and the grid
cannot disagree about which cells are meant to be empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from dfkd_bench.config import all_cards, resolve
from dfkd_bench.errors import BadInput
from dfkd_bench.grid import skip_reason


@dataclass(frozen=True)
class Gap:
    mark: str
    meaning: str


# In the order a cell is checked: a row the paper has for a method we have no card for, a run still going, a
# recorded failure, a cell the grid never runs, and last a cell nothing was recorded for.
GAPS = {
    "no_card": Gap("⁵", "no method card: the paper's number only"),
    "unfinished": Gap("⁴", "unfinished (running or interrupted; rerun the grid to resume it)"),
    "failed": Gap("³", "failed (a recorded failure or an unreadable record; `dfkd-bench status` names its log)"),
    "skipped": Gap("²", "skipped on purpose: the grid never runs it"),
    "not_run": Gap("¹", "not run in this grid"),
}
UNFINISHED = ("running", "interrupted")
FAILED = ("failed", "corrupt")


def _skipped(method: str, dataset: str, pair: str) -> str:
    """The grid's reason for never running the card on this pair, at the card's own values ('' when it runs it, or
    when the card or pair is unknown to this checkout)."""
    card = all_cards().get(method)
    if card is None:
        return ""
    try:
        return skip_reason(card, resolve(card, dataset, pair)["method"], dataset, pair) or ""
    except BadInput:
        return ""


def gap(frame: pd.DataFrame, dataset: str, pair: str, method: str, has_card: bool = True) -> tuple[str, str]:
    """(reason key in GAPS, detail) for a cell of `method` on `dataset`/`pair` with no finished run; `frame` is
    every recorded run (any status). The detail is the grid's skip reason for a skipped cell, else ''."""
    if not has_card:
        return "no_card", ""
    here = frame[(frame["dataset"] == dataset) & (frame["pair"] == pair) & (frame["method"] == method)]
    states = set(here["status"].astype(str))
    if states & set(UNFINISHED):
        return "unfinished", ""
    if states & set(FAILED):
        return "failed", ""
    reason = _skipped(method, dataset, pair)
    return ("skipped", reason) if reason else ("not_run", "")


def legend(gaps: Iterable[tuple[str, str, str]]) -> str:
    """One line saying what each mark used in a table means; `gaps` are (key, detail, method label) of its empty
    cells. A skipped cell's line names the grid's reason and the methods it applies to."""
    seen: dict[str, dict[str, list[str]]] = {}
    for key, detail, label in gaps:
        labels = seen.setdefault(key, {}).setdefault(detail, [])
        if label not in labels:
            labels.append(label)
    parts = []
    for key, entry in GAPS.items():
        for detail, labels in seen.get(key, {}).items():
            text = f"{entry.mark} {entry.meaning}"
            if detail:
                text += f" ({', '.join(labels)}: {detail})"
            parts.append(text)
    return f"— = no result: {'; '.join(parts)}." if parts else ""
