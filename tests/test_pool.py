"""The in-memory image pool: capacity (data scale), shuffled passes, 8-bit option, exact state round trip."""

from __future__ import annotations

import pytest
import torch

from dfkd_bench.methods.pool import ImagePool


def _batch(start: int, n: int) -> torch.Tensor:
    """Images whose every pixel holds the image's id / 255, so each one is recognisable after sampling."""
    ids = torch.arange(start, start + n, dtype=torch.float32) / 255
    return ids.view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def _ids(images: torch.Tensor) -> list[int]:
    return (images[:, 0, 0, 0] * 255).round().long().tolist()


def test_one_pass_visits_every_image_once():
    pool = ImagePool()
    pool.add(_batch(0, 10))
    seen = _ids(pool.sample(4)) + _ids(pool.sample(4))
    assert len(set(seen)) == 8
    assert len(pool) == 10 and pool.total_added == 10


def test_capacity_evicts_oldest_first():
    pool = ImagePool(capacity=6)
    pool.add(_batch(0, 4))
    pool.add(_batch(4, 4))
    assert len(pool) == 6 and pool.total_added == 8
    assert sorted(_ids(pool.sample(6))) == [2, 3, 4, 5, 6, 7]


def test_uint8_storage_quantises_like_an_8bit_png():
    pool = ImagePool(store_uint8=True)
    x = torch.rand(5, 3, 4, 4)
    pool.add(x)
    assert pool.images.dtype == torch.uint8
    out = pool.sample(5)
    assert out.dtype == torch.float32
    order = pool._order[:5]
    assert torch.allclose(out, x[order], atol=0.5 / 255 + 1e-6)


def test_state_round_trip_continues_the_same_pass():
    torch.manual_seed(0)
    pool = ImagePool(capacity=20)
    pool.add(_batch(0, 12))
    pool.sample(3)
    state = pool.state_dict()
    rng = torch.get_rng_state()
    expected = [_ids(pool.sample(3)) for _ in range(6)]
    restored = ImagePool(capacity=20)
    restored.load_state_dict(state)
    torch.set_rng_state(rng)
    assert [_ids(restored.sample(3)) for _ in range(6)] == expected


def test_empty_pool_and_bad_capacity_are_errors():
    with pytest.raises(RuntimeError, match="empty"):
        ImagePool().sample(2)
    with pytest.raises(ValueError, match="positive"):
        ImagePool(capacity=0)


@pytest.mark.parametrize("capacity", [None, 7, 30])
def test_growing_storage_holds_the_same_images_as_concatenation(capacity):
    """Amortised appends keep exactly what concatenating every batch and keeping the newest `capacity` would."""
    pool, everything = ImagePool(capacity=capacity), []
    for start, n in [(0, 3), (3, 5), (8, 1), (9, 9), (18, 4), (22, 12)]:
        pool.add(_batch(start, n))
        everything += list(range(start, start + n))
        expected = everything if capacity is None else everything[-capacity:]
        assert _ids(pool.images) == expected and len(pool) == len(expected)
    assert pool.total_added == 34


def test_state_holds_only_the_images_not_the_spare_storage():
    pool = ImagePool()
    for start in range(0, 12, 4):
        pool.add(_batch(start, 4))
    saved = pool.state_dict()["images"]
    assert saved.untyped_storage().nbytes() == saved.numel() * saved.element_size()
    restored = ImagePool()
    restored.load_state_dict(pool.state_dict())
    restored.add(_batch(12, 2))
    assert _ids(restored.images) == list(range(14))
