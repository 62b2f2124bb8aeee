"""Shared fixtures: a real MNIST teacher trained once per test session (about 17 s on 2 CPU cores)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfkd_bench.teachers import TeacherStore
from dfkd_bench.train import train_into_store

TEACHER = "lenet5_bn"
PAIR = "lenet5_bn-lenet5_half_bn"


@pytest.fixture(scope="session")
def teacher_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A teacher store holding lenet5_bn trained on real MNIST with the shipped recipe (3 epochs, ~98.8 %)."""
    root = tmp_path_factory.mktemp("teachers")
    torch.set_num_threads(2)
    record = train_into_store(TEACHER, "mnist", TeacherStore(root), device="cpu")
    assert record["test_top1"] > 98.0
    return root


@pytest.fixture
def teachers_copy(teacher_root: Path, tmp_path: Path) -> Path:
    """A private copy of the session store, for tests that write to it."""
    import shutil

    target = tmp_path / "teachers"
    shutil.copytree(teacher_root, target)
    return target
