"""The model-inversion objective shared by Fast, CMI and SSD-KD: bn·L_BN + oh·L_Task + adv·L_adv (masked KL)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from dfkd_bench.methods.bn_hook import BNStatsRegularizer
from dfkd_bench.methods.losses import adversarial_kl, agreement_mask, image_mean


@dataclass
class InversionLoss:
    """Weights of the inversion terms; `adv` is switched off by the caller during warm-up."""

    bn: float
    oh: float
    adv: float

    def __call__(
        self,
        teacher_bn: BNStatsRegularizer,
        teacher_logits: Tensor,
        student_logits: Tensor | None,
        targets: Tensor | None,
        task_weights: Tensor | None = None,
        adversarial: bool = True,
    ) -> tuple[Tensor, dict[str, float]]:
        """Total loss and its parts. `task_weights` scales each sample's CE (SSD-KD's φ(x)); the mean is over B.

        `targets` None means the teacher's own argmax, per pixel on dense logits (random per-image classes do not
        exist for segmentation); a dense sample's CE is its mean over pixels. `student_logits` may be None when the
        adversarial term is off (the caller can skip the student forward); the adversarial mask and KL are per
        pixel on dense logits."""
        loss_bn = teacher_bn.loss()
        if targets is None:
            targets = teacher_logits.detach().argmax(dim=1)
        ce = image_mean(F.cross_entropy(teacher_logits, targets, reduction="none"))
        loss_oh = (ce * task_weights).mean() if task_weights is not None else ce.mean()
        total = self.bn * loss_bn + self.oh * loss_oh
        parts = {"loss_bn": loss_bn.item(), "loss_oh": loss_oh.item()}
        if adversarial and self.adv:
            if student_logits is None:
                raise ValueError("the adversarial term needs the student's logits")
            loss_adv = adversarial_kl(student_logits, teacher_logits, agreement_mask(student_logits, teacher_logits))
            total = total + self.adv * loss_adv
            parts["loss_adv"] = loss_adv.item()
        return total, parts
