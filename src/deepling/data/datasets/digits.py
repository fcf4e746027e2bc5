"""Digits: scikit-learn's bundled 8x8 handwritten digits (UCI optdigits test set), 1797 images.

The embedded default data set: no download, trains in seconds. The train/test split is fixed
(a permutation from a constant seed, stratified by class) so every run sees the same test set.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from deepling.data.dataset import Dataset
from deepling.tensor import Tensor

__all__ = ["Digits"]

_SPLIT_SEED = 1797
_TEST_FRACTION = 0.2


def _load() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("Digits needs scikit-learn: pip install 'deepling[datasets]'") from None
    d = load_digits()
    return d.images.astype(np.float32) / 16.0, d.target.astype(np.int64)


def _split(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: within each class, a fixed permutation; its first 20% go to test."""
    rng = np.random.default_rng(_SPLIT_SEED)
    train, test = [], []
    for c in np.unique(targets):
        idx = rng.permutation(np.flatnonzero(targets == c))
        k = int(round(len(idx) * _TEST_FRACTION))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


class Digits(Dataset):
    """8x8 grayscale digits 0-9, pixel values scaled from 0..16 to [0, 1] (float32).

    Args: ``train`` (1437 training or 360 test images), ``flatten`` (items are ``(64,)`` vectors
    for MLPs; ``False`` gives ``(1, 8, 8)`` images for CNNs), ``transform``, ``target_transform``.
    Attributes: ``data`` float32 ``(N, 8, 8)``, ``targets`` int64 ``(N,)``. Item: ``(x, label)``.
    """

    classes = list(range(10))

    def __init__(self, root: Any = None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, flatten: bool = True, download: bool = False) -> None:
        images, targets = _load()
        train_idx, test_idx = _split(targets)
        idx = train_idx if train else test_idx
        self.data, self.targets = images[idx], targets[idx]
        self.train, self.flatten = train, flatten
        self.transform, self.target_transform = transform, target_transform
        self._inputs = self.data.reshape(len(idx), -1) if flatten else self.data[:, None]

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        x, y = Tensor._wrap(self._inputs[index]), int(self.targets[index])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def _batch_fetcher(self) -> Callable[[np.ndarray], tuple[Tensor, Tensor]] | None:
        if self.transform is not None or self.target_transform is not None:
            return None
        return lambda idx: (Tensor._wrap(self._inputs[idx]), Tensor._wrap(self.targets[idx]))
