"""Argument checks shared by the ops: float inputs, dims, n-tuples, batch axes, reductions.

Each raises a ValueError, TypeError or IndexError naming the op (``name``) and what it got.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.ops.promotion import cast
from deepling.tensor import Tensor, default_dtype

__all__ = ["tensor_input", "float_input", "normalize_axis", "ntuple", "batched", "check_reduction", "REDUCTIONS"]


def tensor_input(name: str, x: Any, what: str = "input") -> Tensor:
    """``x`` if it is a Tensor; else a TypeError naming the op (a list or an ndarray is not silently accepted)."""
    if not isinstance(x, Tensor):
        hint = " (wrap it with deepling.tensor(...))" if isinstance(x, (list, tuple, np.ndarray, int, float)) else ""
        raise TypeError(f"{name}: expected a Tensor as {what}, got {type(x).__name__}{hint}")
    return x


def float_input(name: str, x: Any) -> Tensor:
    """``x`` itself if it is a floating (or complex) Tensor, else ``x`` cast to the default float dtype."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind not in "fc":
        return cast(x, default_dtype)
    return x


def normalize_axis(name: str, dim: int, ndim: int) -> int:
    """``dim`` in [-ndim, ndim) as a non-negative axis (0 for a 0-d tensor, as PyTorch allows)."""
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    return dim % ndim if ndim else 0


def ntuple(name: str, value: Any, n: int, arg: str) -> tuple[int, ...]:
    """An int or a sequence of n ints, as PyTorch accepts for kernel_size/stride/padding/dilation."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{name}: {arg} must be an int or {n} ints, got {value}")
    return value


def batched(name: str, x: Tensor, dims: int) -> tuple[Tensor, bool]:
    """Accept an unbatched input (C, *spatial) by adding a batch axis of 1, as PyTorch does."""
    tensor_input(name, x)
    if x.ndim == dims + 1:
        return x.unsqueeze(0), True
    if x.ndim != dims + 2:
        raise ValueError(f"{name}: expected a {dims + 1}-D or {dims + 2}-D input, got shape {x.shape}")
    return x, False


REDUCTIONS = ("none", "mean", "sum")


def check_reduction(name: str, reduction: str, size_average: Any = None, reduce: Any = None, extra: tuple = ()) -> str:
    """Validate ``reduction``; map PyTorch's legacy ``size_average``/``reduce`` flags onto it."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if reduce and size_average else "sum" if reduce else "none"
    if reduction not in REDUCTIONS + extra:
        allowed = ", ".join(repr(r) for r in REDUCTIONS + extra)
        raise ValueError(f"{name}: reduction must be one of {allowed}, got {reduction!r}")
    return reduction
