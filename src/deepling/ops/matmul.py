"""Matrix products: ``matmul`` with PyTorch's 1-D, 2-D, batched and broadcast rules, plus mm/bmm/dot.

For C = A B: dL/dA = dL/dC B^T and dL/dB = A^T dL/dC; batch dims that broadcasting stretched
are summed away by the engine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepling import threadpool
from deepling.autograd import Function
from deepling.ops.arguments import tensor_input
from deepling.ops.promotion import binary_operands
from deepling.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "dot", "linear", "matmul_arrays"]


def matmul_arrays(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b)`` for arrays of 2 or more dims, with the work arranged for the cores.

    A stack times one matrix, (..., n, k) @ (k, m), is one GEMM over the stack's rows when they are
    contiguous (NumPy would run one small GEMM per matrix of the stack). A stack times a stack is
    split along the result's leading batch axis over the CPU pool (``deepling.threadpool``): the
    same per-matrix GEMMs, a share on each core, where the BLAS would run them one by one.
    ``out``: the result's array (of the broadcast shape; it may be a strided view, e.g. a slot of a
    packed gradient, which saves the copy into it).
    """
    if b.ndim == 2 and a.ndim > 2 and a.size and a.flags.c_contiguous and out is None:
        return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[-1:])
    if a.ndim < 3 and b.ndim < 3:
        return np.matmul(a, b, out=out)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    n, k, m = a.shape[-2], a.shape[-1], b.shape[-1]
    flops = 2.0 * math.prod(batch) * n * k * m
    if threadpool.chunks(batch[0], flops=flops) <= 1:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(batch + (n, m), dtype=np.result_type(a, b))
    # An operand with the full batch rank and a non-broadcast leading axis is sliced with the output.
    split_a = a.ndim == out.ndim and a.shape[0] == batch[0]
    split_b = b.ndim == out.ndim and b.shape[0] == batch[0]

    def run(lo: int, hi: int) -> None:
        np.matmul(a[lo:hi] if split_a else a, b[lo:hi] if split_b else b, out=out[lo:hi])

    threadpool.parallel_for(batch[0], run, flops=flops)
    return out


class MatMul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return matmul_arrays(a, b) if a.ndim > 1 and b.ndim > 1 else np.matmul(a, b)

    def backward(self, g: np.ndarray) -> tuple:
        a, b = self.a, self.b
        # Promote 1-D operands to matrices as the forward did, then undo it.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g = np.reshape(g, (1, 1))
        elif a.ndim == 1:
            g = np.expand_dims(g, -2)
        elif b.ndim == 1:
            g = np.expand_dims(g, -1)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = matmul_arrays(g, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_input_grad[1]:
            if a2.ndim > 2 and b2.ndim == 2:
                # Batched input times one matrix (a Linear layer on (N, T, H)): fold the batch
                # into the rows so the weight gradient is a single GEMM.
                gb = np.matmul(a2.reshape(-1, a2.shape[-1]).T, g.reshape(-1, g.shape[-1]))
            else:
                gb = matmul_arrays(np.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


def _check(name: str, a: Tensor, b: Tensor) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{name}: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be multiplied ({ka} != {kb})")


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with broadcasting: (n,k)@(k,m), (..,n,k)@(..,k,m), and 1-D vectors."""
    a, b = binary_operands(a, b)
    _check("matmul", a, b)
    try:
        return MatMul.apply(a, b)
    except ValueError:
        raise ValueError(f"matmul: batch dims of shapes {a.shape} and {b.shape} cannot be broadcast together") from None


def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected 2-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected 3-D tensors with equal batch size, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expected 1-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


class Linear(Function):
    """y = x W^T + b as one node: dx = g W, dW = g^T x (one GEMM over all leading dims), db = sum g."""

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        self.x, self.w = x, w
        out = matmul_arrays(x, w.T)
        if b is not None:
            out += b
        return out

    def backward(self, g: np.ndarray) -> tuple:
        need = self.needs_input_grad
        gx = matmul_arrays(g, self.w) if need[0] else None
        g2 = g.reshape(-1, g.shape[-1])
        gw = np.matmul(g2.T, self.x.reshape(-1, self.x.shape[-1])) if need[1] else None
        return gx, gw, (g2.sum(axis=0) if need[2] else None)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x W^T + b``: x (*, in_features), weight (out_features, in_features), bias (out_features,)."""
    tensor_input("linear", x)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} and weight of shape {weight.shape} do not fit "
            f"(expected input (*, {weight.shape[-1] if weight.ndim else '?'}))"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
    if x.dtype != weight.dtype:
        raise TypeError(f"linear: input dtype {x.dtype} does not match weight dtype {weight.dtype}")
    if x.ndim == 1:
        return linear(x.reshape(1, -1), weight, bias).reshape(-1)
    return Linear.apply(x, weight, bias)
