"""The report beside the paper: published numbers next to ours on CIFAR, the paper's claims next to ours where it has
no results (MNIST), why each empty cell is empty, and each card's deviations once."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from dfkd_bench.config import all_cards
from dfkd_bench.errors import BadInput
from dfkd_bench.grid import GridRequest, expand
from dfkd_bench.report.build import write_report
from dfkd_bench.report.gaps import GAPS
from dfkd_bench.report.paper_claims import T1_ACC, T1_TIME, claims_frame, effect_text, paper_effects
from dfkd_bench.report.paper_tables import DATASET_NAMES, pair_label, table_cells
from dfkd_bench.report.published import load_published
from dfkd_bench.summary import SUMMARY_COLUMNS

R34 = "resnet34-resnet18"
BN, PLAIN = "lenet5_bn-lenet5_half_bn", "lenet5-lenet5_half"


def _row(dataset: str, pair: str, method: str, scale: int | None, seed: int, best: float, total: float, **kw) -> dict:
    return {
        "dataset": dataset, "pair": pair, "method": method, "data_scale_setting": scale, "seed": seed,
        "status": "done", "metric": "top1", "best_top1": best, "last_top1": best - 0.5,
        "data_scale": scale or 56320, "teacher_top1": 95.0, "synthesis_s": total * 0.5, "sample_s": 0.0,
        "kd_s": total * 0.4, "eval_s": total * 0.1, "total_s": total, "epochs_done": 2, "device": "cpu",
        "config_hash": "x", "run_dir": "/nonexistent/run",
    } | kw  # fmt: skip


def _seeds(dataset: str, pair: str, method: str, scale: int | None, best: list[float], total: float) -> list[dict]:
    return [_row(dataset, pair, method, scale, seed, b, total + seed) for seed, b in enumerate(best)]


def _report(tmp_path: Path, rows: list[dict], formats: tuple[str, ...] = ("md", "csv")) -> str:
    runs = tmp_path / "runs"
    runs.mkdir()
    pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(runs / "summary.csv", index=False)
    write_report(runs, tmp_path / "report", formats=formats)
    return (tmp_path / "report" / "report.md").read_text()


def _section(text: str, start: str, end: str = "\n## ") -> str:
    """The text from the line starting `start` to the next level-2 heading."""
    begin = text.index(start)
    stop = text.find(end, begin + len(start))
    return text[begin : stop if stop >= 0 else len(text)]


def _table_row(section: str, label: str) -> str:
    """The first table row of `section` whose first cells are `label` (a results table comes before its
    speed-up table)."""
    hits = [line for line in section.splitlines() if line.startswith(f"| {label} |")]
    assert hits, (label, section)
    return hits[0]


CIFAR = _seeds("cifar10", R34, "ssdkd", 5000, [92.5, 93.0, 93.5], 3600.0) + _seeds(
    "cifar10", R34, "fast2", None, [92.0, 92.5, 93.0], 14000.0
)
MNIST = _seeds("mnist", BN, "ssdkd", 6000, [97.0, 97.5, 98.0], 200.0) + _seeds(
    "mnist", BN, "fast2", None, [98.0, 98.2, 98.4], 700.0
)


def test_published_numbers_beside_ours_and_claims_beside_ours_where_the_paper_has_no_results(tmp_path: Path):
    report = _report(tmp_path, CIFAR + MNIST)
    table1 = _section(report, "## Table 1:")
    cifar, mnist = _section(table1, "### CIFAR-10", "\n### "), _section(table1, "### MNIST", "\n### ")

    paper = load_published("paper").query("table == '1' and dataset == 'cifar10' and pair == @R34")
    published = paper.set_index("method")
    for method, label, ours in (
        ("ssdkd", "[SSD-KD](#dev-ssdkd)", "93.00 ± 0.50"),
        ("fast2", "[Fast2](#dev-fast2)", "92.50 ± 0.50"),
    ):
        row = _table_row(cifar, label)
        cell = row.split(" | ")[1]  # the first pair's column: ours, then the paper's value on a second line
        value, hours = published.loc[method, "accuracy"], published.loc[method, "hours"]
        assert cell.startswith(ours) and f"<br>paper {value:.2f} ({hours:.2f} h)" in cell
        assert f"Δ {float(ours.split()[0]) - value:+.2f}" in cell
    assert "The paper has no" not in cifar

    # MNIST: said at the top of its block, no published number in it, and the paper's claims beside ours
    assert mnist.index("The paper has no MNIST results") < mnist.index("| Method |")
    assert "(#table1-paper)" in mnist and "paper " not in mnist.split("| Method |")[1]
    beside = _section(table1, "### Table 1 beside the paper", "\n## ")
    assert '<a id="table1-paper"></a>' in beside
    assert f"| Data | Pair | {T1_TIME.measure} | {T1_ACC.measure} |" in beside
    effects = paper_effects().query("table == 'table1'")
    published_cells = load_published("paper").query("table == '1' and method == 'ssdkd'")
    assert len(effects) == 2 * len(published_cells) == 20  # two claims × every published pair of the 2 data sets
    for (dataset, pair), group in effects.groupby(["dataset", "pair"], sort=False):
        values = group.set_index("claim")["effect"]
        hours = load_published("paper").query("table == '1' and dataset == @dataset and pair == @pair")
        hours = hours.set_index("method")["hours"]
        assert values[T1_TIME.text] == pytest.approx(hours["ssdkd"] / hours["fast2"])
        line = _table_row(beside, f"Paper: {DATASET_NAMES[dataset]} | {pair_label(pair)}")
        assert line.endswith(f"| {values[T1_TIME.text]:.2f} | {values[T1_ACC.text]:+.2f} |")
    claims = claims_frame(pd.read_csv(tmp_path / "runs" / "summary.csv"))
    ours = claims[claims["dataset"] == "mnist"].set_index("claim")
    line = _table_row(beside, f"**Ours: MNIST** | {pair_label(BN)}")
    for claim in (T1_TIME, T1_ACC):
        assert f"{effect_text(ours.loc[claim.text], measure=False)}<br>{ours.loc[claim.text, 'verdict']}" in line
    assert not any(line.startswith("| **Ours: CIFAR-10") for line in beside.splitlines())  # its numbers are compared

    # the claims and their verdicts are in the report, counted at the top
    tested = _section(report, "## The paper's claims, tested")
    for row in claims.itertuples():
        assert f"| {row.claim} |" in tested and f"| {row.verdict} |" in tested
    counts = claims["verdict"].value_counts()
    assert f"**Verdicts:** {len(claims)} claim checks: " in report
    assert all(f"{n} {verdict}" in report.split("## Table 1:")[0] for verdict, n in counts.items())
    assert "The paper has no results on MNIST" in report.split("## Table 1:")[0]


def test_without_a_paper_dataset_the_report_says_so_and_compares_claims_only(tmp_path: Path):
    report = _report(tmp_path, MNIST)
    head = report.split("## Table 1:")[0]
    assert "The paper has no results on MNIST" in head and "Compared with the paper:** on" not in head
    assert "paper 9" not in _section(report, "## Table 1:")  # no published number on MNIST rows
    assert "### Table 1 beside the paper" in report and "**Ours: MNIST**" in report


def test_each_empty_cell_says_why(tmp_path: Path):
    rows = _seeds("mnist", BN, "ssdkd", 6000, [97.0, 97.5], 200.0)
    rows += _seeds("mnist", PLAIN, "dafl", None, [80.0, 81.0], 100.0)  # BN-free teacher: BN matching is skipped
    rows += [_row("mnist", PLAIN, "zskt", None, 0, 0.0, 1.0, status="failed")]
    rows += [_row("mnist", PLAIN, "student", None, 0, 0.0, 1.0, status="running")]
    report = _report(tmp_path, rows, formats=("md", "tex", "csv"))
    mark = {key: gap.mark for key, gap in GAPS.items()}
    table2 = _section(report, "## Table 2:")
    assert _table_row(table2, "CMI").endswith(f"| —{mark['not_run']} | —{mark['skipped']} |")
    assert _table_row(table2, "ZSKT").endswith(f"| —{mark['not_run']} | —{mark['failed']} |")
    assert _table_row(table2, "Student").endswith(f"| —{mark['not_run']} | —{mark['unfinished']} |")
    assert _table_row(table2, "[DAFL](#dev-dafl)").split(" | ")[1] == f"—{mark['not_run']}"
    legend = next(line for line in table2.splitlines() if line.startswith("*— = no result:"))
    for key in ("not_run", "skipped", "failed", "unfinished"):
        assert f"{mark[key]} {GAPS[key].meaning}" in legend
    # labels may hold ':' and '(' themselves (NAYER [external prior: text encoder], NAYER (one-hot)): the reason is
    # what follows the last ': it '
    skipped = re.search(rf"{mark['skipped']} [^(]*\((.*): (it [^)]*)\)", legend)
    assert skipped is not None and "CMI" in skipped.group(1) and "DAFL" not in skipped.group(1)
    # the reason is the grid's own: it refuses to run that cell and says the same words
    with pytest.raises(BadInput, match=re.escape(skipped.group(2))):
        expand(GridRequest(methods=["cmi"], datasets=["mnist"], pairs=[PLAIN]))
    tidy = pd.read_csv(tmp_path / "report" / "tables.csv", keep_default_na=False)
    cmi = tidy[(tidy["table"] == "table2") & (tidy["method"] == "cmi")].set_index("pair")
    assert cmi.loc[PLAIN, "gap"] == "skipped" and cmi.loc[BN, "gap"] == "not_run"
    assert "$^{2}$" in (tmp_path / "report" / "tables.tex").read_text()
    assert table_cells(pd.read_csv(tmp_path / "runs" / "summary.csv"), "table2").query("n > 0")["gap"].eq("").all()


def test_deviations_once_per_card_inheritance_and_links(tmp_path: Path):
    methods = ("fast2", "fast5", "fast10", "ssdkd", "ssdkd_ps", "teacher", "student")
    rows = [
        row
        for m in methods
        for row in _seeds("mnist", BN, m, 6000 if m.startswith("ssdkd") else None, [90.0, 91.0], 100.0)
    ]
    report = _report(tmp_path, rows)
    section = _section(report, "## Deviations from the paper")
    cards = all_cards()
    for method in methods:
        assert f'<a id="dev-{method}"></a>' in section
        for line in cards[method].deviations:
            assert report.count(" ".join(line.split())) == 1, (method, line[:60])  # once, however many cards share it
    fast2 = [" ".join(d.split()) for d in cards["fast2"].deviations]
    extra = [" ".join(d.split()) for d in cards["fast10"].deviations][len(fast2) :]
    assert extra and [" ".join(d.split()) for d in cards["fast10"].deviations][: len(fast2)] == fast2
    fast10 = section[section.index('<a id="dev-fast10"></a>') :].split("\n\n<a id=")[0]
    assert "the deviations of [fast2](#dev-fast2)" in fast10 and all(line in fast10 for line in extra)
    assert not any(line in fast10 for line in fast2)
    # every link in the report lands on an anchor it has
    targets = set(re.findall(r"\]\(#([\w.-]+)\)", report))
    assert targets and targets <= set(re.findall(r'<a id="([\w.-]+)"></a>', report))
    assert "(#dev-ssdkd_ps)" in _section(report, "## Table 4:")
