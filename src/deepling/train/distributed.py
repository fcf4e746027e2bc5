"""What ``fit`` does differently when it runs on several ranks (``mpiexec -n N``, ``deepling run -n N``).

With an initialized process group (N ranks, N = 1 included: ``mpiexec -n 1`` takes the same steps
as N ranks), ``fit``:

* wraps the model in ``DistributedDataParallel`` (rank 0's weights everywhere; averaged gradients);
* replaces the training loader by one over the same dataset with a ``DistributedSampler`` and a
  per-rank batch of ``batch_size / N``: rank r's i-th batch is a slice of the same global batch i
  of ``batch_size`` samples that one process would draw from the same permutation, so N ranks
  take the same steps as one process with the whole batch (the permutation is seeded by
  ``sampler_seed + epoch``; the seed is recorded in the checkpoint, so a run checkpointed on N
  ranks resumes on M ranks, one process included, with the same data order);
* splits validation over the ranks without padding, and all-reduces every logged sum, so the logs
  (and the decisions callbacks take from them) are the global ones and the same on every rank;
* shows progress and writes checkpoints on rank 0 only; checkpoints hold the unwrapped model's
  ``state_dict`` (no ``module.`` prefix), loadable with or without DDP.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from deepling import distributed as dist
from deepling.data.dataloader import DataLoader
from deepling.data.distributed import DistributedSampler
from deepling.data.sampler import RandomSampler, Sampler
from deepling.tensor import Tensor

__all__ = ["is_active", "is_main_process", "wrap_model", "unwrap_model", "shard_train_loader", "shard_eval_loader",
           "all_reduce_sums", "broadcast_seed", "any_rank"]


def is_active() -> bool:
    """True when training runs data-parallel: a process group is initialized."""
    return dist.is_initialized()


def is_main_process() -> bool:
    """Rank 0 (or a single process): the one that prints and writes files."""
    return not dist.is_initialized() or dist.get_rank() == 0


def wrap_model(model: Any) -> Any:
    from deepling.nn.parallel import DistributedDataParallel

    if not is_active() or isinstance(model, DistributedDataParallel):
        return model
    return DistributedDataParallel(model)


def unwrap_model(model: Any) -> Any:
    from deepling.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def broadcast_seed(seed: int | None) -> int:
    """``seed``, or (None) a fresh one drawn on rank 0 from deepling's RNG: the same on every rank."""
    if seed is None:
        from deepling.random import numpy_rng

        seed = int(numpy_rng().integers(0, 2**31 - 1))
    t = Tensor._wrap(np.array([seed], dtype=np.int64))
    if is_active():
        dist.broadcast(t, 0)
    return int(t.array[0])


def _loader_parts(loader: Any, what: str) -> tuple[Any, int]:
    if not isinstance(loader, DataLoader) or loader.batch_size is None:
        raise TypeError(f"fit: on {dist.get_world_size()} ranks the {what} loader must be a deepling DataLoader with a "
                        f"batch_size (got {type(loader).__name__}); or shard the data yourself and pass a "
                        "DistributedDataParallel model")
    return loader.dataset, int(loader.batch_size)


def shard_train_loader(loader: Any, seed: int) -> DataLoader:
    """Rank r's part of every global batch of ``loader`` (see the module docstring)."""
    if isinstance(getattr(loader, "sampler", None), DistributedSampler):
        return loader  # already sharded by the user
    dataset, batch = _loader_parts(loader, "training")
    n = dist.get_world_size()
    if batch % n:
        raise ValueError(f"fit: the batch size {batch} is not divisible by the number of ranks {n}; each rank "
                         "takes batch_size / ranks samples of every global batch")
    sampler = DistributedSampler(dataset, shuffle=isinstance(loader.sampler, RandomSampler), seed=seed,
                                 drop_last=loader.drop_last)
    return DataLoader(dataset, batch_size=batch // n, sampler=sampler, collate_fn=loader.collate_fn,
                      drop_last=loader.drop_last)


class _Strided(Sampler):
    """Indices rank, rank + N, rank + 2N, ... < n: an exact split, no padding (for evaluation)."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.n, self.rank, self.world = n, rank, world

    def _index_array(self) -> np.ndarray:
        return np.arange(self.rank, self.n, self.world)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return len(self._index_array())


def shard_eval_loader(loader: Any) -> Any:
    """This rank's share of an evaluation loader: every sample on exactly one rank."""
    if loader is None or isinstance(getattr(loader, "sampler", None), (DistributedSampler, _Strided)):
        return loader
    dataset, batch = _loader_parts(loader, "validation")
    return DataLoader(dataset, batch_size=batch, sampler=_Strided(len(dataset), dist.get_rank(), dist.get_world_size()),
                      collate_fn=loader.collate_fn)


def any_rank(*flags: bool) -> tuple[bool, ...]:
    """Each flag OR-ed over all ranks (so that every rank stops at the same step)."""
    t = Tensor._wrap(np.array(flags, dtype=np.float64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.array)


def all_reduce_sums(sums: dict[str, float], n: float) -> tuple[dict[str, float], float]:
    """Sum ``sums`` (same keys on every rank) and the count ``n`` over all ranks."""
    if not is_active():
        return sums, n
    keys = sorted(sums)
    t = Tensor._wrap(np.array([sums[k] for k in keys] + [float(n)], dtype=np.float64))
    dist.all_reduce(t)
    return dict(zip(keys, t.array[:-1].tolist())), float(t.array[-1])
