"""One validation layer for a resolved cell: every `train` and `method` value gets its declared type and a valid
range before anything is written, so a bad `--set` or card value is a one-line error (and `--dry-run` shows it).

Types come from the dataclasses (`TrainConfig`, each algorithm's `Params`). Numbers are read whatever their
notation: YAML 1.1 reads `5e-3` (no dot) as a string, which used to reach Adam as `'5e-3'`. An integral float is
accepted for an integer field (`2.0` -> 2) but `1.5` is refused, and a value of the right type is returned as it
came, so a config that was valid before keeps its hash.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from dfkd_bench.errors import BadInput

# Counts, sizes, learning rates and temperatures that must be strictly positive; every other number must be >= 0.
POSITIVE = {
    "epochs",
    "ep_steps",
    "kd_steps",
    "kd_passes",
    "batch_size",
    "synthesis_batch_size",
    "eval_batch_size",
    "data_scale",
    "image_size",
    "lr",
    "T",
    "g_steps",
    "lr_g",
    "lr_z",
    "nz",
    "ngf",
    "bank_size",
    "n_neg",
    "head_dim",
    "eps",
    "cr_T",
    "adv_T",
}
# Momenta and shares that live in [0, 1].
UNIT_INTERVAL = {"momentum", "bn_mmt", "fraction"}


def _bad(where: str, key: str, value: Any, expected: str) -> BadInput:
    return BadInput(f"{where}: {key} = {value!r} is not {expected}")


def _number(value: Any) -> float | None:
    """A real number from an int, a float or a numeric string (any notation); None otherwise (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _coerce(kind: Any, value: Any, key: str, where: str) -> Any:
    """`value` as the annotated `kind`; a value already of that kind comes back unchanged."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key, where)
    if kind is bool:
        if not isinstance(value, bool):
            raise _bad(where, key, value, "true or false")
        return value
    if kind is int:
        number = _number(value)
        if number is None or not math.isfinite(number) or number != int(number):
            raise _bad(where, key, value, "an integer")
        return value if isinstance(value, int) and not isinstance(value, bool) else int(number)
    if kind is float:
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise _bad(where, key, value, "a finite number")
        return value if isinstance(value, int | float) else number
    if kind is str:
        if not isinstance(value, str):
            raise _bad(where, key, value, "a string")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise _bad(where, key, value, "a list")
        return value
    return value


def _check_range(name: str, key: str, value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if name in POSITIVE and not value > 0:
        raise _bad(where, key, value, "positive")
    if name in UNIT_INTERVAL and not 0 <= value <= 1:
        raise _bad(where, key, value, "between 0 and 1")
    if value < 0:
        raise _bad(where, key, value, "non-negative")


def validate_section(cls: type, values: dict[str, Any], section: str, where: str) -> dict[str, Any]:
    """The section's values coerced to `cls`'s field types and range-checked; BadInput names the first bad one."""
    hints = typing.get_type_hints(cls)
    checked = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        key = f"{section}.{f.name}"
        value = _coerce(hints[f.name], values[f.name], key, where)
        _check_range(f.name, key, value, where)
        checked[f.name] = value
    return {**values, **checked}


def validate_train(train: dict[str, Any], where: str) -> None:
    """Rules between train fields: at least one epoch of KD after the warm-up."""
    if train["warmup"] >= train["epochs"]:
        raise BadInput(
            f"{where}: train.warmup = {train['warmup']} leaves no KD epoch (train.epochs = {train['epochs']}); "
            "warm-up must be smaller than epochs"
        )
