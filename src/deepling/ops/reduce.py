"""Reductions: sum, mean, var/std, max/min (with indices), amax/amin, argmax/argmin, logsumexp, norm.

``dim`` is an int, a tuple of ints or None (all dims); ``keepdim`` keeps reduced dims as size 1.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from deepling.autograd import Function
from deepling.ops import kernels
from deepling.ops.arguments import float_input
from deepling.ops.promotion import cast
from deepling.tensor import Tensor, as_dtype

__all__ = [
    "sum", "mean", "var", "std", "var_mean", "max", "min", "amax", "amin", "argmax", "argmin",
    "logsumexp", "norm", "prod",
]


def _dims(name: str, ndim: int, dim: Any) -> tuple[int, ...]:
    """Normalize ``dim`` to a sorted tuple of non-negative axes, raising IndexError as PyTorch."""
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim) if dim is not None else ()
    if not dims:  # None, () and [] all mean every dim, as in PyTorch
        return tuple(range(ndim))
    lo, hi = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    out = []
    for d in dims:
        if not lo <= d <= hi:
            raise IndexError(f"{name}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})")
        out.append(d % ndim if ndim else 0)
    if ndim == 0:
        return ()
    if len(set(out)) != len(out):
        raise RuntimeError(f"{name}: dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(out))


def _expand_back(g: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
    """Broadcast a reduced gradient back over the reduced axes (read-only view, no copy)."""
    if not keepdim and axes:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class Sum(Function):
    def forward(self, x: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.shape, self.axes, self.keepdim = x.shape, axes, keepdim
        return np.asarray(x.sum(axis=axes, keepdims=keepdim))

    def backward(self, g: np.ndarray) -> np.ndarray:
        return _expand_back(g, self.shape, self.axes, self.keepdim)


class Mean(Function):
    def forward(self, x: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        if self.n == 0:  # the mean of nothing is NaN, without NumPy's warning (PyTorch is silent)
            return np.full(np.sum(x, axis=axes, keepdims=keepdim).shape, np.nan, dtype=x.dtype)
        return np.asarray(x.mean(axis=axes, keepdims=keepdim))

    def backward(self, g: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):  # n = 0: an empty gradient anyway
            return _expand_back(g / self.n, self.shape, self.axes, self.keepdim)


class Var(Function):
    """var = sum (x - mean)^2 / (N - correction); d/dx = 2 (x - mean) / (N - correction)."""

    def forward(self, x: np.ndarray, axes: tuple[int, ...], correction: float, keepdim: bool) -> np.ndarray:
        self.shape, self.axes, self.keepdim = x.shape, axes, keepdim
        n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        self.centered = x - x.mean(axis=axes, keepdims=True)
        self.denom = n - correction if n > correction else 0
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (self.centered * self.centered).sum(axis=axes, keepdims=keepdim) / x.dtype.type(self.denom)
        return np.asarray(out, dtype=x.dtype)

    def backward(self, g: np.ndarray) -> np.ndarray:
        g = _expand_back(g, self.shape, self.axes, self.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * self.centered * (2.0 / self.denom if self.denom else np.inf)


def _correction(unbiased: Any, correction: Any) -> float:
    if correction is not None:
        return float(correction)
    if unbiased is None:
        return 1.0
    return 1.0 if unbiased else 0.0


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Sum over ``dim``; bool and integer tensors sum to int64, as in PyTorch."""
    if dtype is not None:
        x = cast(x, as_dtype(dtype))
    elif x.array.dtype.kind in "biu":
        x = cast(x, np.dtype(np.int64))
    return Sum.apply(x, _dims("sum", x.ndim, dim), keepdim)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = cast(x, as_dtype(dtype))
    if x.array.dtype.kind not in "fc":
        raise TypeError(f"mean: expected a floating point tensor, got {x.dtype}; use .float() first")
    return Mean.apply(x, _dims("mean", x.ndim, dim), keepdim)


def var(x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
    """Variance over ``dim`` with ``correction`` (default 1: the unbiased estimate)."""
    x = float_input("var", x)
    return Var.apply(x, _dims("var", x.ndim, dim), _correction(unbiased, correction), keepdim)


class Std(Var):
    """std = sqrt(var); d/dx = (x - mean) / ((N - correction) std), taken as 0 where std == 0 (as PyTorch)."""

    def forward(self, x: np.ndarray, axes: tuple[int, ...], correction: float, keepdim: bool) -> np.ndarray:
        self.out = np.sqrt(super().forward(x, axes, correction, keepdim))
        return self.out

    def backward(self, g: np.ndarray) -> np.ndarray:
        # d std = d var / (2 std); a constant input (std == 0) gets a zero gradient, not 0/0.
        zero = self.out == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            gvar = np.where(zero, 0, g / (2 * np.where(zero, 1, self.out)))
        return super().backward(gvar.astype(g.dtype, copy=False))


def std(x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
    """Standard deviation: sqrt(var); gradient (x - mean) / ((N - correction) std)."""
    x = float_input("std", x)
    return Std.apply(x, _dims("std", x.ndim, dim), _correction(unbiased, correction), keepdim)


def var_mean(x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> tuple:
    return var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


# ---------------------------------------------------------------------------- max / min
class MaxMinResult(NamedTuple):
    """``(values, indices)`` as returned by ``max(dim)``/``min(dim)``."""

    values: Tensor
    indices: Tensor


class _SelectAlong(Function):
    """Values picked at ``indices`` along one axis; the gradient goes to the picked element."""

    def forward(self, x: np.ndarray, idx: np.ndarray, axis: int, keepdim: bool) -> np.ndarray:
        self.shape, self.idx, self.axis, self.keepdim = x.shape, idx, axis, keepdim
        out = np.take_along_axis(x, np.expand_dims(idx, axis), axis)
        return out if keepdim else out.squeeze(axis)

    def backward(self, g: np.ndarray) -> np.ndarray:
        gx = np.zeros(self.shape, dtype=g.dtype)
        if not self.keepdim:
            g = np.expand_dims(g, self.axis)
        np.put_along_axis(gx, np.expand_dims(self.idx, self.axis), g, self.axis)
        return gx


class _Extreme(Function):
    """amax/amin: the gradient is shared evenly by the elements that tie for the extreme.

    A slice whose extreme is NaN gets a NaN gradient (PyTorch's amax/amin); with ``nan_even`` (the
    full ``max()``/``min()``) the gradient is shared by the NaN elements instead, as PyTorch does.
    """

    def forward(self, x: np.ndarray, axes: tuple[int, ...], keepdim: bool, largest: bool,
                nan_even: bool = False) -> np.ndarray:
        self.shape, self.axes, self.keepdim = x.shape, axes, keepdim
        out = (np.max if largest else np.min)(x, axis=axes, keepdims=True)
        self.mask = x == out
        if nan_even and out.dtype.kind == "f" and np.isnan(out).any():
            self.mask = np.isnan(x)
        return out if keepdim else np.asarray(out.squeeze(axes) if axes else out)

    def backward(self, g: np.ndarray) -> np.ndarray:
        g = _expand_back(g, self.shape, self.axes, self.keepdim)
        count = self.mask.sum(axis=self.axes, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 in a NaN slice is PyTorch's NaN
            return g * self.mask / count


def _max_min(x: Tensor, dim: Any, keepdim: bool, largest: bool, name: str) -> Any:
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        from deepling.ops.elementwise import maximum, minimum

        return (maximum if largest else minimum)(x, dim)
    if x.array.size == 0:
        raise RuntimeError(f"{name}: expected a non-empty tensor")
    if dim is None:
        return _Extreme.apply(x, tuple(range(x.ndim)), False, largest, True)
    (axis,) = _dims(name, x.ndim, dim) or (None,)
    if axis is None:  # 0-d input
        return MaxMinResult(x, Tensor._wrap(np.zeros((), dtype=np.int64)))
    idx = (np.argmax if largest else np.argmin)(x.array, axis=axis)
    values = _SelectAlong.apply(x, idx, axis, keepdim)
    indices = Tensor._wrap(np.expand_dims(idx, axis) if keepdim else idx)
    return MaxMinResult(values, indices)


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``max(x)`` is the largest element; ``max(x, dim)`` returns ``(values, indices)``."""
    return _max_min(x, dim, keepdim, True, "max")


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _max_min(x, dim, keepdim, False, "min")


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _Extreme.apply(x, _dims("amax", x.ndim, dim), keepdim, True)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _Extreme.apply(x, _dims("amin", x.ndim, dim), keepdim, False)


def _arg(np_op: Any, name: str, x: Tensor, dim: Any, keepdim: bool) -> Tensor:
    if dim is None:
        out = np.asarray(np_op(x.array.reshape(-1)))
        return Tensor._wrap(out.reshape((1,) * x.ndim) if keepdim else out)
    (axis,) = _dims(name, x.ndim, dim) or (None,)
    if axis is None:
        return Tensor._wrap(np.zeros((), dtype=np.int64))
    return Tensor._wrap(np.asarray(np_op(x.array, axis=axis, keepdims=keepdim)))


def argmax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximal element (over the flattened tensor when ``dim`` is None)."""
    return _arg(np.argmax, "argmax", x, dim, keepdim)


def argmin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return _arg(np.argmin, "argmin", x, dim, keepdim)


# ---------------------------------------------------------------------------- prod
def _exclusive_cumprod(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """Products of the elements strictly before (or after) each position along ``axis``."""
    if reverse:
        return np.flip(_exclusive_cumprod(np.flip(x, axis), axis, False), axis)
    head = np.ones_like(np.take(x, [0], axis=axis))
    body = np.cumprod(np.take(x, np.arange(x.shape[axis] - 1), axis=axis), axis=axis)
    return np.concatenate([head, body], axis=axis)


class Prod(Function):
    """Product along one axis; d/dx_i = product of the other elements (exact when some x_j == 0)."""

    def forward(self, x: np.ndarray, axis: int, keepdim: bool) -> np.ndarray:
        self.x, self.axis, self.keepdim = x, axis, keepdim
        return np.asarray(np.prod(x, axis=axis, keepdims=keepdim))

    def backward(self, g: np.ndarray) -> np.ndarray:
        x, axis = self.x, self.axis
        others = _exclusive_cumprod(x, axis, False) * _exclusive_cumprod(x, axis, True)
        return _expand_back(g, x.shape, (axis,), self.keepdim) * others


def prod(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Product of all elements, or along the one ``dim``; integer and bool tensors give int64."""
    if dtype is not None:
        x = cast(x, as_dtype(dtype))
    elif x.array.dtype.kind in "biu":
        x = cast(x, np.dtype(np.int64))
    if dim is None:
        return Prod.apply(x.reshape(-1), 0, False)
    if x.ndim == 0:
        _dims("prod", 0, dim)
        return x * 1
    (axis,) = _dims("prod", x.ndim, int(dim))
    return Prod.apply(x, axis, keepdim)


# ---------------------------------------------------------------------------- logsumexp / norm
class LogSumExp(Function):
    """log sum exp x, shifted by the max for stability; the gradient is softmax(x)."""

    def forward(self, x: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.x, self.axes, self.keepdim = x, axes, keepdim
        self.out = kernels.logsumexp(x, axes)
        return self.out if keepdim else np.asarray(self.out.squeeze(axes) if axes else self.out)

    def backward(self, g: np.ndarray) -> np.ndarray:
        g = _expand_back(g, self.x.shape, self.axes, self.keepdim)
        return g * np.exp(self.x - self.out)


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    x = float_input("logsumexp", x)
    return LogSumExp.apply(x, _dims("logsumexp", x.ndim, dim), keepdim)


class Norm2(Function):
    """||x||_2 = sqrt(sum x^2); d/dx = x / ||x|| (0 where the norm is 0, as in PyTorch)."""

    def forward(self, x: np.ndarray, axes: tuple[int, ...], keepdim: bool) -> np.ndarray:
        self.x, self.axes, self.keepdim = x, axes, keepdim
        self.out = np.sqrt((x * x).sum(axis=axes, keepdims=True))
        return self.out if keepdim else np.asarray(self.out.squeeze(axes) if axes else self.out)

    def backward(self, g: np.ndarray) -> np.ndarray:
        g = _expand_back(g, self.x.shape, self.axes, self.keepdim)
        safe = np.where(self.out == 0, 1, self.out)
        return g * np.where(self.out == 0, 0, self.x / safe)


def norm(x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None): p in {'fro', 2, 1, inf, -inf, any float}."""
    x = float_input("norm", x)
    if p in ("fro", 2, 2.0):
        return Norm2.apply(x, _dims("norm", x.ndim, dim), keepdim)
    if p in (float("inf"), "inf"):
        return amax(x.abs(), dim, keepdim)
    if p in (float("-inf"), "-inf"):
        return amin(x.abs(), dim, keepdim)
    if p == 1:
        return sum(x.abs(), dim, keepdim)
    if isinstance(p, (int, float)) and p > 0:
        return sum(x.abs() ** float(p), dim, keepdim) ** (1.0 / p)
    raise ValueError(f"norm: unsupported p={p!r}")
