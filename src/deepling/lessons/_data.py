"""Small image sets for the lessons: real MNIST when ../shared/data/mnist is present, else the
8x8 digits shipped with scikit-learn (so every lesson and its test run anywhere, offline)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def mnist_dir() -> Path | None:
    """The MNIST IDX directory: $DEEPLING_MNIST, or ../shared/data/mnist beside the checkout or cwd."""
    candidates = [os.environ.get("DEEPLING_MNIST")]
    here = Path(__file__).resolve()
    candidates += [str(p / "shared" / "data" / "mnist") for p in (here.parents[4], Path.cwd().parent, Path.cwd())]
    for c in candidates:
        if c and (Path(c) / "train-labels-idx1-ubyte.gz").exists():
            return Path(c)
    return None


def images(n_train: int, n_test: int, source: str = "auto", seed: int = 0) -> dict[str, object]:
    """Flattened images in [0, 1] with labels: ``x_train (n, side*side)``, ``y_train``, ``x_test``, ``y_test``."""
    rng = np.random.default_rng(seed)
    root = mnist_dir() if source in ("auto", "mnist") else None
    if source == "mnist" and root is None:
        raise FileNotFoundError("MNIST not found: set DEEPLING_MNIST to a directory with the IDX files")
    if root is not None:
        from deepling.data.datasets.mnist import MNIST

        tr, te = MNIST(root, train=True), MNIST(root, train=False)
        itr = rng.choice(len(tr.targets), n_train, replace=False)
        ite = rng.choice(len(te.targets), n_test, replace=False)
        xtr, ytr = tr.data[itr].reshape(n_train, 28 * 28) / 255.0, tr.targets[itr]
        xte, yte = te.data[ite].reshape(n_test, 28 * 28) / 255.0, te.targets[ite]
        name, side = "mnist", 28
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        idx = rng.permutation(len(d.target))
        if n_train + n_test > len(idx):
            raise ValueError(f"digits has {len(idx)} images; asked for {n_train} + {n_test}")
        x, y = d.data[idx] / 16.0, d.target[idx]
        xtr, ytr, xte, yte = x[:n_train], y[:n_train], x[n_train : n_train + n_test], y[n_train : n_train + n_test]
        name, side = "digits", 8
    return {"x_train": xtr.astype(np.float32), "y_train": ytr.astype(np.int64), "x_test": xte.astype(np.float32),
            "y_test": yte.astype(np.int64), "source": name, "side": side}
