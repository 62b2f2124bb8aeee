"""The fixed per-class vectors NAYER's generator starts from, by kind.

- ``clip``: the reference's CLIP ViT-B/32 text features (CIFAR-10 and CIFAR-100 only), shipped as package data.
- ``minilm``: all-MiniLM-L6-v2 sentence embeddings of the class names, computed once by
  `scripts/make_label_embeddings.py` and shipped as package data with the prompt and model recorded.
- ``onehot``: the identity matrix (no prior beyond the class index).
- ``random``: fixed Gaussian vectors drawn from their own seed (the same for every run), the no-language control.

Text-encoder kinds bring outside knowledge (a model trained on web text), which reports must say. Files are read
with ``allow_pickle=False`` after a sha256 check, so nothing third-party is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from dfkd_bench.data import DatasetSpec
from dfkd_bench.errors import BadInput

EMBEDDING_DIR = Path(__file__).resolve().parents[1] / "label_embeddings"
KINDS = ("clip", "minilm", "onehot", "random")
TEXT_ENCODERS = ("clip", "minilm")
CLIP_SHA256 = {
    "cifar10": "cf8040c6ea43a73ddf558f5953341ffe75dd2cb43773152737fa4c83b1a42807",
    "cifar100": "65f7bb73f4359ff8e47dc3b7e93c50d8cc4a51d09f0150a0d76f739f1896c4f1",
}
CLIP_FILES = {name: (f"nayer_lte_{name}_clip_vitb32_fp16.npy", sha256) for name, sha256 in CLIP_SHA256.items()}
MINILM_MANIFEST = "minilm_l6_v2.json"


def label_embedding(kind: str, spec: DatasetSpec, random_dim: int = 512, random_seed: int = 0) -> Tensor:
    """``num_classes x E`` float32 vectors of this kind for the data set's classes (row i = class i)."""
    if kind == "clip":
        file, sha256 = _shipped(CLIP_FILES, kind, spec.name)
        return _checked_array(EMBEDDING_DIR / file, sha256, spec.num_classes)
    if kind == "minilm":
        files = {name: (entry["file"], entry["sha256"]) for name, entry in minilm_manifest()["files"].items()}
        file, sha256 = _shipped(files, kind, spec.name)
        return _checked_array(EMBEDDING_DIR / file, sha256, spec.num_classes)
    if kind == "onehot":
        return torch.eye(spec.num_classes)
    if kind == "random":
        generator = torch.Generator().manual_seed(random_seed)
        return torch.randn(spec.num_classes, random_dim, generator=generator)
    raise BadInput(f"unknown label embedding '{kind}'; valid choices: {', '.join(KINDS)}")


@cache
def minilm_manifest() -> dict:
    """What `scripts/make_label_embeddings.py` recorded: model, prompts, versions and one file per data set."""
    return json.loads((EMBEDDING_DIR / MINILM_MANIFEST).read_text())


def _shipped(files: dict[str, tuple[str, str]], kind: str, dataset: str) -> tuple[str, str]:
    if dataset not in files:
        raise BadInput(
            f"no {kind} label embedding ships for {dataset}; it exists for {', '.join(sorted(files))} "
            f"(other choices: {', '.join(k for k in KINDS if k != kind)})"
        )
    return files[dataset]


def _checked_array(path: Path, sha256: str, rows: int) -> Tensor:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise BadInput(f"{path}: sha256 differs from the recorded {sha256[:12]}…; the file is damaged or replaced")
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2 or array.shape[0] != rows:
        raise BadInput(f"{path}: shape {array.shape}, expected {rows} rows (one per class)")
    return torch.from_numpy(array.astype(np.float32))
