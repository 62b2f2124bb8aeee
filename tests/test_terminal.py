"""The terminal at 80 columns (and 120, 200): every method name, seed and number printed whole, constant facts in
the title, whole columns left out (and named) rather than every column cut, bars that keep count, time and ETA."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from dfkd_bench.engine.spec import RunSpec
from dfkd_bench.errors import unknown
from dfkd_bench.progress import Reporter
from dfkd_bench.runner import results_table
from dfkd_bench.terminal import Column, FitTable, constant_facts, short_label

PAIR = "lenet5_bn-lenet5_half_bn"
METHODS = ("fast2", "fast5", "fast10", "ssdkd_difficulty_diversity", "deepinv")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _render(renderable: object, width: int, terminal: bool = False) -> str:
    buffer = io.StringIO()
    Console(width=width, file=buffer, force_terminal=terminal, color_system=None).print(renderable)
    return ANSI.sub("", buffer.getvalue())


def _result(method: str, seed: int, best: float) -> dict:
    return {
        "dataset": "mnist",
        "pair": PAIR,
        "method": method,
        "seed": seed,
        "status": "done",
        "metric": "top1",
        "best_top1": best,
        "last_top1": best - 0.5,
        "data_scale": 56320,
        "times": {"total": 1234.5, "synthesis": 100.25, "kd": 1000.5},
    }


@pytest.mark.parametrize("width", [80, 120, 200])
def test_results_table_keeps_every_name_seed_and_number_whole(width: int):
    results = [_result(m, seed, 90 + i + seed / 10) for i, m in enumerate(METHODS) for seed in (0, 1)]
    results[1] = {**results[1], "status": "failed", "error": "RuntimeError: boom"}
    text = _render(results_table(results), width)
    assert max(len(line) for line in text.splitlines()) <= width
    for r in results:
        row = next(line for line in text.splitlines() if f" {r['method']} " in line and f" {r['seed']} " in line)
        assert f"{r['best_top1']:.2f}" in row and f"{r['last_top1']:.2f}" in row and "1234.50" in row
    flat = " ".join(text.split())
    assert f"dataset mnist, pair {PAIR}" in flat  # constant facts said once, in the title
    assert "failed mnist/lenet5_bn-lenet5_half_bn/fast2/seed-1: RuntimeError: boom" in flat
    assert ("…" in text) is False
    if width == 80:
        assert "left out at 80 columns: kd s, synth s" in flat  # named, not silently cut
    if width == 200:
        assert "left out" not in text and "100.25" in text and "1000.50" in text


def test_a_fit_table_drops_the_least_needed_columns_first_and_never_a_kept_one():
    columns = (Column("name"), Column("a", keep=1), Column("b", keep=2), Column("c"))
    table = FitTable("t", columns)
    table.add_row("x" * 30, "1" * 20, "2" * 20, "3" * 10)
    shown, facts, dropped = table.layout(80)
    assert [columns[i].name for i in shown] == ["name", "a", "c"] and dropped == ["b"] and facts == []
    shown, _, dropped = table.layout(40)
    assert [columns[i].name for i in shown] == ["name", "c"] and dropped == ["b", "a"]
    assert table.records() == [{"name": "x" * 30, "a": "1" * 20, "b": "2" * 20, "c": "3" * 10}]


def test_constant_facts_go_to_the_title_and_labels_show_what_varies():
    specs = [RunSpec("mnist", PAIR, m, s, (("train.data_scale", 600),), "quick") for m in METHODS for s in (0, 1)]
    facts, varying = constant_facts(specs)
    assert facts == ["dataset mnist", f"pair {PAIR}", "budget quick"] and varying == []
    assert short_label(specs[3], varying) == "fast5 600 s1"
    mixed = [*specs, RunSpec("fashion_mnist", PAIR, "fast2", 0, (), "quick")]
    facts, varying = constant_facts(mixed)
    assert varying == ["dataset"] and short_label(mixed[-1], varying) == "fashion_mnist fast2 auto s0"


def test_progress_at_80_columns_keeps_labels_counts_elapsed_and_eta():
    specs = [RunSpec("mnist", PAIR, m, s, (), "quick") for m in METHODS for s in (0, 1)]
    buffer = io.StringIO()
    console = Console(width=80, file=buffer, force_terminal=True, color_system=None)
    with Reporter(console) as reporter:
        reporter.start_grid({i: "pending" for i in range(len(specs))}, specs)
        for i, spec in enumerate(specs):
            for epoch in range(3):
                reporter.epoch_done(spec, {"epoch": epoch, "top1": 91.25, "data_scale": 600}, 10)
            if i < len(specs) - 1:  # the last cell stays running: its bar is on screen when the display stops
                reporter.cell_done(i, {"status": "done", "metric": "top1", "best_top1": 97.5, "times": {"total": 3}})
    lines = [line.rstrip() for line in ANSI.sub("", buffer.getvalue()).replace("\r", "\n").splitlines()]
    assert f"grid: {len(specs)} cells of dataset mnist, pair {PAIR}, budget quick" in lines
    assert all(len(line) <= 80 for line in lines)
    for spec in specs[:-1]:
        assert f"{spec.method} auto s{spec.seed}: done, best top1 97.50, 3 s" in lines
    bar = next(line for line in reversed(lines) if line.startswith("deepinv auto s1 "))
    assert re.search(r" 3/10 +\d+:\d\d:\d\d +ETA (\S+ \S+|\?) +top1 91\.25%$", bar), bar
    grid = next(line for line in reversed(lines) if line.startswith("grid "))
    assert re.search(r" 9/10 +\d+:\d\d:\d\d +ETA .* 9 done, 0 failed, 1 left$", grid), grid


def test_plain_progress_is_one_full_line_per_epoch(capsys: pytest.CaptureFixture[str]):
    spec = RunSpec("mnist", PAIR, "fast10", 1, (("train.data_scale", 600),), "quick")
    with Reporter(Console(file=io.StringIO(), force_terminal=False)) as reporter:
        reporter.start_grid({0: "pending"}, [spec])
        reporter.epoch_done(spec, {"epoch": 0, "top1": 50.0, "data_scale": 600}, 2)
    lines = capsys.readouterr().out.splitlines()
    assert f"[{spec.label}] 1/2 top1 50.00%  data 600 ETA ?" in lines and not any("\x1b" in x for x in lines)


def test_unknown_names_suggest_the_closest_valid_ones():
    assert "(did you mean ssdkd?)" in str(unknown("method", "ssdk", ["ssdkd", "fast2", "cmi"]))
    assert "(did you mean table2" in str(unknown("preset", "tabel2", ["table1", "table2", "mnist"]))
    assert "did you mean" not in str(unknown("method", "zzz", ["ssdkd", "fast2"]))


def test_dry_run_sums_up_per_method_and_names_missing_data_and_teachers(tmp_path):
    from click.testing import CliRunner

    from dfkd_bench.cli import cli

    out, store = tmp_path / "out", tmp_path / "teachers"
    store.mkdir()
    args = ["run", "--preset", "table1", "--dry-run", "--seeds", "0", "--out", str(out), "--teachers", str(store)]
    result = CliRunner().invoke(cli, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for method in ("teacher", "student", "fast2", "ssdkd"):
        assert f"│ {method} │ 10 │ 0 │ 10 │ ? │" in text
    assert "missing data: cifar10 needs a data root" in text and "missing data: cifar100" in text
    assert f"missing teachers in {store}: cifar10/resnet34, cifar10/vgg11, cifar10/wrn40_2" in text
    assert not out.exists()
