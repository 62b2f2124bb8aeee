"""The paper's tables as the claims they make, per published pair, with ours beside them: the comparison a report
can make on a data set the paper has no results on (MNIST, Fashion-MNIST), where its numbers mean nothing for ours
but its ratios, orderings and deltas do.

Both sides are the same measures: the paper's computed from its published means (`paper_claims.paper_effects`),
ours with their 95 % interval and verdict from the claim rows of the report's claims section.
"""

from __future__ import annotations

import pandas as pd

from dfkd_bench.report.document import Block, Heading, Paragraph, Table
from dfkd_bench.report.paper_claims import effect_text, paper_effects, paper_value
from dfkd_bench.report.paper_tables import DATASET_NAMES, pair_label

# The tables whose claims the paper prints numbers for, and what those numbers are.
BESIDE = {"table1": "ratios and deltas", "table2": "deltas and ranks", "table4": "deltas and ratios"}


def beside_anchor(table: str) -> str:
    """The id of a table's comparison with the paper's claims."""
    return f"{table}-paper"


def _rank_of(measure: str) -> str:
    """' of 8' from 'SSD-KD's rank by mean top-1 of 8'."""
    return f" of {measure.rsplit(' of ', 1)[-1]}"


def _paper_cell(row: pd.Series) -> str:
    return paper_value(row["effect"], row["kind"]) + (_rank_of(row["measure"]) if row["kind"] == "rank" else "")


def _our_cell(row: pd.Series) -> str:
    text = effect_text(row, measure=False) + (_rank_of(row["measure"]) if row["kind"] == "rank" else "")
    return f"{text}<br>{row['verdict']}"


def beside_blocks(table: str, number: int, datasets: list[str], claims: pd.DataFrame) -> list[Block]:
    """The paper's Table `number` as its claims per published dataset × pair, then our rows for `datasets` (the
    table's data sets the paper has no results on), each measure with our interval and verdict."""
    effects = paper_effects()
    effects = effects[effects["table"] == table]
    order = list(dict.fromkeys(effects["claim"]))
    header = ("Data", "Pair", *(effects.loc[effects["claim"] == c, "measure"].iloc[0] for c in order))
    rows = []
    for (dataset, pair), group in effects.groupby(["dataset", "pair"], sort=False):
        values = group.set_index("claim")
        cells = (_paper_cell(values.loc[c]) if c in values.index else "—" for c in order)
        rows.append((f"Paper: {DATASET_NAMES.get(dataset, dataset)}", pair_label(pair), *cells))
    ours = claims[claims["dataset"].isin(datasets) & claims["claim"].isin(order)]
    for (dataset, pair), group in ours.groupby(["dataset", "pair"], sort=False):
        values = group.set_index("claim")
        cells = (_our_cell(values.loc[c]) if c in values.index else "not tested" for c in order)
        rows.append((f"**Ours: {DATASET_NAMES.get(dataset, dataset)}**", pair_label(pair), *cells))
    names = " and ".join(DATASET_NAMES.get(d, d) for d in datasets)
    blocks: list[Block] = [
        Heading(3, f"Table {number} beside the paper: its {BESIDE[table]}, ours below", (beside_anchor(table),)),
        Paragraph(
            f"The paper has no {names} results, so its numbers are not ours to match; what carries over is what "
            f"its Table {number} claims. Each column is one claim's measure: the paper's value per published "
            "pair (from its means), then ours with its 95 % interval and verdict (see "
            "[The paper's claims, tested](#claims) for how they are computed). Not tested: a run the claim "
            "compares is missing.",
            note=True,
        ),
        Table(header, tuple(rows)),
    ]
    if ours.empty:
        missing = (
            f"No claim of Table {number} could be tested on {names}: the runs it compares, at the data scale it "
            "names, are missing."
        )
        blocks.append(Paragraph(missing, note=True))
    return blocks
