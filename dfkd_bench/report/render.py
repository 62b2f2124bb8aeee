"""Markdown and LaTeX renderings of the paper tables' tidy cells (`paper_tables.table_cells`)."""

from __future__ import annotations

import pandas as pd

from dfkd_bench.durations import time_unit
from dfkd_bench.report.paper_tables import (
    BASELINES,
    DATASET_NAMES,
    FLAG_NAMES,
    MISSING,
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


def _ours(cell: pd.Series, unit: tuple[float, str], decimals: int, pm: str = " ± ") -> str:
    if pd.isna(cell["acc_mean"]):
        return MISSING
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


def _speed(cell: pd.Series) -> str:
    ours = MISSING if pd.isna(cell["speedup"]) else f"{cell['speedup']:.2f}×"
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
        f"Ours: {what}, {epoch}, mean ± std over seeds (ddof=1), n = finished seeds; {MISSING} = no finished run. "
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
    return lines


def render_markdown(cells: pd.DataFrame, spec: TableSpec | str) -> str:
    """The table in the paper's layout, one Markdown table per dataset; paper value and Δ on a second line."""
    spec = TABLES[spec] if isinstance(spec, str) else spec
    lines = [f"## Table {spec.number}: {spec.title}", ""]
    if cells.empty:
        return "\n".join([*lines, "(no finished runs of these methods)", ""])
    decimals = _decimals(cells)
    for dataset, block in cells.groupby("dataset", sort=False):
        pairs = list(dict.fromkeys(block["pair"]))
        unit = _unit(block)
        lines += [f"### {DATASET_NAMES.get(dataset, dataset)}", ""]
        lead = list(FLAG_NAMES) if spec.key == "table4" else ["Method"]
        extra = ["Data scale"] if spec.key == "table3" else []
        head = lead + extra + [pair_label(p) for p in pairs]
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        for method, rows in block.groupby("method", sort=False):
            rows = rows.set_index("pair")
            row = (
                [("✓" if f else "") for f in ablation_flags(method)] if spec.key == "table4" else [method_label(method)]
            )
            if extra:
                cell = rows.iloc[0]
                ours = MISSING if pd.isna(cell["data_scale"]) else f"{cell['data_scale']:,.0f}"
                row.append(ours + (f"<br>paper {cell['paper_scale']}" if cell["paper_scale"] else ""))
            for pair in pairs:
                cell = rows.loc[pair]
                text = _ours(cell, unit, decimals)
                paper = _paper(cell, decimals)
                row.append(f"{text}<br>{paper}" if paper else text)
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        if spec.speedup:
            speed = block[~block["method"].isin((*BASELINES, "ssdkd"))]
            lines += ["Speed-up of SSD-KD (method time ÷ SSD-KD time):", ""]
            lines += ["| Method | " + " | ".join(pair_label(p) for p in pairs) + " |"]
            lines += ["|" + "|".join(["---"] * (len(pairs) + 1)) + "|"]
            for method, rows in speed.groupby("method", sort=False):
                rows = rows.set_index("pair")
                lines.append(f"| {method_label(method)} | " + " | ".join(_speed(rows.loc[p]) for p in pairs) + " |")
            lines.append("")
        lines += [f"*Data scale used (setting, images for KD): {_scales_used(block)}.*", ""]
    lines += [f"*{line}*" for line in _caption(cells, spec)]
    return "\n".join(lines) + "\n"


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
            for method, rows in block[~block["method"].isin((*BASELINES, "ssdkd"))].groupby("method", sort=False):
                rows = rows.set_index("pair")
                speed = [_tex(_speed(rows.loc[p]).replace("<br>", " / ")) for p in pairs]
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
