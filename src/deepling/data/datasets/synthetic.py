"""Small synthetic data sets for teaching and tests; each is a deterministic function of ``seed``.

Every function returns ``(X, y)`` Tensors: ``X`` float32 ``(n_samples, 2)`` (``sin``: ``(n, 1)``),
``y`` int64 class labels ``(n_samples,)`` (``sin``: float32 targets ``(n, 1)``). Wrap them with
``TensorDataset(X, y)`` for a ``DataLoader``.
"""

from __future__ import annotations

import numpy as np

from deepling.tensor import Tensor

__all__ = ["xor", "spirals", "moons", "circles", "blobs", "sin"]


def _out(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    order = rng.permutation(len(X))  # classes interleaved, so a plain slice is a fair subset
    return Tensor._wrap(X[order].astype(np.float32)), Tensor._wrap(y[order])


def _counts(n: int, k: int) -> list[int]:
    if n < k:
        raise ValueError(f"synthetic data: n_samples ({n}) must be at least the number of classes ({k})")
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def xor(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Points near the four corners (+-1, +-1); label 1 where the signs differ (not linearly separable)."""
    rng = np.random.default_rng(seed)
    corners = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], dtype=np.float64)
    k = rng.integers(0, 4, n_samples)
    X = corners[k] + noise * rng.standard_normal((n_samples, 2))
    y = (corners[k, 0] != corners[k, 1]).astype(np.int64)
    return _out(X, y, rng)


def spirals(n_samples: int = 300, n_classes: int = 2, noise: float = 0.2, turns: float = 1.0,
            seed: int = 0) -> tuple[Tensor, Tensor]:
    """``n_classes`` interleaved spiral arms: arm c is r*(sin t, cos t), t = 4*turns*r + 2*pi*c/n_classes + noise."""
    rng = np.random.default_rng(seed)
    Xs, ys = [], []
    for c, n in enumerate(_counts(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, n)
        t = 4.0 * turns * r + 2 * np.pi * c / n_classes + noise * rng.standard_normal(n)
        Xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n, c, dtype=np.int64))
    return _out(np.concatenate(Xs), np.concatenate(ys), rng)


def moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles: (cos t, sin t) and (1 - cos t, 0.5 - sin t), t in [0, pi]."""
    rng = np.random.default_rng(seed)
    n0, n1 = _counts(n_samples, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    X = X + noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    return _out(X, y, rng)


def circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A unit circle (label 0) around a circle of radius ``factor`` (label 1)."""
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1) (got {factor})")
    rng = np.random.default_rng(seed)
    n0, n1 = _counts(n_samples, 2)
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), factor * np.stack([np.cos(t1), np.sin(t1)], 1)])
    X = X + noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    return _out(X, y, rng)


def blobs(n_samples: int = 300, centers: int = 3, n_features: int = 2, cluster_std: float = 1.0,
          box: tuple[float, float] = (-10.0, 10.0), seed: int = 0) -> tuple[Tensor, Tensor]:
    """Isotropic Gaussian clusters with centers drawn uniformly in ``box``; label = cluster."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(box[0], box[1], (centers, n_features))
    y = np.concatenate([np.full(n, c, np.int64) for c, n in enumerate(_counts(n_samples, centers))])
    X = mu[y] + cluster_std * rng.standard_normal((n_samples, n_features))
    return _out(X, y, rng)


def sin(n_samples: int = 200, noise: float = 0.1, low: float = -np.pi, high: float = np.pi,
        seed: int = 0) -> tuple[Tensor, Tensor]:
    """1-D regression: x ~ U(low, high), y = sin(x) + noise * N(0, 1); both ``(n_samples, 1)`` float32."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, (n_samples, 1))
    y = np.sin(x) + noise * rng.standard_normal(x.shape)
    return Tensor._wrap(x.astype(np.float32)), Tensor._wrap(y.astype(np.float32))
