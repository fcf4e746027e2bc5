"""Winograd F(2x2, 3x3) convolution: 3x3, stride 1, one group, forward and both gradients.

Each 2x2 block of outputs is computed from a 4x4 tile of the padded input (tiles overlap by 2):

    Y = A^T [ sum_c (G w_oc G^T) . (B^T d_c B) ] A          (. is the elementwise product)

with ``B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]``, ``G = [[1,0,0],[1/2,1/2,1/2],
[1/2,-1/2,1/2],[0,0,1]]``, ``A^T = [[1,1,1,0],[0,1,-1,-1]]``. With ``V = B^T d B`` (16, T*N, C) for T
tiles per image and ``U = G w G^T`` (16, C, O), the sum over channels is 16 GEMMs ``M = V @ U``
(16, T*N, O): 4 multiplies per output instead of im2col's 9.

The gradients are the exact adjoints of that computation. With ``dM = A dY A^T`` (16, T*N, O):
``dU = V^T @ dM`` (16 GEMMs with K = T*N) and ``dw = G^T dU G``; ``dV = dM @ U^T`` and ``dx`` is
``B dV B^T`` summed back over the overlapping tiles (a slice-add per tile row/column offset).

All transforms are whole-array NumPy passes over strided views of the padded arrays (one ufunc per
transform term) in an (H, W, N, C) layout inside the op: batch and channels innermost, so every
view is contiguous over N*C elements and every transform output is a GEMM operand in place. Every
transform is independent per image, so each one runs on slices of the batch split over the CPU
device's thread pool (``deepling.threadpool``; bit-identical to one slice), while the 16 GEMMs run
on the BLAS's own threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling import threadpool

__all__ = ["applies", "winograd_forward", "winograd_backward"]

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: tuple[int, int],
            dilation: tuple[int, int], groups: int) -> bool:
    """Whether a conv2d that will be differentiated takes Winograd: 3x3, stride 1, dilation 1, one
    group, and the shapes where forward + backward measured faster than im2col at one thread
    (benchmarks/winograd.py: 32+ input and output channels on images of 8x8 to 16x16 with at least
    2048 pixels in the batch, 1.0-1.6x; at 32x32 the layout copies in and out of (H, W, N, C) cost
    what the GEMMs save, below 32 channels the K = C GEMMs are too thin, and small batches give the
    16 GEMMs too few rows)."""
    o, c, kh, kw = w_shape
    n, _, h, w = x_shape
    return (kh == kw == 3 and stride == (1, 1) and dilation == (1, 1) and groups == 1
            and c >= 32 and o >= 32 and min(h, w) >= 8 and h * w <= 256 and n * h * w >= 2048)


def _to_hwnc(a: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (H, W, N, C) contiguous, in two cache-friendly copies.

    One direct copy reads with a stride of H*W elements and thrashes the TLB on 32x32 images
    (measured 11.5 ms vs 7.3 ms for (64, 32, 32, 32)); per image first ((C, HW) -> (HW, C),
    cache-resident), then whole rows of C elements."""
    return np.ascontiguousarray(np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(1, 2, 0, 3))


def _to_nchw(a: np.ndarray) -> np.ndarray:
    """(H, W, N, C) -> (N, C, H, W) contiguous, in the same two steps as ``_to_hwnc``."""
    return np.ascontiguousarray(np.ascontiguousarray(a.transpose(2, 0, 1, 3)).transpose(0, 3, 1, 2))


def _input_transform(xp: np.ndarray, th: int, tw: int, out: np.ndarray) -> None:
    """xp (2th+2, 2tw+2, N, C) -> out (4, 4, th, tw, N, C) = B^T d B for every 4x4 tile d (stride 2)."""
    rows = [xp[k : k + 2 * th : 2] for k in range(4)]  # (th, Wp, N, C): row k of every tile row
    u = np.empty((4, th) + xp.shape[1:], dtype=xp.dtype)
    np.subtract(rows[0], rows[2], out=u[0])
    np.add(rows[1], rows[2], out=u[1])
    np.subtract(rows[2], rows[1], out=u[2])
    np.subtract(rows[1], rows[3], out=u[3])
    cols = [u[:, :, k : k + 2 * tw : 2] for k in range(4)]  # (4, th, tw, N, C)
    np.subtract(cols[0], cols[2], out=out[:, 0])
    np.add(cols[1], cols[2], out=out[:, 1])
    np.subtract(cols[2], cols[1], out=out[:, 2])
    np.subtract(cols[1], cols[3], out=out[:, 3])


def _output_transform(m: np.ndarray, out: np.ndarray) -> None:
    """m (4, 4, th, tw, N, O) -> out (N, O, 2th, 2tw) = A^T m A for every tile, in NCHW order."""
    _, _, th, tw, n, o = m.shape
    z = np.empty((2, 4, th, tw, n, o), dtype=m.dtype)
    np.add(m[0], m[1], out=z[0])
    z[0] += m[2]
    np.subtract(m[1], m[2], out=z[1])
    z[1] -= m[3]
    # The last pass writes image-major (N, r, s, th, tw, O) rows of O elements; one per-image copy
    # (cache-resident) then gives (N, O, th, r, tw, s) = NCHW.
    y = np.empty((n, 2, 2, th, tw, o), dtype=m.dtype)
    yt = y.transpose(1, 2, 3, 4, 0, 5)  # (2, 2, th, tw, N, O) view
    t = np.add(z[:, 0], z[:, 1])
    np.add(t, z[:, 2], out=yt[:, 0])
    np.subtract(z[:, 1], z[:, 2], out=t)
    np.subtract(t, z[:, 3], out=yt[:, 1])
    out.reshape(n, o, th, 2, tw, 2)[...] = y.transpose(0, 5, 3, 1, 4, 2)


def _per_images(n: int, fn: Any, size: int) -> None:
    """``fn(lo, hi)`` over slices of the batch, split over the thread pool when the transformed array
    has ``size`` >= 2 * MIN_ELEMENTS values. Counted as one pass, not the ~3 it makes: measured at 2
    threads (benchmarks/README.md, issue 18, lever 13) the split pays on cnn_bn's batch-64 layers
    ((64, 64, 16, 16) -> 64: forward 19.4 -> 15.2 ms, backward 31.6 -> 26.7) but not on resnet20's
    batch-32 ones ((32, 32, 16, 16) -> 32: backward 6.0 -> 6.7 ms): the passes are memory-bound."""
    threadpool.parallel_for(n, fn, elements=size)


def _tiles(h: int, w: int, pads: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    top, bottom, left, right = pads
    ho, wo = h + top + bottom - 2, w + left + right - 2
    return ho, wo, (ho + 1) // 2, (wo + 1) // 2


def winograd_forward(x: np.ndarray, w: np.ndarray, pads: tuple[int, int, int, int],
                     keep: bool) -> tuple[np.ndarray, dict[str, Any] | None]:
    """x (N, C, H, W), w (O, C, 3, 3), pads (top, bottom, left, right) -> (N, O, Ho, Wo) without bias.

    ``keep``: also return what the backward needs (U, V and the shapes).
    """
    n, c, h, wd = x.shape
    o = w.shape[0]
    top, _, left, _ = pads
    ho, wo, th, tw = _tiles(h, wd, pads)
    # (Hp, Wp, N, C), zero padded, one extra row/column when Ho/Wo is odd (those outputs are cropped):
    # batch and channels innermost, so every transform view below is contiguous over N*C elements
    # and V comes out as the (T*N, C) GEMM operand of each of the 16 products.
    v6 = np.empty((4, 4, th, tw, n, c), dtype=x.dtype)

    def transform_in(lo: int, hi: int) -> None:
        xp = np.zeros((2 * th + 2, 2 * tw + 2, hi - lo, c), dtype=x.dtype)
        xp[top : top + h, left : left + wd] = _to_hwnc(x[lo:hi])
        _input_transform(xp, th, tw, v6[:, :, :, :, lo:hi])

    _per_images(n, transform_in, v6.size)
    v = v6.reshape(16, th * tw * n, c)
    gm = _G.astype(w.dtype)
    u = np.ascontiguousarray((gm @ w @ gm.T).transpose(2, 3, 1, 0)).reshape(16, c, o)  # (16, C, O)
    m = np.matmul(v, u).reshape(4, 4, th, tw, n, o)
    y = np.empty((n, o, 2 * th, 2 * tw), dtype=m.dtype)
    _per_images(n, lambda lo, hi: _output_transform(m[:, :, :, :, lo:hi], y[lo:hi]), m.size)
    if (2 * th, 2 * tw) != (ho, wo):
        y = np.ascontiguousarray(y[:, :, :ho, :wo])
    saved = {"u": u, "v": v, "xshape": x.shape, "pads": pads} if keep else None
    return y, saved


def winograd_backward(grad: np.ndarray, saved: dict[str, Any], need_x: bool, need_w: bool
                      ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """grad (N, O, Ho, Wo) -> (dx (N, C, H, W) or None, dw (O, C, 3, 3) or None)."""
    n, o, ho, wo = grad.shape
    u, v = saved["u"], saved["v"]
    c = u.shape[1]
    th, tw = (ho + 1) // 2, (wo + 1) // 2
    dm6 = np.empty((4, 4, th, tw, n, o), dtype=grad.dtype)
    _per_images(n, lambda lo, hi: _grad_transform(grad[lo:hi], dm6[:, :, :, :, lo:hi]), dm6.size)
    dm = dm6.reshape(16, th * tw * n, o)
    gw = gx = None
    if need_w:
        du = np.matmul(v.transpose(0, 2, 1), dm).reshape(4, 4, c, o)  # K = T*N: a well-shaped GEMM
        gm = _G.astype(du.dtype)
        gw = np.ascontiguousarray(gm.T @ du.transpose(3, 2, 0, 1) @ gm)
    if need_x:
        dv = np.matmul(dm, u.transpose(0, 2, 1)).reshape(4, 4, th, tw, n, c)
        xshape = saved["xshape"]
        gx = np.empty(xshape, dtype=dv.dtype)

        def adjoint(lo: int, hi: int) -> None:
            gx[lo:hi] = _input_adjoint(dv[:, :, :, :, lo:hi], (hi - lo,) + tuple(xshape[1:]), saved["pads"])

        _per_images(n, adjoint, dv.size)
    return gx, gw


def _grad_transform(grad: np.ndarray, out: np.ndarray) -> None:
    """grad (N, O, Ho, Wo) -> out (4, 4, th, tw, N, O) = A dY A^T per tile (zero beyond Ho, Wo)."""
    n, o, ho, wo = grad.shape
    th, tw = out.shape[2:4]
    # Rows a from the tile rows r of dY, then columns b from its columns s.
    gp = np.zeros((2 * th, 2 * tw, n, o), dtype=grad.dtype)
    gp[:ho, :wo] = _to_hwnc(grad)
    r0, r1 = gp[0::2], gp[1::2]  # (th, 2tw, N, O)
    e = np.empty((4, th, 2 * tw, n, o), dtype=grad.dtype)
    e[0] = r0
    np.add(r0, r1, out=e[1])
    np.subtract(r0, r1, out=e[2])
    np.negative(r1, out=e[3])
    s0, s1 = e[:, :, 0::2], e[:, :, 1::2]  # (4, th, tw, N, O)
    out[:, 0] = s0
    np.add(s0, s1, out=out[:, 1])
    np.subtract(s0, s1, out=out[:, 2])
    np.negative(s1, out=out[:, 3])


def _input_adjoint(dv: np.ndarray, xshape: tuple[int, ...], pads: tuple[int, int, int, int]) -> np.ndarray:
    """Adjoint of the padding + ``_input_transform``: dV (4, 4, th, tw, N, C) -> dx (N, C, H, W).

    Per tile ``dd = B dV B^T`` (columns of B^T: k=0: +a0; k=1: a1 - a2 + a3; k=2: -a0 + a1 + a2;
    k=3: -a3), summed over the overlapping tiles into the padded gradient.
    """
    n, c, h, wd = xshape
    top, _, left, _ = pads
    _, _, th, tw = dv.shape[:4]
    dt = dv.dtype
    # Rows first: q[k] (4 tile columns b, th, tw, N, C) for tile row k.
    q = np.empty(dv.shape, dtype=dt)
    q[0] = dv[0]
    np.subtract(dv[1], dv[2], out=q[1])
    q[1] += dv[3]
    np.add(dv[1], dv[2], out=q[2])
    q[2] -= dv[0]
    np.negative(dv[3], out=q[3])
    # Columns, summed over the tiles overlapping along W: strip[k] (th, 2tw+2, N, C).
    strip = np.zeros((4, th, tw + 1, 2, n, c), dtype=dt)
    ev, od = strip[:, :, :, 0], strip[:, :, :, 1]  # columns 2j and 2j+1: (4, th, tw+1, N, C)
    ev[:, :, :tw] = q[:, 0]
    np.subtract(q[:, 1], q[:, 2], out=od[:, :, :tw])
    od[:, :, :tw] += q[:, 3]
    ev[:, :, 1:] -= q[:, 0]
    ev[:, :, 1:] += q[:, 1]
    ev[:, :, 1:] += q[:, 2]
    od[:, :, 1:] -= q[:, 3]
    strip = strip.reshape(4, th, 2 * tw + 2, n, c)
    # Rows, summed over the tiles overlapping along H: rows 2i + k.
    dxp = np.zeros((th + 1, 2, 2 * tw + 2, n, c), dtype=dt)
    dxp[:th, 0] = strip[0]
    dxp[:th, 1] = strip[1]
    dxp[1:, 0] += strip[2]
    dxp[1:, 1] += strip[3]
    dxp = dxp.reshape(2 * th + 2, 2 * tw + 2, n, c)
    return _to_nchw(dxp[top : top + h, left : left + wd])
