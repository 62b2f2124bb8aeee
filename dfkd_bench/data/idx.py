"""Reader for the LeCun idx format that MNIST and Fashion-MNIST ship in."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import torch

from dfkd_bench.errors import BadInput

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08


def read_idx(path: str | Path) -> torch.Tensor:
    """The file's array as a uint8 tensor of the shape its header gives.

    Compression is detected from the content, not the name, since torchvision keeps both
    ``x-ubyte`` and ``x-ubyte.gz`` side by side and users rename files.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise BadInput(f"{path}: corrupt gzip file ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise BadInput(f"{path} is not an idx file (bad magic number)")
    dtype, ndim = raw[2], raw[3]
    if dtype != _UBYTE:
        raise BadInput(f"{path}: idx element type 0x{dtype:02x} is not unsigned byte (0x08)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise BadInput(f"{path}: idx header is truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != math.prod(dims):
        raise BadInput(f"{path}: header says {dims} ({math.prod(dims)} bytes) but {len(raw) - header} follow")
    if not math.prod(dims):
        return torch.zeros(dims, dtype=torch.uint8)
    # One copy into a writable buffer; torch then shares it instead of copying again.
    data = torch.frombuffer(bytearray(raw), dtype=torch.uint8, offset=header)
    return data.reshape(dims)
