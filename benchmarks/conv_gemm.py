"""Issue 18, lever 2: the convolution GEMM's shape and orientation at one thread.

    PYTHONPATH=src python -m benchmarks.conv_gemm [--repeat 7] [--threads 1]

For each 3x3 / pad 1 / stride 1 shape of ``cnn_bn`` and ``resnet20`` it times (CPU clock, best of
``--repeat``) the im2col + GEMM of each pass in several layouts, all producing the op's NCHW arrays:

forward  ``wc``: the op's per-image ``W (O, K) @ cols (N, K, P)`` (K = C*9, P = Ho*Wo);
         ``cw``: the transposed product ``cols^T (N, P, K) @ W^T (K, O)``, then the (N, O, P) copy;
         ``g4`` / ``g16``: images grouped 4 / 16 to a GEMM, ``W @ cols (K, 4*P)``, then the copy back;
         ``nhwc``: channels-last columns ``(N*P, 9*C) @ W^T (9*C, O)`` including both layout copies.
dW       ``wc``: the op's ``g (N, O, P) @ cols^T (N, P, K)`` summed over N;
         ``flat``: one GEMM over all images, ``g (O, N*P) @ cols (N*P, K)`` (with its transposed copies);
         ``g4``: ``(N/4, O, 4P) @ (N/4, 4P, K)`` summed.
dX       ``corr``: the op's correlation of g with the flipped kernel (im2col of g + per-image GEMM);
         ``col2im``: ``W^T @ g`` per image, then 9 slice-adds;
         ``corr_t``: the correlation as the transposed product.
Every variant is checked against the op's result (float32 rounding). The GFLOP/s count 2*N*O*C*9*P.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable

import numpy as np

from deepling.ops.conv import _col2im, _windows
from deepling.ops.resample import pad_array
from deepling.runtime import set_num_threads

SHAPES = [("cnn_bn", 64, 3, 32, 32), ("cnn_bn", 64, 32, 32, 32), ("cnn_bn", 64, 32, 16, 64),
          ("cnn_bn", 64, 64, 16, 64), ("resnet20", 32, 16, 32, 16), ("resnet20", 32, 32, 16, 32),
          ("resnet20", 32, 64, 8, 64)]


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return min(ts) * 1e3


def cols_of(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return _windows(pad_array(x, (1, 1, 1, 1)), (3, 3), (1, 1), (1, 1), (h, w)).reshape(n, c * 9, h * w)


def forward_variants(x: np.ndarray, w: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
    n, c, h, wd = x.shape
    o = w.shape[0]
    wm = w.reshape(o, c * 9)

    def wc() -> np.ndarray:
        return np.matmul(wm, cols_of(x)).reshape(n, o, h, wd)

    def cw() -> np.ndarray:
        cols = cols_of(x)
        return np.ascontiguousarray(np.matmul(cols.transpose(0, 2, 1), wm.T).transpose(0, 2, 1)).reshape(n, o, h, wd)

    def grouped(gsz: int) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            xp = pad_array(x, (1, 1, 1, 1))
            win = _windows(xp, (3, 3), (1, 1), (1, 1), (h, wd))  # (N, C, 3, 3, H, W)
            cols = win.reshape(n // gsz, gsz, c * 9, h * wd).transpose(0, 2, 1, 3).reshape(n // gsz, c * 9, gsz * h * wd)
            out = np.matmul(wm, cols).reshape(n // gsz, o, gsz, h * wd).transpose(0, 2, 1, 3)
            return np.ascontiguousarray(out).reshape(n, o, h, wd)
        return run

    def nhwc() -> np.ndarray:
        xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        xp = np.zeros((n, h + 2, wd + 2, c), x.dtype)
        xp[:, 1:-1, 1:-1] = xl
        sn, sh, sw, sc = xp.strides
        win = np.lib.stride_tricks.as_strided(xp, (n, h, wd, 3, 3, c), (sn, sh, sw, sh, sw, sc))
        wl = np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(9 * c, o)
        out = np.matmul(win.reshape(n * h * wd, 9 * c), wl)
        return np.ascontiguousarray(out.reshape(n, h, wd, o).transpose(0, 3, 1, 2))

    return {"wc": wc, "cw": cw, "g4": grouped(4), "g16": grouped(16), "nhwc": nhwc}


def dw_variants(x: np.ndarray, g: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
    n, c, h, wd = x.shape
    o = g.shape[1]
    cols = cols_of(x)  # saved by forward in the op
    g3 = g.reshape(n, o, h * wd)

    def wc() -> np.ndarray:
        return np.matmul(g3, cols.transpose(0, 2, 1)).sum(axis=0)

    def flat() -> np.ndarray:
        gf = np.ascontiguousarray(g3.transpose(1, 0, 2)).reshape(o, n * h * wd)
        cf = np.ascontiguousarray(cols.transpose(0, 2, 1)).reshape(n * h * wd, c * 9)
        return np.matmul(gf, cf)

    def g4() -> np.ndarray:
        gg = np.ascontiguousarray(g3.reshape(n // 4, 4, o, h * wd).transpose(0, 2, 1, 3)).reshape(n // 4, o, 4 * h * wd)
        cc = cols.reshape(n // 4, 4, c * 9, h * wd).transpose(0, 1, 3, 2).reshape(n // 4, 4 * h * wd, c * 9)
        return np.matmul(gg, cc).sum(axis=0)

    return {"wc": wc, "flat": flat, "g4": g4}


def dx_variants(w: np.ndarray, g: np.ndarray, xshape: tuple[int, ...]) -> dict[str, Callable[[], np.ndarray]]:
    n, c, h, wd = xshape
    o = g.shape[1]
    wt = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(c, o * 9)

    def corr() -> np.ndarray:
        return np.matmul(wt, cols_of(g)).reshape(n, c, h, wd)

    def corr_t() -> np.ndarray:
        out = np.matmul(cols_of(g).transpose(0, 2, 1), wt.T)
        return np.ascontiguousarray(out.transpose(0, 2, 1)).reshape(n, c, h, wd)

    def col2im() -> np.ndarray:
        gc = np.matmul(w.reshape(o, c * 9).T, g.reshape(n, o, h * wd))  # (N, C*9, P)
        gxp = _col2im(gc.reshape(n, c, 3, 3, h, wd), (n, c, h + 2, wd + 2), (1, 1), (1, 1))
        return np.ascontiguousarray(gxp[:, :, 1:-1, 1:-1])

    return {"corr": corr, "col2im": col2im, "corr_t": corr_t}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    set_num_threads(a.threads)
    print(f"threads {a.threads}, CPU clock, best of {a.repeat}; load average {os.getloadavg()}")
    rng = np.random.default_rng(0)
    print("| workload | shape (N,C,H) -> O | pass | variant | ms | GFLOP/s | vs op |")
    print("|---|---|---|---|---:|---:|---:|")
    for wl, n, c, h, o in SHAPES:
        x = rng.standard_normal((n, c, h, h), dtype=np.float32)
        w = (rng.standard_normal((o, c, 3, 3), dtype=np.float32) / np.sqrt(9 * c)).astype(np.float32)
        g = rng.standard_normal((n, o, h, h), dtype=np.float32)
        flops = 2.0 * n * o * c * 9 * h * h
        for pas, vs in (("fwd", forward_variants(x, w)), ("dW", dw_variants(x, g)), ("dX", dx_variants(w, g, x.shape))):
            ref = None
            base = None
            for name, fn in vs.items():
                r = fn()
                if ref is None:
                    ref = r
                scale = float(np.abs(ref).max())
                assert np.abs(r.reshape(ref.shape) - ref).max() <= 1e-5 * scale * np.sqrt(9 * max(c, o)), (pas, name)
                ms = best_ms(fn, a.repeat)
                base = base or ms
                print(f"| {wl} | ({n},{c},{h}) -> {o} | {pas} | {name} | {ms:.2f} | {flops / ms / 1e6:.1f} | "
                      f"{ms / base:.2f}x |", flush=True)
    print(f"load average at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
