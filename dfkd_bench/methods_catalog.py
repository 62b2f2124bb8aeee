"""The registered algorithms and the class-level facts that cards and listings need (data-free or not, whether it
uses a teacher, has a data scale, has a dense version), read from the method modules' source instead of imported.

Importing any module of `dfkd_bench.methods` runs the package's __init__, which imports every method and with them
torch: seconds, for `list methods` or `list presets` that only print cards. So the modules are parsed with `ast`:
each class decorated `@METHODS.register("name")` is an algorithm, and each fact is its class attribute looked up
through its bases inside the package, down to `Method`'s defaults, as Python would. A fact must be a literal
(`data_free = False`); anything else is an error here rather than a guess. tests/test_methods_catalog.py compares
every fact with the imported class, so the catalog cannot drift from the code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dfkd_bench.errors import unknown

PACKAGE = "dfkd_bench.methods"
FACTS = ("data_free", "uses_teacher", "has_data_scale", "supports_segmentation")
REGISTER = "METHODS.register"


@dataclass(frozen=True)
class AlgorithmFacts:
    """One registered algorithm as its source declares it: where its class lives and its class-level facts."""

    name: str
    module: str
    class_name: str
    data_free: bool
    uses_teacher: bool
    has_data_scale: bool
    supports_segmentation: bool


@dataclass(frozen=True)
class _Module:
    """A parsed module: its top-level classes and what each top-level import binds (local name -> dotted name)."""

    name: str
    path: Path
    classes: dict[str, ast.ClassDef]
    imports: dict[str, str]


ClassRef = tuple[str, str]  # (module, class name)


def _dotted(node: ast.expr) -> str | None:
    """`Fast` or `fast.Fast` as text; None for any other expression (a call, a subscript)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value)
        return f"{owner}.{node.attr}" if owner else None
    return None


def _imports(tree: ast.Module, package: str) -> dict[str, str]:
    """The names the module's top-level imports bind, relative imports made absolute against `package`."""
    bound: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    bound[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{base}.{alias.name}"
    return bound


def _parse(directory: Path, package: str) -> dict[str, _Module]:
    """Every module under `directory` (subpackages included), keyed by its dotted name."""
    modules: dict[str, _Module] = {}
    for path in sorted(directory.rglob("*.py")):
        parts = [package, *path.relative_to(directory).with_suffix("").parts]
        is_init = parts[-1] == "__init__"
        if is_init:
            parts.pop()
        name = ".".join(parts)
        tree = ast.parse(path.read_text(), filename=str(path))
        classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        modules[name] = _Module(name, path, classes, _imports(tree, name if is_init else name.rpartition(".")[0]))
    return modules


def _lookup(modules: dict[str, _Module], dotted: str, seen: frozenset[str] = frozenset()) -> ClassRef | None:
    """The package class a dotted name means, following re-exports (`from dfkd_bench.methods import Method`); None
    for a name outside the package (abc.ABC, nn.Module), which declares none of the facts."""
    owner, _, name = dotted.rpartition(".")
    if owner not in modules or dotted in seen:
        return None
    module = modules[owner]
    if name in module.classes:
        return owner, name
    target = module.imports.get(name)
    return _lookup(modules, target, seen | {dotted}) if target else None


def _resolve(modules: dict[str, _Module], module: str, node: ast.expr) -> ClassRef | None:
    """The package class a base-class expression written in `module` names (defined there or imported)."""
    dotted = _dotted(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    if not rest and head in modules[module].classes:
        return module, head
    target = modules[module].imports.get(head)
    if target is None:
        return None
    return _lookup(modules, f"{target}.{rest}" if rest else target)


def _own_value(module: _Module, cls: ast.ClassDef, fact: str) -> bool | None:
    """`fact` as the class body itself sets it (`x = v` or `x: ClassVar[bool] = v`, the last one winning, as when
    Python runs the body); None when the body does not set it."""
    for node in reversed(cls.body):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == fact for t in node.targets):
            value: ast.expr | None = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == fact:
            value = node.value
        else:
            continue
        where = f"{module.path}:{node.lineno}: {cls.name}.{fact}"
        try:
            literal = ast.literal_eval(value) if value is not None else None
        except (ValueError, TypeError, SyntaxError) as err:
            raise ValueError(f"{where} is not a literal; the methods catalog reads it without importing") from err
        if not isinstance(literal, bool):
            raise ValueError(f"{where} must be True or False, got {literal!r}")
        return literal
    return None


def _fact(modules: dict[str, _Module], ref: ClassRef, fact: str) -> bool | None:
    """A class attribute: the class's own assignment, else its bases' (left to right); None if none sets it."""
    module = modules[ref[0]]
    cls = module.classes[ref[1]]
    value = _own_value(module, cls, fact)
    for base in cls.bases:
        if value is not None:
            break
        base_ref = _resolve(modules, module.name, base)
        value = _fact(modules, base_ref, fact) if base_ref is not None else None
    return value


def _registered_name(cls: ast.ClassDef) -> str | None:
    """'ssdkd' for a class decorated `@METHODS.register("ssdkd")`; None for any other class."""
    for decorator in cls.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        func = _dotted(decorator.func) or ""
        if func == REGISTER or func.endswith(f".{REGISTER}"):
            first = decorator.args[0] if decorator.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
            raise ValueError(f"{cls.name}: {REGISTER} needs the algorithm's name as a string literal")
    return None


def scan(directory: Path, package: str = PACKAGE) -> dict[str, AlgorithmFacts]:
    """Every algorithm registered in the package at `directory`, by name (sorted), with its facts."""
    modules = _parse(directory, package)
    found: dict[str, AlgorithmFacts] = {}
    for module in modules.values():
        for cls in module.classes.values():
            name = _registered_name(cls)
            if name is None:
                continue
            if name in found:
                raise ValueError(f"algorithm '{name}' is registered twice ({found[name].module}, {module.name})")
            facts = {fact: _fact(modules, (module.name, cls.name), fact) for fact in FACTS}
            unset = [fact for fact, value in facts.items() if value is None]
            if unset:
                raise ValueError(f"{module.path}: neither {cls.name} nor its package bases set {', '.join(unset)}")
            found[name] = AlgorithmFacts(name, module.name, cls.name, **facts)
    return dict(sorted(found.items()))


@cache
def algorithms() -> dict[str, AlgorithmFacts]:
    """The algorithms of this installation's `dfkd_bench.methods`, parsed once per process."""
    return scan(Path(__file__).resolve().parent / "methods")


def algorithm_facts(name: str) -> AlgorithmFacts:
    """One algorithm's facts; the same 'unknown algorithm' error as the METHODS registry for a name it lacks."""
    known = algorithms()
    if name not in known:
        raise unknown("algorithm", name, known)
    return known[name]
