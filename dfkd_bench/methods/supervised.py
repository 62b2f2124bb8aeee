"""Training on the original data with labels only: the tables' "Teacher" and "Student" rows as grid cells."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from dfkd_bench.methods.base import METHODS, Batch, LossParts
from dfkd_bench.methods.kd import KDParams, VanillaKD
from dfkd_bench.methods.losses import supervised_ce

NETWORKS = ("teacher", "student")


@dataclass
class SupervisedParams(KDParams):
    network: str = "student"


@METHODS.register("supervised")
class Supervised(VanillaKD):
    """Cross-entropy on the whole real training set (or `fraction` of it), reshuffled every pass, with the
    dataset's training augmentation; no teacher is loaded, so these cells run before any teacher exists.
    On segmentation data: per-pixel CE on the masks, void pixels left out, random crop + flip (see VanillaKD)."""

    Params = SupervisedParams
    uses_teacher = False
    has_data_scale = False

    @classmethod
    def trains_student(cls, params: SupervisedParams) -> bool:
        if params.network not in NETWORKS:
            raise ValueError(f"supervised network must be one of {', '.join(NETWORKS)}, got '{params.network}'")
        return params.network == "student"

    def student_loss(self, student_logits: Tensor, teacher_logits: Tensor | None, batch: Batch) -> LossParts:
        return {"ce": supervised_ce(student_logits, batch.y)}
