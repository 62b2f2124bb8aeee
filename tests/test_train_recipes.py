"""`train`'s recipes: budgets and `--set` resolved like `run`'s, an LR schedule that scales with the epochs, the
full recipe left exactly as it was, and a tiny real `train` on MNIST-format files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from test_data import write_idx_split

from dfkd_bench.cli import cli
from dfkd_bench.config import parse_assignments
from dfkd_bench.data import clear_cache
from dfkd_bench.errors import BadInput
from dfkd_bench.recipes import DATASET_RECIPE, RECIPE_BUDGETS, RECIPES, recipe_for, scale_milestones
from dfkd_bench.teachers import TeacherStore
from dfkd_bench.train import schedule


def _lrs(recipe) -> list[float]:
    """The LR each epoch trains at, stepping the recipe's scheduler as train_supervised does (after each epoch)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=recipe.lr)
    scheduler = schedule(optimizer, recipe)
    lrs = []
    for _ in range(recipe.epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("dataset", sorted(DATASET_RECIPE))
def test_full_recipe_is_unchanged_when_nothing_is_given(dataset: str):
    recipe = RECIPES[DATASET_RECIPE[dataset]]
    assert recipe_for(dataset) == recipe
    assert recipe_for(dataset, recipe.epochs, {}) == recipe  # its own epochs: milestones as written
    assert dataclasses.asdict(recipe_for(dataset)) == dataclasses.asdict(recipe)


def test_set_changes_the_resolved_recipe_by_section_key_or_bare_key():
    overrides = parse_assignments(["recipe.lr=0.05", "batch_size=128", "recipe.weight_decay=5e-4"])
    recipe = recipe_for("cifar10", overrides=overrides)
    assert (recipe.lr, recipe.batch_size, recipe.weight_decay) == (0.05, 128, 5e-4)
    assert recipe.milestones == (120, 150, 180) and recipe.epochs == 200 and recipe.optimizer == "sgd"


def test_budget_then_set_then_epochs():
    assert recipe_for("cifar10", budget="quick").epochs == 20
    assert recipe_for("cifar10", overrides={"epochs": 10}, budget="quick").epochs == 10
    assert recipe_for("cifar10", 4, {"epochs": 10}, "quick").epochs == 4
    assert recipe_for("mnist", budget="quick").epochs == 1


@pytest.mark.parametrize(
    ("milestones", "epochs", "new_epochs", "expected"),
    [
        ((120, 150, 180), 200, 200, (120, 150, 180)),
        ((120, 150, 180), 200, 20, (12, 15, 18)),
        ((120, 150, 180), 200, 10, (6, 8, 9)),  # 7.5 rounds half up
        ((120, 150, 180), 200, 3, (2, 2, 2)),  # 2.7 kept below the last epoch
        ((120, 150, 180), 200, 2, (1, 1, 1)),
        ((120, 150, 180), 200, 1, ()),  # no epoch after a step
        ((120, 150, 180), 200, 400, (240, 300, 360)),
        ((100,), 200, 2, (1,)),
        ((), 3, 1, ()),
    ],
)
def test_milestones_keep_their_share_of_the_epochs(milestones, epochs, new_epochs, expected):
    assert scale_milestones(milestones, epochs, new_epochs) == expected


@pytest.mark.parametrize("epochs", [2, 3, 10, 20, 200])
def test_a_shortened_cifar_recipe_ends_at_the_recipes_final_lr(epochs: int):
    recipe = recipe_for("cifar10", epochs)
    lrs = _lrs(recipe)
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[-1] == pytest.approx(0.1 * 0.2**3)
    assert sorted(lrs, reverse=True) == lrs


@pytest.mark.parametrize("dataset", sorted(DATASET_RECIPE))
def test_every_budget_shortens_its_recipe_and_ends_at_the_final_lr(dataset: str):
    base = RECIPES[DATASET_RECIPE[dataset]]
    for budget in RECIPE_BUDGETS[base.name]:
        recipe = recipe_for(dataset, budget=budget)
        assert recipe.epochs < base.epochs
        assert _lrs(recipe)[-1] == pytest.approx(base.lr * base.gamma ** len(base.milestones))


def test_the_budgets_schedule_is_the_full_one_at_a_tenth():
    full, quick = _lrs(recipe_for("cifar10")), _lrs(recipe_for("cifar10", budget="quick"))
    assert quick == pytest.approx(full[::10])


def test_explicit_milestones_are_not_scaled_and_must_fall_inside_the_epochs():
    assert recipe_for("cifar10", 10, {"recipe.milestones": [5]}).milestones == (5,)
    assert recipe_for("cifar10", overrides={"milestones": []}).milestones == ()
    for bad in ([0], [10], [2.5], "5"):
        with pytest.raises(BadInput, match="recipe.milestones"):
            recipe_for("cifar10", 10, {"milestones": bad})


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--set", "recipe.nope=1"], ["unknown config key 'recipe.nope' in overrides; valid keys:", "recipe.lr"]),
        (["--set", "train.lr=0.2"], ["unknown config key 'train.lr'", "recipe.milestones"]),
        (["--set", "name=mine"], ["unknown config key 'name'", "recipe.epochs"]),
        (["--set", "lr"], ["--set expects key=value"]),
        (["--set", "lr=-1"], ["recipe.lr = -1 is not positive"]),
        (["--set", "optimizer=adamw"], ["unknown optimizer", "adam, sgd"]),
        (["--budget", "huge"], ["unknown budget for recipe mnist on mnist 'huge'", "valid choices: quick"]),
    ],
    ids=["unknown-key", "run-section", "fixed-key", "no-value", "bad-value", "optimizer", "budget"],
)
def test_bad_recipe_input_is_one_line_and_writes_nothing(tmp_path: Path, args: list[str], fragments: list[str]):
    teachers = tmp_path / "teachers"
    command = ["train", "--model", "lenet5", "--dataset", "mnist", "--teachers", str(teachers), *args]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "budget", "overrides"),
    [
        ([], None, {}),
        (["--epochs", "1", "--set", "recipe.batch_size=16"], None, {"recipe.batch_size": 16}),
        (["--budget", "quick", "--set", "lr=0.002"], "quick", {"lr": 0.002}),
    ],
    ids=["full-recipe", "epochs-and-set", "budget-and-set"],
)
def test_train_on_tiny_mnist_files_records_the_recipe_that_ran(
    tmp_path: Path, args: list[str], budget: str | None, overrides: dict
):
    data = tmp_path / "data"
    write_idx_split(data, "train", 48, seed=0)
    write_idx_split(data, "test", 16, seed=1)
    teachers = tmp_path / "teachers"
    clear_cache()
    command = ["train", "--model", "lenet5", "--dataset", "mnist", "--data-root", data, "--teachers", teachers]
    result = CliRunner().invoke(cli, [str(a) for a in [*command, "--device", "cpu", *args]])
    clear_cache()
    assert result.exit_code == 0, result.output
    epochs = int(args[1]) if args[:1] == ["--epochs"] else None
    expected = recipe_for("mnist", epochs, overrides, budget)
    record = json.loads((teachers / "mnist" / "lenet5.json").read_text())
    assert record["recipe"] == json.loads(json.dumps(dataclasses.asdict(expected)))
    assert record.get("budget") == budget and record.get("overrides", {}) == overrides
    assert ("budget" in record, "overrides" in record) == (budget is not None, bool(overrides))
    assert f"recipe mnist: {expected.epochs} epoch" in result.stdout
    TeacherStore(teachers).load("mnist", "lenet5", 10, 1)  # the checkpoint matches its record
