"""``DataLoader``: iterate over a dataset in (shuffled) mini-batches of Tensors.

Fast path: when the dataset can fetch a whole batch at once (``TensorDataset``, ``Subset`` of one,
or any dataset whose ``_batch_fetcher()`` returns a function of an index array) and the default collate is used, each batch is
one fancy index into the stored arrays, not a Python loop over items.
"""

from __future__ import annotations

import collections.abc
import numbers
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from deepling.data.dataset import Dataset, Subset, TensorDataset
from deepling.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from deepling.random import Generator
from deepling.tensor import Tensor, default_dtype

__all__ = ["DataLoader", "default_collate"]


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples into a batch, keeping the samples' structure.

    Tensors and arrays are stacked along a new dim 0; Python ints become an int64 Tensor, floats a
    float32 Tensor (deepling's default float; PyTorch gives float64), bools a bool Tensor; strings
    stay a list; tuples, lists and dicts are collated field by field.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor._wrap(np.stack([b.array for b in batch]))
    if isinstance(elem, np.ndarray):
        return Tensor._wrap(np.stack(batch))
    if isinstance(elem, np.generic):
        return Tensor._wrap(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor._wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor._wrap(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return Tensor._wrap(np.asarray(batch, dtype=default_dtype))
    if isinstance(elem, str | bytes):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([b[key] for b in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)] if isinstance(elem, list) else tuple(
            default_collate(list(s)) for s in zip(*batch)
        )
    raise TypeError(f"default_collate: batch must contain tensors, arrays, numbers, dicts or lists (found {type(elem).__name__})")


def _batch_getter(dataset: Dataset) -> Callable[[np.ndarray], Any] | None:
    """A function fetching a collated batch with one fancy index, if the dataset allows it."""
    if isinstance(dataset, TensorDataset):
        arrays = [t.array for t in dataset.tensors]
        return lambda idx: tuple(Tensor._wrap(a[idx]) for a in arrays)
    if isinstance(dataset, Subset):
        inner = _batch_getter(dataset.dataset)
        if inner is not None:
            lookup = np.asarray(dataset.indices, dtype=np.int64)
            return lambda idx: inner(lookup[idx])
        return None
    fetcher = getattr(dataset, "_batch_fetcher", None)
    return fetcher() if callable(fetcher) else None


class DataLoader:
    """Mini-batches over ``dataset``.

    Args: ``batch_size`` (default 1; ``None`` yields single samples), ``shuffle`` (a new permutation
    each epoch from ``generator`` or the global RNG, so ``deepling.manual_seed`` makes it repeatable),
    ``sampler`` / ``batch_sampler`` (custom index orders; exclusive with ``shuffle``), ``drop_last``
    (drop the last incomplete batch), ``collate_fn`` (list of samples -> batch; default
    ``default_collate``). ``num_workers`` and ``pin_memory`` are accepted for PyTorch compatibility
    and ignored: loading happens in the main process.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable[int] | None = None, batch_sampler: Iterable[list[int]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, generator: Generator | None = None,
                 **_ignored: Any) -> None:
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler and drop_last")
        if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer (got {batch_size!r})")
        self.dataset = dataset
        self.generator = generator
        self.num_workers = num_workers
        self.drop_last = drop_last
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            self.batch_size = batch_size
        else:
            self.batch_size = None
        self.batch_sampler = batch_sampler
        self._custom_collate = collate_fn is not None
        self.collate_fn = collate_fn if collate_fn is not None else default_collate

    def __iter__(self) -> Iterator[Any]:
        if self.batch_sampler is None:  # batch_size=None: single samples, no collation
            for i in self.sampler:
                yield self.dataset[i]
            return
        getter = None if self._custom_collate else _batch_getter(self.dataset)
        batches = self.batch_sampler._batches() if isinstance(self.batch_sampler, BatchSampler) else self.batch_sampler
        for idx in batches:
            if getter is not None:
                yield getter(np.asarray(idx, dtype=np.int64))
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in idx])

    def __len__(self) -> int:
        if self.batch_sampler is None:
            return len(self.sampler)
        return len(self.batch_sampler)
