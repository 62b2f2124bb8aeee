"""NAYER: the noisy-layer generator against the reference's definition, class-balanced targets, the generator's
re-initialisation schedule, the label embeddings shipped as package data, and the cards' external-prior tag.
Per-card synthesis, KD step and resume identity are in test_methods.py (every card)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from dfkd_bench.config import all_cards, resolve
from dfkd_bench.data import get_spec
from dfkd_bench.errors import BadInput
from dfkd_bench.methods import MethodContext
from dfkd_bench.methods.label_embedding import CLIP_FILES, EMBEDDING_DIR, TEXT_ENCODERS, label_embedding
from dfkd_bench.methods.nayer import Nayer, NayerParams
from dfkd_bench.models import create_model
from dfkd_bench.models.noisy_generator import NoisyLayerGenerator, balanced_targets
from dfkd_bench.pairs import DATASET_PAIRS
from dfkd_bench.train_config import TrainConfig


def _reference_parameter_count(classes: int, embedding: int, noise: int, batch: int, ngf: int, nc: int) -> int:
    """NLGenerator's parameters written out by hand from its definition (datafree/models/generator.py):
    BatchNorm1d(E); ceil(sbz / nl) Linear(E, le_emb_size) with nl = num_classes; Linear(le_emb_size, 2 ngf 8 8);
    BN(2 ngf), Conv(2 ngf, 2 ngf, 3, no bias), BN(2 ngf), Conv(2 ngf, ngf, 3, no bias), BN(ngf), Conv(ngf, nc, 3)."""
    noisy_layers = -(-batch // classes)
    return (
        2 * embedding
        + noisy_layers * (embedding * noise + noise)
        + noise * 2 * ngf * 64
        + 2 * ngf * 64
        + 2 * 2 * ngf
        + 2 * ngf * 2 * ngf * 9
        + 2 * 2 * ngf
        + 2 * ngf * ngf * 9
        + 2 * ngf
        + ngf * nc * 9
        + nc
    )


@pytest.mark.parametrize(("dataset", "expected"), [("cifar10", 28_944_771), ("cifar100", 10_476_771)])
def test_generator_matches_the_references_parameter_count_and_output_shape(dataset: str, expected: int):
    spec = get_spec(dataset)
    embedding = label_embedding("clip", spec)
    generator = NoisyLayerGenerator(embedding, batch_size=400, noise_dim=1000, ngf=64, img_size=32, nc=3)
    count = sum(p.numel() for p in generator.parameters())
    assert count == expected == _reference_parameter_count(spec.num_classes, 512, 1000, 400, 64, 3)
    assert len(generator.le1) == 400 // spec.num_classes
    small = NoisyLayerGenerator(embedding, batch_size=2 * spec.num_classes, noise_dim=32, ngf=8, img_size=32, nc=3)
    images = small(balanced_targets(2 * spec.num_classes, spec.num_classes))
    assert images.shape == (2 * spec.num_classes, 3, 32, 32)
    assert images.min() >= 0 and images.max() <= 1


def test_the_embedding_is_a_buffer_left_out_of_the_state_dict():
    generator = NoisyLayerGenerator(torch.eye(10), batch_size=20, noise_dim=16, ngf=4, img_size=8, nc=1)
    assert "label_embedding" not in generator.state_dict()
    assert all(p.data_ptr() != generator.label_embedding.data_ptr() for p in generator.parameters())


def test_balanced_targets_cycle_every_class_then_draw_the_remainder():
    targets = balanced_targets(400, 10)
    assert torch.equal(targets, torch.arange(10).repeat(40))
    uneven = balanced_targets(105, 10)
    assert torch.equal(uneven[:100], torch.arange(10).repeat(10))
    assert uneven.shape == (105,) and uneven[100:].min() >= 0 and uneven[100:].max() < 10


def test_sample_i_goes_through_noisy_layer_i_div_num_classes():
    torch.manual_seed(0)
    generator = NoisyLayerGenerator(torch.randn(5, 12), batch_size=15, noise_dim=16, ngf=4, img_size=8, nc=1).eval()
    generator.redraw_noisy_layers()
    targets = balanced_targets(15, 5)
    with torch.no_grad():
        before = generator(targets)
        generator.le1[1].weight.add_(1.0)
        after = generator(targets)
    changed = (before - after).flatten(1).abs().amax(dim=1) > 0
    assert changed.tolist() == [False] * 5 + [True] * 5 + [False] * 5


def test_redrawn_noisy_layers_are_standard_normal_with_zero_bias():
    torch.manual_seed(0)
    generator = NoisyLayerGenerator(torch.randn(10, 64), batch_size=40, noise_dim=500, ngf=4, img_size=8, nc=1)
    old = generator.le1[0].weight.clone()
    generator.redraw_noisy_layers()
    weights = torch.cat([layer.weight.flatten() for layer in generator.le1])
    assert abs(weights.mean().item()) < 0.01 and abs(weights.std().item() - 1.0) < 0.01
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in generator.le1)
    assert not torch.equal(old, generator.le1[0].weight)


def _tiny_nayer(warmup_rounds: int, g_life: int, **params) -> Nayer:
    """NAYER on untrained MNIST-shaped BN LeNets, one round per epoch, 10 images per loop, one step per loop."""
    ctx = MethodContext(
        teacher=create_model("lenet5_bn", 10, 1).eval().requires_grad_(False),
        student=create_model("lenet5_half_bn", 10, 1),
        spec=get_spec("mnist"),
        device=torch.device("cpu"),
        train=TrainConfig(warmup=warmup_rounds, ep_steps=4, kd_steps=4, batch_size=4, synthesis_batch_size=10),
        real_train_set=lambda: None,
    )
    defaults = {"embedding": "onehot", "noise_dim": 16, "ngf": 2, "g_steps": 1, "g_loops": 2, "gwp_loops": 3}
    return Nayer(ctx, NayerParams(g_life=g_life, **{**defaults, **params}))


@pytest.mark.parametrize(
    ("warmup", "g_life", "expected"), [(20, 10, [0, 10, 20, 30]), (2, 10, [0, 2, 10, 12, 20, 22, 30])]
)
def test_the_generator_is_replaced_on_the_references_schedule(warmup: int, g_life: int, expected: list[int]):
    method = _tiny_nayer(warmup, g_life)
    assert [r for r in range(31) if method.reinitialises_at(r)] == [r for r in expected if r < 31]
    replaced = []
    for round_index in range(13):
        generator = method.generator
        method.synthesize()
        if method.generator is not generator:
            replaced.append(round_index)
    assert replaced == [r for r in expected if r < 13]


def test_warm_up_rounds_run_gwp_loops_and_later_rounds_g_loops_without_touching_the_student():
    method = _tiny_nayer(2, 10)
    sizes = []
    for _ in range(4):
        method.synthesize()
        sizes.append(len(method.pool))
    assert sizes == [30, 60, 80, 100]  # 3 loops of 10 in each warm-up round, then 2
    assert all(p.grad is None for p in method.student.parameters())
    assert method.student.training


def test_resumed_generator_state_continues_identically():
    torch.manual_seed(0)
    method = _tiny_nayer(1, 3)
    for _ in range(2):
        method.synthesize()
    state = copy.deepcopy(method.state_dict())
    torch.manual_seed(5)
    method.synthesize()
    want = method.pool.images[-10:].clone()
    torch.manual_seed(0)  # the same untrained teacher and student
    fresh = _tiny_nayer(1, 3)
    fresh.load_state_dict(state)
    torch.manual_seed(5)
    fresh.synthesize()
    assert torch.equal(fresh.pool.images[-10:], want)


@pytest.mark.parametrize("dataset", sorted(CLIP_FILES))
def test_shipped_clip_embeddings_load_without_pickle_with_their_recorded_sha256(dataset: str):
    spec = get_spec(dataset)
    vectors = label_embedding("clip", spec)
    assert vectors.shape == (spec.num_classes, 512) and vectors.dtype == torch.float32
    norms = vectors.norm(dim=1)
    assert norms.min() > 8 and norms.max() < 13  # raw CLIP text features, as the provenance says
    raw = np.load(EMBEDDING_DIR / CLIP_FILES[dataset][0], allow_pickle=False)
    assert raw.dtype == np.float16


def test_cifar10_clip_vectors_after_batchnorm_are_nearly_an_equiangular_simplex():
    vectors = label_embedding("clip", get_spec("cifar10"))
    normalised = torch.nn.functional.normalize((vectors - vectors.mean(0)) / vectors.std(0, unbiased=False), dim=1)
    cosines = normalised @ normalised.T
    off_diagonal = cosines[~torch.eye(10, dtype=torch.bool)]
    assert off_diagonal.mean().item() == pytest.approx(-1 / 9, abs=0.002)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10", "cifar100"])
def test_minilm_embeddings_ship_for_every_classification_set(dataset: str):
    vectors = label_embedding("minilm", get_spec(dataset))
    assert vectors.shape == (get_spec(dataset).num_classes, 384)
    assert torch.allclose(vectors.norm(dim=1), torch.ones(len(vectors)), atol=1e-3)


def test_one_hot_and_random_embeddings_are_fixed_whatever_the_run_seed():
    spec = get_spec("mnist")
    assert torch.equal(label_embedding("onehot", spec), torch.eye(10))
    torch.manual_seed(1)
    first = label_embedding("random", spec, random_dim=32)
    torch.manual_seed(2)
    assert torch.equal(label_embedding("random", spec, random_dim=32), first)
    assert not torch.equal(label_embedding("random", spec, random_dim=32, random_seed=1), first)


def test_a_missing_or_damaged_embedding_is_a_one_line_error(tmp_path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(BadInput, match="no clip label embedding ships for mnist; it exists for cifar10, cifar100"):
        label_embedding("clip", get_spec("mnist"))
    with pytest.raises(BadInput, match="valid choices: clip, minilm, onehot, random"):
        label_embedding("word2vec", get_spec("mnist"))
    name = CLIP_FILES["cifar10"][0]
    (tmp_path / name).write_bytes((EMBEDDING_DIR / name).read_bytes()[:-2] + b"\0\0")
    monkeypatch.setattr("dfkd_bench.methods.label_embedding.EMBEDDING_DIR", tmp_path)
    with pytest.raises(BadInput, match="sha256 differs"):
        label_embedding("clip", get_spec("cifar10"))


def test_a_nayer_card_is_tagged_external_prior_exactly_when_a_text_encoder_feeds_it():
    cards = {name: card for name, card in all_cards().items() if card.algorithm == "nayer"}
    assert {"nayer", "nayer_minilm", "nayer_onehot", "nayer_random"} <= set(cards)
    for name, card in cards.items():
        for dataset in card.datasets:
            embedding = resolve(card, dataset, DATASET_PAIRS[dataset][0], {})["method"]["embedding"]
            assert (card.external_prior == "text encoder") == (embedding in TEXT_ENCODERS), (name, dataset)
        assert name == "nayer" or card.name.removeprefix("nayer_") in (
            resolve(card, d, DATASET_PAIRS[d][0], {})["method"]["embedding"] for d in card.datasets
        )
