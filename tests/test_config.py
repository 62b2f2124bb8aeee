"""Card loading and config precedence: defaults < card < dataset block < pair block < overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dfkd_bench.config import _load_cards, all_cards, config_hash, get_card, parse_assignments, resolve
from dfkd_bench.errors import BadInput
from dfkd_bench.methods import METHODS
from dfkd_bench.pairs import CIFAR_PAIRS, MNIST_PAIRS

CARD = """
name: toy
algorithm: deepinv
summary: test card
paper: 'none'
reference: none
train: {epochs: 50, lr: 0.2}
method: {g_steps: 100, bn: 5}
datasets:
  mnist:
    source: test
    train: {epochs: 3}
    method: {g_steps: 10}
    pairs:
      lenet5_bn-lenet5_half_bn: {method: {oh: 0.25}}
pairs:
  lenet5_bn-lenet5_half_bn: {method: {adv: 0.5, oh: 0.75}}
deviations: [none]
"""


@pytest.fixture
def toy_cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "toy.yaml").write_text(CARD)
    monkeypatch.setenv("DFKD_BENCH_CARDS", str(tmp_path))
    _load_cards.cache_clear()
    yield tmp_path
    _load_cards.cache_clear()


def test_precedence(toy_cards: Path):
    card = get_card("toy")
    cfg = resolve(card, "mnist", "lenet5_bn-lenet5_half_bn", {"train.lr": 0.01, "bn": 7})
    assert cfg["train"]["epochs"] == 3  # dataset block beats card
    assert cfg["train"]["lr"] == 0.01  # override beats card
    assert cfg["train"]["kd_steps"] == 400  # code default
    assert cfg["method"]["g_steps"] == 10
    assert cfg["method"]["adv"] == 0.5  # top-level pair block
    assert cfg["method"]["oh"] == 0.25  # dataset's pair block beats the top-level pair block
    assert cfg["method"]["bn"] == 7  # bare key resolved to its only section
    other = resolve(card, "cifar10", "wrn40_2-wrn16_1")
    assert other["train"]["epochs"] == 50 and other["method"]["g_steps"] == 100 and other["method"]["adv"] == 1.0


def test_unknown_keys_are_errors_naming_valid_keys(toy_cards: Path):
    card = get_card("toy")
    with pytest.raises(BadInput, match="unknown config key 'train.nope'.*train.lr"):
        resolve(card, "mnist", "lenet5-lenet5_half", {"train.nope": 1})
    (toy_cards / "bad.yaml").write_text(CARD.replace("name: toy", "name: bad").replace("bn: 5", "g_step: 1"))
    _load_cards.cache_clear()
    with pytest.raises(BadInput, match="g_step"):
        resolve(get_card("bad"), "mnist", "lenet5-lenet5_half")


def test_card_file_must_be_valid(toy_cards: Path):
    (toy_cards / "broken.yaml").write_text("name: broken\nalgorithm: nosuch\n")
    _load_cards.cache_clear()
    with pytest.raises(BadInput, match="missing card key"):
        all_cards()
    (toy_cards / "broken.yaml").write_text(CARD.replace("name: toy", "name: broken").replace("deepinv", "nosuch"))
    _load_cards.cache_clear()
    with pytest.raises(BadInput, match="unknown algorithm 'nosuch'"):
        all_cards()
    (toy_cards / "broken.yaml").write_text("name: [unclosed\n")
    _load_cards.cache_clear()
    with pytest.raises(BadInput, match="not valid YAML"):
        all_cards()


def test_unknown_method_names_choices(toy_cards: Path):
    with pytest.raises(BadInput, match="unknown method 'zzz'; valid choices: toy"):
        get_card("zzz")


def test_hash_changes_with_any_value(toy_cards: Path):
    card = get_card("toy")
    a = resolve(card, "mnist", "lenet5-lenet5_half")
    b = resolve(card, "mnist", "lenet5-lenet5_half", {"train.lr": 0.3})
    assert config_hash(a) == config_hash(resolve(card, "mnist", "lenet5-lenet5_half"))
    assert config_hash(a) != config_hash(b)


def test_parse_assignments():
    assert parse_assignments(["train.lr=0.2", "method.store_uint8=true", "x=abc"]) == {
        "train.lr": 0.2,
        "method.store_uint8": True,
        "x": "abc",
    }
    with pytest.raises(BadInput, match="key=value"):
        parse_assignments(["novalue"])


@pytest.mark.parametrize("name", sorted(all_cards()))
def test_every_shipped_card_resolves_on_every_dataset_block(name: str):
    card = get_card(name)
    assert card.algorithm in METHODS
    assert card.paper and card.reference and card.summary and card.deviations
    for dataset in card.datasets or {"mnist": {}}:
        pair = "lenet5_bn-lenet5_half_bn" if "mnist" in dataset else "wrn40_2-wrn16_1"
        cfg = resolve(card, dataset, pair)
        assert set(cfg) == {"train", "method"}
    quick = resolve(card, "mnist", "lenet5_bn-lenet5_half_bn", budget="quick")  # the no-argument run needs it
    assert quick["train"]["epochs"] <= resolve(card, "mnist", "lenet5_bn-lenet5_half_bn")["train"]["epochs"]


def test_unknown_budget_names_the_cards_budgets(toy_cards: Path):
    with pytest.raises(BadInput, match="unknown budget for card toy on mnist 'huge'"):
        resolve(get_card("toy"), "mnist", "lenet5-lenet5_half", budget="huge")


def test_extends_deep_merges_a_parent_card(toy_cards: Path):
    (toy_cards / "child.yaml").write_text(
        "name: child\nextends: toy\nsummary: variant\nmethod: {bn: 9}\ndatasets: {mnist: {train: {lr: 0.5}}}\n"
    )
    _load_cards.cache_clear()
    child = get_card("child")
    assert child.summary == "variant" and child.paper == "none"
    cfg = resolve(child, "mnist", "lenet5_bn-lenet5_half_bn")
    assert cfg["method"]["bn"] == 9 and cfg["method"]["g_steps"] == 10  # own value; parent's dataset block kept
    assert cfg["train"]["lr"] == 0.5 and cfg["train"]["epochs"] == 3
    (toy_cards / "loop.yaml").write_text("name: loop\nextends: loop\n")
    _load_cards.cache_clear()
    with pytest.raises(BadInput, match="circular"):
        all_cards()


def test_a_new_optional_key_left_at_none_keeps_the_hash():
    card = get_card("deepinv")
    config = resolve(card, "mnist", "lenet5_bn-lenet5_half_bn")
    grown = {**config, "train": {**config["train"], "some_future_key": None}}
    assert config_hash(grown) == config_hash(config)
    assert config_hash({**config, "train": {**config["train"], "some_future_key": 1}}) != config_hash(config)


# Inheritance inside the cards: dataset blocks that extend a block, abstract family cards, appended deviations.


def _toy_with_blocks(blocks: str, card: str = CARD) -> str:
    """The toy card with more dataset blocks (YAML lines indented under `datasets:`) after its mnist block."""
    return card.replace("\npairs:\n", f"\n{blocks}pairs:\n")


def test_dataset_block_extends_deep_merges_the_named_block(toy_cards: Path):
    mnist_quick = "    method: {g_steps: 10}\n    budgets: {quick: {train: {epochs: 1, lr: 0.3}}}\n"
    fashion = (
        "  fashion_mnist:\n"
        "    extends: mnist\n"
        "    source: own\n"
        "    train: {lr: 0.01}\n"
        "    budgets: {quick: {train: {epochs: 2}}}\n"
    )
    (toy_cards / "toy.yaml").write_text(
        _toy_with_blocks(fashion, CARD.replace("    method: {g_steps: 10}\n", mnist_quick))
    )
    _load_cards.cache_clear()
    card = get_card("toy")
    block = card.datasets["fashion_mnist"]
    assert "extends" not in block and block["source"] == "own"  # its own key wins; the link itself is not kept
    assert block["train"] == {"epochs": 3, "lr": 0.01}  # nested dicts merge key by key
    pair = "lenet5_bn-lenet5_half_bn"
    fashion, mnist = resolve(card, "fashion_mnist", pair), resolve(card, "mnist", pair)
    assert fashion["train"]["lr"] == 0.01 and mnist["train"]["lr"] == 0.2
    assert fashion["method"] == mnist["method"] and fashion["method"]["oh"] == 0.25  # the block's pair value too
    quick = resolve(card, "fashion_mnist", pair, budget="quick")["train"]
    assert (quick["epochs"], quick["lr"]) == (2, 0.3)  # a budget merges as well: its own epochs, mnist's lr


def test_block_extends_sees_the_blocks_the_card_inherits(toy_cards: Path):
    """Blocks expand after the card's own `extends`: a variant's change to mnist reaches a block extending it."""
    (toy_cards / "toy.yaml").write_text(_toy_with_blocks("  fashion_mnist: {extends: mnist}\n"))
    (toy_cards / "child.yaml").write_text(
        "name: child\nextends: toy\nsummary: variant\ndatasets: {mnist: {train: {epochs: 7}}}\n"
    )
    _load_cards.cache_clear()
    assert resolve(get_card("child"), "fashion_mnist", "lenet5-lenet5_half")["train"]["epochs"] == 7
    assert resolve(get_card("toy"), "fashion_mnist", "lenet5-lenet5_half")["train"]["epochs"] == 3


@pytest.mark.parametrize(
    ("blocks", "bad", "valid"),
    [
        ("  fashion_mnist: {extends: nosuch}\n", "nosuch", "fashion_mnist, mnist"),
        ("  fashion_mnist: {extends: fashion_mnist}\n", "fashion_mnist", "fashion_mnist, mnist"),
        (
            "  cifar10: {extends: fashion_mnist}\n  fashion_mnist: {extends: cifar10}\n",
            "cifar10",
            "cifar10, fashion_mnist, mnist",
        ),
    ],
)
def test_unknown_or_circular_block_extends_is_one_line_naming_the_blocks(
    toy_cards: Path, blocks: str, bad: str, valid: str
):
    (toy_cards / "toy.yaml").write_text(_toy_with_blocks(blocks))
    _load_cards.cache_clear()
    with pytest.raises(BadInput) as caught:
        all_cards()
    message = str(caught.value)
    assert "\n" not in message
    assert f"extends unknown or circular block '{bad}'; blocks: {valid}" in message


FAMILY = """
algorithm: deepinv
paper: 'family paper'
reference: none
train: {epochs: 50}
method: {g_steps: 100}
deviations: [shared one, shared two]
"""


def test_an_abstract_card_is_a_parent_only(toy_cards: Path):
    from dfkd_bench.grid import select_methods

    (toy_cards / "_family.yaml").write_text(FAMILY)
    (toy_cards / "member.yaml").write_text(
        "name: member\nextends: _family\nsummary: one of the family\nmethod: {bn: 3}\nextra_deviations: [own]\n"
    )
    (toy_cards / "other.yaml").write_text("name: other\nextends: _family\nsummary: x\ndeviations: [only mine]\n")
    _load_cards.cache_clear()
    assert sorted(all_cards()) == ["member", "other", "toy"]
    assert select_methods(["all"]) == ["member", "other", "toy"]
    with pytest.raises(BadInput, match="unknown method '_family'; valid choices: member, other, toy"):
        get_card("_family")
    with pytest.raises(BadInput, match="unknown method '_\\*'"):
        select_methods(["_*"])
    member = get_card("member")
    assert member.paper == "family paper" and member.deviations == ["shared one", "shared two", "own"]
    assert resolve(member, "mnist", "lenet5-lenet5_half")["method"]["g_steps"] == 100
    assert get_card("other").deviations == ["only mine"]  # a card's own list replaces the family's


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (f"name: _family\n{FAMILY}", "an abstract card .* has no name"),
        (f"{FAMILY}summry: typo\n", "_family.yaml: unknown card key\\(s\\) summry"),
    ],
)
def test_an_abstract_card_is_checked_in_its_own_file(toy_cards: Path, text: str, error: str):
    (toy_cards / "_family.yaml").write_text(text)
    _load_cards.cache_clear()
    with pytest.raises(BadInput, match=error):
        all_cards()


def test_the_shipped_fast_family_card_is_not_a_method():
    from dfkd_bench.grid import select_methods

    assert "_fast" not in all_cards() and "_fast" not in select_methods(["all"])
    assert select_methods(["fast*"]) == ["fast10", "fast2", "fast5"]
    with pytest.raises(
        BadInput, match=r"unknown method '_fast' \(did you mean fast5 or fast2 or fast10\?\); valid choices: cmi, "
    ):
        get_card("_fast")
    fast2, fast5, fast10 = (get_card(n) for n in ("fast2", "fast5", "fast10"))
    assert fast2.deviations == fast5.deviations == fast10.deviations[:-1]  # fast10 appends its NYUv2 deviation
    assert fast10.deviations[-1].startswith("NYUv2") and list(fast10.datasets)[-1] == "nyuv2"
    assert "nyuv2" not in fast2.datasets and "nyuv2" not in fast5.datasets


@pytest.mark.parametrize("pair", CIFAR_PAIRS)
def test_fast_cards_and_ssdkd_share_fast_cifar_per_pair_weights(pair: str):
    weights = {
        name: tuple(resolve(get_card(name), dataset, pair)["method"][k] for k in ("adv", "oh"))
        for name in ("fast2", "fast5", "fast10", "ssdkd")
        for dataset in ("cifar10", "cifar100")
    }
    # fast_cifar.sh's per-pair lines; the WRN pairs' values are the card defaults.
    expected = {"resnet34-resnet18": (1.33, 0.5), "vgg11-resnet18": (1.0, 0.5)}.get(pair, (1.1, 0.4))
    assert set(weights.values()) == {expected}


# The only ways a shipped card's fashion_mnist differs from its mnist (budget -> differing values): the Teacher and
# Student rows train 10 epochs on Fashion-MNIST (3 at the quick budget) against MNIST's 3 (2 at quick).
FASHION_DIFFERS: dict[str, dict[str | None, dict[str, Any]]] = {
    "teacher": {None: {"train.epochs": 10}, "quick": {"train.epochs": 3}},
    "student": {None: {"train.epochs": 10}, "quick": {"train.epochs": 3}},
}


@pytest.mark.parametrize("name", sorted(all_cards()))
def test_fashion_mnist_resolves_as_mnist_but_for_the_documented_differences(name: str):
    card = get_card(name)
    budgets = list(card.datasets["mnist"].get("budgets") or {})
    assert list(card.datasets["fashion_mnist"].get("budgets") or {}) == budgets
    for pair in MNIST_PAIRS:
        for budget in [None, *budgets]:
            expected = resolve(card, "mnist", pair, budget=budget)
            for key, value in FASHION_DIFFERS.get(name, {}).get(budget, {}).items():
                section, _, field_name = key.partition(".")
                expected[section][field_name] = value
            assert resolve(card, "fashion_mnist", pair, budget=budget) == expected, (pair, budget)


def test_fast2_on_fashion_mnist_golden_values():
    card = get_card("fast2")
    assert card.datasets["fashion_mnist"]["source"] == "ours, same CPU budget as mnist"
    cfg = resolve(card, "fashion_mnist", "lenet5_bn-lenet5_half_bn")
    train = {k: cfg["train"][k] for k in ("epochs", "warmup", "ep_steps", "kd_steps", "batch_size", "lr", "T")}
    assert train == {"epochs": 12, "warmup": 2, "ep_steps": 200, "kd_steps": 50, "batch_size": 128, "lr": 0.05, "T": 20}
    method = {k: cfg["method"][k] for k in ("g_steps", "lr_g", "lr_z", "ngf", "reset_round", "adv", "oh")}
    assert method == {"g_steps": 2, "lr_g": 5.0e-3, "lr_z": 0.015, "ngf": 16, "reset_round": 24, "adv": 1.1, "oh": 0.4}
    proxy = resolve(card, "fashion_mnist", "lenet5_bn-lenet5_half_bn", budget="proxy")
    assert (proxy["train"]["epochs"], proxy["train"]["ep_steps"], proxy["method"]["ngf"]) == (22, 470, 4)
