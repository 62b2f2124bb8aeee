"""The teacher store: each checkpoint with its sha256, recipe and measured test score (top-1 or mIoU) next to it."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfkd_bench.errors import BadInput
from dfkd_bench.files import atomic_write_bytes, atomic_write_json, read_json, sha256_hex, utc_now

if TYPE_CHECKING:
    from torch import nn


def default_root() -> Path:
    return Path(os.environ.get("DFKD_BENCH_TEACHERS", "results/teachers"))


def describe_score(record: dict[str, Any]) -> str:
    """'test top-1 98.80%' or 'test mIoU 0.5190' (records written before `metric` existed are top-1)."""
    if record.get("metric") == "miou":
        return f"test mIoU {record['test_miou']:.4f}"
    return f"test top-1 {record['test_top1']:.2f}%"


class TeacherStore:
    """`<root>/<dataset>/<model>.pt` holds {'state_dict': ...} (the reference's format); `.json` its record."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def _paths(self, dataset: str, model: str) -> tuple[Path, Path]:
        base = self.root / dataset / model
        return base.with_suffix(".pt"), base.with_suffix(".json")

    def has(self, dataset: str, model: str) -> bool:
        ckpt, meta = self._paths(dataset, model)
        return ckpt.exists() and meta.exists()

    def refuse_replacing(self, dataset: str, model: str, force: bool) -> None:
        """Runs distilled from a stored teacher record its sha256, so `train` and `teacher import` replace one
        only when asked (--force); checked before anything is trained, measured or written."""
        existing = [p for p in self._paths(dataset, model) if p.exists()]
        if existing and not force:
            raise BadInput(f"{existing[0]} already holds a {model} teacher for {dataset}; pass --force to replace it")

    def record(self, dataset: str, model: str) -> dict[str, Any] | None:
        return read_json(self._paths(dataset, model)[1])

    def records(self) -> list[dict[str, Any]]:
        return [r for p in sorted(self.root.glob("*/*.json")) if (r := read_json(p)) is not None]

    def save(self, dataset: str, model_name: str, model: nn.Module, record: dict[str, Any]) -> dict[str, Any]:
        """Write the checkpoint, then its record (with the checkpoint's sha256), both atomically."""
        buffer = io.BytesIO()
        import torch  # saving and loading need torch; listing the store (`list teachers`) does not

        torch.save({"state_dict": model.state_dict()}, buffer)
        data = buffer.getvalue()
        ckpt, meta = self._paths(dataset, model_name)
        atomic_write_bytes(ckpt, data)
        full = {
            "dataset": dataset,
            "model": model_name,
            "sha256": sha256_hex(data),
            "saved_at": utc_now(),
            **record,
        }
        atomic_write_json(meta, full)
        return full

    def missing(self, dataset: str, model_name: str) -> BadInput:
        """The error for an absent teacher, naming the two ways to get one."""
        from dfkd_bench.data import task_of

        data = " --data-root DIR" if task_of(dataset) == "segmentation" else ""
        return BadInput(
            f"no {model_name} teacher for {dataset} in {self.root}; train one with "
            f"`dfkd-bench train --model {model_name} --dataset {dataset}{data}` or import one with "
            f"`dfkd-bench teacher import FILE --model {model_name} --dataset {dataset}{data}`"
        )

    def load(self, dataset: str, model_name: str, num_classes: int, in_channels: int) -> tuple[nn.Module, dict]:
        """The stored model in eval mode, after checking the file still has the recorded sha256."""
        ckpt, _ = self._paths(dataset, model_name)
        record = self.record(dataset, model_name)
        if record is None or not ckpt.exists():
            raise self.missing(dataset, model_name)
        data = ckpt.read_bytes()
        if sha256_hex(data) != record["sha256"]:
            raise BadInput(f"{ckpt} does not match the sha256 in its record; re-import or retrain it")
        import torch

        from dfkd_bench.models import create_model

        model = create_model(model_name, num_classes, in_channels)
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model.load_state_dict(state["state_dict"], strict=True)
        return model.eval(), record
