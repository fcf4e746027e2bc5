"""Samplers: which dataset indices a ``DataLoader`` visits, and in what order."""

from __future__ import annotations

from typing import Iterable, Iterator, Sized

import numpy as np

from deepling.random import Generator, numpy_rng

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: iterating yields dataset indices."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def _index_array(self) -> np.ndarray:
        """All indices of one pass at once (lets the loader slice batches without a per-item loop)."""
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh random permutation each pass, drawn from ``generator`` (default: the global RNG).

    With ``replacement=True``, ``num_samples`` indices drawn uniformly with replacement.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer (got {num_samples!r})")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self) -> np.ndarray:
        n, rng = len(self.data_source), numpy_rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples)
        reps = -(-self.num_samples // n) if n else 0
        return np.concatenate([rng.permutation(n) for _ in range(reps)])[: self.num_samples] if reps else np.arange(0)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each pass."""

    def __init__(self, indices: Iterable[int], generator: Generator | None = None) -> None:
        self.indices = np.asarray(list(indices), dtype=np.int64)
        self.generator = generator

    def _index_array(self) -> np.ndarray:
        return self.indices[numpy_rng(self.generator).permutation(len(self.indices))]

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer (got {batch_size!r})")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def _batches(self) -> Iterator[np.ndarray]:
        idx = self.sampler._index_array() if isinstance(self.sampler, Sampler) else np.fromiter(self.sampler, np.int64)
        stop = len(idx) - len(idx) % self.batch_size if self.drop_last else len(idx)
        for start in range(0, stop, self.batch_size):
            yield idx[start : start + self.batch_size]

    def __iter__(self) -> Iterator[list[int]]:
        for b in self._batches():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
