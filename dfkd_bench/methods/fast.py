"""Fast-N (Fang et al., AAAI 2022): a meta-learned generator adapted for N steps per round (FOMAML).

Each round clones the meta-generator, adapts the clone and a fresh latent z for N steps on the inversion loss, feeds
the summed first-order gradients back to the meta-generator, and keeps the lowest-loss batch in the image pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dfkd_bench.methods.base import METHODS, MethodContext
from dfkd_bench.methods.inversion import InversionLoss
from dfkd_bench.methods.pool_method import PoolMethod
from dfkd_bench.models import create_generator
from dfkd_bench.models.modes import eval_mode


@dataclass
class FastParams:
    g_steps: int = 10
    lr_g: float = 2e-3
    lr_z: float = 0.01
    nz: int = 256
    ngf: int = 64
    bn: float = 10.0
    oh: float = 0.4
    adv: float = 1.1
    bn_mmt: float = 0.9
    reset_l0: bool = True
    reset_round: int = 120
    synth_padding: int = 4
    replay_padding: int = 4
    store_uint8: bool = False


def reset_first_layers(generator: nn.Module) -> None:
    """Re-initialise the first Linear and first BN with N(0, 0.02) weights and zero bias, as the reference does
    (so the BN gain restarts near 0, not 1): late-training diversity without losing the rest of the generator."""
    for module in (generator.l1[0], generator.conv_blocks[0]):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)


@METHODS.register("fast")
class Fast(PoolMethod):
    """Meta-generator synthesis (Fast-N, N = g_steps) with a pool of the kept batches."""

    Params = FastParams
    supports_segmentation = True  # dense task loss and BN matching on the segmenter teacher

    def __init__(self, ctx: MethodContext, params: FastParams) -> None:
        super().__init__(ctx, params)
        spec = ctx.spec
        self.generator = create_generator(params.nz, ctx.image_size, spec.in_channels, params.ngf)
        self.generator.to(ctx.device).train()
        self.meta_optimizer = torch.optim.Adam(
            self.generator.parameters(), lr=params.lr_g * params.g_steps, betas=(0.5, 0.999)
        )
        self.inversion = InversionLoss(bn=params.bn, oh=params.oh, adv=params.adv)

    def task_weights(self, teacher_logits: Tensor) -> Tensor | None:
        """Per-sample weights of the task (CE) term; None = uniform. SSD-KD's φ(x) overrides this."""
        return None

    def keep(self, images01: Tensor) -> None:
        """Store a round's chosen batch; SSD-KD overrides this with its replay buffer."""
        self.pool.add(images01)

    def synthesize(self) -> dict[str, float]:
        p, spec, device = self.params, self.ctx.spec, self.ctx.device
        self.round += 1
        if p.reset_l0 and self.round == p.reset_round + self.warmup_rounds:
            reset_first_layers(self.generator)
        n = self.ctx.train.synth_batch
        z = torch.randn(n, p.nz, device=device, requires_grad=True)
        targets = None if self.ctx.segmentation else torch.randint(spec.num_classes, (n,), device=device)
        fast_generator = self.generator.clone()
        fast_params = list(fast_generator.parameters())
        optimizer = torch.optim.Adam(
            [{"params": fast_params, "lr": p.lr_g}, {"params": [z], "lr": p.lr_z}], betas=(0.5, 0.999)
        )
        adversarial = self.round >= self.warmup_rounds
        best_loss, best_x, parts = float("inf"), None, {}
        with eval_mode(self.student):
            self.meta_optimizer.zero_grad(set_to_none=True)
            with self.teacher_bn.active():
                for _ in range(p.g_steps):
                    x = fast_generator(z)
                    x_aug = self.augment(x, p.synth_padding)
                    t_logits = self.teacher(x_aug)
                    s_logits = self.student(x_aug)
                    weights = self.task_weights(t_logits.detach())
                    loss, parts = self.inversion(self.teacher_bn, t_logits, s_logits, targets, weights, adversarial)
                    if loss.item() < best_loss:
                        best_loss, best_x = loss.item(), x.detach().clone()
                    grads = torch.autograd.grad(loss, [*fast_params, z])
                    for meta_param, grad in zip(self.generator.parameters(), grads[:-1], strict=True):
                        meta_param.grad = grad.clone() if meta_param.grad is None else meta_param.grad + grad
                    for param, grad in zip([*fast_params, z], grads, strict=True):
                        param.grad = grad
                    optimizer.step()
            self.meta_optimizer.step()
            self.teacher_bn.update_ema()
        self.keep(best_x)
        return {"synth_loss": best_loss, **parts}

    def state_dict(self) -> dict[str, object]:
        generator = {"generator": self.generator.state_dict(), "meta_optimizer": self.meta_optimizer.state_dict()}
        return {**super().state_dict(), **generator}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        self.generator.load_state_dict(state["generator"])
        self.meta_optimizer.load_state_dict(state["meta_optimizer"])
