"""Teacher-student pairs: `teacher-student` ids and the pairs each dataset defines for `--pairs all`."""

from __future__ import annotations

from dfkd_bench.errors import BadInput
from dfkd_bench.models import list_models

CIFAR_PAIRS = (
    "resnet34-resnet18",
    "vgg11-resnet18",
    "wrn40_2-wrn16_1",
    "wrn40_2-wrn40_1",
    "wrn40_2-wrn16_2",
)
MNIST_PAIRS = ("lenet5_bn-lenet5_half_bn", "lenet5-lenet5_half")

DATASET_PAIRS: dict[str, tuple[str, ...]] = {
    "cifar10": CIFAR_PAIRS,
    "cifar100": CIFAR_PAIRS,
    "mnist": MNIST_PAIRS,
    "fashion_mnist": MNIST_PAIRS,
}


def pairs_for(dataset: str) -> tuple[str, ...]:
    return DATASET_PAIRS.get(dataset, ())


def split_pair(pair: str, dataset: str | None = None) -> tuple[str, str]:
    """(teacher, student) of a pair id; any two registered models form a valid pair."""
    teacher, sep, student = pair.partition("-")
    models = set(list_models())
    if not sep or teacher not in models or student not in models:
        defined = ", ".join(pairs_for(dataset)) if dataset else ", ".join(CIFAR_PAIRS + MNIST_PAIRS)
        raise BadInput(
            f"unknown pair '{pair}'; a pair is teacher-student of registered models "
            f"({', '.join(sorted(models))}); defined pairs: {defined}"
        )
    return teacher, student


def expand_pairs(pairs: list[str], dataset: str) -> list[str]:
    """'all' means the dataset's defined pairs."""
    out: list[str] = []
    for pair in pairs:
        chosen = list(pairs_for(dataset)) if pair == "all" else [pair]
        for p in chosen:
            split_pair(p, dataset)
            if p not in out:
                out.append(p)
    return out
