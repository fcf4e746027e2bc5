"""Datasets: anything with ``__getitem__(i)`` and ``__len__``; plus the usual combinators.

``TensorDataset(X, y)`` holds whole arrays, so a ``DataLoader`` can take a batch from it with one
fancy index instead of a Python loop over items.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Callable, Generic, Sequence, TypeVar

import numpy as np

from deepling.random import Generator, numpy_rng
from deepling.tensor import Tensor, to_array

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "ImageLabelDataset"]

T = TypeVar("T")


class Dataset(Generic[T]):
    """Base class: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> T:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class ImageLabelDataset(Dataset):
    """Images in ``self.data`` (uint8 array) with class labels in ``self.targets`` (int64 array).

    Item: ``(image, label)`` after the optional ``transform`` / ``target_transform``. Without
    transforms the DataLoader fetches whole batches with one fancy index (``_batch_fetcher``).
    """

    data: np.ndarray
    targets: np.ndarray
    transform: Callable | None = None
    target_transform: Callable | None = None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _batch_fetcher(self) -> Callable[[np.ndarray], tuple[Tensor, Tensor]] | None:
        """Whole-batch indexing for the DataLoader, valid only when no per-item transform is set."""
        if self.transform is not None or self.target_transform is not None:
            return None
        return lambda idx: (Tensor._wrap(self.data[idx]), Tensor._wrap(self.targets[idx]))


def _sample_tensor(data: Any) -> Tensor:
    """Arrays given to TensorDataset (a deepling convenience): floats in float32, integers in int64."""
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return Tensor._wrap(arr.astype(np.float32))
    if arr.dtype.kind in "iu" and arr.dtype != np.uint8:
        return Tensor._wrap(arr.astype(np.int64))
    return Tensor._wrap(to_array(arr))


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: item ``i`` is ``(t[i] for t in tensors)``.

    All tensors must have the same size in dimension 0.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else _sample_tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ValueError(f"TensorDataset: tensors must share their first dimension (got shapes {shapes})")

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(t.array[index]) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list | np.ndarray):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The datasets one after another: index ``i`` falls in the first dataset whose cumulative size exceeds it."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset: index {index} out of range for length {len(self)}")
            index += len(self)
        d = bisect.bisect_right(self.cumulative_sizes, index)
        if d >= len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} out of range for length {len(self)}")
        start = self.cumulative_sizes[d - 1] if d > 0 else 0
        return self.datasets[d][index - start]


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (the remainder
    of the floor is handed out one by one, round-robin, as PyTorch does).
    """
    n = len(dataset)
    is_fractions = not all(isinstance(f, int) for f in lengths) and all(0 <= f <= 1 for f in lengths)
    if is_fractions and math.isclose(sum(lengths), 1):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the dataset ({n})")
    perm = numpy_rng(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start : start + int(length)].tolist()))
        start += int(length)
    return out
