"""Card loading and config precedence: defaults < card < dataset block < pair block < overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfkd_bench.config import _load_cards, all_cards, config_hash, get_card, parse_assignments, resolve
from dfkd_bench.errors import BadInput
from dfkd_bench.methods import METHODS

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
