"""The published numbers: row counts per table and spot checks against the paper and the README."""

from __future__ import annotations

import pandas as pd
import pytest

from dfkd_bench.report.published import load_published


def _cell(frame: pd.DataFrame, table: str, dataset: str, method: str, pair: str) -> pd.Series:
    hit = frame[
        (frame["table"] == table)
        & (frame["dataset"] == dataset)
        & (frame["method"] == method)
        & (frame["pair"] == pair)
    ]
    assert len(hit) == 1
    return hit.iloc[0]


def test_paper_row_counts_and_uniqueness():
    paper = load_published()
    assert paper.groupby("table").size().to_dict() == {"1": 40, "2": 100, "3": 8, "4": 24}
    assert not paper.duplicated(["table", "dataset", "method", "pair"]).any()
    assert set(paper["time_kind"]) == {"total"}
    assert paper[paper["table"] != "3"]["accuracy"].notna().all()
    # Teacher and Student rows carry no time; every distilled classification cell does
    classification = paper[paper["table"] != "3"]
    baseline = classification["method"].isin(["teacher", "student"])
    assert classification.loc[baseline, "hours"].isna().all()
    assert classification.loc[~baseline, "hours"].notna().all()


def test_paper_spot_values():
    paper = load_published("paper")
    cell = _cell(paper, "1", "cifar100", "ssdkd", "wrn40_2-wrn16_1")
    assert (cell["accuracy"], cell["hours"], cell["data_scale"]) == (51.96, 0.77, "5000")
    assert _cell(paper, "1", "cifar10", "fast2", "resnet34-resnet18")["hours"] == 3.92
    assert _cell(paper, "2", "cifar10", "dafl", "resnet34-resnet18")["hours"] == 303.50
    assert _cell(paper, "2", "cifar100", "zskt", "wrn40_2-wrn40_1")["accuracy"] == 53.60
    assert _cell(paper, "2", "cifar100", "student", "vgg11-resnet18")["accuracy"] == 77.10
    seg = _cell(paper, "3", "nyuv2", "ssdkd", "deeplabv3_resnet50-deeplabv3_mobilenetv2")
    assert (seg["miou"], seg["data_scale"], seg["hours"]) == (0.384, "16K (synthetic)", 8.9)
    assert _cell(paper, "3", "nyuv2", "dfnd", "deeplabv3_resnet50-deeplabv3_mobilenetv2")["data_scale"] == (
        "14M (ImageNet)"
    )


def test_table4_ablation_rows():
    ablation = load_published()
    ablation = ablation[ablation["table"] == "4"].set_index(["dataset", "method", "pair"])
    expected = {
        ("cifar10", "ssdkd_baseline", "resnet34-resnet18"): (87.35, 1.19),
        ("cifar10", "ssdkd_ps", "wrn40_2-wrn16_1"): (87.19, 0.69),
        ("cifar10", "ssdkd_difficulty", "resnet34-resnet18"): (88.57, 1.20),
        ("cifar10", "ssdkd_diversity", "wrn40_2-wrn16_1"): (84.31, 0.87),
        ("cifar100", "ssdkd_difficulty_diversity", "resnet34-resnet18"): (70.85, 1.21),
        ("cifar100", "ssdkd", "wrn40_2-wrn16_1"): (51.96, 0.77),
    }
    for key, (accuracy, hours) in expected.items():
        assert (ablation.loc[key, "accuracy"], ablation.loc[key, "hours"]) == (accuracy, hours)
    # the full-method row repeats Table 1
    paper = load_published()
    assert (
        _cell(paper, "1", "cifar10", "ssdkd", "resnet34-resnet18")["accuracy"]
        == ablation.loc[("cifar10", "ssdkd", "resnet34-resnet18"), "accuracy"]
    )


def test_readme_numbers_are_synthesis_hours():
    readme = load_published("readme")
    assert len(readme) == 85 and set(readme["table"]) == {"fast_readme"}
    assert set(readme["time_kind"]) == {"synthesis"}
    assert readme.groupby("dataset").size().to_dict() == {"cifar10": 40, "cifar100": 45}
    assert _cell(readme, "fast_readme", "cifar10", "deepinv", "resnet34-resnet18")["hours"] == 42.1
    assert _cell(readme, "fast_readme", "cifar100", "fast2", "wrn40_2-wrn16_2")["hours"] == 0.04
    kd = _cell(readme, "fast_readme", "cifar100", "kd", "vgg11-resnet18")
    assert kd["accuracy"] == 75.07 and pd.isna(kd["hours"])


def test_unknown_source():
    with pytest.raises(ValueError, match="readme"):
        load_published("arxiv")  # type: ignore[arg-type]
