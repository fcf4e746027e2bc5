"""The data sets by name, as arrays: the registry the CLI, the lessons and the experiments share.

``DATASETS[name](data_dir, train)`` returns ``(X, y, classes)``: ``X`` float32 ``(N, C, H, W)`` in
[0, 1], ``y`` int64 ``(N,)``, and the class names. ``data_dir=None`` means ``dataset_dir(name)``
(see ``deepling.data.location``); files missing there are downloaded. Every caller uses the same
train/test split of each set (the official one; the digits' fixed stratified split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from deepling.data.location import dataset_dir

__all__ = ["DATASETS", "Loader", "load_dataset"]

Loader = Callable[[Any, bool], tuple[np.ndarray, np.ndarray, list]]


def _idx_dataset(name: str, cls_name: str) -> Loader:
    def load(data_dir: Any, train: bool) -> tuple[np.ndarray, np.ndarray, list]:
        from deepling.data import datasets

        cls = getattr(datasets, cls_name)
        ds = cls(dataset_dir(name) if data_dir is None else data_dir, train=train, download=True)
        return ds.data[:, None].astype(np.float32) / 255.0, ds.targets, list(cls.classes)

    return load


def _digits(data_dir: Any, train: bool) -> tuple[np.ndarray, np.ndarray, list]:
    from deepling.data.datasets import Digits

    ds = Digits(train=train, flatten=False)
    return ds.data[:, None], ds.targets, list(range(10))


def _cifar10(data_dir: Any, train: bool) -> tuple[np.ndarray, np.ndarray, list]:
    from deepling.data.datasets import CIFAR10

    ds = CIFAR10(dataset_dir("cifar10") if data_dir is None else data_dir, train=train, download=True)
    return ds.data.transpose(0, 3, 1, 2).astype(np.float32) / 255.0, ds.targets, list(ds.classes)


# name -> load(data_dir, train) -> (X float32 (N, C, H, W) in [0, 1], y int64 (N,), class names)
DATASETS: dict[str, Loader] = {
    "digits": _digits,
    "mnist": _idx_dataset("mnist", "MNIST"),
    "fashion-mnist": _idx_dataset("fashion-mnist", "FashionMNIST"),
    "cifar10": _cifar10,
}


def load_dataset(name: str, train: bool = True, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """``DATASETS[name](data_dir, train)`` with a clear error for an unknown name."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: choose from {sorted(DATASETS)}")
    return DATASETS[name](data_dir, train)
