"""``DistributedSampler``: each rank's share of a dataset, by PyTorch's partitioning rule.

The index list (``0..n-1``, or a permutation when ``shuffle``) is padded by repeating its start up
to ``num_samples * num_replicas`` (or trimmed to that when ``drop_last``), and rank r takes every
``num_replicas``-th index from position r: ``indices[rank::num_replicas]``. So the ranks' shares
are disjoint apart from the padding, and together cover the dataset (all of it unless drop_last).

The shuffled permutation is drawn from deepling's generator (NumPy's PCG64) seeded with
``seed + epoch``, identical on every rank; PyTorch draws it with ``torch.randperm``, whose stream
deepling does not reproduce, so with ``shuffle=True`` the order differs from PyTorch's while the
rule (and everything with ``shuffle=False``) is the same. Call ``set_epoch(e)`` at the start of each
epoch for a new order.
"""

from __future__ import annotations

import math
from typing import Iterator, Sized

import numpy as np

from deepling.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Indices of rank ``rank``'s share of ``dataset`` among ``num_replicas`` ranks (defaults: the
    process group's rank and world size)."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from deepling import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: requires an initialized process group "
                                   "(deepling.distributed.init_process_group) or explicit num_replicas and rank")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas should be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, int) or rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.epoch, self.drop_last, self.shuffle, self.seed = 0, drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _index_array(self) -> np.ndarray:
        n = len(self.dataset)
        indices = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                indices = np.concatenate([indices, np.resize(indices, pad)])  # repeats from the start
        else:
            indices = indices[: self.total_size]
        return indices[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use the permutation of ``seed + epoch`` (same on every rank)."""
        self.epoch = epoch
