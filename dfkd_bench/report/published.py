"""The published numbers (SSD-KD paper, Fast-Datafree README) as tidy DataFrames, for comparing our cells."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

PUBLISHED_DIR = Path(__file__).resolve().parents[2] / "results" / "published"
SOURCES = {"paper": "ssdkd_cvpr2024.csv", "readme": "fast_datafree_readme.csv"}


def load_published(source: Literal["paper", "readme"] = "paper") -> pd.DataFrame:
    """One row per published cell; `table` and `data_scale` stay text ('1', 'fast_readme'; '16K (synthetic)')."""
    if source not in SOURCES:
        raise ValueError(f"unknown published source '{source}'; choose from {', '.join(SOURCES)}")
    frame = pd.read_csv(PUBLISHED_DIR / SOURCES[source], dtype={"table": str, "data_scale": str, "label": str})
    frame["data_scale"] = frame["data_scale"].fillna("")
    return frame
