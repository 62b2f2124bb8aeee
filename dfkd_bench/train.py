"""Supervised training of teachers and from-scratch students (the tables' "Teacher" and "Student" rows), for
classification and segmentation (NYUv2) data sets alike, and the import of reference teachers: both measure the
model on the test split before the teacher store keeps it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from dfkd_bench.data import ImageSet, SegmentationSet, get_spec, load_dataset, task_of, train_batch
from dfkd_bench.data.augment import normalize, random_crop_flip, to_float
from dfkd_bench.engine.evaluate import EvalResult, evaluate_split
from dfkd_bench.engine.rng import seed_everything
from dfkd_bench.engine.segmentation_metrics import SegEvalResult
from dfkd_bench.envinfo import device_name, resolve_device
from dfkd_bench.errors import BadInput
from dfkd_bench.methods.losses import supervised_ce
from dfkd_bench.models import create_model
from dfkd_bench.recipes import Recipe, recipe_for
from dfkd_bench.teachers import TeacherStore

Evaluation = EvalResult | SegEvalResult


def _optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    return torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)


def schedule(optimizer: torch.optim.Optimizer, recipe: Recipe) -> torch.optim.lr_scheduler.LRScheduler:
    """The recipe's steps of the LR, stepped once after each epoch: epoch e trains at the LR after e steps."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, list(recipe.milestones), recipe.gamma)


def _augmented(train_set: ImageSet | SegmentationSet, recipe: Recipe, idx: Tensor) -> tuple[Tensor, Tensor]:
    """A normalised training batch and its targets: padded crop + flip for classification, the reference's random
    crop (the data set's image size) + flip of image and mask alike for segmentation."""
    spec = train_set.spec
    if isinstance(train_set, SegmentationSet):
        images, targets = train_batch(train_set.images[idx], train_set.masks[idx], crop=spec.image_size)
        x = to_float(images)
    else:
        x = random_crop_flip(to_float(train_set.images[idx]), padding=recipe.crop_padding, flip=spec.hflip)
        targets = train_set.labels[idx]
    return normalize(x, spec.mean, spec.std), targets


def train_supervised(
    model: nn.Module,
    train_set: ImageSet | SegmentationSet,
    test_set: ImageSet | SegmentationSet,
    recipe: Recipe,
    on_epoch: Callable[[int, Evaluation], None] | None = None,
) -> tuple[Evaluation, float]:
    """Cross-entropy training; returns the final (not best-on-test) evaluation and the seconds it took."""
    device = next(model.parameters()).device
    train_set = train_set.to(device)
    optimizer = _optimizer(model, recipe)
    scheduler = schedule(optimizer, recipe)
    start = time.perf_counter()
    result = evaluate_split(model, test_set, recipe.eval_batch_size)
    for epoch in range(recipe.epochs):
        model.train()
        order = torch.randperm(len(train_set), device=device)
        for i in range(0, len(order), recipe.batch_size):
            x, targets = _augmented(train_set, recipe, order[i : i + recipe.batch_size])
            loss = supervised_ce(model(x), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        result = evaluate_split(model, test_set, recipe.eval_batch_size)
        if on_epoch is not None:
            on_epoch(epoch, result)
    return result, time.perf_counter() - start


def train_into_store(
    model_name: str,
    dataset: str,
    store: TeacherStore,
    data_root: str | None = None,
    device: str = "auto",
    epochs: int | None = None,
    seed: int = 0,
    download: bool = False,
    on_epoch: Callable[[int, int, Evaluation], None] | None = None,
    overrides: dict[str, Any] | None = None,
    budget: str | None = None,
) -> dict[str, Any]:
    """Train a model with its dataset's recipe (at a named budget, with overrides and epochs) and keep it, with its
    record, in the teacher store. The record holds the recipe that ran, schedule included, and names the budget and
    overrides only when some were given, so a teacher of the full recipe keeps the record it always had."""
    spec = get_spec(dataset)
    recipe = recipe_for(dataset, epochs, overrides, budget)
    seed_everything(seed)
    model = create_model(model_name, spec.num_classes, spec.in_channels).to(resolve_device(device))
    train_set = load_dataset(dataset, "train", data_root, download)
    test_set = load_dataset(dataset, "test", data_root, download)
    callback = (lambda e, r: on_epoch(e, recipe.epochs, r)) if on_epoch else None
    result, seconds = train_supervised(model, train_set, test_set, recipe, callback)
    return store.save(
        dataset,
        model_name,
        model.cpu(),
        {
            "source": "trained by dfkd-bench",
            "recipe": dataclasses.asdict(recipe),
            **({"budget": budget} if budget is not None else {}),
            **({"overrides": overrides} if overrides else {}),
            "seed": seed,
            **score_record(result),
            "train_seconds": round(seconds, 2),
            "device": device_name(next(model.parameters()).device),
        },
    )


def score_record(result: EvalResult | SegEvalResult) -> dict[str, Any]:
    """A teacher record's test numbers: `metric` names the headline; a segmenter has no top-1 (None)."""
    if isinstance(result, SegEvalResult):
        return {
            "metric": "miou",
            "test_miou": result.miou,
            "test_pixel_acc": result.pixel_acc,
            "per_class_iou": result.per_class_iou,
            "test_top1": None,
        }
    return {
        "metric": "top1",
        "test_top1": result.top1,
        "test_top5": result.top5,
        "per_class_top1": result.per_class_top1,
    }


def import_teacher(
    store: TeacherStore,
    file: Path,
    model_name: str,
    dataset: str,
    data_root: str | None = None,
    device: str = "cpu",
    download: bool = False,
) -> dict[str, Any]:
    """Take a reference checkpoint (`{'state_dict': ...}` or a bare state dict), check keys, measure it on the
    test split and keep it, with its record, in the store."""
    spec = get_spec(dataset)
    model = create_model(model_name, spec.num_classes, spec.in_channels)
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise BadInput(f"checkpoint file not found: {file}") from err
    except Exception as err:
        raise BadInput(f"cannot read {file} as a weights-only torch checkpoint: {err}") from err
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise BadInput(f"{file} holds no state dict (expected a dict with key 'state_dict')")
    check_state_dict(model, state, str(file), model_name)
    model.load_state_dict(state, strict=True)
    model.to(device)
    test = load_dataset(dataset, "test", data_root, download)
    batch_size = 16 if task_of(dataset) == "segmentation" else 1024
    result = evaluate_split(model, test, batch_size)
    return store.save(
        dataset,
        model_name,
        model.cpu(),
        {"source": f"imported from {file}", "recipe": None, **score_record(result)},
    )


def check_state_dict(model: nn.Module, state: dict[str, Any], where: str, model_name: str) -> None:
    """One-line error naming missing, unexpected or mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = sorted(
        k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(getattr(state[k], "shape", ()))
    )
    if missing or extra or shapes:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", shapes)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise BadInput(f"{where} does not match model '{model_name}': {'; '.join(parts)}")
