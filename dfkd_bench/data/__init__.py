"""Data sets held in memory as uint8 tensors (classification and segmentation), and tensor-level augmentation."""

from dfkd_bench.data.augment import denormalize, normalize, random_crop_flip, to_float
from dfkd_bench.data.datasets import DATASETS, SPLITS, clear_cache, load_dataset
from dfkd_bench.data.idx import read_idx
from dfkd_bench.data.nyuv2 import train_batch  # importing nyuv2 registers the data set
from dfkd_bench.data.spec import IGNORE_INDEX, ImageSet, SegmentationSet
from dfkd_bench.datasets_catalog import DatasetSpec, get_spec, task_of

__all__ = [
    "DATASETS",
    "IGNORE_INDEX",
    "SPLITS",
    "DatasetSpec",
    "ImageSet",
    "SegmentationSet",
    "clear_cache",
    "denormalize",
    "get_spec",
    "load_dataset",
    "normalize",
    "random_crop_flip",
    "read_idx",
    "task_of",
    "to_float",
    "train_batch",
]
