"""Dtype promotion and casts for the ops: PyTorch's rules, written once.

A Python scalar is "weak": it takes the tensor's dtype unless it is of a higher kind
(int tensor * 0.5 -> float32); a 0-d tensor does not widen a dimensioned one of the same kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.autograd import Function
from deepling.tensor import Tensor, default_dtype, to_array

__all__ = ["kind_rank", "Cast", "cast", "scalar_dtype", "promote", "operand", "binary_operands"]

_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def kind_rank(dt: np.dtype) -> int:
    """Order of the dtype kinds: bool < integer < float < complex."""
    return _KIND_RANK[dt.kind]


def scalar_dtype(value: Any, other: np.dtype) -> np.dtype:
    """Dtype for a Python scalar combined with a tensor of dtype ``other`` (scalars are 'weak')."""
    if isinstance(value, bool):
        kind = 0
    elif isinstance(value, (int, np.integer)):
        kind = 1
    elif isinstance(value, (float, np.floating)):
        kind = 2
    else:
        raise TypeError(f"unsupported operand type {type(value).__name__}")
    if kind <= kind_rank(other):
        return other
    return np.dtype(np.int64) if kind == 1 else default_dtype


def promote(a: Tensor, b: Tensor) -> np.dtype:
    da, db = a.array.dtype, b.array.dtype
    ra, rb = kind_rank(da), kind_rank(db)
    if ra != rb:
        return da if ra > rb else db
    # Same kind: a 0-d tensor does not widen a dimensioned one (PyTorch's rule).
    if a.array.ndim == 0 and b.array.ndim > 0:
        return db
    if b.array.ndim == 0 and a.array.ndim > 0:
        return da
    return np.promote_types(da, db)


def operand(value: Any, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._wrap(to_array(value))
    if isinstance(value, (list, tuple)):
        return Tensor._wrap(to_array(value))
    return Tensor._wrap(np.asarray(value, dtype=scalar_dtype(value, like.array.dtype)))


def binary_operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        b = operand(b, a)
    elif isinstance(b, Tensor):
        a = operand(a, b)
    else:
        raise TypeError(f"expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}")
    if a.array.dtype != b.array.dtype:
        dt = promote(a, b)
        if a.array.dtype != dt:
            a = cast(a, dt)
        if b.array.dtype != dt:
            b = cast(b, dt)
    return a, b


class Cast(Function):
    def forward(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        self.src = x.dtype
        return x.astype(dtype)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g.astype(self.src)


def cast(x: Tensor, dtype: np.dtype) -> Tensor:
    if x.array.dtype == dtype:
        return x
    if dtype.kind not in "fc" and x.requires_grad:
        return Tensor._wrap(x.array.astype(dtype))  # integer results carry no gradient
    return Cast.apply(x, dtype)
