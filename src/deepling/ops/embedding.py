"""Embedding lookup: ``out[...] = weight[indices[...]]``, with a scatter-add backward.

The weight gradient adds each output row's gradient into the row it was read from:
dW[v] = sum over positions p with indices[p] == v of g[p]. Rows equal to ``padding_idx`` get none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.autograd import Function, no_grad
from deepling.ops.arguments import tensor_input
from deepling.tensor import Tensor

__all__ = ["embedding"]


def _scatter_rows(index: np.ndarray, rows: np.ndarray, num: int) -> np.ndarray:
    """``out[v] = sum(rows[index == v])`` for ``v < num``: sort once, then one ``reduceat``.

    Measured faster than ``np.add.at`` (8x for a 65-row vocabulary, 3x for 50k rows) and than a
    bincount per column, because reduceat sums contiguous runs of rows with vector instructions.
    """
    out = np.zeros((num, rows.shape[1]), dtype=rows.dtype)
    if index.size == 0:
        return out
    order = np.argsort(index, kind="stable")
    sorted_idx = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
    out[sorted_idx[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


class Embedding(Function):
    def forward(self, weight: np.ndarray, index: np.ndarray, padding_idx: int | None) -> np.ndarray:
        self.index, self.num, self.padding_idx = index, weight.shape[0], padding_idx
        return weight[index]

    def backward(self, g: np.ndarray) -> tuple:
        flat = self.index.reshape(-1)
        gw = _scatter_rows(flat, g.reshape(flat.size, g.shape[-1]), self.num)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw, None


def _renorm_(weight: Tensor, index: np.ndarray, max_norm: float, norm_type: float) -> None:
    # PyTorch rescales, in place and outside autograd, every looked-up row whose norm exceeds max_norm.
    rows = np.unique(index)
    w = weight.array[rows]
    norms = np.linalg.norm(w, ord=norm_type, axis=1) if norm_type != 2 else np.sqrt((w * w).sum(axis=1))
    big = norms > max_norm
    if big.any():
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        with no_grad():
            weight.array[rows[big]] = w[big] * scale[:, None]


def embedding(
    input: Any,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Look up rows of ``weight (num_embeddings, embedding_dim)`` by integer ``input (*)``: out ``(*, embedding_dim)``."""
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not supported")
    index = tensor_input("embedding", input, "indices").array
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {index.dtype} (shape {index.shape})")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    num = weight.shape[0]
    if index.size and (index.min() < 0 or index.max() >= num):
        raise IndexError(
            f"embedding: index out of range for weight of shape {weight.shape} "
            f"(indices span [{int(index.min())}, {int(index.max())}])"
        )
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    if max_norm is not None:
        _renorm_(weight, index, max_norm, norm_type)
    return Embedding.apply(weight, index, padding_idx)
