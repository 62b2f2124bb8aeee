"""The paper tables' tidy cells (`paper_tables.table_cells`) as report blocks (Markdown, HTML) and as LaTeX."""

from __future__ import annotations

import pandas as pd

from dfkd_bench.durations import time_unit
from dfkd_bench.report.beside import BESIDE, beside_anchor, beside_blocks
from dfkd_bench.report.deviations import deviation_anchor
from dfkd_bench.report.document import Block, Heading, Paragraph, Table, to_markdown
from dfkd_bench.report.gaps import GAPS, legend
from dfkd_bench.report.paper_tables import (
    BASELINES,
    DATASET_NAMES,
    FLAG_NAMES,
    MISSING,
    PAPER_DATASETS,
    TABLES,
    TableSpec,
    ablation_flags,
    method_label,
    pair_label,
)


def _num(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _decimals(cells: pd.DataFrame) -> int:
    return 3 if (cells["metric"] == "miou").any() else 2


def _missing(cell: pd.Series) -> str:
    """ "—" and the mark of the reason the cell is empty."""
    return MISSING + (GAPS[cell["gap"]].mark if cell["gap"] else "")


def _ours(cell: pd.Series, unit: tuple[float, str], decimals: int, pm: str = " ± ") -> str:
    if pd.isna(cell["acc_mean"]):
        return _missing(cell)
    if cell["note"]:
        return f"{_num(cell['acc_mean'], decimals)} †"
    text = _num(cell["acc_mean"], decimals)
    if cell["n"] > 1:
        text += f"{pm}{_num(cell['acc_std'], decimals)}"
    if cell["method"] not in BASELINES and pd.notna(cell["time_s"]):
        text += f" ({cell['time_s'] / unit[0]:.2f} {unit[1]})"
    return f"{text} n={cell['n']}"


def _paper(cell: pd.Series, decimals: int, delta: str = "Δ") -> str:
    if pd.isna(cell["paper_acc"]):
        return ""
    text = f"paper {_num(cell['paper_acc'], decimals)}"
    if pd.notna(cell["paper_hours"]):
        text += f" ({cell['paper_hours']:.2f} h)"
    if pd.notna(cell["delta"]):
        text += f" · {delta} {cell['delta']:+.{decimals}f}"
    return text


def _speed(cell: pd.Series, ssdkd: pd.Series) -> str:
    """The speed-up, or "—" with the mark of whichever of the two cells has no result."""
    if pd.notna(cell["speedup"]):
        ours = f"{cell['speedup']:.2f}×"
    else:
        ours = _missing(cell if pd.isna(cell["acc_mean"]) else ssdkd)
    if pd.notna(cell["paper_speedup"]):
        return f"{ours}<br>paper {cell['paper_speedup']:.2f}×"
    return ours


def _unit(block: pd.DataFrame) -> tuple[float, str]:
    return time_unit(block.loc[~block["method"].isin(BASELINES), "time_s"].max())


def _scales_used(block: pd.DataFrame) -> str:
    used = block[block["n"] > 0].groupby("method", sort=False)
    parts = []
    for method, group in used:
        if method in BASELINES:
            continue
        settings = ", ".join(sorted(set(group["scale"]), key=lambda s: (s != "auto", int(s) if s.isdigit() else 0)))
        images = ", ".join(f"{v:,.0f}" for v in sorted(set(group["data_scale"].round())))
        parts.append(f"{method} {settings} ({images} images)")
    return "; ".join(parts) or "none"


def _caption(cells: pd.DataFrame, spec: TableSpec) -> list[str]:
    accuracy, time = cells["accuracy"].iloc[0], cells["time"].iloc[0]
    what = "mIoU (fraction, as the paper prints it)" if spec.metric == "miou" else "top-1 accuracy (%)"
    epoch = "best epoch (model selection on the test set, as published)" if accuracy == "best" else "last epoch"
    kind = "total (synthesis + KD + evaluation)" if time == "total" else "synthesis only"
    lines = [
        f"Ours: {what}, {epoch}, mean ± std over seeds (ddof=1), n = finished seeds. "
        f"Time in brackets: {kind}, mean over seeds.",
    ]
    if cells["paper_acc"].notna().any():
        source = "the SSD-KD paper (total time, one V100)" if time == "total" else "the Fast-Datafree README"
        lines.append(
            f"Paper: SSD-KD CVPR 2024 Table {spec.number}, best epoch, 3 runs; hours from {source}, shown only where "
            f"published for this time kind. Δ = ours − paper."
        )
        if accuracy == "last":
            lines.append("The paper reports best-epoch accuracy, so Δ compares our last epoch with its best.")
    if spec.speedup:
        lines.append("Speed-up: each method's time ÷ SSD-KD's time on the same pair (> 1: SSD-KD is faster).")
    if (cells["note"] != "").any():
        lines.append("† no `teacher` run: the teacher's test score (top-1 or mIoU) recorded by the distillation runs.")
    empty = cells[cells["acc_mean"].isna() & (cells["gap"] != "")]
    marks = legend((c.gap, c.gap_detail, method_label(c.method)) for c in empty.itertuples())
    if marks:
        lines.append(marks)
    return lines


def _label(method: str, linked: set[str]) -> str:
    """The row's name, linked to its card's deviations when the card has runs here (and so an entry there)."""
    return f"[{method_label(method)}](#{deviation_anchor(method)})" if method in linked else method_label(method)


def _flags(method: str, linked: set[str]) -> list[str]:
    """Table 4's check marks; the Baseline mark links to the row's card deviations."""
    marks = ["✓" if on else "" for on in ablation_flags(method)]
    if method in linked:
        marks[0] = f"[✓](#{deviation_anchor(method)})"
    return marks


def _no_paper_note(dataset: str, spec: TableSpec, beside: bool) -> Paragraph:
    name = DATASET_NAMES.get(dataset, dataset)
    if beside:
        where = f"[Table {spec.number} beside the paper]({'#' + beside_anchor(spec.key)})"
        return Paragraph(f"The paper has no {name} results: compare its claims, not its numbers ({where}).", note=True)
    return Paragraph(f"The paper has no {name} results: no published number to set beside these.", note=True)


def table_blocks(cells: pd.DataFrame, spec: TableSpec | str, claims: pd.DataFrame | None = None) -> list[Block]:
    """The table in the paper's layout, one table per dataset, the paper's value and Δ on a second line of each cell.

    With `claims` (the report's claim rows), a table whose datasets include one the paper has no results on ends
    with the paper's claims per published pair and ours beside them (`beside.py`), and each such dataset says so at
    its top; without, it says only that the paper has no results there.
    """
    spec = TABLES[spec] if isinstance(spec, str) else spec
    blocks: list[Block] = [Heading(2, f"Table {spec.number}: {spec.title}", (spec.key,))]
    if cells.empty:
        return [*blocks, Paragraph("(no finished runs of these methods)")]
    decimals = _decimals(cells)
    linked = set(cells.loc[cells["n"] > 0, "method"])
    others = [d for d in dict.fromkeys(cells["dataset"]) if d not in PAPER_DATASETS]
    beside = claims is not None and spec.key in BESIDE and bool(others)
    for dataset, block in cells.groupby("dataset", sort=False):
        pairs = list(dict.fromkeys(block["pair"]))
        unit = _unit(block)
        blocks.append(Heading(3, DATASET_NAMES.get(dataset, dataset)))
        if dataset not in PAPER_DATASETS:
            blocks.append(_no_paper_note(dataset, spec, beside))
        lead = list(FLAG_NAMES) if spec.key == "table4" else ["Method"]
        extra = ["Data scale"] if spec.key == "table3" else []
        rows = []
        for method, group in block.groupby("method", sort=False):
            group = group.set_index("pair")
            row = _flags(method, linked) if spec.key == "table4" else [_label(method, linked)]
            if extra:
                cell = group.iloc[0]
                ours = _missing(cell) if pd.isna(cell["data_scale"]) else f"{cell['data_scale']:,.0f}"
                row.append(ours + (f"<br>paper {cell['paper_scale']}" if cell["paper_scale"] else ""))
            for pair in pairs:
                cell = group.loc[pair]
                text, paper = _ours(cell, unit, decimals), _paper(cell, decimals)
                row.append(f"{text}<br>{paper}" if paper else text)
            rows.append(tuple(row))
        blocks.append(Table(tuple(lead + extra + [pair_label(p) for p in pairs]), tuple(rows)))
        if spec.speedup:
            ssdkd = block[block["method"] == "ssdkd"].set_index("pair")
            speed = block[~block["method"].isin((*BASELINES, "ssdkd"))]
            rows = []
            for method, group in speed.groupby("method", sort=False):
                group = group.set_index("pair")
                rows.append((_label(method, linked), *(_speed(group.loc[p], ssdkd.loc[p]) for p in pairs)))
            blocks.append(Paragraph("Speed-up of SSD-KD (method time ÷ SSD-KD time):"))
            blocks.append(Table(("Method", *(pair_label(p) for p in pairs)), tuple(rows)))
        blocks.append(Paragraph(f"Data scale used (setting, images for KD): {_scales_used(block)}.", note=True))
    blocks += [Paragraph(line, note=True) for line in _caption(cells, spec)]
    if beside:
        blocks += beside_blocks(spec.key, spec.number, others, claims)
    return blocks


def render_markdown(cells: pd.DataFrame, spec: TableSpec | str, claims: pd.DataFrame | None = None) -> str:
    """`table_blocks` as Markdown."""
    return to_markdown(table_blocks(cells, spec, claims))


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(a, b)
    symbols = {
        "→": r"$\to$",
        "±": r"$\pm$",
        "Δ": r"$\Delta$",
        "—": "--",
        "×": r"$\times$",
        "÷": r"$\div$",
        "†": r"$^\dagger$",
        "−": "-",
        **{mark: f"$^{{{digit}}}$" for mark, digit in zip("¹²³⁴⁵", "12345", strict=True)},
    }
    for a, b in symbols.items():
        text = text.replace(a, b)
    return text


def render_latex(cells: pd.DataFrame, spec: TableSpec | str) -> str:
    """A booktabs table (needs booktabs and amssymb); paper and Δ as extra rows under each of our rows."""
    spec = TABLES[spec] if isinstance(spec, str) else spec
    title = f"% Table {spec.number}: {spec.title}\n"
    if cells.empty:
        return title + "% (no finished runs of these methods)\n"
    decimals = _decimals(cells)
    lead = len(FLAG_NAMES) if spec.key == "table4" else 1
    width = max(cells.groupby("dataset")["pair"].nunique())
    body = []
    for dataset, block in cells.groupby("dataset", sort=False):
        pairs = list(dict.fromkeys(block["pair"]))
        unit = _unit(block)
        pad = [""] * (width - len(pairs))
        names = list(FLAG_NAMES) if lead > 1 else ["Method"]
        body += [
            r"\midrule",
            rf"\multicolumn{{{lead + width}}}{{l}}{{\textbf{{{_tex(DATASET_NAMES.get(dataset, dataset))}}}}} \\",
            " & ".join(names + [_tex(pair_label(p)) for p in pairs] + pad) + r" \\",
            r"\midrule",
        ]
        for method, rows in block.groupby("method", sort=False):
            rows = rows.set_index("pair")
            if lead > 1:
                head = [r"\checkmark" if f else "" for f in ablation_flags(method)]
            else:
                head = [_tex(method_label(method))]
            body.append(" & ".join(head + [_tex(_ours(rows.loc[p], unit, decimals)) for p in pairs] + pad) + r" \\")
            if rows["paper_acc"].notna().any():
                filler = [""] * (lead - 1)
                paper = [_tex(_paper(rows.loc[p], decimals).split(" · ")[0].removeprefix("paper ")) for p in pairs]
                delta = [MISSING if pd.isna(d) else f"{d:+.{decimals}f}" for d in rows.loc[pairs, "delta"]]
                body.append(" & ".join([r"\quad\textit{paper}", *filler, *paper, *pad]) + r" \\")
                body.append(" & ".join([r"\quad$\Delta$", *filler, *[_tex(d) for d in delta], *pad]) + r" \\")
        if spec.speedup:
            body.append(r"\cmidrule(lr){1-" + str(lead + width) + "}")
            ssdkd = block[block["method"] == "ssdkd"].set_index("pair")
            for method, rows in block[~block["method"].isin((*BASELINES, "ssdkd"))].groupby("method", sort=False):
                rows = rows.set_index("pair")
                speed = [_tex(_speed(rows.loc[p], ssdkd.loc[p]).replace("<br>", " / ")) for p in pairs]
                body.append(" & ".join([f"speed-up vs {_tex(method_label(method))}", *speed, *pad]) + r" \\")
    caption = _tex(" ".join(_caption(cells, spec))).replace("`", "")
    return "\n".join(
        [
            title.rstrip(),
            r"\begin{table*}[t]",
            r"\centering\scriptsize",
            rf"\caption{{Table {spec.number} (ours): {_tex(spec.title)}. {caption}}}",
            r"\begin{tabular}{" + "l" * lead + "c" * width + "}",
            r"\toprule",
            *body[1:],
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table*}",
            "",
        ]
    )
