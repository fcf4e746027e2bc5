"""Pooling: max/avg over sliding windows, adaptive pooling, and max-unpooling.

Reductions and their gradients loop over the kh*kw kernel offsets: offset (i, j) of every window at
once is one strided slice of the padded input, so each step is a whole-array NumPy op (for stride ==
kernel these slices tile the input). Max-pool's gradient goes to the first maximum of each window
(row-major), as PyTorch's does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling import threadpool
from deepling.autograd import Function
from deepling.ops.arguments import batched, ntuple, tensor_input
from deepling.ops.resample import pad_array
from deepling.tensor import Tensor

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "max_unpool2d", "adaptive_avg_pool1d",
]


# ---------------------------------------------------------------------------- geometry
def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size; with ceil_mode the last window must start inside the input or left pad."""
    eff = d * (k - 1) + 1
    n = (size + 2 * p - eff + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def _geometry(name: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, dims: int) -> tuple:
    k = ntuple(name, kernel_size, dims, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else ntuple(name, stride, dims, "stride")
    p = ntuple(name, padding, dims, "padding")
    d = ntuple(name, dilation, dims, "dilation")
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(f"{name}: invalid kernel_size {k}, stride {s}, padding {p} or dilation {d}")
    if any(pi > (di * (ki - 1) + 1) // 2 for pi, ki, di in zip(p, k, d)):
        raise ValueError(f"{name}: pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation={d}")
    out = tuple(_pool_out(n, ki, si, pi, di, ceil_mode) for n, ki, si, pi, di in zip(x.shape[-dims:], k, s, p, d))
    if min(out) <= 0:
        raise ValueError(f"{name}: input of shape {x.shape} is too small for kernel_size {k}, padding {p}, dilation {d} (output {out})")
    return k, s, p, d, out


def _padded(x: np.ndarray, k: tuple, s: tuple, p: tuple, d: tuple, out: tuple, value: float) -> np.ndarray:
    """Pad by p on both sides, plus what the last (ceil_mode) window needs on the bottom/right."""
    extra = [max(0, (o - 1) * si + di * (ki - 1) + 1 - (n + 2 * pi))
             for o, si, di, ki, n, pi in zip(out, s, d, k, x.shape[2:], p)]
    return pad_array(x, (p[0], p[0] + extra[0], p[1], p[1] + extra[1]), value)


def _offsets(k: tuple, s: tuple, d: tuple, out: tuple) -> Any:
    """(i, j, slice into the padded input) for each kernel offset."""
    for i in range(k[0]):
        for j in range(k[1]):
            yield i, j, (slice(None), slice(None), slice(i * d[0], i * d[0] + s[0] * (out[0] - 1) + 1, s[0]),
                         slice(j * d[1], j * d[1] + s[1] * (out[1] - 1) + 1, s[1]))


# ---------------------------------------------------------------------------- max pool
class MaxPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo), the max of each (dilated) window; optionally flat argmax indices."""

    def forward(self, x: np.ndarray, k: tuple, s: tuple, p: tuple, d: tuple, out: tuple,
                want_indices: bool) -> np.ndarray:
        # Without padding (e.g. stride == kernel) xp is x itself. A running maximum over the kh*kw
        # offset slices beats reshape(..., kh, ..., kw).max(axis=(3, 5)): NumPy reduces those short
        # strided axes element by element (about 90x slower for 2x2 pooling of (64, 6, 28, 28)).
        xp = _padded(x, k, s, p, d, out, -np.inf)
        y = np.empty(x.shape[:2] + tuple(out), dtype=xp.dtype)

        def images(lo: int, hi: int) -> None:  # split by image over the CPU pool
            first = True
            for _, _, sl in _offsets(k, s, d, out):
                if first:
                    np.copyto(y[lo:hi], xp[lo:hi][sl])
                    first = False
                else:
                    np.maximum(y[lo:hi], xp[lo:hi][sl], out=y[lo:hi])

        threadpool.parallel_for(x.shape[0], images, elements=xp.size + 2 * y.size * k[0] * k[1])
        self.xp, self.y, self.geom, self.shape = xp, y, (k, s, p, d, out), x.shape
        self.last_nan = None
        if xp.dtype.kind == "f" and np.isnan(y).any():
            # PyTorch's kernel takes a NaN whenever it meets one: a window's last NaN wins.
            self.last_nan = np.full(y.shape, -1, dtype=np.int64)
            for n, (_, _, sl) in enumerate(_offsets(k, s, d, out)):
                self.last_nan[np.isnan(xp[sl])] = n
        if want_indices:
            self.indices = self._indices()
        return y

    def _first_max(self, lo: int = 0, hi: int | None = None) -> Any:
        """For each kernel offset: its slice and where it holds the window's first maximum (of
        images lo:hi)."""
        k, s, _, d, out = self.geom
        offsets = list(_offsets(k, s, d, out))
        taken = None
        xp, y = self.xp[lo:hi], self.y[lo:hi]
        for n, (i, j, sl) in enumerate(offsets):
            m = np.equal(xp[sl], y)
            if self.last_nan is not None:
                m |= self.last_nan[lo:hi] == n  # NaN windows: no element equals the NaN maximum
            if taken is None:
                taken = m.copy()
            else:
                np.greater(m, taken, out=m)  # m and not taken, in place
                if n < len(offsets) - 1:
                    taken |= m
            yield i, j, sl, m

    def _indices(self) -> np.ndarray:
        k, s, p, d, out = self.geom
        w = self.shape[3]
        rows = (np.arange(out[0]) * s[0] - p[0])[:, None]
        cols = (np.arange(out[1]) * s[1] - p[1])[None, :]
        idx = np.zeros(self.y.shape, dtype=np.int64)
        for i, j, _, m in self._first_max():
            np.copyto(idx, (rows + i * d[0]) * w + cols + j * d[1], where=m)
        return idx

    def backward(self, g: np.ndarray) -> np.ndarray:
        k, s, p, d, out = self.geom
        h, w = self.shape[2:]
        disjoint = d == (1, 1) and s[0] >= k[0] and s[1] >= k[1]
        # Windows that tile the input exactly write every element of the gradient: no zero fill.
        tiled = disjoint and s == k and p == (0, 0) and (out[0] * s[0], out[1] * s[1]) == (h, w)
        gxp = (np.empty if tiled else np.zeros)(self.xp.shape, dtype=g.dtype)

        def images(lo: int, hi: int) -> None:  # split by image over the CPU pool
            gi, gxi = g[lo:hi], gxp[lo:hi]
            for _, _, sl, m in self._first_max(lo, hi):
                if disjoint:  # windows do not overlap: write each offset's share straight into place
                    np.multiply(gi, m, out=gxi[sl])
                else:
                    gxi[sl] += np.where(m, gi, 0)

        threadpool.parallel_for(g.shape[0], images, elements=self.xp.size * 3 + g.size * k[0] * k[1] * 3)
        return gxp[:, :, p[0] : p[0] + h, p[1] : p[1] + w]


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over kh x kw windows: (N, C, H, W) -> (N, C, Ho, Wo), Ho = floor((H + 2p - d(k-1) - 1)/s) + 1.

    ``stride`` defaults to ``kernel_size``; padding counts as -inf. ``return_indices`` also returns the
    flat index (h * W + w) of each maximum, for ``max_unpool2d``.
    """
    x, unbatched = batched("max_pool2d", input, 2)
    k, s, p, d, out = _geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode, 2)
    fn = MaxPool2d()
    y = _apply(fn, x, k, s, p, d, out, return_indices)
    if unbatched:
        y = y.squeeze(0)
    if not return_indices:
        return y
    idx = Tensor._wrap(fn.indices[0] if unbatched else fn.indices)
    return y, idx


def _apply(fn: Function, x: Tensor, *args: Any) -> Tensor:
    """``Function.apply`` on an instance we keep (to read side outputs such as the argmax indices)."""
    return fn.run((x, *args), {})


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of length k: (N, C, L) -> (N, C, Lo); max_pool2d on a height-1 image."""
    x, unbatched = batched("max_pool1d", input, 1)
    one = lambda v: None if v is None else (1, ntuple("max_pool1d", v, 1, "argument")[0])  # noqa: E731
    _geometry("max_pool1d", x, kernel_size, stride, padding, dilation, ceil_mode, 1)
    res = max_pool2d(x.unsqueeze(2), one(kernel_size), one(stride), (0, ntuple("max_pool1d", padding, 1, "padding")[0]),
                     one(dilation), ceil_mode, return_indices)
    if return_indices:
        y, idx = res
        y, idx = y.squeeze(2), Tensor._wrap(idx.array[:, :, 0])
        return (y.squeeze(0), Tensor._wrap(idx.array[0])) if unbatched else (y, idx)
    y = res.squeeze(2)
    return y.squeeze(0) if unbatched else y


# ---------------------------------------------------------------------------- avg pool
class AvgPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo): window sums divided by a per-position divisor (Ho, Wo)."""

    def forward(self, x: np.ndarray, k: tuple, s: tuple, p: tuple, out: tuple, divisor: np.ndarray) -> np.ndarray:
        d = (1, 1)
        xp = _padded(x, k, s, p, d, out, 0.0)
        total = None
        for _, _, sl in _offsets(k, s, d, out):
            total = xp[sl].copy() if total is None else np.add(total, xp[sl], out=total)
        self.geom, self.pshape, self.shape, self.divisor = (k, s, p, out), xp.shape, x.shape, divisor
        return total / divisor

    def backward(self, g: np.ndarray) -> np.ndarray:
        k, s, p, out = self.geom
        gd = g / self.divisor
        gxp = np.zeros(self.pshape, dtype=g.dtype)
        for _, _, sl in _offsets(k, s, (1, 1), out):
            gxp[sl] += gd
        h, w = self.shape[2:]
        return gxp[:, :, p[0] : p[0] + h, p[1] : p[1] + w]


def _avg_divisor(size: int, k: int, s: int, p: int, n_out: int, include_pad: bool) -> np.ndarray:
    """Per-output window size along one axis: clipped to the padded input, or to the input itself."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over kh x kw windows: (N, C, H, W) -> (N, C, Ho, Wo).

    The divisor is the window's size including zero padding (``count_include_pad``) or only the input
    cells it covers; ``divisor_override`` replaces it.
    """
    x, unbatched = batched("avg_pool2d", input, 2)
    if x.dtype.kind != "f":
        raise TypeError(f"avg_pool2d: expected a floating point input, got {x.dtype}")
    k, s, p, _, out = _geometry("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode, 2)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor must be not zero")
        divisor = np.full(out, divisor_override, dtype=x.dtype)
    else:
        dh, dw = (_avg_divisor(n, ki, si, pi, o, count_include_pad) for n, ki, si, pi, o in zip(x.shape[2:], k, s, p, out))
        divisor = np.outer(dh, dw).astype(x.dtype)
    y = AvgPool2d.apply(x, k, s, p, out, divisor)
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of length k: (N, C, L) -> (N, C, Lo); avg_pool2d on a height-1 image."""
    x, unbatched = batched("avg_pool1d", input, 1)
    one = lambda v: None if v is None else (1, ntuple("avg_pool1d", v, 1, "argument")[0])  # noqa: E731
    y = avg_pool2d(x.unsqueeze(2), one(kernel_size), one(stride), (0, ntuple("avg_pool1d", padding, 1, "padding")[0]),
                   ceil_mode, count_include_pad).squeeze(2)
    return y.squeeze(0) if unbatched else y


# ---------------------------------------------------------------------------- adaptive pooling
def _adaptive_bounds(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Window i covers [floor(i*n_in/n_out), ceil((i+1)*n_in/n_out))."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def _adaptive_size(name: str, x: Tensor, output_size: Any, dims: int) -> tuple[int, ...]:
    tensor_input(name, x)
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * dims
    size = tuple(x.shape[-dims + i] if o is None else int(o) for i, o in enumerate(output_size))
    if len(size) != dims or min(size) <= 0:
        raise ValueError(f"{name}: invalid output_size {output_size} for input of shape {x.shape}")
    return size


def _mean_matrix(n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """(n_out, n_in): row i averages input window i."""
    start, end = _adaptive_bounds(n_in, n_out)
    pos = np.arange(n_in)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class _AdaptiveAvg(Function):
    """out = A_h @ x @ A_w^T with averaging matrices; the gradient is A_h^T @ g @ A_w."""

    def forward(self, x: np.ndarray, ah: np.ndarray, aw: np.ndarray) -> np.ndarray:
        self.ah, self.aw = ah, aw
        return np.matmul(np.matmul(ah, x), aw.T)

    def backward(self, g: np.ndarray) -> np.ndarray:
        return np.matmul(np.matmul(self.ah.T, g), self.aw)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average over a grid of output_size (oh, ow) windows: (N, C, H, W) -> (N, C, oh, ow).

    Window i spans rows [floor(i H / oh), ceil((i+1) H / oh)).
    """
    tensor_input("adaptive_avg_pool2d", input)
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool2d: expected a floating point input, got {input.dtype}")
    oh, ow = _adaptive_size("adaptive_avg_pool2d", input, output_size, 2)
    h, w = input.shape[-2:]
    return _AdaptiveAvg.apply(input, _mean_matrix(h, oh, input.dtype), _mean_matrix(w, ow, input.dtype))


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average over output_size windows of the last dim: (N, C, L) -> (N, C, output_size)."""
    if input.ndim not in (2, 3):
        raise ValueError(f"adaptive_avg_pool1d: expected a 2-D or 3-D input, got shape {input.shape}")
    (o,) = _adaptive_size("adaptive_avg_pool1d", input, output_size, 1)
    one = np.ones((1, 1), dtype=input.dtype)
    return _AdaptiveAvg.apply(input.unsqueeze(-2), one, _mean_matrix(input.shape[-1], o, input.dtype)).squeeze(-2)


def _window_index(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, kmax) input positions of each window, short windows padded by repeating their last position."""
    start, end = _adaptive_bounds(n_in, n_out)
    kmax = int((end - start).max())
    return np.minimum(start[:, None] + np.arange(kmax), end[:, None] - 1)


class _AdaptiveMax(Function):
    """Gather every window (padded to the largest by repeats), take the first max; scatter back with bincount."""

    def forward(self, x: np.ndarray, ih: np.ndarray, iw: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        windows = x[:, :, ih[:, None, :, None], iw[None, :, None, :]]  # (N, C, oh, ow, kh, kw)
        oh, ow, kh, kw = windows.shape[2:]
        flat = windows.reshape(n, c, oh, ow, kh * kw)
        arg = flat.argmax(axis=-1)
        if flat.dtype.kind == "f":
            nan = np.isnan(flat)
            if nan.any():  # as PyTorch's kernel: the window's last NaN
                last = kh * kw - 1 - nan[..., ::-1].argmax(axis=-1)
                arg = np.where(nan.any(axis=-1), last, arg)
        a, b = np.divmod(arg, kw)
        self.indices = ih[np.arange(oh)[:, None], a] * w + iw[np.arange(ow), b]
        self.shape = x.shape
        return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]

    def backward(self, g: np.ndarray) -> np.ndarray:
        return _scatter_planes(g, self.indices, self.shape)


def _scatter_planes(g: np.ndarray, indices: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum g into (N, C, H, W) at the flat per-plane positions ``indices`` (same shape as g)."""
    n, c, h, w = shape
    planes = np.arange(n * c).reshape(n, c, *([1] * (g.ndim - 2))) * (h * w)
    flat = np.bincount((planes + indices).ravel(), weights=g.ravel(), minlength=n * c * h * w)
    return flat.astype(g.dtype).reshape(shape)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over a grid of output_size windows (as adaptive_avg_pool2d): (N, C, H, W) -> (N, C, oh, ow)."""
    x, unbatched = batched("adaptive_max_pool2d", input, 2)
    oh, ow = _adaptive_size("adaptive_max_pool2d", x, output_size, 2)
    fn = _AdaptiveMax()
    y = _apply(fn, x, _window_index(x.shape[2], oh), _window_index(x.shape[3], ow))
    idx = Tensor._wrap(fn.indices)
    if unbatched:
        y, idx = y.squeeze(0), Tensor._wrap(fn.indices[0])
    return (y, idx) if return_indices else y


# ---------------------------------------------------------------------------- unpool
class _MaxUnpool(Function):
    """Place x (N, C, H, W) at flat positions indices within zero planes (N, C, Ho, Wo); backward gathers."""

    def forward(self, x: np.ndarray, indices: np.ndarray, out: tuple) -> np.ndarray:
        n, c = x.shape[:2]
        y = np.zeros((n, c, out[0] * out[1]), dtype=x.dtype)
        self.idx = indices.reshape(n, c, -1)
        np.put_along_axis(y, self.idx, x.reshape(n, c, -1), axis=2)
        self.shape = x.shape
        return y.reshape(n, c, *out)

    def backward(self, g: np.ndarray) -> tuple:
        n, c = g.shape[:2]
        return np.take_along_axis(g.reshape(n, c, -1), self.idx, axis=2).reshape(self.shape), None


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """Partial inverse of max_pool2d: put each value back at its argmax, zeros elsewhere.

    (N, C, H, W) -> (N, C, Ho, Wo), Ho = (H - 1) * stride - 2 * padding + kernel_size unless output_size is given.
    """
    x, unbatched = batched("max_unpool2d", input, 2)
    ind = indices.unsqueeze(0) if unbatched else indices
    if ind.shape != x.shape or ind.dtype != np.int64:
        raise ValueError(f"max_unpool2d: indices of shape {indices.shape} ({indices.dtype}) must be int64 with the input's shape {input.shape}")
    k = ntuple("max_unpool2d", kernel_size, 2, "kernel_size")
    s = k if stride is None else ntuple("max_unpool2d", stride, 2, "stride")
    p = ntuple("max_unpool2d", padding, 2, "padding")
    if output_size is None:
        out = tuple((n - 1) * si - 2 * pi + ki for n, si, pi, ki in zip(x.shape[2:], s, p, k))
    else:
        out = tuple(int(o) for o in output_size)[-2:]
    if ind.array.size and (ind.array.min() < 0 or ind.array.max() >= out[0] * out[1]):
        raise ValueError(f"max_unpool2d: found an invalid max index {int(ind.array.max())} for output size {out}")
    y = _MaxUnpool.apply(x, ind, out)
    return y.squeeze(0) if unbatched else y
