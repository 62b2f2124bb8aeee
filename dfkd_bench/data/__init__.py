"""Data sets held in memory as uint8 tensors, and tensor-level augmentation."""

from dfkd_bench.data.augment import denormalize, normalize, random_crop_flip, to_float
from dfkd_bench.data.datasets import DATASETS, SPLITS, clear_cache, get_spec, load_dataset
from dfkd_bench.data.idx import read_idx
from dfkd_bench.data.spec import DatasetSpec, ImageSet

__all__ = [
    "DATASETS",
    "SPLITS",
    "DatasetSpec",
    "ImageSet",
    "clear_cache",
    "denormalize",
    "get_spec",
    "load_dataset",
    "normalize",
    "random_crop_flip",
    "read_idx",
    "to_float",
]
