"""The methods catalog (algorithms and their class-level facts read from source, without importing torch) agrees
with the imported classes, and its parser follows bases across modules the way Python does."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfkd_bench.errors import BadInput
from dfkd_bench.methods import METHODS
from dfkd_bench.methods_catalog import FACTS, algorithm_facts, algorithms, scan


def test_the_catalog_names_every_registered_algorithm():
    assert list(algorithms()) == METHODS.names()


@pytest.mark.parametrize("name", METHODS.names())
def test_the_catalog_facts_are_the_class_attributes(name: str):
    cls, facts = METHODS.get(name), algorithm_facts(name)
    assert (facts.module, facts.class_name) == (cls.__module__, cls.__qualname__)
    assert {fact: getattr(facts, fact) for fact in FACTS} == {fact: getattr(cls, fact) for fact in FACTS}


def test_an_unknown_algorithm_names_the_choices():
    with pytest.raises(BadInput, match="unknown algorithm 'ssdk' \\(did you mean ssdkd"):
        algorithm_facts("ssdk")


BASE = """
import abc
from typing import ClassVar


class Registry:
    def register(self, name):
        return lambda cls: cls


METHODS = Registry()


class Method(abc.ABC):
    data_free: ClassVar[bool] = True
    uses_teacher: ClassVar[bool] = True
    has_data_scale: ClassVar[bool] = True
    supports_segmentation: ClassVar[bool] = False
"""

POOL = """
from toy.base import Method


class Pool(Method):
    has_data_scale = True
    supports_segmentation = True
"""

METHODS_A = """
from toy import base
from toy.base import METHODS
from .pool import Pool as SharedPool


@METHODS.register("alpha")
class Alpha(SharedPool):
    data_free = False
    data_free = True  # the last assignment wins, as when the class body runs


@base.METHODS.register("beta")
class Beta(base.Method):
    uses_teacher = False
    has_data_scale = False


class Unregistered(Alpha):
    data_free = False
"""

INIT = """
from toy.base import METHODS, Method
"""

METHODS_B = """
from toy import Method, METHODS


@METHODS.register("gamma")
class Gamma(Method):
    pass
"""


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "toy"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_facts_follow_bases_across_modules_aliases_and_reexports(tmp_path: Path):
    root = _package(
        tmp_path,
        {"__init__.py": INIT, "base.py": BASE, "pool.py": POOL, "a.py": METHODS_A, "b.py": METHODS_B},
    )
    found = scan(root, "toy")
    assert list(found) == ["alpha", "beta", "gamma"]
    facts = {name: tuple(getattr(f, fact) for fact in FACTS) for name, f in found.items()}
    # FACTS order: data_free, uses_teacher, has_data_scale, supports_segmentation
    assert facts == {
        "alpha": (True, True, True, True),
        "beta": (True, False, False, False),
        "gamma": (True, True, True, False),
    }
    assert (found["alpha"].module, found["alpha"].class_name) == ("toy.a", "Alpha")


def test_a_fact_that_is_not_a_literal_is_an_error_not_a_guess(tmp_path: Path):
    computed = METHODS_B + "\n\n@METHODS.register('delta')\nclass Delta(Gamma):\n    data_free = not Gamma.data_free\n"
    root = _package(tmp_path, {"__init__.py": INIT, "base.py": BASE, "b.py": computed})
    with pytest.raises(ValueError, match="Delta.data_free is not a literal"):
        scan(root, "toy")


def test_a_class_whose_bases_leave_a_fact_unset_is_an_error(tmp_path: Path):
    orphan = "from toy.base import METHODS\n\n\n@METHODS.register('orphan')\nclass Orphan:\n    data_free = True\n"
    root = _package(tmp_path, {"__init__.py": INIT, "base.py": BASE, "c.py": orphan})
    with pytest.raises(ValueError, match="neither Orphan nor its package bases set uses_teacher, has_data_scale"):
        scan(root, "toy")


def test_an_algorithm_registered_twice_is_an_error(tmp_path: Path):
    root = _package(tmp_path, {"__init__.py": INIT, "base.py": BASE, "b.py": METHODS_B, "d.py": METHODS_B})
    with pytest.raises(ValueError, match="'gamma' is registered twice"):
        scan(root, "toy")
