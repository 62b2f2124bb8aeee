"""The package's shape: no import cycle between its modules or its subpackages, no module named like the standard
library. Read from the source with ast, so lazy imports inside functions count too."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dfkd_bench"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(path: Path, package: str) -> Iterator[str]:
    """Every dfkd_bench name a module imports, absolute or relative, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph(group: int | None) -> dict[str, set[str]]:
    """Module -> modules it imports; with `group`, names cut to that many dotted parts (dfkd_bench.engine, ...)."""
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    def cut(name: str) -> str:
        return name if group is None else ".".join(name.split(".")[:group])

    graph: dict[str, set[str]] = {cut(m): set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for imported in _imported(path, package):
            target = owner(imported) if imported.startswith("dfkd_bench") else None
            if target is not None and cut(target) != cut(name):
                graph[cut(name)].add(cut(target))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("group", [None, 2], ids=["modules", "subpackages"])
def test_no_import_cycle(group: int | None):
    assert _cycles(_graph(group)) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_named_like_the_standard_library():
    clashes = sorted(name for name in _modules() if name.rpartition(".")[2] in sys.stdlib_module_names)
    assert clashes == []


IMPORT_NAMES = {"pillow": "PIL", "pyyaml": "yaml"}  # distributions whose import name differs


def test_dependencies_are_exactly_what_the_package_imports():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    declared = {IMPORT_NAMES.get(n, n) for n in (_distribution(d) for d in project["dependencies"])}
    optional = {_distribution(d) for extra in project["optional-dependencies"].values() for d in extra}
    top_levels = {name.split(".")[0] for module, path in _modules().items() for name in _imported(path, module)}
    imported = top_levels - {"dfkd_bench"} - set(sys.stdlib_module_names)
    assert sorted(imported - declared - optional) == [], "imported but not declared"
    assert sorted(declared - imported) == [], "declared but never imported"


def _distribution(requirement: str) -> str:
    """'torch>=2.1' -> 'torch'."""
    for mark in "<>=!~[; ":
        requirement = requirement.split(mark)[0]
    return requirement.strip().lower()
