"""NAYER (Tran et al., CVPR 2024, "NAYER: Noisy Layer Generation for Efficient Model Inversion and Knowledge
Distillation"): Fast's inversion losses and image pool, with a generator driven by fixed label-text embeddings
through freshly redrawn noisy layers instead of a meta-learned one fed by noise.

Each synthesis round (one per epoch in the reference) may first replace the whole generator by a new one (every
`g_life` rounds), then runs `gwp_loops` loops during warm-up and `g_loops` after it. A loop redraws the noisy
layers, draws class-balanced targets, trains the generator for `g_steps` Adam steps on bn·L_BN + oh·CE + adv·L_adv
(the adversarial term after warm-up), and adds its lowest-loss batch to the pool, which the student replays.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dfkd_bench.methods.base import METHODS, MethodContext
from dfkd_bench.methods.inversion import InversionLoss
from dfkd_bench.methods.label_embedding import label_embedding
from dfkd_bench.methods.pool_method import PoolMethod
from dfkd_bench.models.modes import eval_mode
from dfkd_bench.models.noisy_generator import NoisyLayerGenerator, balanced_targets


@dataclass
class NayerParams:
    embedding: str = "clip"
    random_dim: int = 512
    random_seed: int = 0
    noise_dim: int = 1000  # the reference's --le_emb_size: the noisy layers' output width
    ngf: int = 64
    g_steps: int = 30
    g_life: int = 10
    g_loops: int = 2
    gwp_loops: int = 10
    lr_g: float = 4e-3
    bn: float = 10.0
    oh: float = 0.5
    adv: float = 1.33
    bn_mmt: float = 0.9
    synth_padding: int = 4
    replay_padding: int = 4
    store_uint8: bool = False


@METHODS.register("nayer")
class Nayer(PoolMethod):
    """Noisy-layer generation from label embeddings, re-initialised every `g_life` rounds, into a growing pool."""

    Params = NayerParams

    def __init__(self, ctx: MethodContext, params: NayerParams) -> None:
        super().__init__(ctx, params)
        self.embedding = label_embedding(params.embedding, ctx.spec, params.random_dim, params.random_seed)
        self.inversion = InversionLoss(bn=params.bn, oh=params.oh, adv=params.adv)
        self.generator = self.new_generator()

    def new_generator(self) -> NoisyLayerGenerator:
        """A freshly initialised generator (PyTorch's default initialisation, as the reference's `reinit`)."""
        p, spec = self.params, self.ctx.spec
        generator = NoisyLayerGenerator(
            self.embedding, self.ctx.train.synth_batch, p.noise_dim, p.ngf, self.ctx.image_size, spec.in_channels
        )
        return generator.to(self.ctx.device).train()

    def reinitialises_at(self, round_index: int) -> bool:
        """The reference's rule, counted in rounds: a new generator when the round is a multiple of g_life counted
        from 0 or from the end of warm-up."""
        g_life = self.params.g_life
        return (round_index - self.warmup_rounds) % g_life == 0 or round_index % g_life == 0

    def loops_at(self, round_index: int) -> int:
        return self.params.gwp_loops if round_index < self.warmup_rounds else self.params.g_loops

    def synthesize(self) -> dict[str, float]:
        p, device = self.params, self.ctx.device
        round_index = self.round
        self.round += 1
        if self.reinitialises_at(round_index):
            self.generator = self.new_generator()
        adversarial = round_index >= self.warmup_rounds
        stats: dict[str, float] = {}
        with eval_mode(self.student), self.teacher_bn.active():
            for _ in range(self.loops_at(round_index)):
                self.generator.redraw_noisy_layers()
                targets = balanced_targets(self.ctx.train.synth_batch, self.ctx.spec.num_classes, device)
                params = list(self.generator.parameters())
                optimizer = torch.optim.Adam(params, lr=p.lr_g, betas=(0.5, 0.999))
                best_loss, best_x = float("inf"), None
                for _ in range(p.g_steps):
                    x = self.generator(targets)
                    x_aug = self.augment(x, p.synth_padding)
                    t_logits = self.teacher(x_aug)
                    s_logits = self.student(x_aug) if adversarial and p.adv else None
                    loss, parts = self.inversion(self.teacher_bn, t_logits, s_logits, targets, None, adversarial)
                    if loss.item() < best_loss:
                        best_loss, best_x = loss.item(), x.detach().clone()
                    # Gradients of the generator only: none reaches the student through the adversarial term.
                    for param, grad in zip(params, torch.autograd.grad(loss, params), strict=True):
                        param.grad = grad
                    optimizer.step()
                self.teacher_bn.update_ema()
                self.pool.add(best_x)
                stats = {"synth_loss": best_loss, **parts}
        return stats

    def state_dict(self) -> dict[str, object]:
        return {**super().state_dict(), "generator": self.generator.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        self.generator.load_state_dict(state["generator"])
