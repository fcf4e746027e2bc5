"""Drawing the next token of a language model from its logits (GPT, CharRNN)."""

from __future__ import annotations

import numpy as np

from deepling.ops import kernels

__all__ = ["sample_next"]


def sample_next(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> np.ndarray:
    """One id per row of ``logits (B, V)``: inverse-CDF sampling of softmax(logits / temperature),
    restricted to the ``top_k`` largest logits when given; ``temperature <= 0`` takes the argmax."""
    if temperature <= 0:
        return logits.argmax(axis=1)
    z = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]
        z[z < kth] = -np.inf
    cdf = np.cumsum(kernels.softmax(z, 1, out=z), axis=1)
    u = rng.random((z.shape[0], 1)) * cdf[:, -1:]  # the last entry is 1 up to rounding
    return np.minimum((cdf < u).sum(axis=1), z.shape[1] - 1).astype(np.int64)
