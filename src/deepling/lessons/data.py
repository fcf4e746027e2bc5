"""Small image sets for the lessons, drawn from the data sets everything else uses
(``deepling.data.DATASETS``, found by the rule of ``deepling.data.location``): real MNIST when its
files are there, else the 8x8 digits shipped with scikit-learn (so every lesson and its test run
anywhere, offline). Training images come from the set's training split and test images from its
test split, the same splits ``deepling train`` uses."""

from __future__ import annotations

import numpy as np

__all__ = ["mnist_available", "resolve_source", "images"]

SOURCES = ("auto", "digits", "mnist", "fashion-mnist")


def mnist_available() -> bool:
    """Whether MNIST's files are present where ``deepling.data.dataset_dir("mnist")`` points (no download)."""
    from deepling.data import dataset_dir
    from deepling.data.datasets import MNIST

    try:
        MNIST(dataset_dir("mnist"), train=False)
    except FileNotFoundError:
        return False
    return True


def resolve_source(source: str) -> str:
    """The data set a lesson's ``source`` option means: ``"auto"`` is MNIST when present, else digits."""
    if source not in SOURCES:
        raise ValueError(f"unknown image source {source!r}: choose from {', '.join(SOURCES)}")
    if source == "auto":
        return "mnist" if mnist_available() else "digits"
    return source


def images(n_train: int, n_test: int, source: str = "auto", seed: int = 0) -> dict[str, object]:
    """Flattened images in [0, 1] with labels: ``x_train (n_train, side*side)``, ``y_train``, ``x_test``,
    ``y_test``, plus ``source`` (the data set's name) and ``side``. The images are a random choice
    (fixed by ``seed``) of ``n_train`` training and ``n_test`` test images; a split with fewer
    images gives all of them (the digits have 1437 training and 360 test images)."""
    from deepling.data import load_dataset

    name = resolve_source(source)
    rng = np.random.default_rng(seed)
    out: dict[str, object] = {"source": name}
    for split, n, train in (("train", n_train, True), ("test", n_test, False)):
        X, y, _ = load_dataset(name, train)
        idx = rng.choice(len(y), min(n, len(y)), replace=False)
        out[f"x_{split}"] = X[idx].reshape(len(idx), int(np.prod(X.shape[1:]))).astype(np.float32, copy=False)
        out[f"y_{split}"] = y[idx].astype(np.int64, copy=False)
        out["side"] = X.shape[-1]
    return out
