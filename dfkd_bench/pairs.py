"""Teacher-student pairs: `teacher-student` ids and the pairs each dataset defines for `--pairs all`."""

from __future__ import annotations

from dfkd_bench.errors import BadInput

CIFAR_PAIRS = (
    "resnet34-resnet18",
    "vgg11-resnet18",
    "wrn40_2-wrn16_1",
    "wrn40_2-wrn40_1",
    "wrn40_2-wrn16_2",
)
MNIST_PAIRS = ("lenet5_bn-lenet5_half_bn", "lenet5-lenet5_half")
SEG_PAIR = "deeplabv3_resnet50-deeplabv3_mobilenetv2"  # SSD-KD Table 3
SEG_SMOKE_PAIR = "seg_tiny_bn-seg_tiny_half_bn"  # ours: a CPU pair for tests and smoke runs, listed after the paper's

DATASET_PAIRS: dict[str, tuple[str, ...]] = {
    "cifar10": CIFAR_PAIRS,
    "cifar100": CIFAR_PAIRS,
    "mnist": MNIST_PAIRS,
    "fashion_mnist": MNIST_PAIRS,
    "nyuv2": (SEG_PAIR, SEG_SMOKE_PAIR),
}


def pairs_for(dataset: str) -> tuple[str, ...]:
    return DATASET_PAIRS.get(dataset, ())


def split_pair(pair: str, dataset: str | None = None) -> tuple[str, str]:
    """(teacher, student) of a pair id; any two registered models form a valid pair."""
    from dfkd_bench.models import list_models  # here: listing the pairs needs no model code (nor torch)

    teacher, sep, student = pair.partition("-")
    models = set(list_models())
    if not sep or teacher not in models or student not in models:
        defined = ", ".join(pairs_for(dataset)) if dataset else ", ".join(CIFAR_PAIRS + MNIST_PAIRS)
        raise BadInput(
            f"unknown pair '{pair}'; a pair is teacher-student of registered models "
            f"({', '.join(sorted(models))}); defined pairs: {defined}"
        )
    if dataset is not None:
        _check_family(pair, (teacher, student), dataset)
    return teacher, student


def _check_family(pair: str, models: tuple[str, str], dataset: str) -> None:
    """Segmenters only on segmentation data sets and classifiers only on classification ones, and models built
    for the data set's image channels (a 3-channel ResNet-34 teacher is not an MNIST model)."""
    from dfkd_bench.data import get_spec, task_of
    from dfkd_bench.models import MODELS

    dense = task_of(dataset) == "segmentation"
    wrong = [m for m in models if (MODELS.meta(m)["family"] == "segmentation") != dense]
    if wrong:
        kind = "segmentation models" if dense else "classifiers"
        raise BadInput(
            f"pair '{pair}' does not fit {dataset}, which needs {kind} ({', '.join(wrong)} is not); "
            f"defined pairs: {', '.join(pairs_for(dataset))}"
        )
    channels = get_spec(dataset).in_channels
    wrong = [m for m in models if MODELS.meta(m)["in_channels"] != channels]
    if wrong:
        raise BadInput(
            f"pair '{pair}' does not fit {dataset}: {', '.join(wrong)} {'takes' if len(wrong) == 1 else 'take'} "
            f"{MODELS.meta(wrong[0])['in_channels']}-channel images, {dataset} has {channels}; "
            f"defined pairs: {', '.join(pairs_for(dataset))}"
        )


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
