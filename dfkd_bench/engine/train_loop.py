"""The training loop of one run: its models, optimiser, method, timers and history, one epoch at a time
(synthesis rounds, KD steps, evaluation), and the checkpoint that lets it resume. engine/run.py drives it."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import torch
from torch import Tensor

from dfkd_bench.data import get_spec, load_dataset, task_of
from dfkd_bench.engine.diagnostics import KDSampleHistograms
from dfkd_bench.engine.evaluate import evaluate_split, result_fields
from dfkd_bench.engine.fast_path import FastPath, full_precision
from dfkd_bench.engine.kd_sums import KDStepSums
from dfkd_bench.engine.rng import rng_state, seed_everything, set_rng_state
from dfkd_bench.engine.spec import ResolvedCell, RunOptions
from dfkd_bench.engine.timing import RegionTimer
from dfkd_bench.envinfo import device_name, resolve_device
from dfkd_bench.errors import BadInput
from dfkd_bench.files import utc_now
from dfkd_bench.methods import METHODS, Method, MethodContext
from dfkd_bench.methods.base import Batch, LossParts, params_from_dict
from dfkd_bench.models import create_model
from dfkd_bench.rundir import CHECKPOINT, save_best_student, save_checkpoint, write_metrics, write_result
from dfkd_bench.teachers import TeacherStore
from dfkd_bench.train_config import TrainConfig


class TrainLoop:
    """One run's training state and its epoch: everything a checkpoint must hold to resume bit-identically."""

    def __init__(self, cell: ResolvedCell, opts: RunOptions):
        spec, config = cell.spec, cell.config
        self.spec, self.config, self.hash, self.path = spec, config, cell.hash, cell.path
        self.device = resolve_device(opts.device)
        run = config["run"]
        self.train = TrainConfig(**config["train"])
        ds = get_spec(spec.dataset)
        segmentation = task_of(spec.dataset) == "segmentation"
        self.metric = "miou" if segmentation else "top1"
        seed_everything(spec.seed)
        method_cls = METHODS.get(run["algorithm"])
        self.teacher, self.teacher_record = None, {}
        if method_cls.uses_teacher:
            teacher, self.teacher_record = TeacherStore(opts.teachers).load(
                spec.dataset, run["teacher"], ds.num_classes, ds.in_channels
            )
            self.teacher = teacher.to(self.device).eval().requires_grad_(False)
        self.student = create_model(run["trained"], ds.num_classes, ds.in_channels).to(self.device)
        self.test = load_dataset(spec.dataset, "test", opts.data_root, opts.download).to(self.device)
        ctx = MethodContext(
            teacher=self.teacher,
            student=self.student,
            spec=ds,
            device=self.device,
            train=self.train,
            real_train_set=lambda: load_dataset(spec.dataset, "train", opts.data_root, opts.download),
            segmentation=segmentation,
        )
        self.method: Method = method_cls(ctx, params_from_dict(method_cls, config["method"]))
        self.optimizer = torch.optim.SGD(
            self.student.parameters(),
            lr=self.train.lr,
            momentum=self.train.momentum,
            weight_decay=self.train.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=max(1, self.train.epochs - self.train.warmup), eta_min=self.train.eta_min
        )
        self.timer = RegionTimer(self.device)
        self._use_fast_path(FastPath.resolve(self.train, self.device))
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.resumes = 0
        self.best_student_epoch: int | None = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "config_hash": self.hash,
            "epoch": self.epoch,
            "student": self.student.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "method": self.method.state_dict(),
            "rng": rng_state(),
            "history": self.history,
            "times": self.timer.state_dict(),
            "resumes": self.resumes,
            "best_student_epoch": self.best_student_epoch,
            "fast_path": self.fast.record(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config_hash"] != self.hash:
            raise BadInput(f"{self.path / CHECKPOINT} belongs to another config; rerun with --force")
        self.epoch = state["epoch"]
        self.student.load_state_dict(state["student"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.method.load_state_dict(state["method"])
        self.history = list(state["history"])
        self.timer.load_state_dict(state["times"])
        self.resumes = state["resumes"] + 1
        self.best_student_epoch = state.get("best_student_epoch")  # absent from checkpoints before best saving
        set_rng_state(state["rng"])
        started_with = FastPath.from_record(state.get("fast_path"))  # absent: a run from before the fast path, fp32
        if started_with != self.fast:
            self._use_fast_path(started_with)

    def _use_fast_path(self, fast: FastPath) -> None:
        """The KD step's fast path (engine/fast_path.py): the models' memory format, cuDNN's autotuner and the
        forwards the KD step calls (compiled or not)."""
        self.fast = fast
        fast.prepare(self.teacher, self.student)
        self.student_forward = fast.forward(self.student)
        self.teacher_forward = fast.forward(self.teacher) if self.teacher is not None else None

    def kd_step(self, sums: KDStepSums, histograms: KDSampleHistograms) -> None:
        """One student step. Nothing in it reads a value back from the device (the statistics stay there until the
        epoch ends), so on a GPU the host queues step after step; tests/test_kd_fast_path.py counts the reads."""
        with self.timer.region("sample"):
            batch = self.method.sample()
        with self.timer.region("kd"):
            s_logits, t_logits, parts = self.kd_losses(batch)
            loss = sum(parts.values())
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.method.after_kd_step(batch, s_logits.detach(), t_logits)
            sums.add(loss, parts, s_logits, t_logits)  # agreement per image, or per pixel on dense logits
            if t_logits is not None:
                histograms.update(t_logits)

    def kd_losses(self, batch: Batch) -> tuple[Tensor, Tensor | None, LossParts]:
        """The KD step's forwards on the fast path (bf16 autocast, channels_last, compiled forwards, as set) and the
        method's loss parts, computed in fp32 on fp32 student and teacher logits."""
        x = self.fast.inputs(batch.x)
        t_logits = None
        with self.fast.autocast(self.device):
            if self.teacher_forward is not None:
                with torch.no_grad():
                    t_logits = self.teacher_forward(x)
            s_logits = self.student_forward(x)
        s_logits, t_logits = full_precision(s_logits), full_precision(t_logits)
        return s_logits, t_logits, self.method.student_loss(s_logits, t_logits, batch)

    def run_epoch(self) -> dict[str, Any]:
        sums = KDStepSums()
        synth: dict[str, list[float]] = defaultdict(list)
        histograms = KDSampleHistograms(self.test.spec.num_classes, self.device)
        lr = self.optimizer.param_groups[0]["lr"]
        seconds_before = sum(self.timer.seconds.values())
        self.student.train()
        for round_in_epoch in range(self.train.rounds_per_epoch):
            with self.timer.region("synthesis"):
                for key, value in self.method.synthesize().items():
                    synth[key].append(value)
            if self.epoch >= self.train.warmup:
                for _ in range(self.train.kd_steps_in_round(round_in_epoch)):
                    self.kd_step(sums, histograms)
        with self.timer.region("eval"):
            result = evaluate_split(self.student, self.test, self.train.eval_batch_size)
        if self.epoch >= self.train.warmup:
            self.scheduler.step()
        record = {
            "epoch": self.epoch,
            **{k: v for k, v in result_fields(result).items() if not k.startswith("per_class")},
            "lr": lr,
            "kd_steps": sums.steps,
            **sums.means(),
            "seconds": sum(self.timer.seconds.values()) - seconds_before,
            "data_scale": self.method.data_scale(),
            **{k: sum(v) / len(v) for k, v in synth.items()},
            **self.method.epoch_statistics(),
            **{k: v for k, v in result_fields(result).items() if k.startswith("per_class")},
            **histograms.as_record(),
        }
        self.epoch += 1
        self.history.append(record)
        return record

    def summary(self, status: str, error: str | None = None) -> dict[str, Any]:
        run = self.config["run"]
        last = self.history[-1] if self.history else None
        best = self._best()
        metric = self.metric
        top1 = metric == "top1"
        per_class = "per_class_top1" if top1 else "per_class_iou"
        times = {k: round(v, 3) for k, v in self.timer.seconds.items()}
        times["total"] = round(sum(self.timer.seconds.values()), 3)
        return {
            "status": status,
            "error": error,
            "dataset": run["dataset"],
            "pair": run["pair"],
            "method": run["method"],
            "algorithm": run["algorithm"],
            "seed": run["seed"],
            "config_hash": self.hash,
            "epochs": self.train.epochs,
            "epochs_done": self.epoch,
            "metric": metric,
            "best_top1": best["top1"] if best and top1 else None,
            "last_top1": last["top1"] if last and top1 else None,
            "best_miou": best["miou"] if best and not top1 else None,
            "last_miou": last["miou"] if last and not top1 else None,
            "best_epoch": best["epoch"] if best else None,
            "best_student_epoch": self.best_student_epoch,
            per_class: last[per_class] if last else None,
            "data_scale": self.method.data_scale(),
            "data_scale_setting": self.train.data_scale,
            "teacher_top1": self.teacher_record.get("test_top1"),
            "teacher_miou": self.teacher_record.get("test_miou"),
            "teacher_sha256": self.teacher_record.get("sha256"),
            "times": times,
            "timing_note": "seconds; synthesis = synthesize(); sample = method.sample() (generator forward or "
            "replay augmentation); kd = student steps; eval = test-set evaluation; total = their sum",
            "device": device_name(self.device),
            "fast_path": self.fast.record(),
            "resumes": self.resumes,
            "heartbeat": utc_now(),
        }

    def _best(self) -> dict[str, Any] | None:
        """The best epoch's record: the first with the highest score, as best_top1 / best_miou report it."""
        return max(self.history, key=self._score) if self.history else None

    def _score(self, record: dict[str, Any]) -> float:
        """The epoch's headline metric for choosing the best epoch (a NaN mIoU never wins)."""
        value = record[self.metric]
        return -math.inf if value is None or math.isnan(value) else value

    def save_progress(self, status: str) -> dict[str, Any]:
        """The epoch's files, best-epoch student first: until the checkpoint that follows it is written, a resume
        recomputes this epoch (bit-identically) and writes the same best file again, so the pair stays consistent."""
        best = self._best()
        if best is not None and best is self.history[-1] and self.best_student_epoch != best["epoch"]:
            save_best_student(self.path, self.hash, best["epoch"], self.student.state_dict())
            self.best_student_epoch = best["epoch"]
        save_checkpoint(self.path, self.state_dict())
        write_metrics(self.path, self.history)
        return write_result(self.path, self.summary(status))
