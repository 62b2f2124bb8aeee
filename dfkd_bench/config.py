"""Method cards (YAML presets) and config resolution.

Precedence: code defaults < card < card's dataset block < card's pair block < grid overrides < --set k=v.
Unknown keys are errors; the resolved config is saved and hashed in every run directory.

Cards inherit instead of copying, so that a value shared by several presets is written (and corrected) once:
- a card may say `extends: other` (a variant or ablation: the other card deep-merged with its own keys);
- a card file whose name starts with `_` (e.g. `_fast.yaml`) is abstract: it only serves `extends:`, holding what
  a family of cards shares, and is never a method (not listed, not selectable, not runnable);
- a card's `extra_deviations` are appended to the deviations it inherits (its own `deviations` replace them);
- a dataset block may say `extends: other_block` (e.g. fashion_mnist on mnist's CPU budget): the named block of
  the same card deep-merged with its own keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dfkd_bench.datasets_catalog import task_of
from dfkd_bench.errors import BadInput, unknown
from dfkd_bench.methods_catalog import algorithm_facts
from dfkd_bench.train_config import TrainConfig
from dfkd_bench.validation import validate_section, validate_train

if TYPE_CHECKING:
    from dfkd_bench.methods import Method

CARD_KEYS = {
    "name",
    "algorithm",
    "paper",
    "reference",
    "summary",
    "train",
    "method",
    "datasets",
    "pairs",
    "deviations",
    "default_run",
    "label",
    "tables",
    "segmentation",
    "external_prior",
}
REQUIRED_KEYS = {"name", "algorithm", "paper", "reference", "summary", "deviations"}
# Keys that say where a card's values come from; they are consumed while loading and never reach a Card.
INHERIT_KEYS = {"extends", "extra_deviations"}
BLOCK_KEYS = {"source", "train", "method", "pairs", "budgets"}
# The paper's tables a card can place itself in (`tables: {table2: 9}`: row 9 of Table 2); the report and the
# table presets list a table's methods from the cards. An inherited entry set to null is removed.
PAPER_TABLES = ("table1", "table2", "table3", "table4")
# A card file named `_*.yaml` is abstract: a parent for `extends:` only. No method name starts with `_`, and the
# file name alone says it, so `ls methods/` shows which files are methods.
ABSTRACT_PREFIX = "_"


@dataclass(frozen=True)
class Card:
    """One user-visible method: an algorithm plus its presets, provenance and documented deviations."""

    name: str
    algorithm: str
    paper: str
    reference: str
    summary: str
    train: dict[str, Any] = field(default_factory=dict)
    method: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    pairs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deviations: list[str] = field(default_factory=list)
    default_run: bool = True
    label: str | None = None
    tables: dict[str, int] = field(default_factory=dict)
    segmentation: bool = False
    # Outside knowledge the method brings beyond teacher and student (NAYER's "text encoder"); reports tag its rows.
    external_prior: str | None = None

    @property
    def method_class(self) -> type[Method]:
        """The registered Method subclass this card configures. Imported here, not with this module: importing the
        methods imports torch, which listing or checking cards does not need (they read the methods catalog)."""
        from dfkd_bench.methods import METHODS

        return METHODS.get(self.algorithm)

    @property
    def data_free(self) -> bool:
        return algorithm_facts(self.algorithm).data_free

    @property
    def display_name(self) -> str:
        """How tables, figures and claims name the method ('SSD-KD'); the card name when it gives no label."""
        return self.label or self.name

    @property
    def supports_segmentation(self) -> bool:
        """A card runs on NYUv2 only when it says so (`segmentation: true`, a claim the segmentation tests run
        for every such card) and its algorithm has a dense version."""
        return self.segmentation and algorithm_facts(self.algorithm).supports_segmentation


def cards_dir() -> Path:
    """`$DFKD_BENCH_CARDS`, else the repository's top-level `methods/`."""
    env = os.environ.get("DFKD_BENCH_CARDS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "methods"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise BadInput(f"{path}: not valid YAML ({' '.join(str(err).split())})") from err


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Nested dicts merge key by key; any other value (lists included) is replaced."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _expand(raws: dict[str, dict[str, Any]], name: str, chain: tuple[str, ...] = ()) -> dict[str, Any]:
    """A card with `extends: parent` is the parent card deep-merged with its own keys (variants, ablations, and
    the members of a family that share an abstract `_` card).

    Lists are replaced, so a card that gives `deviations` replaces the inherited ones; `extra_deviations` appends
    to them instead, so that a card adding one deviation to its family's does not copy the others."""
    raw = raws[name]
    parent = raw.get("extends")
    own = {k: v for k, v in raw.items() if k not in INHERIT_KEYS}
    merged = own
    if parent is not None:
        if parent not in raws or parent in chain:
            raise BadInput(
                f"card {name}: extends unknown or circular card '{parent}'; cards: {', '.join(sorted(raws))}"
            )
        merged = _deep_merge(_expand(raws, parent, (*chain, name)), own)
    extra = raw.get("extra_deviations")
    if extra is not None:
        if not isinstance(extra, list):
            raise BadInput(f"card {name}: extra_deviations must be a list of texts, got {type(extra).__name__}")
        merged["deviations"] = [*(merged.get("deviations") or []), *extra]
    return merged


def _expand_block(path: Path, blocks: dict[str, Any], name: str, chain: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataset block with `extends: other` is the card's block `other` deep-merged with its own keys.

    Blocks are expanded after the card's own `extends`, so the named block is the one this card ends up with: a
    variant that changes its mnist block changes a fashion_mnist block that extends mnist the same way."""
    block = blocks[name] or {}
    parent = block.get("extends")
    own = {k: v for k, v in block.items() if k != "extends"}
    if parent is None:
        return own
    if parent not in blocks or parent == name or parent in chain:
        raise BadInput(
            f"{path}: dataset block '{name}' extends unknown or circular block '{parent}'; "
            f"blocks: {', '.join(sorted(blocks))}"
        )
    return _deep_merge(_expand_block(path, blocks, parent, (*chain, name)), own)


def _check_abstract(path: Path, raw: dict[str, Any]) -> None:
    """An abstract card is a partial card (any card key but a name, which each card extending it gives)."""
    extra = sorted(set(raw) - (CARD_KEYS | INHERIT_KEYS))
    if extra:
        raise BadInput(f"{path}: unknown card key(s) {', '.join(extra)}; valid: {', '.join(sorted(CARD_KEYS))}")
    if "name" in raw:
        raise BadInput(f"{path}: an abstract card ('{ABSTRACT_PREFIX}' file) has no name; cards extending it do")


def _parse_card(path: Path, raw: dict[str, Any]) -> Card:
    extra = sorted(set(raw) - CARD_KEYS)
    if extra:
        raise BadInput(f"{path}: unknown card key(s) {', '.join(extra)}; valid: {', '.join(sorted(CARD_KEYS))}")
    missing = sorted(REQUIRED_KEYS - set(raw))
    if missing:
        raise BadInput(f"{path}: missing card key(s) {', '.join(missing)}")
    if raw.get("name") != path.stem:
        raise BadInput(f"{path}: card name '{raw.get('name')}' must equal the file name '{path.stem}'")
    blocks = raw.get("datasets") or {}
    datasets = {block_name: _expand_block(path, blocks, block_name) for block_name in blocks}
    for block_name, block in datasets.items():
        bad = sorted(set(block) - BLOCK_KEYS)
        if bad:
            raise BadInput(f"{path}: unknown key(s) {', '.join(bad)} in dataset block '{block_name}'")
    algorithm_facts(raw.get("algorithm", ""))
    values = {**raw, "datasets": datasets} if "datasets" in raw else dict(raw)
    if "tables" in values:
        values["tables"] = _tables(path, values["tables"])
    return Card(**{k: values[k] for k in values if values[k] is not None})


def _tables(path: Path, tables: Any) -> dict[str, int]:
    """The card's rows in the paper's tables, checked: known tables, positive row numbers; null entries dropped."""
    if not isinstance(tables, dict):
        raise BadInput(f"{path}: 'tables' must map a paper table ({', '.join(PAPER_TABLES)}) to a row number")
    for table, row in tables.items():
        if table not in PAPER_TABLES:
            raise unknown(f"paper table in {path}", table, PAPER_TABLES)
        if row is not None and (isinstance(row, bool) or not isinstance(row, int) or row < 1):
            raise BadInput(f"{path}: row {row!r} of {table} must be a positive integer (or null to drop it)")
    return {table: row for table, row in tables.items() if row is not None}


@cache
def _load_cards(directory: Path) -> dict[str, Card]:
    """Every card of the directory; abstract (`_`) files are read only as parents for `extends:`."""
    if not directory.is_dir():
        raise BadInput(f"no method cards: {directory} is not a directory (set DFKD_BENCH_CARDS)")
    paths = {p.stem: p for p in sorted(directory.glob("*.yaml"))}
    raws = {name: _read_yaml(path) for name, path in paths.items()}
    for name, path in paths.items():
        if name.startswith(ABSTRACT_PREFIX):
            _check_abstract(path, raws[name])
    return {
        name: _parse_card(path, _expand(raws, name))
        for name, path in paths.items()
        if not name.startswith(ABSTRACT_PREFIX)
    }


def all_cards() -> dict[str, Card]:
    return _load_cards(cards_dir())


def table_cards(table: str) -> list[str]:
    """The cards that place themselves in one of the paper's tables, in their row order."""
    rows = {name: card.tables[table] for name, card in all_cards().items() if table in card.tables}
    return sorted(rows, key=lambda name: (rows[name], name))


def ablation_cards() -> list[str]:
    """Table 4's ablation rows, every row but the full SSD-KD, in row order."""
    return [name for name in table_cards("table4") if name != "ssdkd"]


def get_card(name: str) -> Card:
    cards = all_cards()
    if name not in cards:
        raise unknown("method", name, cards)
    return cards[name]


def require_task_support(card: Card, dataset: str) -> None:
    """Refuse a method that does not claim segmentation (or whose algorithm has no dense version) on a segmentation
    data set."""
    if task_of(dataset) != "segmentation" or card.supports_segmentation:
        return
    able = [name for name, c in all_cards().items() if c.supports_segmentation]
    raise BadInput(f"method {card.name} does not support {dataset} (segmentation); methods that do: {', '.join(able)}")


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """`--set train.lr=0.2 method.g_steps=5` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"--set expects key=value (e.g. train.lr=0.2), got '{item}'")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _section_fields(card: Card) -> dict[str, set[str]]:
    params_cls = card.method_class.Params
    return {
        "train": {f.name for f in dataclasses.fields(TrainConfig)},
        "method": {f.name for f in dataclasses.fields(params_cls)},
    }


def apply_updates(
    target: dict[str, dict[str, Any]],
    updates: dict[str, Any],
    fields: dict[str, set[str]],
    where: str,
    sources: dict[str, str] | None = None,
) -> None:
    """Merge `section.key` or bare `key` updates; a bare key must name exactly one section's field. Public because
    `train`'s recipes take budgets and `--set` by the same rule and with the same errors as the cards. `sources`,
    when given, records which layer set each key last (what `show method` prints)."""
    for key, value in updates.items():
        section, dot, name = key.rpartition(".")
        if not dot:
            owners = [s for s, names in fields.items() if name in names]
            if len(owners) != 1:
                valid = sorted(f"{s}.{n}" for s, names in fields.items() for n in names)
                raise BadInput(f"unknown config key '{key}' in {where}; valid keys: {', '.join(valid)}")
            section = owners[0]
        if section not in fields or name not in fields[section]:
            valid = sorted(f"{s}.{n}" for s, names in fields.items() for n in names)
            raise BadInput(f"unknown config key '{key}' in {where}; valid keys: {', '.join(valid)}")
        target[section][name] = value
        if sources is not None:
            sources[f"{section}.{name}"] = where


def _block_updates(block: dict[str, Any]) -> dict[str, Any]:
    return {f"{s}.{k}": v for s in ("train", "method") for k, v in (block.get(s) or {}).items()}


def resolve(
    card: Card,
    dataset: str,
    pair: str,
    overrides: dict[str, Any] | None = None,
    budget: str | None = None,
    sources: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The full config of one run: {'train': {...}, 'method': {...}} with every field present; `sources`, when
    given, gets the layer each value comes from (code default, card, dataset block, pair block, budget, --set).

    A named `budget` (e.g. 'quick', the no-argument run's) is a dataset block's smaller preset, applied after the
    pair blocks and before the overrides."""
    fields = _section_fields(card)
    params_cls = card.method_class.Params
    cfg = {
        "train": dataclasses.asdict(TrainConfig()),
        "method": dataclasses.asdict(params_cls()),
    }
    if sources is not None:
        sources.update({f"{s}.{k}": "code default" for s in cfg for k in cfg[s]})
    layer = f"card {card.name} (with what it extends)"
    apply_updates(cfg, _block_updates({"train": card.train, "method": card.method}), fields, layer, sources)
    ds_block = card.datasets.get(dataset, {})
    apply_updates(cfg, _block_updates(ds_block), fields, f"card {card.name} dataset {dataset}", sources)
    for pair_block in (card.pairs.get(pair), (ds_block.get("pairs") or {}).get(pair)):
        if pair_block:
            apply_updates(cfg, _block_updates(pair_block), fields, f"card {card.name} pair {pair}", sources)
    if budget is not None:
        budgets = ds_block.get("budgets") or {}
        if budget not in budgets:
            raise unknown(f"budget for card {card.name} on {dataset}", budget, budgets)
        apply_updates(cfg, _block_updates(budgets[budget]), fields, f"card {card.name} budget {budget}", sources)
    apply_updates(cfg, overrides or {}, fields, "overrides (--set, --scales)", sources)
    where = f"{card.name} on {dataset}/{pair}"
    cfg["train"] = validate_section(TrainConfig, cfg["train"], "train", where)
    cfg["method"] = validate_section(params_cls, cfg["method"], "method", where)
    validate_train(cfg["train"], where)
    try:
        TrainConfig(**cfg["train"])
        params_cls(**cfg["method"])
    except ValueError as err:
        raise BadInput(f"card {card.name} on {dataset}/{pair}: {err}") from err
    return cfg


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def config_hash(config: dict[str, Any]) -> str:
    """Stable short hash of a resolved config; a changed hash means a different experiment.

    Keys set to None are left out, so a new optional key (default None) does not orphan existing runs."""
    blob = json.dumps(_without_none(config), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
