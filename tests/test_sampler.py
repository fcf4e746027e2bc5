"""Samplers against torch.utils.data's: lengths, orders, errors, and lazy draws for huge num_samples."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import torch

import deepling as dl
from deepling.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

tdata = torch.utils.data


def test_replacement_with_ten_billion_samples_draws_lazily():
    """pytorch/examples draw 10**10 samples with replacement; the first batches cost one chunk of memory."""
    ds = TensorDataset(dl.arange(100.0), dl.arange(100))
    sampler = RandomSampler(ds, replacement=True, num_samples=10**10)
    loader = DataLoader(ds, batch_size=64, sampler=sampler)
    assert len(sampler) == 10**10 and len(loader) == -(-10**10 // 64)
    tracemalloc.start()
    try:
        batches = list(itertools.islice(iter(loader), 5))
        first = list(itertools.islice(iter(sampler), 10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"the first batches allocated {peak} bytes"
    assert [b[0].shape for b in batches] == [(64,)] * 5
    for x, y in batches:
        assert np.all((0 <= y.array) & (y.array < 100)) and np.array_equal(x.array, y.array.astype(np.float32))
    assert len(first) == 10 and all(isinstance(i, int) and 0 <= i < 100 for i in first)


def test_replacement_draws_cover_the_data_uniformly():
    sampler = RandomSampler(range(10), replacement=True, num_samples=20_000, generator=dl.Generator().manual_seed(0))
    idx = np.fromiter(sampler, dtype=np.int64)
    assert len(idx) == 20_000
    counts = np.bincount(idx, minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200


@pytest.mark.parametrize("n,num_samples", [(10, None), (10, 4), (10, 25), (7, 7)])
def test_without_replacement_chains_permutations_as_torch(n, num_samples):
    ours = list(RandomSampler(range(n), num_samples=num_samples))
    theirs = list(tdata.RandomSampler(range(n), num_samples=num_samples))
    assert len(ours) == len(theirs) == len(RandomSampler(range(n), num_samples=num_samples))
    # each block of n is a permutation, the tail distinct indices: the counts are those of torch
    total = num_samples or n
    for start in range(0, total, n):
        block = ours[start : start + n]
        assert len(set(block)) == len(block)
    assert sorted(np.bincount(ours, minlength=n)) == sorted(np.bincount(theirs, minlength=n))


def test_generator_makes_the_order_repeatable():
    def order(seed):
        return list(RandomSampler(range(50), generator=dl.Generator().manual_seed(seed)))

    assert order(3) == order(3) and order(3) != order(4)
    assert sorted(order(3)) == list(range(50))
    g = dl.Generator().manual_seed(1)
    s = RandomSampler(range(50), generator=g)
    assert list(s) != list(s)  # each pass draws a new permutation from the same generator
    dl.manual_seed(5)
    a = list(RandomSampler(range(50)))
    dl.manual_seed(5)
    assert list(RandomSampler(range(50))) == a  # the global RNG when no generator is given


def test_len_follows_a_growing_data_source():
    data = [0, 1, 2]
    s = RandomSampler(data)
    data.append(3)
    assert len(s) == 4 == len(tdata.RandomSampler(data))


@pytest.mark.parametrize("kwargs", [dict(replacement=1), dict(num_samples=0), dict(num_samples=-3),
                                    dict(num_samples=2.5), dict(replacement=True, num_samples=0)])
def test_random_sampler_errors_match_torch(kwargs):
    with pytest.raises((TypeError, ValueError)) as terr:
        tdata.RandomSampler(range(5), **kwargs)
    with pytest.raises(type(terr.value)) as derr:
        RandomSampler(range(5), **kwargs)
    assert str(derr.value) == str(terr.value)


def test_empty_data_source_raises_as_torch():
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        RandomSampler([])


@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (3, True), (5, False), (20, False), (1, True)])
def test_batch_sampler_matches_torch(batch_size, drop_last):
    for ours, theirs in [(SequentialSampler(range(10)), tdata.SequentialSampler(range(10))),
                         ([9, 3, 4, 1, 0, 2, 8], [9, 3, 4, 1, 0, 2, 8])]:
        b = BatchSampler(ours, batch_size, drop_last)
        t = tdata.BatchSampler(theirs, batch_size, drop_last)
        assert list(b) == list(t) and len(b) == len(t)


def test_batch_sampler_cuts_batches_across_chunks():
    s = RandomSampler(range(10), replacement=True, num_samples=10_001, generator=dl.Generator().manual_seed(0))
    batches = list(BatchSampler(s, 128, drop_last=False))
    assert [len(b) for b in batches] == [128] * 78 + [10_001 - 78 * 128]
    assert len(list(BatchSampler(s, 128, drop_last=True))) == 78 == len(BatchSampler(s, 128, drop_last=True))


@pytest.mark.parametrize("kwargs", [dict(batch_size=0, drop_last=False), dict(batch_size=True, drop_last=False),
                                    dict(batch_size=2, drop_last=1)])
def test_batch_sampler_errors_match_torch(kwargs):
    with pytest.raises(ValueError) as terr:
        tdata.BatchSampler(range(4), **kwargs)
    with pytest.raises(ValueError) as derr:
        BatchSampler(range(4), **kwargs)
    assert str(derr.value) == str(terr.value)


def test_a_custom_endless_sampler_batches_lazily():
    class Forever(Sampler):
        def __iter__(self):
            return itertools.cycle([2, 0, 1])

    first = list(itertools.islice(BatchSampler(Forever(), 4, drop_last=False), 3))
    assert first == [[2, 0, 1, 2], [0, 1, 2, 0], [1, 2, 0, 1]]
    ds = TensorDataset(dl.tensor([10.0, 11.0, 12.0]))
    (x,) = next(iter(DataLoader(ds, batch_size=2, sampler=Forever())))
    np.testing.assert_array_equal(x.array, [12.0, 10.0])


def test_subset_random_sampler():
    s = SubsetRandomSampler([5, 7, 9], generator=dl.Generator().manual_seed(0))
    assert sorted(s) == [5, 7, 9] and len(s) == 3 and s.indices == [5, 7, 9]


def test_weighted_random_sampler():
    g = dl.Generator().manual_seed(0)
    s = WeightedRandomSampler([0.1, 0.0, 0.9], num_samples=10_000, generator=g)
    idx = np.fromiter(s, dtype=np.int64)
    assert len(s) == 10_000 == len(idx)
    counts = np.bincount(idx, minlength=3)
    assert counts[1] == 0 and 800 < counts[0] < 1200
    unique = list(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False, generator=g))
    assert sorted(unique) == [0, 1, 2, 3]
    assert s.weights.dtype == np.float64 and tdata.WeightedRandomSampler([0.1], 1).weights.dtype == torch.float64


@pytest.mark.parametrize("args", [([1.0, 2.0], 0), ([[1.0, 2.0]], 2), ([1.0, 2.0], 2, 1)])
def test_weighted_random_sampler_errors_match_torch(args):
    with pytest.raises(ValueError) as terr:
        tdata.WeightedRandomSampler(*args)
    with pytest.raises(ValueError) as derr:
        WeightedRandomSampler(*args)
    assert str(derr.value) == str(terr.value)
