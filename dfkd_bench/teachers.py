"""The teacher store: each checkpoint with its sha256, recipe and measured test score (top-1 or mIoU) next to it."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dfkd_bench.data import load_dataset, task_of
from dfkd_bench.engine.evaluate import EvalResult, evaluate_split
from dfkd_bench.engine.segmentation_metrics import SegEvalResult
from dfkd_bench.errors import BadInput
from dfkd_bench.models import create_model
from dfkd_bench.store import atomic_write_bytes, atomic_write_json, read_json


def default_root() -> Path:
    return Path(os.environ.get("DFKD_BENCH_TEACHERS", "results/teachers"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def score_record(result: EvalResult | SegEvalResult) -> dict[str, Any]:
    """A teacher record's test numbers: `metric` names the headline; a segmenter has no top-1 (None)."""
    if isinstance(result, SegEvalResult):
        return {
            "metric": "miou",
            "test_miou": result.miou,
            "test_pixel_acc": result.pixel_acc,
            "per_class_iou": result.per_class_iou,
            "test_top1": None,
        }
    return {
        "metric": "top1",
        "test_top1": result.top1,
        "test_top5": result.top5,
        "per_class_top1": result.per_class_top1,
    }


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

    def existing(self, dataset: str, model: str) -> list[Path]:
        """The stored files a new save of this teacher would replace (checkpoint, record), for refusing that."""
        return [p for p in self._paths(dataset, model) if p.exists()]

    def record(self, dataset: str, model: str) -> dict[str, Any] | None:
        return read_json(self._paths(dataset, model)[1])

    def records(self) -> list[dict[str, Any]]:
        return [r for p in sorted(self.root.glob("*/*.json")) if (r := read_json(p)) is not None]

    def save(self, dataset: str, model_name: str, model: nn.Module, record: dict[str, Any]) -> dict[str, Any]:
        """Write the checkpoint, then its record (with the checkpoint's sha256), both atomically."""
        buffer = io.BytesIO()
        torch.save({"state_dict": model.state_dict()}, buffer)
        data = buffer.getvalue()
        ckpt, meta = self._paths(dataset, model_name)
        atomic_write_bytes(ckpt, data)
        full = {
            "dataset": dataset,
            "model": model_name,
            "sha256": _sha256(data),
            "saved_at": _now(),
            **record,
        }
        atomic_write_json(meta, full)
        return full

    def missing(self, dataset: str, model_name: str) -> BadInput:
        """The error for an absent teacher, naming the two ways to get one."""
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
        if _sha256(data) != record["sha256"]:
            raise BadInput(f"{ckpt} does not match the sha256 in its record; re-import or retrain it")
        model = create_model(model_name, num_classes, in_channels)
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model.load_state_dict(state["state_dict"], strict=True)
        return model.eval(), record

    def import_checkpoint(
        self,
        file: Path,
        model_name: str,
        dataset: str,
        data_root: str | None = None,
        device: str = "cpu",
        download: bool = False,
    ) -> dict[str, Any]:
        """Take a reference checkpoint (`{'state_dict': ...}` or a bare state dict), check keys, measure it."""
        from dfkd_bench.data import get_spec

        spec = get_spec(dataset)
        model = create_model(model_name, spec.num_classes, spec.in_channels)
        try:
            loaded = torch.load(file, map_location="cpu", weights_only=True)
        except FileNotFoundError as err:
            raise BadInput(f"checkpoint file not found: {file}") from err
        except Exception as err:
            raise BadInput(f"cannot read {file} as a weights-only torch checkpoint: {err}") from err
        state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
        if not isinstance(state, dict):
            raise BadInput(f"{file} holds no state dict (expected a dict with key 'state_dict')")
        check_state_dict(model, state, str(file), model_name)
        model.load_state_dict(state, strict=True)
        model.to(device)
        test = load_dataset(dataset, "test", data_root, download)
        batch_size = 16 if task_of(dataset) == "segmentation" else 1024
        result = evaluate_split(model, test, batch_size)
        return self.save(
            dataset,
            model_name,
            model.cpu(),
            {"source": f"imported from {file}", "recipe": None, **score_record(result)},
        )


def check_state_dict(model: nn.Module, state: dict[str, Any], where: str, model_name: str) -> None:
    """One-line error naming missing, unexpected or mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = sorted(
        k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(getattr(state[k], "shape", ()))
    )
    if missing or extra or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", shapes)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise BadInput(f"{where} does not match model '{model_name}': {'; '.join(parts)}")
