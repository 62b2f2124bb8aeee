"""Grid expansion: presets with the paper's cell counts, percent scales, methods without a data scale, and the
grid file whose indices never move."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from registering import register_specs

from dfkd_bench.cli import cli
from dfkd_bench.engine.spec import RunSpec
from dfkd_bench.errors import BadInput
from dfkd_bench.grid import GridRequest, expand, parse_scale
from dfkd_bench.gridfile import cell_at, load_grid


def _scale(spec: RunSpec):
    return dict(spec.overrides).get("train.data_scale")


@pytest.mark.parametrize(
    ("preset", "cells"),
    [
        ("table1", 4 * 5 * 2 * 3),  # teacher, student, fast2, ssdkd x 5 pairs x 2 datasets x 3 seeds
        ("table2", 14 * 5 * 2 * 3),  # teacher, student, 7 baselines, ssdkd, nayer and its 3 embedding variants
        ("table4", 6 * 2 * 2 * 3),  # six ablation rows x 2 pairs
        ("figure4", 3 * 2 * 4 * 3),  # 3 pairs x 2 datasets x 4 scales
    ],
)
def test_paper_presets_expand_to_the_papers_grids(preset: str, cells: int):
    specs, skipped = expand(GridRequest(preset=preset))
    assert len(specs) == cells and not skipped
    assert len(set(specs)) == cells


def test_table1_runs_ssdkd_at_5000_and_the_rest_at_their_own_scale():
    specs, _ = expand(GridRequest(preset="table1"))
    scales = {(s.method, _scale(s)) for s in specs}
    assert scales == {("teacher", None), ("student", None), ("fast2", None), ("ssdkd", 5000)}
    assert {s.dataset for s in specs} == {"cifar10", "cifar100"} and {s.seed for s in specs} == {0, 1, 2}


def test_preset_seeds_can_be_narrowed():
    specs, _ = expand(GridRequest(preset="table4", seeds=[7]))
    assert len(specs) == 6 * 2 * 2 and {s.seed for s in specs} == {7}


def test_mnist_preset_uses_the_quick_budget_and_skips_bn_methods_on_the_bn_free_pair():
    specs, notes = expand(GridRequest(preset="mnist"))
    assert {s.budget for s in specs} == {"quick"}
    assert "skipping mnist/lenet5-lenet5_half/deepinv: it matches BatchNorm statistics" in "\n".join(notes)
    assert {_scale(s) for s in specs if s.method == "ssdkd"} == {150, 300, 600, 1200}


def test_percent_scales_and_their_limits():
    assert parse_scale("10%", "cifar10") == 5000 and parse_scale("1%", "mnist") == 600
    assert parse_scale("auto", "mnist") is None and parse_scale("2500", "cifar100") == 2500
    for bad in ("50001", "0", "-3", "ten", "100.5%"):
        with pytest.raises(BadInput):
            parse_scale(bad, "cifar10")


def test_methods_without_a_data_scale_run_once_at_their_own():
    specs, _ = expand(GridRequest(methods=["ssdkd", "dafl"], scales=["300", "600"], seeds=[0, 1]))
    assert sorted((s.method, _scale(s), s.seed) for s in specs) == [
        ("dafl", None, 0),
        ("dafl", None, 1),
        ("ssdkd", 300, 0),
        ("ssdkd", 300, 1),
        ("ssdkd", 600, 0),
        ("ssdkd", 600, 1),
    ]


def test_grid_file_appends_and_keeps_indices(tmp_path: Path):
    first, _ = expand(GridRequest(methods=["kd"], seeds=[0, 1]))
    assert register_specs(tmp_path, first) == [0, 1]
    more, _ = expand(GridRequest(methods=["kd", "deepinv"], seeds=[1, 2]))
    indices = register_specs(tmp_path, more)
    assert indices[0] == 1 and sorted(indices) == [1, 2, 3, 4]
    assert [c.spec for c in load_grid(tmp_path)[:2]] == first and cell_at(tmp_path, 1).spec == first[1]
    with pytest.raises(BadInput, match="out of range"):
        cell_at(tmp_path, 5)


def test_dry_run_of_table2_prints_the_cell_count(tmp_path: Path):
    result = CliRunner().invoke(cli, ["run", "--preset", "table2", "--dry-run", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "420 cells: 420 pending" in result.output
    assert sum(" pending " in line for line in result.output.splitlines()) == 420


def test_missing_data_root_or_teacher_is_exit_2_and_touches_nothing(tmp_path: Path):
    from test_data import write_cifar10

    out = tmp_path / "out"
    register_specs(out, expand(GridRequest(methods=["kd"]))[0])
    (out / "summary.csv").write_text("recorded\n")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    runner = CliRunner()
    base = ["run", "--datasets", "cifar10", "--methods", "fast2", "--out", str(out)]
    no_data = runner.invoke(cli, [*base, "--data-root", str(tmp_path / "missing")])
    assert no_data.exit_code == 2 and no_data.output.startswith("error: ") and "looked in" in no_data.output
    write_cifar10(tmp_path / "data")
    args = [*base, "--data-root", str(tmp_path / "data"), "--teachers", str(tmp_path / "empty")]
    no_teacher = runner.invoke(cli, args)
    assert no_teacher.exit_code == 2 and len(no_teacher.output.strip().splitlines()) == 1
    assert "dfkd-bench" in no_teacher.output, "the error names the command that fixes it"
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_runners_starting_together_train_a_missing_teacher_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import threading
    import time

    from dfkd_bench import runner
    from dfkd_bench.engine.spec import RunOptions
    from dfkd_bench.progress import Reporter

    trained = []

    def slow_training(dataset, model, store, opts, reporter) -> None:
        trained.append(model)
        time.sleep(0.5)
        (store.root / dataset).mkdir(parents=True, exist_ok=True)
        (store.root / dataset / f"{model}.pt").write_bytes(b"weights")
        (store.root / dataset / f"{model}.json").write_text("{}")

    monkeypatch.setattr(runner, "_train_teacher", slow_training)
    monkeypatch.setattr(runner.TeacherStore, "has", lambda self, d, m: (self.root / d / f"{m}.json").exists())
    specs, _ = expand(GridRequest(methods=["kd"]))
    opts = RunOptions(out=tmp_path / "out", teachers=tmp_path / "teachers")
    workers = [threading.Thread(target=runner.ensure_teachers, args=(specs, opts, Reporter(), 0.05)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert trained == ["lenet5_bn"]


def test_run_one_index_exits_75_while_another_worker_holds_the_cell(tmp_path: Path, teacher_root: Path):
    from dfkd_bench.claims import Claim, claim_folder

    out = tmp_path / "out"
    specs, _ = expand(GridRequest(methods=["kd"], budget="quick"))
    register_specs(out, specs, teacher_root)
    holder = Claim(claim_folder(out, load_grid(out)[0].path))
    assert holder.try_acquire()
    args = ["run-one", "--out", str(out), "--index", "0", "--teachers", str(teacher_root), "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 75, result.output
    assert "held by another worker" in result.output
    assert not list(out.glob("**/result.json")), "a held cell is not touched"
    holder.release()


def test_proxy_presets_cover_both_cpu_datasets_and_datasets_narrows_them():
    specs, _ = expand(GridRequest(preset="proxy-figure4"))
    assert {s.dataset for s in specs} == {"mnist", "fashion_mnist"} and {s.budget for s in specs} == {"proxy"}
    scales = sorted({dict(s.overrides)["train.data_scale"] for s in specs})
    assert scales == [600, 3000, 6000, 12000, 60000]  # 1 / 5 / 10 / 20 / 100 % of 60,000
    narrowed, _ = expand(GridRequest(preset="proxy-table1", datasets=["fashion_mnist"]))
    assert narrowed and {s.dataset for s in narrowed} == {"fashion_mnist"}
    assert {s.method for s in narrowed} == {"teacher", "student", "fast2", "ssdkd"}
    with pytest.raises(BadInput, match="valid choices: fashion_mnist, mnist"):
        expand(GridRequest(preset="proxy-table1", datasets=["cifar10"]))


def test_cpu_workers_share_the_cores_out():
    import os

    from dfkd_bench.launch.local import cpu_threads

    cores = os.cpu_count() or 1
    assert cpu_threads(1) == cores and cpu_threads(cores) == 1 and cpu_threads(4 * cores) == 1
