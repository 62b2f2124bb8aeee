"""The DCGAN-style generator shared by CMI and Fast (``Generator`` in Fast-Datafree).

A linear layer maps the noise to a ``2*ngf x img/4 x img/4`` map, two nearest-neighbour
upsamplings bring it to full size, and a sigmoid puts pixels in [0, 1] (normalisation to the
teacher's input statistics is the caller's job). Module names match the reference.
"""

from __future__ import annotations

from torch import Tensor, nn

from dfkd_bench.errors import BadInput


def decoder(ngf: int, nc: int) -> nn.Sequential:
    """The upsampling half shared by Fast's and NAYER's generators: ``2*ngf x s x s`` maps -> ``nc x 4s x 4s`` in
    [0, 1]. Out-of-place LeakyReLU: same values as the reference's inplace=True, but it can never clobber a tensor
    that autograd (or a meta-learning inner loop) still needs."""
    return nn.Sequential(
        nn.BatchNorm2d(ngf * 2),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(ngf * 2, ngf * 2, 3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.LeakyReLU(0.2),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(ngf * 2, ngf, 3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ngf, nc, 3, stride=1, padding=1),
        nn.Sigmoid(),
    )


class Generator(nn.Module):
    """Noise ``(B, nz)`` -> images ``(B, nc, img_size, img_size)`` in [0, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, img_size: int = 32, nc: int = 3) -> None:
        super().__init__()
        if img_size < 4 or img_size % 4 != 0:
            raise BadInput(f"generator img_size must be a positive multiple of 4, got {img_size}")
        self.nz, self.ngf, self.img_size, self.nc = nz, ngf, img_size, nc
        self.init_size = img_size // 4
        self.l1 = nn.Sequential(nn.Linear(nz, ngf * 2 * self.init_size**2))
        self.conv_blocks = decoder(ngf, nc)

    def forward(self, z: Tensor) -> Tensor:
        out = self.l1(z)
        out = out.view(out.shape[0], -1, self.init_size, self.init_size)
        return self.conv_blocks(out)

    def clone(self) -> Generator:
        """An independent copy with the same weights, buffers, mode, dtype and device.

        Fast meta-learns the generator by cloning it each round. As in the reference, the copy
        is rebuilt and loaded from the state_dict, so it carries no gradients and none of the
        original's hooks, and it stays on the original's device instead of moving to CUDA.
        """
        ref = next(self.parameters())
        twin = Generator(nz=self.nz, ngf=self.ngf, img_size=self.img_size, nc=self.nc)
        twin.to(device=ref.device, dtype=ref.dtype)
        twin.load_state_dict(self.state_dict())
        for p_twin, p in zip(twin.parameters(), self.parameters(), strict=True):
            p_twin.requires_grad_(p.requires_grad)
        return twin.train(self.training)


def generator(nz: int = 100, img_size: int = 32, nc: int = 3, ngf: int = 64) -> Generator:
    """Factory for the registry."""
    return Generator(nz=nz, ngf=ngf, img_size=img_size, nc=nc)
