"""The paper's claims tested on synthetic run frames: exact effects, intervals, verdicts, skipped claims, Markdown."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfkd_bench.report.build import write_report
from dfkd_bench.report.paper_claims import (
    COLUMNS,
    CONTRADICTED,
    FEW_SEEDS,
    INCONCLUSIVE,
    SUPPORTED,
    claims_frame,
    claims_markdown,
)
from dfkd_bench.report.stats import bootstrap_ratio_ci, linear_fit, t_cdf, t_quantile, welch_ci
from dfkd_bench.summary import SUMMARY_COLUMNS

PAIR = "lenet5_bn-lenet5_half_bn"
SCALES = (600, 3000, 6000, 12000, 60000)  # 1, 5, 10, 20, 100 % of MNIST's 60,000 training images
NOISE = (-0.5, 0.0, 0.5)  # per seed: variance 0.25 over three seeds


def _run(
    method: str,
    scale: int | None,
    seed: int,
    best: float,
    total: float,
    dataset: str = "mnist",
    pair: str = PAIR,
    status: str = "done",
    run_dir: str = "/nonexistent/run",
    data_scale: int = 6400,
) -> dict:
    return {
        "dataset": dataset, "pair": pair, "method": method, "data_scale_setting": scale, "seed": seed,
        "status": status, "metric": "top1", "best_top1": best, "last_top1": best - 1.0,
        "data_scale": scale or data_scale, "teacher_top1": 99.0, "synthesis_s": total * 0.5, "sample_s": 0.0,
        "kd_s": total * 0.4, "eval_s": total * 0.1, "total_s": total, "epochs_done": 2, "device": "cpu",
        "config_hash": "x", "run_dir": run_dir,
    }  # fmt: skip


def _seeds(method: str, scale: int | None, best: list[float], total: list[float], **kw: object) -> list[dict]:
    return [_run(method, scale, seed, b, t, **kw) for seed, (b, t) in enumerate(zip(best, total, strict=True))]


def _ssdkd(
    scales: tuple[int, ...] = SCALES,
    acc: Callable[[int], float] = lambda s: 90.0 + 5.0 * s / 60000,
    time: Callable[[int], float] = lambda s: 10.0 + s / 100,
) -> list[dict]:
    """SSD-KD at every setting, three seeds: accuracy `acc(s)` ± 0.5, time exactly `time(s)`."""
    return [row for s in scales for row in _seeds("ssdkd", s, [acc(s) + e for e in NOISE], [time(s)] * 3)]


FAST2 = _seeds("fast2", None, [85.0, 86.0, 87.0], [300.0, 310.0, 320.0])


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _claim(claims: pd.DataFrame, claim: str) -> pd.Series:
    hit = claims[claims["claim"] == claim]
    assert len(hit) == 1, f"{claim!r}: {list(claims['claim'])}"
    return hit.iloc[0]


T1_TIME = "Table 1: SSD-KD (10 % data) is faster than Fast2"
T1_ACC = "Table 1: SSD-KD (10 % data) is more accurate than Fast2"
T4_ORDER = "Table 4: the full SSD-KD is the most accurate ablation row"
T4_PS = "Table 4: PS reduces training time"
F4_LINEAR = "Figure 4: SSD-KD's time grows linearly with the data scale"
F4_DROP = "Figure 4: SSD-KD loses < 10 points at the smallest data scale"
T2_RANK = "Table 2: SSD-KD is the best or near-best method"


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize(("df", "expected"), [(2, 4.303), (4, 2.776), (10, 2.228), (1, 12.706), (1e6, 1.960)])
def test_t_quantile_matches_the_tables(df: float, expected: float):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-3)
    assert t_cdf(t_quantile(0.975, df), df) == pytest.approx(0.975, abs=1e-10)


def test_t_cdf_at_zero_and_for_a_fractional_df():
    assert t_cdf(0.0, 3.0) == pytest.approx(0.5)
    assert t_quantile(0.975, 2) > t_quantile(0.975, 2.5) > t_quantile(0.975, 3)  # Welch's df is fractional


def test_welch_interval_matches_a_hand_computation():
    # equal n = 3 and variances 1: df = 2 (n - 1) = 4, se = sqrt(1/3 + 1/3); t(0.975, 4) = 2.776445
    diff, low, high = welch_ci(np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0, 5.0]))
    half = 2.776445 * math.sqrt(2 / 3)
    assert diff == -2.0
    assert low == pytest.approx(-2.0 - half, abs=1e-5) and high == pytest.approx(-2.0 + half, abs=1e-5)


def test_welch_with_one_seed_has_no_interval_and_identical_seeds_an_exact_one():
    diff, low, high = welch_ci(np.array([5.0]), np.array([1.0, 2.0]))
    assert diff == 3.5 and math.isnan(low) and math.isnan(high)
    assert welch_ci(np.array([2.0, 2.0]), np.array([1.0, 1.0])) == (1.0, 1.0, 1.0)


def test_bootstrap_ratio_is_deterministic_and_brackets_the_ratio():
    a, b = np.array([10.0, 12.0, 14.0]), np.array([40.0, 50.0, 60.0])
    first = bootstrap_ratio_ci(a, b)
    assert first == bootstrap_ratio_ci(a, b)
    assert first[0] == pytest.approx(12.0 / 50.0)
    assert first[1] < first[0] < first[2]
    assert 10.0 / 60.0 <= first[1] < first[2] <= 14.0 / 40.0  # resampled means stay within the data
    spread = np.array([10.0, 11.3, 12.1, 14.7, 9.2, 13.3]), np.array([40.0, 50.5, 61.0, 47.3, 55.1, 44.4])
    assert bootstrap_ratio_ci(*spread) == bootstrap_ratio_ci(*spread) != bootstrap_ratio_ci(*spread, seed=1)
    ratio, low, high = bootstrap_ratio_ci(a, np.array([50.0]))
    assert ratio == pytest.approx(0.24) and math.isnan(low) and math.isnan(high)


def test_linear_fit_r2():
    x = np.array(SCALES, float)
    slope, intercept, r2 = linear_fit(x, 3.0 + 0.02 * x)
    assert (slope, intercept, r2) == pytest.approx((0.02, 3.0, 1.0))
    assert linear_fit(x, np.array([100.0, 10.0, 10.0, 10.0, 100.0]))[2] < 0.95


# ---------------------------------------------------------------- claims


def test_table1_speedup_and_accuracy_are_supported():
    failed = _run("fast2", None, 9, 0.0, 1.0, status="failed")  # not finished: never counted
    claims = claims_frame(_frame(_ssdkd() + FAST2 + [failed]))
    assert list(claims.columns) == COLUMNS
    speed = _claim(claims, T1_TIME)
    assert speed["effect"] == pytest.approx(70.0 / 310.0)  # SSD-KD at 6,000 images: 10 + 6000 / 100 s
    assert 70.0 / 320.0 <= speed["ci_low"] < speed["effect"] < speed["ci_high"] <= 70.0 / 300.0
    assert speed["verdict"] == SUPPORTED and speed["n_min"] == 3 and speed["paper"].startswith("0.25")
    assert speed["compared"] == "SSD-KD @ 6,000 img (n=3) vs Fast2 @ auto (n=3)"
    acc = _claim(claims, T1_ACC)
    expected = welch_ci(np.array([90.0, 90.5, 91.0]), np.array([85.0, 86.0, 87.0]))
    assert (acc["effect"], acc["ci_low"], acc["ci_high"]) == pytest.approx(expected)
    assert acc["effect"] == pytest.approx(4.5) and acc["verdict"] == SUPPORTED
    assert (claims["dataset"] == "mnist").all() and (claims["pair"] == PAIR).all()


@pytest.mark.parametrize(
    ("fast2_best", "verdict"),
    [([95.0, 96.0, 97.0], CONTRADICTED), ([90.0, 90.5, 91.0], INCONCLUSIVE), ([86.0], FEW_SEEDS)],
)
def test_table1_accuracy_verdicts(fast2_best: list[float], verdict: str):
    fast2 = _seeds("fast2", None, fast2_best, [300.0] * len(fast2_best))
    acc = _claim(claims_frame(_frame(_ssdkd() + fast2)), T1_ACC)
    assert acc["verdict"] == verdict
    if verdict == FEW_SEEDS:
        assert acc["effect"] == pytest.approx(90.5 - 86.0) and math.isnan(acc["ci_low"]) and acc["n_min"] == 1
        assert _claim(claims_frame(_frame(_ssdkd() + fast2)), T1_TIME)["verdict"] == FEW_SEEDS


def test_accuracy_can_be_the_last_epoch():
    frame = _frame(_ssdkd() + FAST2)
    frame.loc[frame["method"] == "fast2", "last_top1"] -= 10.0
    claims = claims_frame(frame, accuracy="last")
    assert _claim(claims, T1_ACC)["effect"] == pytest.approx(14.5)
    assert (claims["accuracy"] == "last").all()


def test_claims_without_their_runs_are_skipped():
    assert T1_TIME not in set(claims_frame(_frame(_ssdkd()))["claim"])  # no Fast2
    few = claims_frame(_frame(_ssdkd(scales=(600, 3000)) + FAST2))  # no 10 % setting, two settings
    assert set(few["claim"]) == {F4_DROP}
    assert claims_frame(_frame(FAST2)).empty
    assert claims_frame(_frame([])).empty


def test_figure4_linear_time_and_mild_decay():
    claims = claims_frame(_frame(_ssdkd()))
    linear = _claim(claims, F4_LINEAR)
    assert linear["effect"] == pytest.approx(1.0) and linear["verdict"] == SUPPORTED
    assert "slope 10 s per 1,000 images, 15 runs" in linear["detail"]
    assert linear["compared"] == "SSD-KD @ 600, 3,000, 6,000, 12,000, 60,000 img (n=3, 3, 3, 3, 3)"
    drop = _claim(claims, F4_DROP)
    assert drop["effect"] == pytest.approx(90.05 - 95.0) and drop["verdict"] == SUPPORTED
    bumpy = claims_frame(_frame(_ssdkd(time=lambda s: 100.0 if s in (600, 60000) else 10.0)))
    assert _claim(bumpy, F4_LINEAR)["effect"] < 0.95 and _claim(bumpy, F4_LINEAR)["verdict"] == CONTRADICTED


@pytest.mark.parametrize(("small", "verdict"), [(60.0, CONTRADICTED), (85.0, INCONCLUSIVE)])
def test_figure4_decay_verdicts(small: float, verdict: str):
    claims = claims_frame(_frame(_ssdkd(acc=lambda s: small if s == 600 else 95.0)))
    assert _claim(claims, F4_DROP)["verdict"] == verdict


def _ablations(ps: list[float], difficulty: list[float]) -> list[dict]:
    rows = _seeds("ssdkd_baseline", 6000, [85.0, 85.5, 86.0], [60.0, 62.0, 64.0])
    rows += _seeds("ssdkd_ps", 6000, ps, [50.0, 52.0, 54.0])
    rows += _seeds("ssdkd_difficulty", 6000, difficulty, [70.0] * 3)
    rows += _seeds("ssdkd_diversity", 6000, [86.5, 87.0, 87.5], [70.0] * 3)
    return rows + _seeds("ssdkd_difficulty_diversity", 6000, [87.0, 87.5, 88.0], [70.0] * 3)


def test_table4_full_model_first_and_ps_faster():
    claims = claims_frame(_frame(_ssdkd() + _ablations([88.0, 88.5, 89.0], [86.0, 86.5, 87.0])))
    order = _claim(claims, T4_ORDER)
    expected = welch_ci(np.array([90.0, 90.5, 91.0]), np.array([88.0, 88.5, 89.0]))
    assert (order["effect"], order["ci_low"], order["ci_high"]) == pytest.approx(expected)
    assert order["verdict"] == SUPPORTED and order["detail"].startswith("ranking SSD-KD 90.50 > Baseline+PS 88.50 >")
    ps = _claim(claims, T4_PS)
    assert ps["effect"] == pytest.approx(52.0 / 62.0) and ps["ci_high"] < 1 and ps["verdict"] == SUPPORTED


def test_table4_contradicted_by_the_best_row_or_by_a_tight_one():
    better = claims_frame(_frame(_ssdkd() + _ablations([95.0, 95.5, 96.0], [86.0, 86.5, 87.0])))
    assert _claim(better, T4_ORDER)["verdict"] == CONTRADICTED
    # the best row by mean is too noisy to be significant, but a tight one below it beats the full model
    noisy = claims_frame(_frame(_ssdkd() + _ablations([80.0, 100.0, 120.0], [95.0, 95.5, 96.0])))
    row = _claim(noisy, T4_ORDER)
    assert row["effect"] == pytest.approx(90.5 - 100.0) and row["ci_high"] > 0 and row["verdict"] == CONTRADICTED


def test_table2_comparisons_and_rank():
    rivals = _seeds("deepinv", None, [80.0, 81.0, 82.0], [900.0] * 3)
    rivals += _seeds("cmi", None, [95.0, 96.0, 97.0], [800.0] * 3)
    claims = claims_frame(_frame(_ssdkd() + rivals))  # SSD-KD at its largest setting (no Fast5 to match)
    assert _claim(claims, "Table 2: SSD-KD vs DeepInv")["verdict"] == SUPPORTED
    cmi = _claim(claims, "Table 2: SSD-KD vs CMI")
    assert cmi["effect"] == pytest.approx(95.0 - 96.0) and cmi["verdict"] == INCONCLUSIVE
    assert cmi["compared"] == "SSD-KD @ 60,000 img (n=3) vs CMI @ auto (n=3)"
    rank = _claim(claims, T2_RANK)
    assert rank["effect"] == 2 and rank["verdict"] == INCONCLUSIVE  # second, not significantly behind CMI
    assert rank["detail"] == "ranking CMI 96.00 > SSD-KD 95.00 > DeepInv 81.00"
    for cmi, verdict in (([99.0, 99.5, 100.0], CONTRADICTED), ([93.0, 94.0, 95.0], SUPPORTED), ([94.0], FEW_SEEDS)):
        rivals[3:] = _seeds("cmi", None, cmi, [800.0] * len(cmi))
        assert _claim(claims_frame(_frame(_ssdkd() + rivals)), T2_RANK)["verdict"] == verdict


def _with_histograms(root: Path, rows: list[dict], classes: Callable[[int], list[int]], confidence: list[int]):
    for row in rows:
        run = root / row["method"] / f"seed-{row['seed']}"
        run.mkdir(parents=True)
        record = {"epoch": 0, "kd_class_hist": classes(row["seed"]), "kd_confidence_hist": confidence}
        (run / "metrics.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
        row["run_dir"] = str(run)
    return rows


def _entropy(counts: list[int]) -> float:
    p = np.asarray(counts, float) / sum(counts)
    return float(-(p[p > 0] * np.log(p[p > 0])).sum() / math.log(len(p)))


def test_figure2_balance_and_difficulty(tmp_path: Path):
    def even(seed: int) -> list[int]:
        return [10 + seed * (c % 2) for c in range(10)]

    def skewed(seed: int) -> list[int]:
        return [50 + 10 * seed if c == 0 else 5 for c in range(10)]

    low, high = [0, 0, 10] + [0] * 7, [0] * 9 + [10]  # mean confidence 0.25 and 0.95
    ssdkd = [r for r in _ssdkd() if r["data_scale_setting"] != 6000]
    ssdkd += _with_histograms(tmp_path, [r for r in _ssdkd() if r["data_scale_setting"] == 6000], even, low)
    fast2 = _with_histograms(tmp_path, _seeds("fast2", None, [85.0, 86.0, 87.0], [300.0] * 3), skewed, high)
    claims = claims_frame(_frame(ssdkd + fast2))
    balance = _claim(claims, "Figure 2: SSD-KD's KD samples are more class-balanced than Fast2's")
    expected = np.mean([_entropy(even(s)) for s in range(3)]) - np.mean([_entropy(skewed(s)) for s in range(3)])
    assert balance["effect"] == pytest.approx(expected) and balance["verdict"] == SUPPORTED
    assert balance["compared"] == "SSD-KD @ 6,000 img (n=3) vs Fast2 @ auto (n=3)"
    harder = _claim(claims, "Figure 2: SSD-KD's KD samples are harder than Fast2's")
    assert harder["effect"] == pytest.approx(0.25 - 0.95) and harder["verdict"] == SUPPORTED
    # without histograms (the other claims' frames) there is no Figure 2 claim
    assert not claims_frame(_frame(_ssdkd() + FAST2))["claim"].str.startswith("Figure 2").any()


def test_published_cells_give_the_paper_column():
    pair = "resnet34-resnet18"
    rows = _seeds("ssdkd", 5000, [92.0, 92.5, 93.0], [3600.0] * 3, dataset="cifar10", pair=pair)
    rows += _seeds("fast2", None, [91.0, 91.5, 92.0], [14000.0] * 3, dataset="cifar10", pair=pair)
    claims = claims_frame(_frame(rows))
    assert _claim(claims, T1_TIME)["paper"] == f"{1.11 / 3.92:.2f}"  # published hours, Table 1
    assert _claim(claims, T1_ACC)["paper"] == "+0.30"  # 92.92 − 92.62


def test_claims_are_deterministic():
    frame = _frame(_ssdkd() + FAST2 + _ablations([88.0, 88.5, 89.0], [86.0, 86.5, 87.0]))
    pd.testing.assert_frame_equal(claims_frame(frame), claims_frame(frame))


def test_markdown_lists_every_claim_and_the_method():
    claims = claims_frame(_frame(_ssdkd() + _seeds("fast2", None, [86.0], [300.0])))
    text = claims_markdown(claims)
    assert "| Claim | Data | Our effect (95 % CI) | Paper | Verdict |" in text
    for row in claims.itertuples():
        assert f"| {row.claim} | MNIST, lenet5_bn → lenet5_half_bn: {row.compared} |" in text
    assert "| total time SSD-KD / Fast2: 0.233 |" in text  # 70 s / 300 s, one Fast2 seed: no interval
    assert "Δ top-1 smallest − largest scale (points): -4.95 [-6.08, -3.82] |" in text  # df = 4, t = 2.776
    assert "| insufficient seeds |" in text and "R² of total time against images: 1.000; slope" in text
    assert "Welch" in text and "bootstrap" in text and "10,000 resamples" in text and "has 1 to 3 seeds" in text
    assert "no claim" in claims_markdown(claims.iloc[:0])


def test_report_has_the_claims_section_and_csv(tmp_path: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    _frame(_ssdkd() + FAST2).to_csv(runs / "summary.csv", index=False)
    write_report(runs, tmp_path / "report", formats=("md", "csv"))
    report = (tmp_path / "report" / "report.md").read_text()
    assert report.index("## Table 1:") < report.index("## The paper's claims, tested") < report.index("## Figures")
    assert T1_TIME in report
    saved = pd.read_csv(tmp_path / "report" / "claims.csv")
    assert list(saved.columns) == COLUMNS and T1_TIME in set(saved["claim"])
