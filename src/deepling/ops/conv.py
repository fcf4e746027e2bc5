"""Convolution by im2col: a strided view of the padded input, one GEMM forward, one GEMM per gradient.

For conv2d, ``out[n, o] = b[o] + sum_{c,i,j} w[o, c, i, j] * x_pad[n, c, s*h + d*i, s*w + d*j]``.
Written as ``out = W (O, C*kh*kw) @ cols (C*kh*kw, N*Ho*Wo)``, the gradients are
``dW = g @ cols^T`` and ``dcols = W^T @ g``; col2im scatters ``dcols`` back into the input with
one slice-add per kernel offset (kh*kw of them), never a loop over pixels or batch items.
``conv_transpose2d`` is the same two kernels swapped: its forward is conv2d's input gradient.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from deepling import threadpool
from deepling.autograd import Function
from deepling.ops import winograd
from deepling.ops.arguments import batched, ntuple
from deepling.ops.resample import pad_array
from deepling.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "unfold", "fold"]

# A conv2d whose gradient is needed takes the Winograd F(2x2, 3x3) path where ``winograd.applies``
# (3x3, stride 1, one group, the shapes where it measured faster); forward alone stays im2col, which
# is faster without the backward to amortize the layout copies. False forces im2col everywhere
# (benchmarks/winograd.py compares the two).
use_winograd = True


# ---------------------------------------------------------------------------- helpers
def _windows(xp: np.ndarray, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int],
             out: tuple[int, int]) -> np.ndarray:
    """Read-only view (P, Q, kh, kw, Ho, Wo) with view[..., i, j, h, w] = xp[..., s*h + d*i, s*w + d*j]."""
    sp, sq, sh, sw = xp.strides
    return as_strided(
        xp,
        shape=xp.shape[:2] + tuple(k) + tuple(out),
        strides=(sp, sq, sh * d[0], sw * d[1], sh * s[0], sw * s[1]),
        writeable=False,
    )


def _col2im(cols: np.ndarray, shape: tuple[int, ...], s: tuple[int, int], d: tuple[int, int],
            batch_last: bool = False) -> np.ndarray:
    """Adjoint of ``_windows``: sum cols (P, Q, kh, kw, Ho, Wo) into a zero array of ``shape`` (P, Q, Hp, Wp).

    One strided slice-add per kernel offset: overlapping windows accumulate correctly. With
    ``batch_last`` the layouts are cols (P, kh, kw, Ho, Wo, Q) and ``shape`` (P, Hp, Wp, Q): each
    slice-add then runs over rows of Wo*Q (stride 1) or Q elements instead of Wo, and on small maps
    NumPy's per-row cost, not the adds, dominates the plain layout.
    """
    out = np.zeros(shape, dtype=cols.dtype)
    lead = (slice(None),) * (1 if batch_last else 2)
    kh, kw, ho, wo = cols.shape[len(lead) : len(lead) + 4]
    for i in range(kh):
        hi = i * d[0]
        for j in range(kw):
            wj = j * d[1]
            rows = slice(hi, hi + s[0] * (ho - 1) + 1, s[0])
            out[lead + (rows, slice(wj, wj + s[1] * (wo - 1) + 1, s[1]))] += cols[lead + (i, j)]
    return out


def _batch_last_col2im_pays(k: tuple[int, int], s: tuple[int, int], out: tuple[int, int]) -> bool:
    """Where col2im with the batch innermost measured faster (benchmarks/README.md, lever 10): kernels
    with overlapping taps at stride 1, or strided ones on maps of at most 8x8 outputs; a 1x1 kernel's
    col2im is one strided copy, fastest in the plain layout."""
    return k[0] * k[1] > 1 and (s == (1, 1) or out[0] * out[1] <= 64)


def _out_size(name: str, size: int, k: int, s: int, d: int, pad: int) -> int:
    n = (size + pad - d * (k - 1) - 1) // s + 1
    if n <= 0:
        raise ValueError(
            f"{name}: input size {size} with padding {pad} is too small for kernel {k} with dilation {d} "
            f"(output size would be {n})"
        )
    return n


def _im2col_matmul(a: np.ndarray, win: np.ndarray, keep_cols: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-image im2col GEMM: ``out[i] = a (O, K) @ cols[i]`` with ``cols[i]`` image i's windows
    ``win[i]`` (C, kh, kw, Ho, Wo) flattened to (K, Ho*Wo). Returns ``(out (N, O, Ho*Wo), cols or None)``.

    Split by image over the CPU pool: each chunk copies its own images' columns (so the im2col copy
    is split too) and runs the same per-image GEMMs as the serial call. Without ``keep_cols`` each
    chunk's columns are a temporary of its own.
    """
    n, k, hw = win.shape[0], math.prod(win.shape[1:4]), math.prod(win.shape[4:])
    out = np.empty((n, a.shape[0], hw), dtype=np.result_type(a, win))
    cols = _as_view(win, (n, k, hw))  # a 1x1 stride-1 convolution's columns are the input itself
    copy = cols is None
    if copy and keep_cols:
        cols = np.empty((n, k, hw), dtype=win.dtype)

    def run(lo: int, hi: int) -> None:
        c = cols[lo:hi] if cols is not None else np.empty((hi - lo, k, hw), dtype=win.dtype)
        if copy:
            np.copyto(c.reshape(win[lo:hi].shape), win[lo:hi])
        np.matmul(a, c, out=out[lo:hi])

    threadpool.parallel_for(n, run, flops=2.0 * n * a.shape[0] * k * hw)
    return out, cols if keep_cols else None


def _as_view(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """``a`` reshaped to ``shape`` without copying, or None when that needs a copy."""
    try:
        return a.reshape(shape, copy=False)  # NumPy >= 2.1: raises instead of copying
    except ValueError:
        return None
    except TypeError:  # older NumPy: setting the shape of a view raises instead of copying
        v = a.view()
        try:
            v.shape = shape
        except AttributeError:
            return None
        return v


def _batched_weight_grad(g: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``sum_i g[i] (O, L) @ cols[i]^T (L, K)`` -> (O, K): per-image GEMMs split by image, then
    the sum over images split by column (the same sums, in the same order, as the serial call)."""
    n, o, k = g.shape[0], g.shape[1], cols.shape[1]
    per = np.empty((n, o, k), dtype=np.result_type(g, cols))
    threadpool.parallel_for(n, lambda lo, hi: np.matmul(g[lo:hi], cols[lo:hi].transpose(0, 2, 1), out=per[lo:hi]),
                            flops=2.0 * g.size * k)
    per2, out = per.reshape(n, o * k), np.empty(o * k, dtype=per.dtype)
    threadpool.parallel_for(o * k, lambda lo, hi: np.sum(per2[:, lo:hi], axis=0, out=out[lo:hi]), elements=per.size)
    return out.reshape(o, k)


def _gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched over groups; a plain 2-D GEMM when there is one group."""
    if a.shape[0] == 1:
        return np.matmul(a[0], b[0])[None]
    return np.matmul(a, b)


def _correlate(x: np.ndarray, w: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Stride-1, single-group cross-correlation of x (N, C, H, W) with w (O, C, kh, kw) after padding."""
    n = x.shape[0]
    o, c, kh, kw = w.shape
    xp = pad_array(x, pads)
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    win = _windows(xp, (kh, kw), (1, 1), (1, 1), (ho, wo))
    return _im2col_matmul(np.ascontiguousarray(w).reshape(o, c * kh * kw), win, keep_cols=False)[0].reshape(n, o, ho, wo)


# ---------------------------------------------------------------------------- conv2d
class Conv2d(Function):
    """x (N, C, H, W), w (O, C/G, kh, kw), b (O,) -> (N, O, Ho, Wo)."""

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *,
                stride: tuple[int, int], pads: tuple[int, int, int, int], dilation: tuple[int, int],
                groups: int) -> np.ndarray:
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        g = groups
        self.wino = None
        if use_winograd and any(self.needs_input_grad) and winograd.applies(x.shape, w.shape, stride, dilation, groups):
            out, self.wino = winograd.winograd_forward(x, w, pads, keep=True)
            if b is not None:
                out += b.reshape(1, o, 1, 1)
            return out
        xp = pad_array(x, pads)
        ho = _out_size("conv2d", h, kh, stride[0], dilation[0], pads[0] + pads[1])
        wo = _out_size("conv2d", wd, kw, stride[1], dilation[1], pads[2] + pads[3])
        win = _windows(xp, (kh, kw), stride, dilation, (ho, wo))
        wm = w.reshape(g, o // g, cg * kh * kw)
        if g == 1:
            # Per-image im2col (N, C*kh*kw, Ho*Wo) and one batched matmul: the output comes out in
            # (N, O, Ho, Wo) order, with no transposed copy, and each image's columns stay in cache.
            out3, cols = _im2col_matmul(wm[0], win, keep_cols=self.needs_input_grad[1:2] == (True,))
            out = out3.reshape(n, o, ho, wo)
        else:
            # (C, kh, kw, N, Ho, Wo): rows ordered as the weight's (C/G, kh, kw), columns as (N, Ho, Wo).
            cols = win.transpose(1, 2, 3, 0, 4, 5).reshape(g, cg * kh * kw, n * ho * wo)
            out = np.ascontiguousarray(_gemm(wm, cols).reshape(o, n, ho, wo).transpose(1, 0, 2, 3))
        if b is not None:
            out += b.reshape(1, o, 1, 1)
        need = self.needs_input_grad
        if need:
            self.wm, self.wshape, self.xshape, self.xpshape = wm, w.shape, x.shape, xp.shape
            self.stride, self.dilation, self.pads, self.groups = stride, dilation, pads, groups
            self.cols = cols if need[1] else None
        return out

    def backward(self, grad: np.ndarray) -> tuple:
        need = self.needs_input_grad
        if self.wino is not None:
            gx, gw = winograd.winograd_backward(grad, self.wino, need[0], need[1])
            return gx, gw, (grad.sum(axis=(0, 2, 3)) if need[2] else None)
        n, o, ho, wo = grad.shape
        g, og, _ = self.wm.shape
        g2 = None
        gx = gw = None
        c, (kh, kw) = self.xshape[1], self.wshape[2:]
        top, bottom, left, right = self.pads
        if need[0] and (self.stride == (1, 1) and self.dilation == (1, 1) and g == 1 and og <= c
                        and max(top, bottom) < kh and max(left, right) < kw):
            # Stride 1: dx is the gradient correlated with the flipped, channel-swapped kernel
            # (im2col of g + one GEMM), cheaper than col2im's kh*kw read-add passes when O <= C.
            w_t = self.wm.reshape(self.wshape)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            gx = _correlate(grad, w_t, (kh - 1 - top, kh - 1 - bottom, kw - 1 - left, kw - 1 - right))
        elif need[0] and _batch_last_col2im_pays((kh, kw), self.stride, (ho, wo)):
            # Columns ordered (C/G*kh*kw, Ho*Wo*N): col2im into (C, Hp, Wp, N), batch innermost.
            gl = grad.transpose(1, 2, 3, 0).reshape(g, og, ho * wo * n)
            gcols = _gemm(self.wm.transpose(0, 2, 1), gl)
            gxp = _col2im(gcols.reshape(c, kh, kw, ho, wo, n), (c,) + self.xpshape[2:] + (n,),
                          self.stride, self.dilation, batch_last=True)
            gx = np.ascontiguousarray(gxp[:, top : top + self.xshape[2], left : left + self.xshape[3]].transpose(3, 0, 1, 2))
        elif need[0]:
            g2 = grad.transpose(1, 0, 2, 3).reshape(g, og, n * ho * wo)
            gcols = _gemm(self.wm.transpose(0, 2, 1), g2)
            hp, wp = self.xpshape[2], self.xpshape[3]
            # (G, C/G*kh*kw, N*Ho*Wo) -> (C, N, kh, kw, Ho, Wo) for col2im into a (C, N, Hp, Wp) buffer.
            cols6 = gcols.reshape(c, kh, kw, n, ho, wo).transpose(0, 3, 1, 2, 4, 5)
            gxp = _col2im(cols6, (c, n, hp, wp), self.stride, self.dilation)
            gx = np.ascontiguousarray(gxp[:, :, top : top + self.xshape[2], left : left + self.xshape[3]].transpose(1, 0, 2, 3))
        if need[1] and g == 1:  # columns in the per-image layout of forward
            gw = _batched_weight_grad(grad.reshape(n, o, ho * wo), self.cols).reshape(self.wshape)
        elif need[1]:
            if g2 is None:
                g2 = grad.transpose(1, 0, 2, 3).reshape(g, og, n * ho * wo)
            gw = _gemm(g2, self.cols.transpose(0, 2, 1)).reshape(self.wshape)
        if not need[2]:
            return gx, gw, None
        # The bias gradient sums g over (N, Ho, Wo): the last axis of g2 when it was built.
        gb = g2.sum(axis=-1).reshape(o) if g2 is not None else grad.sum(axis=(0, 2, 3))
        return gx, gw, gb


def _conv_pads(name: str, padding: Any, k: tuple[int, int], d: tuple[int, int], s: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right); 'same' puts the odd extra row/column at the bottom/right, as PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if any(si != 1 for si in s):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            pads: list[int] = []
            for ki, di in zip(k, d):
                total = di * (ki - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)  # type: ignore[return-value]
        raise ValueError(f"{name}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
    p = ntuple(name, padding, 2, "padding")
    if any(v < 0 for v in p):
        raise ValueError(f"{name}: negative padding {p} is not supported")
    return (p[0], p[0], p[1], p[1])


def _check_conv(name: str, x: Tensor, weight: Tensor, bias: Tensor | None, groups: int, transposed: bool) -> None:
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"{name}: expected 4-D input and weight, got input {x.shape} and weight {weight.shape}")
    if groups < 1:
        raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
    if transposed:
        cin, cout = weight.shape[0], weight.shape[1] * groups
        if x.shape[1] != cin or cin % groups:
            raise ValueError(
                f"{name}: input of shape {x.shape} does not fit weight of shape {weight.shape} with groups={groups} "
                f"(expected {cin} input channels divisible by groups)"
            )
    else:
        cout = weight.shape[0]
        if x.shape[1] != weight.shape[1] * groups or cout % groups:
            raise ValueError(
                f"{name}: input of shape {x.shape} does not fit weight of shape {weight.shape} with groups={groups} "
                f"(expected {weight.shape[1] * groups} input channels and out_channels divisible by groups)"
            )
    if bias is not None and bias.shape != (cout,):
        raise ValueError(f"{name}: bias of shape {bias.shape} does not fit {cout} output channels")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} does not match {what} dtype {t.dtype}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation. input (N, C, H, W), weight (O, C/groups, kh, kw), bias (O,) -> (N, O, Ho, Wo).

    ``Ho = floor((H + 2*padding - dilation*(kh-1) - 1) / stride) + 1``; padding may be 'same' or 'valid'.
    """
    x, unbatched = batched("conv2d", input, 2)
    _check_conv("conv2d", x, weight, bias, groups, transposed=False)
    k = weight.shape[2:]
    s = ntuple("conv2d", stride, 2, "stride")
    d = ntuple("conv2d", dilation, 2, "dilation")
    if min(s) < 1 or min(d) < 1:
        raise ValueError(f"conv2d: stride {s} and dilation {d} must be positive")
    pads = _conv_pads("conv2d", padding, k, d, s)
    out = Conv2d.apply(x, weight, bias, stride=s, pads=pads, dilation=d, groups=groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation. input (N, C, L), weight (O, C/groups, k), bias (O,) -> (N, O, Lo).

    Runs as conv2d on a height-1 image.
    """
    x, unbatched = batched("conv1d", input, 1)
    if weight.ndim != 3:
        raise ValueError(f"conv1d: expected a 3-D weight (out, in/groups, k), got shape {weight.shape}")
    s, d = ntuple("conv1d", stride, 1, "stride"), ntuple("conv1d", dilation, 1, "dilation")
    if isinstance(padding, str):
        pad: Any = padding
    else:
        pad = (0, ntuple("conv1d", padding, 1, "padding")[0])
    out = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, s[0]), pad, (1, d[0]), groups).squeeze(2)
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------------------- conv_transpose2d
class ConvTranspose2d(Function):
    """x (N, Cin, H, W), w (Cin, Cout/G, kh, kw), b (Cout,) -> (N, Cout, Ho, Wo): the adjoint of conv2d."""

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *,
                stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int],
                out_size: tuple[int, int], groups: int) -> np.ndarray:
        n, cin, h, wd = x.shape
        _, cog, kh, kw = w.shape
        g = groups
        cout = cog * g
        # The full (uncropped) result covers every position a kernel tap reaches, and at least p + Ho.
        full = tuple(
            max((size - 1) * s + d * (k - 1) + 1, p + o)
            for size, s, d, k, p, o in zip((h, wd), stride, dilation, (kh, kw), padding, out_size)
        )
        wm = w.reshape(g, cin // g, cog * kh * kw)
        p0, p1 = padding
        # The columns' (N, H, W) order: batch innermost where that col2im measured faster.
        self.batch_last = _batch_last_col2im_pays((kh, kw), stride, (h, wd))
        if self.batch_last:
            x2 = x.transpose(1, 2, 3, 0).reshape(g, cin // g, h * wd * n)
            cols = _gemm(wm.transpose(0, 2, 1), x2)  # (G, Cout/G*kh*kw, H*W*N)
            outf = _col2im(cols.reshape(cout, kh, kw, h, wd, n), (cout,) + full + (n,), stride, dilation,
                           batch_last=True)
            out = outf[:, p0 : p0 + out_size[0], p1 : p1 + out_size[1]].transpose(3, 0, 1, 2)
        else:
            x2 = x.transpose(1, 0, 2, 3).reshape(g, cin // g, n * h * wd)
            cols = _gemm(wm.transpose(0, 2, 1), x2)  # (G, Cout/G*kh*kw, N*H*W)
            cols6 = cols.reshape(cout, kh, kw, n, h, wd).transpose(0, 3, 1, 2, 4, 5)
            outf = _col2im(cols6, (cout, n) + full, stride, dilation)
            out = outf[:, :, p0 : p0 + out_size[0], p1 : p1 + out_size[1]].transpose(1, 0, 2, 3)
        out = np.ascontiguousarray(out)
        if b is not None:
            out += b.reshape(1, cout, 1, 1)
        if self.needs_input_grad:
            self.x2, self.wm, self.wshape, self.xshape, self.full = x2, wm, w.shape, x.shape, full
            self.stride, self.dilation, self.padding = stride, dilation, padding
        return out

    def backward(self, grad: np.ndarray) -> tuple:
        need = self.needs_input_grad
        n, cin, h, wd = self.xshape
        g = self.wm.shape[0]
        kh, kw = self.wshape[2:]
        p0, p1 = self.padding
        cout = grad.shape[1]
        # Columns in the order forward gave x2: (Cout, kh, kw, H, W, N) from a (Cout, Hf, Wf, N)
        # padded gradient, or (Cout, kh, kw, N, H, W) from an (N, Cout, Hf, Wf) one.
        if self.batch_last:
            gfull = np.zeros((cout,) + self.full + (n,), dtype=grad.dtype)
            gfull[:, p0 : p0 + grad.shape[2], p1 : p1 + grad.shape[3]] = grad.transpose(1, 2, 3, 0)
            win = _windows(gfull.transpose(0, 3, 1, 2), (kh, kw), self.stride, self.dilation, (h, wd))
            win = win.transpose(0, 2, 3, 4, 5, 1)
        else:
            gfull = np.zeros((n, cout) + self.full, dtype=grad.dtype)
            gfull[:, :, p0 : p0 + grad.shape[2], p1 : p1 + grad.shape[3]] = grad
            win = _windows(gfull, (kh, kw), self.stride, self.dilation, (h, wd)).transpose(1, 2, 3, 0, 4, 5)
        gcols = win.reshape(g, cout * kh * kw // g, n * h * wd)
        gx = gw = None
        if need[0]:
            gx = _gemm(self.wm, gcols)
            if self.batch_last:
                gx = gx.reshape(cin, h, wd, n).transpose(3, 0, 1, 2)
            else:
                gx = gx.reshape(cin, n, h, wd).transpose(1, 0, 2, 3)
            gx = np.ascontiguousarray(gx)
        if need[1]:
            gw = _gemm(self.x2, gcols.transpose(0, 2, 1)).reshape(self.wshape)
        return gx, gw, (grad.sum(axis=(0, 2, 3)) if need[2] else None)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution (the gradient of conv2d w.r.t. its input).

    input (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw), bias (Cout,) -> (N, Cout, Ho, Wo) with
    ``Ho = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1``.
    """
    x, unbatched = batched("conv_transpose2d", input, 2)
    _check_conv("conv_transpose2d", x, weight, bias, groups, transposed=True)
    s = ntuple("conv_transpose2d", stride, 2, "stride")
    p = ntuple("conv_transpose2d", padding, 2, "padding")
    op = ntuple("conv_transpose2d", output_padding, 2, "output_padding")
    d = ntuple("conv_transpose2d", dilation, 2, "dilation")
    if min(s) < 1 or min(d) < 1 or min(p) < 0 or min(op) < 0:
        raise ValueError(f"conv_transpose2d: invalid stride {s}, dilation {d}, padding {p} or output_padding {op}")
    if any(o >= si and o >= di for o, si, di in zip(op, s, d)):
        raise ValueError(f"conv_transpose2d: output_padding {op} must be smaller than either stride {s} or dilation {d}")
    k = weight.shape[2:]
    out_size = tuple(
        (size - 1) * si - 2 * pi + di * (ki - 1) + oi + 1
        for size, si, pi, di, ki, oi in zip(x.shape[2:], s, p, d, k, op)
    )
    if min(out_size) <= 0:
        raise ValueError(f"conv_transpose2d: input of shape {x.shape} gives a non-positive output size {out_size}")
    out = ConvTranspose2d.apply(x, weight, bias, stride=s, padding=p, dilation=d, out_size=out_size, groups=groups)
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------------------- unfold / fold
class Unfold(Function):
    """im2col: x (N, C, H, W) -> (N, C*kh*kw, L), L = Ho*Wo; backward is col2im."""

    def forward(self, x: np.ndarray, k: tuple[int, int], d: tuple[int, int], p: tuple[int, int],
                s: tuple[int, int]) -> np.ndarray:
        n, c, h, w = x.shape
        xp = pad_array(x, (p[0], p[0], p[1], p[1]))
        ho = _out_size("unfold", h, k[0], s[0], d[0], 2 * p[0])
        wo = _out_size("unfold", w, k[1], s[1], d[1], 2 * p[1])
        self.args, self.shape, self.pshape, self.p = (k, ho, wo), x.shape, xp.shape, p
        self.s, self.d = s, d
        return _windows(xp, k, s, d, (ho, wo)).reshape(n, c * k[0] * k[1], ho * wo)

    def backward(self, g: np.ndarray) -> np.ndarray:
        (kh, kw), ho, wo = self.args
        n, c, h, w = self.shape
        gxp = _col2im(g.reshape(n, c, kh, kw, ho, wo), self.pshape, self.s, self.d)
        return gxp[:, :, self.p[0] : self.p[0] + h, self.p[1] : self.p[1] + w]


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Extract sliding local blocks: (N, C, H, W) -> (N, C*kh*kw, L), L the number of block positions."""
    x, unbatched = batched("unfold", input, 2)
    k = ntuple("unfold", kernel_size, 2, "kernel_size")
    d = ntuple("unfold", dilation, 2, "dilation")
    p = ntuple("unfold", padding, 2, "padding")
    s = ntuple("unfold", stride, 2, "stride")
    if min(k) < 1 or min(d) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(f"unfold: invalid kernel_size {k}, dilation {d}, padding {p} or stride {s}")
    out = Unfold.apply(x, k, d, p, s)
    return out.squeeze(0) if unbatched else out


class Fold(Function):
    """col2im: cols (N, C*kh*kw, L) -> (N, C, H, W), summing overlapping blocks; backward is im2col."""

    def forward(self, x: np.ndarray, size: tuple[int, int], k: tuple[int, int], d: tuple[int, int],
                p: tuple[int, int], s: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
        n, ck, _ = x.shape
        c = ck // (k[0] * k[1])
        full = (n, c, size[0] + 2 * p[0], size[1] + 2 * p[1])
        self.k, self.d, self.s, self.hw, self.full = k, d, s, hw, full
        outp = _col2im(x.reshape(n, c, k[0], k[1], hw[0], hw[1]), full, s, d)
        return outp[:, :, p[0] : p[0] + size[0], p[1] : p[1] + size[1]]

    def backward(self, g: np.ndarray) -> np.ndarray:
        n, c, hp, wp = self.full
        ph, pw = (hp - g.shape[2]) // 2, (wp - g.shape[3]) // 2
        gp = pad_array(g, (ph, ph, pw, pw))
        win = _windows(gp, self.k, self.s, self.d, self.hw)
        return win.reshape(n, c * self.k[0] * self.k[1], self.hw[0] * self.hw[1])


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """Combine sliding local blocks into an image: (N, C*kh*kw, L) -> (N, C, H, W), overlaps summed."""
    x, unbatched = batched("fold", input, 1)
    size = ntuple("fold", output_size, 2, "output_size")
    k = ntuple("fold", kernel_size, 2, "kernel_size")
    d = ntuple("fold", dilation, 2, "dilation")
    p = ntuple("fold", padding, 2, "padding")
    s = ntuple("fold", stride, 2, "stride")
    kk = k[0] * k[1]
    hw = tuple((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))
    if x.shape[1] % kk or min(hw) <= 0 or x.shape[2] != math.prod(hw):
        raise ValueError(
            f"fold: input of shape {x.shape} does not fit output_size {size}, kernel_size {k}, dilation {d}, "
            f"padding {p}, stride {s} (expected (N, C*{kk}, {math.prod(hw)}))"
        )
    out = Fold.apply(x, size, k, d, p, s, hw)
    return out.squeeze(0) if unbatched else out
