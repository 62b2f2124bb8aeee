"""Adding a method takes two files, as the README says: a copy of the package and its cards gets one new module
(a Method subclass) and one new card, nothing else is edited, and `run`, `status`, `report` and `show method` all
work for it (the card's label and table row reach the report). Run in a subprocess so the copy is what imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dfkd_bench.config import all_cards
from dfkd_bench.errors import BadInput
from dfkd_bench.methods import METHODS, Method
from dfkd_bench.methods.base import params_from_dict

ROOT = Path(__file__).resolve().parents[1]

METHOD_MODULE = '''"""Noise KD: the student matches the teacher on uniform noise (a toy for the two-file test)."""

from dataclasses import dataclass

import torch

from dfkd_bench.data.augment import normalize
from dfkd_bench.methods.base import METHODS, Batch, Method


@dataclass
class NoiseParams:
    low: float = 0.0


@METHODS.register("noise_kd")
class NoiseKD(Method):
    Params = NoiseParams
    has_data_scale = False

    def sample(self) -> Batch:
        spec, size = self.ctx.spec, self.ctx.image_size
        images = torch.rand(self.ctx.train.batch_size, spec.in_channels, size, size, device=self.ctx.device)
        return Batch(x=normalize(images.clamp(min=self.params.low), spec.mean, spec.std))
'''

CARD = """name: noise_kd
algorithm: noise_kd
label: Noise KD
tables: {table2: 11}
summary: The student distils on uniform noise images.
paper: none (a test of the two-file rule)
reference: none
deviations: []
train: {epochs: 1, warmup: 0, ep_steps: 4, kd_steps: 4, batch_size: 32, lr: 0.01, T: 4}
"""

SCRIPT = """
import json, sys
from click.testing import CliRunner
import dfkd_bench
from dfkd_bench.cli import cli

out, teachers = sys.argv[1], sys.argv[2]
calls = {
    "dry_run_default": ["run", "--dry-run", "--out", out + "-default", "--teachers", teachers],
    "run": ["run", "--methods", "noise_kd", "--out", out, "--teachers", teachers, "--device", "cpu"],
    "status": ["status", out],
    "report": ["report", out, "--out", out + "-report", "--compare", "none"],
    "show": ["show", "method", "noise_kd"],
}
results = {"package": dfkd_bench.__file__}
for name, args in calls.items():
    result = CliRunner().invoke(cli, args, terminal_width=200)
    results[name] = [result.exit_code, result.output]
print(json.dumps(results))
"""


def test_a_new_method_is_one_module_and_one_card(tmp_path: Path, teacher_root: Path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "dfkd_bench", repo / "dfkd_bench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "methods", repo / "methods")
    shutil.copytree(ROOT / "results" / "published", repo / "results" / "published")  # the paper's numbers
    (repo / "dfkd_bench" / "methods" / "noise_kd.py").write_text(METHOD_MODULE)
    (repo / "methods" / "noise_kd.yaml").write_text(CARD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFKD_BENCH_")}
    env.update(PYTHONPATH=str(repo), OMP_NUM_THREADS="1")
    out = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), str(teacher_root)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert Path(results["package"]).is_relative_to(repo), "the copy, not the installed package, was imported"
    for name in ("dry_run_default", "run", "status", "report", "show"):
        assert results[name][0] == 0, f"{name}: {results[name][1]}"
    assert "noise_kd has no 'quick' budget for mnist and is left out" in results["dry_run_default"][1]
    assert "noise_kd" in results["run"][1] and "done" in results["run"][1]
    assert "noise_kd" in results["status"][1]
    report = (tmp_path / "runs-report" / "report.md").read_text()
    assert "Noise KD" in report, "the card's label names its row in the paper's Table 2"
    assert "**noise_kd**" in report
    shown = results["show"][1]
    assert "label: Noise KD" in shown and "kd_steps_per_epoch: 4" in shown


def test_every_method_declares_the_params_shared_code_reads():
    for name in METHODS.names():
        cls = METHODS.get(name)
        fields = {f for f in cls.Params.__dataclass_fields__}
        assert set(cls.required_params) <= fields, name


def test_a_params_class_without_a_required_field_is_refused_when_resolved():
    from dataclasses import dataclass

    from dfkd_bench.methods.pool_method import PoolMethod

    @dataclass
    class Thin:
        replay_padding: int = 4

    class ThinPool(PoolMethod):
        Params = Thin

        def synthesize(self) -> dict[str, float]:
            return {}

    with pytest.raises(BadInput, match="ThinPool.Params lacks store_uint8"):
        params_from_dict(ThinPool, {})
    assert issubclass(ThinPool, Method) and "thinpool" not in all_cards()
