"""summary.csv kept up to date one row at a time reads exactly as a full rebuild."""

from __future__ import annotations

from pathlib import Path

from dfkd_bench.rundir import run_dir, write_result
from dfkd_bench.summary import SUMMARY, collect, update_summary, write_summary

PAIR = "lenet5_bn-lenet5_half_bn"


def _record(root: Path, method: str, seed: int, top1: float, scale: int | None = None) -> Path:
    run = run_dir(root, "mnist", PAIR, method, scale, seed)
    result = {"dataset": "mnist", "pair": PAIR, "method": method, "seed": seed, "status": "done"}
    write_result(run, {**result, "data_scale_setting": scale, "best_top1": top1, "times": {"total": 1.5 + seed}})
    return run


def _rebuilt(root: Path) -> bytes:
    update = (root / SUMMARY).read_bytes()
    write_summary(root)
    return update if update == (root / SUMMARY).read_bytes() else b"differs: " + update


def test_row_updates_read_exactly_as_a_full_rebuild(tmp_path: Path):
    root = tmp_path / "runs"
    for seed in (0, 2):
        _record(root, "kd", seed, 90.0 + seed)
    write_summary(root)
    added = _record(root, "kd", 1, 91.25)  # sorts between the two already listed
    update_summary(root, added)
    assert _rebuilt(root) == (root / SUMMARY).read_bytes()
    scaled = _record(root, "kd", 0, 95.5, scale=600)  # its own folder, scale-600, listed before scale-auto
    update_summary(root, scaled)
    assert _rebuilt(root) == (root / SUMMARY).read_bytes()
    rows = collect(root)
    assert list(rows["seed"]) == [0, 0, 1, 2] and list(rows["best_top1"]) == [95.5, 90.0, 91.25, 92.0]


def test_a_changed_result_replaces_its_row_only(tmp_path: Path):
    root = tmp_path / "runs"
    runs = [_record(root, method, 0, 80.0) for method in ("deepinv", "kd", "ssdkd")]
    write_summary(root)
    before = (root / SUMMARY).read_text().splitlines()
    _record(root, "kd", 0, 81.0)
    update_summary(root, runs[1])
    after = (root / SUMMARY).read_text().splitlines()
    assert [a == b for a, b in zip(before, after, strict=True)] == [True, True, False, True]
    assert ",81.0," in after[2]


def test_a_missing_or_foreign_summary_is_rebuilt_whole(tmp_path: Path):
    root = tmp_path / "runs"
    first, second = (_record(root, "kd", seed, 70.0) for seed in (0, 1))
    update_summary(root, second)  # no summary.csv yet: every run is listed, not only this one
    assert list(collect(root)["seed"]) == [0, 1]
    assert (root / SUMMARY).read_text().count("\n") == 3
    (root / SUMMARY).write_text("a,b\n1,2\n")
    update_summary(root, first)
    assert _rebuilt(root) == (root / SUMMARY).read_bytes()
    assert (root / SUMMARY).read_text().startswith("dataset,pair,method,")
