"""Samplers: which dataset indices a ``DataLoader`` visits, and in what order.

Every sampler hands its indices out lazily, in NumPy chunks (``_index_chunks``): a
``RandomSampler(ds, replacement=True, num_samples=10**10)`` costs one chunk of memory, not 80 GB,
and ``BatchSampler`` cuts batches from the chunks without a Python loop per index.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator, Sequence, Sized

import numpy as np

from deepling.random import Generator, numpy_rng

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]

CHUNK = 4096  # indices drawn at a time by the samplers that draw with replacement


class Sampler:
    """Base class: iterating yields dataset indices. Subclasses define ``__iter__`` (and ``__len__``)."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def _index_chunks(self) -> Iterator[np.ndarray]:
        """The indices of one pass as a stream of int64 arrays (by default: ``__iter__``, 4096 at a time)."""
        return _chunked(iter(self))

    def _index_array(self) -> np.ndarray:
        """All indices of one pass at once (for finite passes only)."""
        chunks = list(self._index_chunks())
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def _iterate(chunks: Iterable[np.ndarray]) -> Iterator[int]:
    for c in chunks:
        yield from c.tolist()


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _index_chunks(self) -> Iterator[np.ndarray]:
        yield np.arange(len(self.data_source))

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices into ``data_source``, drawn from ``generator`` (default: the global RNG).

    Without replacement: a fresh permutation each pass; ``num_samples`` larger than the data set
    chains permutations (and cuts the last one), as PyTorch does. With ``replacement=True``:
    ``num_samples`` (default ``len(data_source)``) indices drawn uniformly, on demand.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        n = self.num_samples
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={n}")

    @property
    def num_samples(self) -> int:
        # the data set may change size after the sampler is made
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_chunks(self) -> Iterator[np.ndarray]:
        n, rng, total = len(self.data_source), numpy_rng(self.generator), self.num_samples
        if self.replacement:
            for start in range(0, total, CHUNK):
                yield rng.integers(0, n, size=min(CHUNK, total - start))
            return
        for _ in range(total // n):
            yield rng.permutation(n)
        if total % n:
            yield rng.permutation(n)[: total % n]

    def __iter__(self) -> Iterator[int]:
        return _iterate(self._index_chunks())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each pass."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self._indices = np.asarray(list(indices), dtype=np.int64)
        self.generator = generator

    def _index_chunks(self) -> Iterator[np.ndarray]:
        yield self._indices[numpy_rng(self.generator).permutation(len(self._indices))]

    def __iter__(self) -> Iterator[int]:
        return _iterate(self._index_chunks())

    def __len__(self) -> int:
        return len(self._indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices ``0..len(weights)-1``, index ``i`` with probability ``weights[i] / sum(weights)``.

    With ``replacement=False`` no index repeats (so ``num_samples <= len(weights)``).
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights.array if hasattr(weights, "array") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement from "
                             f"{np.count_nonzero(w)} non-zero weights")
        from deepling.tensor import Tensor

        self.weights = Tensor._wrap(w)
        self.num_samples, self.replacement, self.generator = num_samples, replacement, generator

    def _index_chunks(self) -> Iterator[np.ndarray]:
        p = self.weights.array / self.weights.array.sum()
        rng = numpy_rng(self.generator)
        if not self.replacement:
            yield rng.choice(len(p), size=self.num_samples, replace=False, p=p)
            return
        for start in range(0, self.num_samples, CHUNK):
            yield rng.choice(len(p), size=min(CHUNK, self.num_samples - start), replace=True, p=p)

    def __iter__(self) -> Iterator[int]:
        return _iterate(self._index_chunks())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless ``drop_last``).

    Lazy: it holds at most one chunk of the sampler's indices, whatever the sampler's length.
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def _chunks(self) -> Iterator[np.ndarray]:
        if isinstance(self.sampler, Sampler):
            return self.sampler._index_chunks()
        return _chunked(iter(self.sampler))

    def _batches(self) -> Iterator[np.ndarray]:
        size, rest = self.batch_size, np.zeros(0, dtype=np.int64)
        for chunk in self._chunks():
            if len(rest):
                chunk = np.concatenate([rest, chunk])
            stop = len(chunk) - len(chunk) % size
            for start in range(0, stop, size):
                yield chunk[start : start + size]
            rest = chunk[stop:]
        if len(rest) and not self.drop_last:
            yield rest

    def __iter__(self) -> Iterator[list[int]]:
        for b in self._batches():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _chunked(it: Iterator[int]) -> Iterator[np.ndarray]:
    while True:
        chunk = np.fromiter(itertools.islice(it, CHUNK), dtype=np.int64)
        if len(chunk) == 0:
            return
        yield chunk
