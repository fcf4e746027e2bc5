"""Ops composed from the primitive ones, so each gradient follows from its parts (no new kernels):
``addcmul``, ``lerp``, ``addmm``, ``outer``, ``trace``, ``diag``, ``repeat_interleave``, ``index_add``
and friends. Each is also a ``Tensor`` method (bound in ``deepling.tensor``) and a ``deepling`` function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.ops import elementwise as _E
from deepling.ops import matmul as _M
from deepling.ops import reduce as _R
from deepling.ops import shape as _S
from deepling.tensor import Tensor, shape_args

__all__ = [
    "addcmul",
    "addcdiv",
    "lerp",
    "addmm",
    "mv",
    "outer",
    "trace",
    "diag",
    "repeat_interleave",
    "take",
    "index_add",
    "index_add_",
    "index_copy",
    "index_copy_",
    "index_fill",
    "index_fill_",
    "trunc",
    "frac",
    "log2",
    "log10",
    "tan",
    "fliplr",
    "flipud",
    "sum_to_size",
    "split_with_sizes",
    "aminmax",
    "unique",
    "signbit",
    "isposinf",
    "isneginf",
    "ger",
    "fix",
]


def addcmul(input: Tensor, tensor1: Any, tensor2: Any, value: Any = 1) -> Tensor:
    """input + value * tensor1 * tensor2"""
    return _E.add(input, _E.mul(tensor1, tensor2) * value)


def addcdiv(input: Tensor, tensor1: Any, tensor2: Any, value: Any = 1) -> Tensor:
    """input + value * tensor1 / tensor2"""
    return _E.add(input, _E.div(tensor1, tensor2) * value)


def lerp(input: Tensor, end: Any, weight: Any) -> Tensor:
    """input + weight * (end - input)"""
    return _E.add(input, _E.mul(_E.sub(end, input), weight))


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)"""
    return _E.add(input * beta if beta != 1 else input, _M.mm(mat1, mat2) * alpha if alpha != 1 else _M.mm(mat1, mat2))


def mv(input: Tensor, vec: Tensor) -> Tensor:
    if input.ndim != 2 or vec.ndim != 1:
        raise ValueError(f"mv: expected a matrix and a vector, got shapes {input.shape} and {vec.shape}")
    return _M.matmul(input, vec)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    if input.ndim != 1 or vec2.ndim != 1:
        raise ValueError(f"outer: expected two vectors, got shapes {input.shape} and {vec2.shape}")
    return _E.mul(_S.unsqueeze(input, 1), _S.unsqueeze(vec2, 0))

ger = outer  # PyTorch's older name


def trace(input: Tensor) -> Tensor:
    if input.ndim != 2:
        raise ValueError(f"trace: expected a matrix, got shape {input.shape}")
    n = np.arange(min(input.shape))
    return _R.sum(_S.getitem(input, (n, n)))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A vector's diagonal matrix, or a matrix's diagonal (``diagonal`` > 0 above the main one)."""
    if input.ndim == 1:
        n = input.shape[0] + abs(diagonal)
        rows = np.arange(input.shape[0]) + max(-diagonal, 0)
        out = Tensor._wrap(np.zeros((n, n), dtype=input.dtype))
        return _S.setitem_out_of_place(out, (rows, rows + diagonal), input)
    if input.ndim != 2:
        raise ValueError(f"diag: expected a vector or a matrix, got shape {input.shape}")
    k = np.arange(max(0, min(input.shape[0] + min(diagonal, 0), input.shape[1] - max(diagonal, 0))))
    return _S.getitem(input, (k + max(-diagonal, 0), k + max(diagonal, 0)))


def repeat_interleave(input: Tensor, repeats: Any, dim: int | None = None, *, output_size: Any = None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place."""
    x = _S.reshape(input, (-1,)) if dim is None else input
    axis = 0 if dim is None else dim % max(x.ndim, 1)
    reps = repeats.array if isinstance(repeats, Tensor) else repeats
    index = np.repeat(np.arange(x.shape[axis]), reps)
    return _S.index_select(x, axis, Tensor._wrap(index))


def take(input: Tensor, index: Any) -> Tensor:
    """Entries of the flattened tensor at ``index`` (the result has the index's shape)."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    flat = _S.reshape(input, (-1,))
    return _S.reshape(_S.index_select(flat, 0, Tensor._wrap(np.where(idx < 0, idx + flat.shape[0], idx).reshape(-1))), idx.shape)


def _along(input: Tensor, dim: int, index: Any, like: Tensor | None) -> Tensor:
    """``index`` (1-D, along ``dim``) expanded to the shape of ``like`` for scatter/scatter_add."""
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    axis = dim % max(input.ndim, 1)
    shape = list(input.shape if like is None else like.shape)
    shape[axis] = idx.size
    view = [1] * len(shape)
    view[axis] = idx.size
    return Tensor._wrap(np.broadcast_to(idx.reshape(view), shape))


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """out = input, then out[..., index[i], ...] += alpha * source[..., i, ...] along ``dim``."""
    return _S.scatter_add(input, dim, _along(input, dim, index, source), source * alpha if alpha != 1 else source)


def index_add_(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    return input._replace(index_add, dim, index, source, alpha=alpha)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    return _S.scatter(input, dim, _along(input, dim, index, source), source)


def index_copy_(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    return input._replace(index_copy, dim, index, source)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    return _S.scatter(input, dim, _along(input, dim, index, None), value=value)


def index_fill_(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    return input._replace(index_fill, dim, index, value)


def trunc(input: Tensor) -> Tensor:
    """Round towards zero (zero gradient, as floor)."""
    return _E.mul(_E.sign(input), _E.floor(_E.abs(input)))

fix = trunc  # NumPy's name, also PyTorch's


def frac(input: Tensor) -> Tensor:
    return _E.sub(input, trunc(input))


def log2(input: Tensor) -> Tensor:
    return _E.log(input) * (1 / np.log(2.0))


def log10(input: Tensor) -> Tensor:
    return _E.log(input) * (1 / np.log(10.0))


def tan(input: Tensor) -> Tensor:
    return _E.div(_E.sin(input), _E.cos(input))


def fliplr(input: Tensor) -> Tensor:
    return _S.flip(input, 1)


def flipud(input: Tensor) -> Tensor:
    return _S.flip(input, 0)


def sum_to_size(input: Tensor, *size: Any) -> Tensor:
    """Sum over the dims broadcast from ``size`` (the reverse of ``expand``)."""
    size = shape_args(size)
    lead = input.ndim - len(size)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size) if s == 1 and input.shape[lead + i] != 1)
    out = _R.sum(input, dims, keepdim=True) if dims else input
    return _S.reshape(out, size)


def split_with_sizes(input: Tensor, split_sizes: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return _S.split(input, list(split_sizes), dim)


def aminmax(input: Tensor, *, dim: Any = None, keepdim: bool = False) -> Any:
    return _S.MinMaxResult(_R.amin(input, dim, keepdim), _R.amax(input, dim, keepdim))


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim: Any = None) -> Any:
    """The distinct values (sorted), optionally with each element's position in them and counts."""
    values, inverse, counts = np.unique(input.array, return_inverse=True, return_counts=True, axis=dim)
    out = [Tensor._wrap(values)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.reshape(input.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def signbit(input: Tensor) -> Tensor:
    return Tensor._wrap(np.signbit(input.array))


def isposinf(input: Tensor) -> Tensor:
    return Tensor._wrap(np.isposinf(input.array))


def isneginf(input: Tensor) -> Tensor:
    return Tensor._wrap(np.isneginf(input.array))
