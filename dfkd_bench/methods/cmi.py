"""CMI, Contrastive Model Inversion (Fang et al., IJCAI 2021): model inversion that keeps synthetic images diverse.

Each round re-initialises a generator and optimises it together with a fresh latent z on the inversion loss of a
global view (BN statistics, one-hot, masked adversarial KL) plus an instance-discrimination loss: the teacher
features of a local view of each image must match their own global view, not those of other images in the batch
or of earlier rounds' images kept in a feature memory bank. The lowest-loss batch joins the image pool and its
features join the bank.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dfkd_bench.errors import BadInput
from dfkd_bench.methods.base import METHODS, MethodContext
from dfkd_bench.methods.cmi_views import random_resized_crop
from dfkd_bench.methods.inversion import InversionLoss
from dfkd_bench.methods.pool_method import PoolMethod
from dfkd_bench.models import create_generator
from dfkd_bench.models.modes import eval_mode


@dataclass
class CMIParams:
    g_steps: int = 200
    lr_g: float = 1e-3
    nz: int = 256
    ngf: int = 64
    bn: float = 1.0
    oh: float = 1.0
    adv: float = 0.5
    cr: float = 0.8
    cr_T: float = 0.2
    bank_size: int = 40960
    n_neg: int = 4096
    head_dim: int = 256
    local_scale: tuple[float, float] = (0.25, 1.0)
    feature_layers: list[str] | None = None
    synth_padding: int = 4
    replay_padding: int = 4
    store_uint8: bool = False

    def __post_init__(self) -> None:
        positive = {"g_steps": self.g_steps, "lr_g": self.lr_g, "nz": self.nz, "ngf": self.ngf}
        positive |= {"cr_T": self.cr_T, "bank_size": self.bank_size, "head_dim": self.head_dim}
        non_negative = {"bn": self.bn, "oh": self.oh, "adv": self.adv, "cr": self.cr, "n_neg": self.n_neg}
        non_negative |= {"synth_padding": self.synth_padding, "replay_padding": self.replay_padding}
        bad = [f"{k} must be > 0 (got {v})" for k, v in positive.items() if not v > 0]
        bad += [f"{k} must be >= 0 (got {v})" for k, v in non_negative.items() if not v >= 0]
        if len(self.local_scale) != 2 or not 0 < self.local_scale[0] <= self.local_scale[1] <= 1:
            bad.append(f"local_scale must be [min, max] with 0 < min <= max <= 1 (got {self.local_scale})")
        if self.feature_layers is not None and not self.feature_layers:
            bad.append("feature_layers must name at least one teacher module, or be null for every BatchNorm2d")
        if bad:
            raise BadInput(f"cmi: {'; '.join(bad)}")


class InstanceMeanHooks:
    """Per-image, per-channel spatial means of the inputs of some modules, concatenated: CMI's teacher features.

    Records only inside `active()`, so KD forwards pay nothing.
    """

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self.means: list[Tensor | None] = [None] * len(modules)
        self.enabled = False
        self.handles = [m.register_forward_hook(functools.partial(self._hook, i)) for i, m in enumerate(modules)]

    def _hook(self, index: int, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if not self.enabled:
            return
        x = inputs[0]
        if x.dim() != 4:
            raise ValueError(f"instance means need N x C x H x W inputs; {type(module).__name__} got {tuple(x.shape)}")
        self.means[index] = x.mean(dim=(2, 3))

    @contextlib.contextmanager
    def active(self) -> Iterator[InstanceMeanHooks]:
        self.means = [None] * len(self.means)
        self.enabled = True
        try:
            yield self
        finally:
            self.enabled = False

    def features(self) -> Tensor:
        """N x d features of the last forward inside `active()`."""
        if any(m is None for m in self.means):
            raise RuntimeError("features requested before a forward pass through every hooked module")
        return torch.cat(self.means, dim=1)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class FeatureBank:
    """Ring buffer of feature rows (CMI's negatives): once full, the oldest rows are overwritten first."""

    def __init__(self, capacity: int, dim: int, device: torch.device) -> None:
        if capacity <= 0:
            raise ValueError(f"feature bank capacity must be positive, got {capacity}")
        self.capacity, self.dim, self.device = capacity, dim, device
        self.data: Tensor | None = None
        self.size = 0
        self.ptr = 0

    def __len__(self) -> int:
        return self.size

    def add(self, rows: Tensor) -> None:
        if rows.dim() != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"feature bank rows must be N x {self.dim}, got {tuple(rows.shape)}")
        n = rows.shape[0]
        if n > self.capacity:
            raise ValueError(f"cannot add {n} rows to a feature bank of capacity {self.capacity}")
        if self.data is None:
            self.data = torch.zeros(self.capacity, self.dim, device=self.device)
        index = (self.ptr + torch.arange(n, device=self.device)) % self.capacity
        self.data[index] = rows.detach().to(self.device, self.data.dtype)
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, k: int) -> Tensor:
        """min(k, len) distinct rows drawn uniformly with torch's global RNG."""
        k = min(k, self.size)
        if k == 0:
            return torch.zeros(0, self.dim, device=self.device)
        index = torch.randperm(self.size)[:k].to(self.device)
        return self.data[index]

    def state_dict(self) -> dict[str, object]:
        held = self.data[: self.size].clone() if self.data is not None else torch.zeros(0, self.dim)
        return {"data": held, "ptr": self.ptr, "size": self.size}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.size, self.ptr, self.data = int(state["size"]), int(state["ptr"]), None
        if self.size:
            self.data = torch.zeros(self.capacity, self.dim, device=self.device)
            self.data[: self.size] = state["data"].to(self.device)


class ProjectionHead(nn.Module):
    """d -> d -> ReLU -> head_dim, L2-normalised: the space where the contrastive logits are cosine similarities."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim_in, dim_in), nn.ReLU(), nn.Linear(dim_in, dim_out))

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.mlp(x), dim=1)


def instance_contrastive_loss(anchors: Tensor, keys: Tensor, temperature: float, n_current: int) -> Tensor:
    """InfoNCE where row i's positive is key i and every other key is a negative.

    Rows [0, n_current) are the current batch, the rest cached negatives; each group's mean CE counts once, so a
    large bank does not drown the current batch (the reference's weighting).
    """
    logits = anchors @ keys.t() / temperature
    ce = F.cross_entropy(logits, torch.arange(len(logits), device=logits.device), reduction="none")
    if len(ce) > n_current:
        return ce[:n_current].mean() + ce[n_current:].mean()
    return ce.mean()


def reinitialise(model: nn.Module) -> None:
    """DCGAN-style init (conv/linear N(0, 0.02), BN gain N(1, 0.02), zero biases): CMI restarts every round."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def feature_modules(teacher: nn.Module, names: list[str] | None) -> list[nn.Module]:
    """The modules whose inputs give CMI's features: every BatchNorm2d, or the named ones (ResNet-34: its stages)."""
    if names is None:
        return [m for m in teacher.modules() if isinstance(m, nn.BatchNorm2d)]
    named = dict(teacher.named_modules())
    missing = [n for n in names if n not in named]
    if missing:
        top = ", ".join(n for n, _ in teacher.named_children())
        raise BadInput(f"cmi feature_layers {', '.join(missing)} not in the teacher; its top-level modules: {top}")
    return [named[n] for n in names]


@METHODS.register("cmi")
class CMI(PoolMethod):
    """Per-round generator inversion with a contrastive diversity loss and a pool of the kept batches."""

    Params = CMIParams

    def __init__(self, ctx: MethodContext, params: CMIParams) -> None:
        super().__init__(ctx, params)
        spec, device = ctx.spec, ctx.device
        if params.cr and params.bank_size < ctx.train.synth_batch:
            raise BadInput(f"cmi bank_size {params.bank_size} is below the synthesis batch {ctx.train.synth_batch}")
        self.generator = create_generator(params.nz, spec.image_size, spec.in_channels, params.ngf)
        self.generator.to(device).train()
        self.inversion = InversionLoss(bn=params.bn, oh=params.oh, adv=params.adv)
        self.features = InstanceMeanHooks(feature_modules(ctx.teacher, params.feature_layers))
        dim = self._feature_dim()
        self.head = ProjectionHead(dim, params.head_dim).to(device)
        self.head_optimizer = torch.optim.Adam(self.head.parameters(), lr=params.lr_g)
        self.bank = FeatureBank(params.bank_size, 2 * dim, device)

    def _feature_dim(self) -> int:
        spec = self.ctx.spec
        probe = torch.zeros(2, spec.in_channels, spec.image_size, spec.image_size, device=self.ctx.device)
        with torch.no_grad(), eval_mode(self.teacher), self.features.active():
            self.teacher(probe)
        return self.features.features().shape[1]

    def local_view(self, images01: Tensor) -> Tensor:
        """Random-resized crop back to full size, flip where labels allow, normalise."""
        x = random_resized_crop(images01, scale=self.params.local_scale, ratio=(3 / 4, 4 / 3))
        return self.augment(x, padding=0)

    def synthesize(self) -> dict[str, float]:
        p, spec, device = self.params, self.ctx.spec, self.ctx.device
        self.round += 1
        n = self.ctx.train.synth_batch
        reinitialise(self.generator)
        z = torch.randn(n, p.nz, device=device, requires_grad=True)
        targets = torch.randint(spec.num_classes, (n,), device=device)
        optimizer = torch.optim.Adam([*self.generator.parameters(), z], lr=p.lr_g, betas=(0.5, 0.999))
        head = list(self.head.parameters()) if p.cr else []
        variables = [*self.generator.parameters(), z, *head]
        adversarial = self.round >= self.warmup_rounds
        self.teacher.eval()
        best_loss, best_x, best_features, parts = math.inf, None, None, {}
        with eval_mode(self.student):
            for _ in range(p.g_steps):
                x = self.generator(z)
                loss, parts, feats = self._loss(x, targets, adversarial)
                if best_x is None or loss.item() < best_loss:
                    best_loss, best_x, best_features = loss.item(), x.detach().clone(), feats
                for variable, grad in zip(variables, torch.autograd.grad(loss, variables), strict=True):
                    variable.grad = grad
                optimizer.step()
                if p.cr:
                    self.head_optimizer.step()
        self.pool.add(best_x)
        if best_features is not None:
            self.bank.add(best_features)
        return {"synth_loss": best_loss, **parts}

    def _loss(self, x: Tensor, targets: Tensor, adversarial: bool) -> tuple[Tensor, dict[str, float], Tensor | None]:
        """Total loss, its parts, and the detached [local ‖ global] features (None when cr = 0)."""
        p = self.params
        x_global = self.augment(x, p.synth_padding)
        record = self.features.active() if p.cr else contextlib.nullcontext()
        with self.teacher_bn.active(), record:
            t_logits = self.teacher(x_global)
        adversarial = adversarial and p.adv > 0
        s_logits = self.student(x_global) if adversarial else None
        loss, parts = self.inversion(self.teacher_bn, t_logits, s_logits, targets, adversarial=adversarial)
        if not p.cr:
            return loss, parts, None
        global_features = self.features.features()
        with self.features.active():
            self.teacher(self.local_view(x))
        local_features = self.features.features()
        loss_cr = self._contrastive(local_features, global_features)
        parts["loss_cr"] = loss_cr.item()
        return loss + p.cr * loss_cr, parts, torch.cat([local_features, global_features], dim=1).detach()

    def _contrastive(self, local_features: Tensor, global_features: Tensor) -> Tensor:
        """Projected local views (current + cached) are anchors; stop-gradient projected global views are keys."""
        cached_local, cached_global = self.bank.sample(self.params.n_neg).chunk(2, dim=1)
        projected = self.head(torch.cat([local_features, cached_local, global_features, cached_global]))
        anchors, keys = projected.chunk(2)
        return instance_contrastive_loss(anchors, keys.detach(), self.params.cr_T, n_current=len(local_features))

    def state_dict(self) -> dict[str, object]:
        head = {"head": self.head.state_dict(), "head_optimizer": self.head_optimizer.state_dict()}
        return {**super().state_dict(), **head, "bank": self.bank.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        super().load_state_dict(state)
        self.head.load_state_dict(state["head"])
        self.head_optimizer.load_state_dict(state["head_optimizer"])
        self.bank.load_state_dict(state["bank"])
