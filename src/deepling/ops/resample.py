"""Padding and resampling: ``pad`` (constant, reflect, replicate, circular) and ``interpolate``.

Linear resampling is separable: along each spatial axis the output is ``A @ x`` for a sparse
(out, in) interpolation matrix ``A`` (two taps per row for linear, one for nearest), so the
gradient is ``A^T @ g`` -- the exact adjoint, with no scatter loops.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from deepling.autograd import Function
from deepling.tensor import Tensor

__all__ = ["pad", "interpolate", "pad_array"]

_NP_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


# ---------------------------------------------------------------------------- pad
def pad_array(x: np.ndarray, pads: Sequence[int], value: float = 0.0) -> np.ndarray:
    """Pad the last two axes of (P, Q, H, W) by (top, bottom, left, right) with a constant."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    p, q, h, w = x.shape
    out = np.full((p, q, h + top + bottom, w + left + right), value, dtype=x.dtype)
    out[:, :, top : top + h, left : left + w] = x
    return out


def _fold_back(g: np.ndarray, axis: int, before: int, after: int, n: int, mode: str) -> np.ndarray:
    """Adjoint of padding one axis: add each padded entry's gradient to the input entry it copied."""
    core = np.take(g, np.arange(before, before + n), axis=axis)

    def part(start: int, stop: int) -> np.ndarray:
        return np.take(g, np.arange(start, stop), axis=axis)

    def add(idx: np.ndarray, values: np.ndarray) -> None:
        # idx has no repeats in each call, so fancy-index += is exact.
        sl = [slice(None)] * core.ndim
        sl[axis] = idx
        core[tuple(sl)] += values

    left, right = part(0, before), part(before + n, before + n + after)
    if mode == "reflect":  # padded entry k (left) copies x[before - k]; right entry k copies x[n - 2 - k]
        if before:
            add(np.arange(before, 0, -1), left)
        if after:
            add(np.arange(n - 2, n - 2 - after, -1), right)
    elif mode == "replicate":
        if before:
            add(np.array([0]), left.sum(axis=axis, keepdims=True))
        if after:
            add(np.array([n - 1]), right.sum(axis=axis, keepdims=True))
    elif mode == "circular":  # left entry k copies x[n - before + k]; right entry k copies x[k]
        if before:
            add(np.arange(n - before, n), left)
        if after:
            add(np.arange(after), right)
    return core


class Pad(Function):
    """Pad the trailing axes; ``widths`` is a list of (before, after) per axis of x."""

    def forward(self, x: np.ndarray, widths: list[tuple[int, int]], mode: str, value: float) -> np.ndarray:
        self.widths, self.mode, self.shape = widths, mode, x.shape
        if mode == "constant":
            # Negative widths crop, as in PyTorch: pad the positive part, then slice.
            pos = [(max(a, 0), max(b, 0)) for a, b in widths]
            out = np.pad(x, pos, mode="constant", constant_values=value) if any(a or b for a, b in pos) else x
            crop = tuple(slice(-min(a, 0), out.shape[i] + min(b, 0)) for i, (a, b) in enumerate(widths))
            return np.ascontiguousarray(out[crop])
        return np.pad(x, widths, mode=_NP_MODES[mode])

    def backward(self, g: np.ndarray) -> np.ndarray:
        if self.mode == "constant":
            gx = np.zeros(self.shape, dtype=g.dtype)
            src, dst = [], []
            for (a, b), n in zip(self.widths, self.shape):
                lo, hi = max(-a, 0), n - max(-b, 0)  # the input range that survives the crop
                dst.append(slice(lo, hi))
                src.append(slice(lo + a, hi + a))
            gx[tuple(dst)] = g[tuple(src)]
            return gx
        for axis in reversed(range(g.ndim)):
            a, b = self.widths[axis]
            if a or b:
                g = _fold_back(g, axis, a, b, self.shape[axis], self.mode)
        return g


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad)//2`` dims; ``pad = (left, right, top, bottom, ...)`` starts at the last dim.

    Modes: 'constant' (fill with ``value``, negative widths crop), 'reflect' (mirror without the edge),
    'replicate' (repeat the edge), 'circular' (wrap around).
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length {len(pad)} must be even and at most 2 * ndim for input of shape {input.shape}")
    if mode not in _NP_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}; expected one of {list(_NP_MODES)}")
    if mode != "constant" and value:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    k = len(pad) // 2
    widths = [(0, 0)] * (input.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    for (a, b), n in zip(widths, input.shape):
        if mode == "constant" and n + a + b < 0:
            raise ValueError(f"pad: padding {pad} crops input of shape {input.shape} below zero size")
        if mode != "constant" and (a < 0 or b < 0):
            raise ValueError(f"pad: negative padding {pad} is only supported in constant mode")
        if mode == "reflect" and (a >= n or b >= n):
            raise ValueError(f"pad: reflect padding {pad} must be smaller than the dims of input of shape {input.shape}")
        if mode == "circular" and (a > n or b > n):
            raise ValueError(f"pad: circular padding {pad} may be at most the dims of input of shape {input.shape}")
        if mode == "replicate" and n == 0 and (a or b):
            raise ValueError(f"pad: cannot replicate-pad an empty dim of input of shape {input.shape}")
    return Pad.apply(input, widths, mode, 0.0 if value is None else float(value))


# ---------------------------------------------------------------------------- interpolate
def _source_scale(n_in: int, n_out: int, align_corners: bool, scale: float | None, dtype: np.dtype) -> Any:
    """The output-to-input coordinate scale, as PyTorch's area_pixel_compute_scale."""
    if align_corners:
        return dtype.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype.type(0)
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(n_in / n_out)


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool, dtype: np.dtype) -> np.ndarray:
    s = _source_scale(n_in, n_out, False, scale, dtype)
    dst = np.arange(n_out, dtype=dtype)
    src = np.floor((dst + dtype.type(0.5)) * s) if exact else np.floor(dst * s)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_matrix(n_in: int, n_out: int, align_corners: bool, scale: float | None, dtype: np.dtype) -> np.ndarray:
    """(n_out, n_in) matrix of the two linear-interpolation weights per output position."""
    s = _source_scale(n_in, n_out, align_corners, scale, dtype)
    dst = np.arange(n_out, dtype=dtype)
    if align_corners:
        src = dst * s
    else:
        src = np.maximum((dst + dtype.type(0.5)) * s - dtype.type(0.5), dtype.type(0))
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam1 = (src - i0.astype(dtype)).astype(dtype)
    a = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    np.add.at(a, (rows, i0), dtype.type(1) - lam1)
    np.add.at(a, (rows, i1), lam1)
    return a


def _apply_axis(a: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """Multiply (out, in) matrix ``a`` into ``x`` along ``axis``."""
    if axis == x.ndim - 1:
        return np.matmul(x, a.T)
    return np.moveaxis(np.tensordot(a, x, axes=([1], [axis])), 0, axis)


class _Resample(Function):
    """Separable resampling of the spatial axes (2..): a gather (nearest) or matrices (linear)."""

    def forward(self, x: np.ndarray, mats: list[np.ndarray], index: list[np.ndarray] | None) -> np.ndarray:
        self.mats = mats
        if index is not None:  # nearest: an exact gather
            return np.ascontiguousarray(x[(slice(None), slice(None)) + tuple(np.ix_(*index))])
        out = x
        for i, a in enumerate(mats):
            out = _apply_axis(a, out, 2 + i)
        return np.ascontiguousarray(out)

    def backward(self, g: np.ndarray) -> np.ndarray:
        for i, a in enumerate(self.mats):
            g = _apply_axis(a.T, g, 2 + i)
        return g


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, L) or (N, C, H, W).

    Modes 'nearest', 'nearest-exact', 'linear' (3-D) and 'bilinear' (4-D). Give ``size`` or
    ``scale_factor``; output size is ``floor(in * scale_factor)``. Linear source coordinates are
    ``(dst + 0.5) / scale - 0.5`` (``dst * (in - 1)/(out - 1)`` with ``align_corners=True``).
    """
    dims = input.ndim - 2
    if dims not in (1, 2):
        raise ValueError(f"interpolate: expected a 3-D or 4-D input, got shape {input.shape}")
    linear = {"linear": 1, "bilinear": 2}
    if mode in linear:
        if linear[mode] != dims:
            raise ValueError(f"interpolate: mode {mode!r} expects a {linear[mode] + 2}-D input, got shape {input.shape}")
    elif mode in ("nearest", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: linear | bilinear")
    else:
        raise ValueError(f"interpolate: unsupported mode {mode!r}")
    if antialias:
        raise ValueError("interpolate: antialias is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor must be given")
    n_in = input.shape[2:]
    if size is not None:
        out = tuple(int(s) for s in (size if isinstance(size, (tuple, list)) else (size,) * dims))
        scales: tuple[Any, ...] = (None,) * dims
    else:
        scales = tuple(float(s) for s in (scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * dims))
        out = tuple(math.floor(n * s) for n, s in zip(n_in, scales))
        if recompute_scale_factor:
            scales = (None,) * dims
    if len(out) != dims or len(scales) != dims or min(out) <= 0:
        raise ValueError(f"interpolate: invalid output size {out} for input of shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating point input, got {input.dtype}")
    dt = input.dtype
    if mode in linear:
        mats = [_linear_matrix(a, b, bool(align_corners), s, dt) for a, b, s in zip(n_in, out, scales)]
        return _Resample.apply(input, mats, None)
    index = [_nearest_index(a, b, s, mode == "nearest-exact", dt) for a, b, s in zip(n_in, out, scales)]
    mats = []
    for idx, a in zip(index, n_in):
        m = np.zeros((len(idx), a), dtype=dt)
        m[np.arange(len(idx)), idx] = 1
        mats.append(m)
    return _Resample.apply(input, mats, index)
