"""The generator baselines DAFL, ZSKT, DFQ and DFAD: one persistent generator, trained one step per round.

As in the reference, the four methods are one algorithm that differs only in its loss weights (cards dafl, zskt,
dfq, dfad). Each round takes one Adam step on the generator against a fresh latent batch; every KD step then
distils on a fresh generator batch, so there is no stored data set and `data_scale()` counts the samples consumed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor

from dfkd_bench.data.augment import normalize
from dfkd_bench.methods.base import METHODS, Batch, LossParts, Method, MethodContext
from dfkd_bench.methods.bn_hook import BNStatsRegularizer
from dfkd_bench.methods.losses import (
    activation_loss,
    adversarial_kl,
    class_balance,
    l1_discrepancy,
    one_hot_ce,
)
from dfkd_bench.models import create_generator
from dfkd_bench.models.modes import eval_mode

DISCREPANCIES = ("kl", "l1")
GENERATOR_MODES = ("eval", "train")


@dataclass
class GenerativeParams:
    """Loss weights as in the reference's `--adv --bn --oh --act --balance`; a zero weight skips its term."""

    nz: int = 256
    ngf: int = 64
    lr_g: float = 1e-3
    adv: float = 0.0
    bn: float = 0.0
    oh: float = 0.0
    act: float = 0.0
    balance: float = 0.0
    adv_loss: str = "kl"
    student_loss: str = "kl"
    sample_mode: str = "eval"


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got '{value}'")


@METHODS.register("generative")
class Generative(Method):
    """A generator trained to fool the student (adv), excite the teacher (oh, act, balance) and match its BN
    statistics (bn); the student distils on its fresh output at every KD step."""

    Params = GenerativeParams
    has_data_scale = False
    supports_segmentation = True

    @classmethod
    def requires_batchnorm(cls, params: GenerativeParams) -> bool:
        return params.bn > 0

    def __init__(self, ctx: MethodContext, params: GenerativeParams) -> None:
        super().__init__(ctx, params)
        _check_choice("adv_loss", params.adv_loss, DISCREPANCIES)
        _check_choice("student_loss", params.student_loss, DISCREPANCIES)
        _check_choice("sample_mode", params.sample_mode, GENERATOR_MODES)
        if not any((params.adv, params.bn, params.oh, params.act, params.balance)):
            raise ValueError("every generator loss weight (adv, bn, oh, act, balance) is zero: nothing trains it")
        if ctx.train.data_scale is not None:
            raise ValueError(
                "generator methods keep no data set, so train.data_scale does not apply; "
                "they report the number of fresh samples consumed instead"
            )
        self.teacher_bn: BNStatsRegularizer | None = None
        if params.bn:
            self.teacher_bn = BNStatsRegularizer(ctx.teacher)
            if len(self.teacher_bn) == 0:
                raise ValueError(
                    "bn > 0 matches the teacher's BatchNorm statistics, but the teacher has no BatchNorm2d layer; "
                    "use a BN teacher (e.g. the lenet5_bn-lenet5_half_bn pair) or set bn 0"
                )
        spec = ctx.spec
        self.generator = create_generator(params.nz, ctx.image_size, spec.in_channels, params.ngf)
        self.generator.to(ctx.device).train()
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=params.lr_g, betas=(0.5, 0.999))
        self.samples_drawn = 0

    def _normalize(self, images01: Tensor) -> Tensor:
        return normalize(images01, self.ctx.spec.mean, self.ctx.spec.std)

    def generator_loss(self, images01: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Weighted sum of the active terms on a generated batch in [0, 1], and each term's value for the log.

        The pseudo-labels of `oh` are the teacher's own argmax; the adversarial term uses the student
        (the Fast-Datafree wrapper passes the teacher there, which makes it identically zero). On dense logits
        oh and adv are per pixel, balance is on the pixel-averaged softmax (see methods/losses.py)."""
        p = self.params
        x = self._normalize(images01)
        bn_scope = self.teacher_bn.active() if self.teacher_bn is not None else contextlib.nullcontext()
        with bn_scope:
            t_logits, t_features = self.teacher(x, return_features=True)
        terms: dict[str, tuple[float, Tensor]] = {}
        if self.teacher_bn is not None:
            terms["loss_bn"] = (p.bn, self.teacher_bn.loss())
        if p.oh:
            terms["loss_oh"] = (p.oh, one_hot_ce(t_logits, t_logits.argmax(dim=1)))
        if p.act:
            terms["loss_act"] = (p.act, activation_loss(t_features))
        if p.balance:
            terms["loss_balance"] = (p.balance, class_balance(t_logits))
        if p.adv:
            s_logits = self.student(x)
            adv = adversarial_kl(s_logits, t_logits) if p.adv_loss == "kl" else -l1_discrepancy(s_logits, t_logits)
            terms["loss_adv"] = (p.adv, adv)
        total = torch.stack([weight * term for weight, term in terms.values()]).sum()
        return total, {name: term.item() for name, (_, term) in terms.items()}

    def synthesize(self) -> dict[str, float]:
        """One Adam step on the generator; the student is the adversary, in eval mode as in the CMI repo."""
        z = torch.randn(self.ctx.train.synth_batch, self.params.nz, device=self.ctx.device)
        self.generator.train()
        with eval_mode(self.student):
            loss, parts = self.generator_loss(self.generator(z))
        params = list(self.generator.parameters())
        grads = torch.autograd.grad(loss, params)
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad
        self.optimizer.step()
        return {"synth_loss": loss.item(), **parts}

    def sample(self) -> Batch:
        """A fresh generator batch, normalised; "eval" mode uses the generator's BN running statistics."""
        n = self.ctx.train.batch_size
        z = torch.randn(n, self.params.nz, device=self.ctx.device)
        self.generator.train(self.params.sample_mode == "train")
        with torch.no_grad():
            images = self.generator(z)
        self.samples_drawn += n
        return Batch(x=self._normalize(images))

    def student_loss(self, student_logits: Tensor, teacher_logits: Tensor, batch: Batch) -> LossParts:
        """KL at the card's T, or DFAD's mean absolute logit difference."""
        if self.params.student_loss == "l1":
            return {"l1": l1_discrepancy(student_logits, teacher_logits)}
        return super().student_loss(student_logits, teacher_logits, batch)

    def data_scale(self) -> int:
        """Fresh samples consumed by KD so far (generator methods have no finite data set)."""
        return self.samples_drawn

    def state_dict(self) -> dict[str, object]:
        return {
            "generator": self.generator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "samples_drawn": self.samples_drawn,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.samples_drawn = int(state["samples_drawn"])
