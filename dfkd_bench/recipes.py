"""The supervised recipes `train` uses for teachers and from-scratch students, and how one is resolved: a named
budget, then `--set` overrides, then `--epochs`, checked by the cards' rules, with a step schedule that scales
with the epochs so that a shortened recipe still decays its learning rate."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from dfkd_bench.config import apply_updates
from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.validation import validate_section


@dataclass(frozen=True)
class Recipe:
    name: str
    source: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    momentum: float = 0.9
    weight_decay: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 1.0
    crop_padding: int = 0
    eval_batch_size: int = 1024


RECIPES = {
    "cifar": Recipe(
        name="cifar",
        source="Fast-Datafree train_scratch.py (README command): SGD 0.1, bs 256, 200 epochs, x0.2 at 120/150/180",
        optimizer="sgd",
        lr=0.1,
        batch_size=256,
        epochs=200,
        weight_decay=1e-4,
        milestones=(120, 150, 180),
        gamma=0.2,
        crop_padding=4,
    ),
    "mnist": Recipe(
        name="mnist",
        source="ours: Adam 1e-3, bs 128, 3 epochs, no augmentation (lenet5_bn: 98.8 % in about 17 s on 2 CPU cores)",
        optimizer="adam",
        lr=1e-3,
        batch_size=128,
        epochs=3,
    ),
    "nyuv2": Recipe(
        name="nyuv2",
        source="DFAD repo teacher recipe: SGD 0.05, wd 5e-4, bs 16, 200 epochs, StepLR(100, 0.1); random 128 crop "
        "+ flip of the resize-256 images, CE ignoring void (255); from random weights unless a backbone is given",
        optimizer="sgd",
        lr=0.05,
        batch_size=16,
        epochs=200,
        weight_decay=5e-4,
        milestones=(100,),
        gamma=0.1,
        eval_batch_size=16,
    ),
}
DATASET_RECIPE = {
    "cifar10": "cifar",
    "cifar100": "cifar",
    "mnist": "mnist",
    "fashion_mnist": "mnist",
    "nyuv2": "nyuv2",
}
# Named budgets, as in the cards' dataset blocks: a quick teacher a tenth of the reference's length (its steps of
# the LR scale with it, e.g. CIFAR's 120/150/180 of 200 become 12/15/18 of 20), and one epoch for the MNIST family.
RECIPE_BUDGETS: dict[str, dict[str, dict[str, Any]]] = {
    "cifar": {"quick": {"epochs": 20}},
    "mnist": {"quick": {"epochs": 1}},
    "nyuv2": {"quick": {"epochs": 20}},
}
SECTION = "recipe"
# What a recipe is and where it comes from; every other field can be set.
FIXED = {"name", "source"}
OPTIMIZERS = ("adam", "sgd")


def settable_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(Recipe)} - FIXED


def scale_milestones(milestones: tuple[int, ...], epochs: int, new_epochs: int) -> tuple[int, ...]:
    """Each LR step at the same share of the epochs (rounded half up), kept within 1..new_epochs - 1: the LR of
    epoch e is the one after e scheduler steps, so a step at the last epoch or later never lowers it, and even a
    2-epoch run then trains its last epoch at the recipe's final LR. A 1-epoch run has no epoch after a step: none.
    The recipe's own epochs give its milestones back unchanged."""
    if new_epochs == epochs:
        return milestones
    if new_epochs < 2:
        return ()
    return tuple(min(new_epochs - 1, max(1, (2 * m * new_epochs + epochs) // (2 * epochs))) for m in milestones)


def describe_recipe(recipe: Recipe) -> str:
    """One line of what will run, so that a shortened recipe's scaled LR steps show before the training starts."""
    steps = ", ".join(map(str, recipe.milestones))
    schedule = f"LR x{recipe.gamma:g} after epochs {steps}" if recipe.milestones else "constant LR"
    epochs = f"{recipe.epochs} epoch{'s' * (recipe.epochs != 1)}"
    optimizer = f"{recipe.optimizer} (lr {recipe.lr:g}, batch {recipe.batch_size})"
    return f"recipe {recipe.name}: {epochs} of {optimizer}, {schedule}"


def recipe_for(
    dataset: str, epochs: int | None = None, overrides: dict[str, Any] | None = None, budget: str | None = None
) -> Recipe:
    """The dataset's recipe at a named `budget`, with `overrides` (`recipe.lr` or bare `lr`, as `run --set`)
    and then `epochs` (0 or fewer is refused, not ignored). Milestones not set explicitly scale with the epochs,
    so the recipe (and the teacher record holding it) is the schedule that runs; with nothing given it is the
    recipe itself, so the records of teachers trained with it keep their recipe."""
    if dataset not in DATASET_RECIPE:
        raise unknown("dataset with a training recipe", dataset, DATASET_RECIPE)
    if epochs is not None and epochs < 1:
        raise BadInput(f"epochs must be a positive integer, got {epochs}")
    base = RECIPES[DATASET_RECIPE[dataset]]
    fields = {SECTION: settable_keys()}
    explicit: dict[str, dict[str, Any]] = {SECTION: {}}
    if budget is not None:
        budgets = RECIPE_BUDGETS.get(base.name, {})
        if budget not in budgets:
            raise unknown(f"budget for recipe {base.name} on {dataset}", budget, budgets)
        apply_updates(explicit, budgets[budget], fields, f"recipe {base.name} budget {budget}")
    apply_updates(explicit, overrides or {}, fields, "overrides")
    if epochs is not None:
        explicit[SECTION]["epochs"] = epochs
    where = f"recipe {base.name} on {dataset}"
    values = validate_section(Recipe, {**dataclasses.asdict(base), **explicit[SECTION]}, SECTION, where)
    if "milestones" in explicit[SECTION]:
        values["milestones"] = _checked_milestones(values["milestones"], values["epochs"], where)
    else:
        values["milestones"] = scale_milestones(base.milestones, base.epochs, values["epochs"])
    if values["optimizer"] not in OPTIMIZERS:
        raise unknown(f"optimizer in {where}", values["optimizer"], OPTIMIZERS)
    return Recipe(**values)


def _checked_milestones(milestones: list[Any] | tuple[Any, ...], epochs: int, where: str) -> tuple[int, ...]:
    """Explicit milestones are epochs as given (never scaled): integers from 1 to epochs - 1, the only epochs
    whose LR a step can lower."""
    if not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m < epochs for m in milestones):
        raise BadInput(
            f"{where}: {SECTION}.milestones = {list(milestones)!r} is not a list of epochs from 1 to {epochs - 1} "
            f"({SECTION}.epochs = {epochs})"
        )
    return tuple(milestones)
