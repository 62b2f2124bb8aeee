"""What each registered data set is (shape, statistics, class names, task, training-set size), known without its
files and without torch.

The loaders in `dfkd_bench.data` import torch (seconds); `list datasets`, card checks and data-scale parsing need
only these facts. Each data set is written here once: `dfkd_bench.data` registers one loader per entry, with this
spec and these facts, and re-exports `DatasetSpec`, `get_spec` and `task_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dfkd_bench.registry import Registry

IMAGE_SIZE = 32  # the classification sets' side (the 28 x 28 idx sets are padded to it at load)
NYUV2_CROP = 128  # the segmentation reference's training crop, also the generator's output size


@dataclass(frozen=True)
class DatasetSpec:
    """Everything a model, a generator or an augmentation needs to know without loading any image.

    ``hflip`` says whether a horizontal flip keeps the label: true for natural photos (CIFAR),
    false for digits and clothing silhouettes, where a mirrored image is a different or impossible one.
    """

    name: str
    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    hflip: bool
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(f"{self.name}: mean/std need one value per channel ({self.in_channels})")
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"{self.name}: {len(self.class_names)} class names for {self.num_classes} classes")


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_CLASSES = tuple(
    """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
    camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
    dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
    leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid
    otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road
    rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower
    sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale
    willow_tree wolf woman worm""".split()  # noqa: SIM905 (a 100-name literal reads worse)
)
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
# The 13-class labelling of Couprie et al. (2013), shifted so that 0 is the first class.
NYUV2_CLASSES = (
    "bed", "books", "ceiling", "chair", "floor", "furniture", "objects", "picture", "sofa", "table", "tv", "wall",
    "window",
)  # fmt: skip

# Registry meta: `task` (default classification) and `train_size` (what '10%' data scales are a share of).
SPECS: Registry[DatasetSpec] = Registry("dataset")
SPECS.register("mnist", train_size=60000)(
    DatasetSpec("mnist", 10, 1, IMAGE_SIZE, (0.1307,), (0.3081,), False, tuple(str(d) for d in range(10)))
)
SPECS.register("fashion_mnist", train_size=60000)(
    DatasetSpec("fashion_mnist", 10, 1, IMAGE_SIZE, (0.2860,), (0.3530,), False, FASHION_CLASSES)
)
SPECS.register("cifar10", train_size=50000)(
    DatasetSpec("cifar10", 10, 3, IMAGE_SIZE, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), True, CIFAR10_CLASSES)
)
SPECS.register("cifar100", train_size=50000)(
    DatasetSpec(
        "cifar100", 100, 3, IMAGE_SIZE, (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761), True, CIFAR100_CLASSES
    )
)
SPECS.register("nyuv2", task="segmentation", train_size=795)(
    DatasetSpec("nyuv2", 13, 3, NYUV2_CROP, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), True, NYUV2_CLASSES)
)


def get_spec(name: str) -> DatasetSpec:
    """The data set's shape and statistics, available before (and without) its files."""
    return SPECS.get(name)


def task_of(name: str) -> str:
    """'classification' or 'segmentation' (a data set's registry meta `task`), known without its files."""
    return SPECS.meta(name).get("task", "classification")


def dataset_names() -> list[str]:
    """The registered data sets, sorted."""
    return SPECS.names()
