"""The paper's grids as named presets (`--preset table2`): blocks of methods x pairs x datasets x scales, the
paper tables' rows read from the cards. Kept apart from the grid expansion, which needs models and method classes
(torch), so that `list presets` imports neither."""

from __future__ import annotations

from dataclasses import dataclass

from dfkd_bench.config import ablation_cards, get_card, table_cards
from dfkd_bench.pairs import SEG_PAIR

DEFAULT_BUDGET = "quick"
CIFAR = ("cifar10", "cifar100")


@dataclass(frozen=True)
class Block:
    """One rectangular piece of a preset: every method × pair × dataset × scale."""

    methods: tuple[str, ...]
    pairs: tuple[str, ...] = ("all",)
    datasets: tuple[str, ...] = CIFAR
    scales: tuple[str, ...] = ("auto",)


@dataclass(frozen=True)
class Preset:
    description: str
    blocks: tuple[Block, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    budget: str | None = None


MNIST_BASELINES = ("kd", "deepinv", "cmi", "dafl", "dfq", "zskt", "dfad", "fast2", "fast5", "fast10")
MNIST_BN_PAIR = ("lenet5_bn-lenet5_half_bn",)
TABLE4_PAIRS = ("resnet34-resnet18", "wrn40_2-wrn16_1")
# The CPU proxy of the paper's regime (every card's `proxy` budget): Fast-N's pool ends at 56,320 images (94 % of
# the 60,000), SSD-KD holds 10 % in Tables 1 and 4, and KD dominates the time as in the CIFAR recipe.
CPU_PROXY = ("mnist", "fashion_mnist")
PROXY_BUDGET = "proxy"


def paper_table(
    table: str, scale: str, pairs: tuple[str, ...] = ("all",), datasets: tuple[str, ...] = CIFAR
) -> tuple[Block, ...]:
    """The blocks of a paper table's preset: its rows from the cards (`tables:`), the SSD-KD family (algorithm
    ssdkd) at the table's data scale, every other method at its own ('auto'). A new card with a `tables:` entry
    joins the preset and the report's table without another edit."""
    methods = table_cards(table)
    scaled = tuple(m for m in methods if get_card(m).algorithm == "ssdkd")
    rest = tuple(m for m in methods if m not in scaled)
    blocks = (Block(rest, pairs, datasets), Block(scaled, pairs, datasets, (scale,)))
    return tuple(block for block in blocks if block.methods)


def presets() -> dict[str, Preset]:
    """Every preset by name; the paper tables' method lists are read from the cards each time."""
    return {
        "table1": Preset(
            "SSD-KD Table 1: Teacher, Student, Fast2 and SSD-KD at 5,000 samples; CIFAR-10/100, 5 pairs, 3 seeds",
            paper_table("table1", "5000"),
        ),
        "table2": Preset(
            "SSD-KD Table 2: Teacher, Student, 7 baselines and SSD-KD at 50,000 samples (the paper relaxes its scale "
            "'to be similar to Fast5', whose pool holds 56,320), plus rows beyond the paper (NAYER and its label-"
            "embedding variants); CIFAR-10/100, 5 pairs, 3 seeds",
            paper_table("table2", "50000"),
        ),
        "table4": Preset(
            "SSD-KD Table 4: the six ablation rows at 5,000 samples; CIFAR-10/100, ResNet-34/18 and WRN40-2/16-1, "
            "3 seeds",
            paper_table("table4", "5000", TABLE4_PAIRS),
        ),
        "figure4": Preset(
            "SSD-KD Figure 4: SSD-KD at 500, 2,500, 5,000 and 10,000 samples (1-20 %); CIFAR-10/100, 3 pairs, 3 seeds",
            (
                Block(
                    ("ssdkd",),
                    pairs=("resnet34-resnet18", "vgg11-resnet18", "wrn40_2-wrn16_1"),
                    scales=("500", "2500", "5000", "10000"),
                ),
            ),
        ),
        "mnist": Preset(
            "CPU reference grid on MNIST at the cards' quick budget: Teacher/Student rows and every baseline on both "
            "pairs; SSD-KD at 150-1,200 samples (Figure 4), kd and deepinv at 600 (Figure 1) and the Table 4 "
            "ablations at 600 on the BN pair; 3 seeds",
            (
                Block(("teacher", "student", *MNIST_BASELINES), datasets=("mnist",)),
                Block(("ssdkd",), MNIST_BN_PAIR, ("mnist",), ("150", "300", "600", "1200")),
                Block(("kd", "deepinv", *ablation_cards()), MNIST_BN_PAIR, ("mnist",), ("600",)),
            ),
            budget=DEFAULT_BUDGET,
        ),
        "proxy-table1": Preset(
            "Table 1 in the CPU proxy (budget proxy): Teacher, Student, Fast2 and SSD-KD at 10 % (6,000) on the BN "
            "pair of MNIST and Fashion-MNIST, 3 seeds",
            paper_table("table1", "10%", MNIST_BN_PAIR, CPU_PROXY),
            budget=PROXY_BUDGET,
        ),
        "proxy-table4": Preset(
            "Table 4 in the CPU proxy: the six ablation rows at 10 % (6,000) on the BN pair of MNIST and "
            "Fashion-MNIST, 3 seeds",
            paper_table("table4", "10%", MNIST_BN_PAIR, CPU_PROXY),
            budget=PROXY_BUDGET,
        ),
        "proxy-figure4": Preset(
            "Figure 4 in the CPU proxy: SSD-KD at 1 / 5 / 10 / 20 / 100 % of the training set on the BN pair of "
            "MNIST and Fashion-MNIST, 3 seeds",
            (Block(("ssdkd",), MNIST_BN_PAIR, CPU_PROXY, ("1%", "5%", "10%", "20%", "100%")),),
            budget=PROXY_BUDGET,
        ),
        "table3": Preset(
            "SSD-KD Table 3: NYUv2 segmentation (mIoU), DeepLabV3-ResNet50 -> DeepLabV3-MobileNetV2: Teacher, "
            "Student, KD on the 795 training images, DAFL, DFAD, Fast10 (17,280 synthetic) and SSD-KD at 16,000; "
            "3 seeds",
            paper_table("table3", "16000", (SEG_PAIR,), ("nyuv2",)),
        ),
    }
