"""Forward+backward time of the fused normalization ops, deepling beside PyTorch in one run.

    python -m benchmarks.norm [--threads 1] [--repeat 20] [--tune-malloc]

Prints milliseconds per forward+backward (best of ``--repeat`` runs) and the ratio
deepling / torch, with both libraries limited to the same number of threads. ``--tune-malloc``
first raises glibc's mmap and trim thresholds (``mallopt``), so that large temporaries are reused
from the heap instead of being mapped fresh (and page-faulted) on every step; it shows how much
of deepling's time is the allocator rather than arithmetic.
"""

from __future__ import annotations

import argparse
import ctypes
import platform
import time
from typing import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import deepling as dl

CASES = [
    # name, input shape, torch fn, deepling fn, parameter shape
    ("batch_norm train", (64, 32, 16, 16), lambda F, x, w, b: F.batch_norm(x, None, None, w, b, True), (32,)),
    ("batch_norm eval", (64, 32, 16, 16), None, (32,)),
    ("batch_norm 1d train", (256, 512), lambda F, x, w, b: F.batch_norm(x, None, None, w, b, True), (512,)),
    ("layer_norm", (32 * 64, 128), lambda F, x, w, b: F.layer_norm(x, (128,), w, b), (128,)),
    ("group_norm G=8", (64, 32, 16, 16), lambda F, x, w, b: F.group_norm(x, 8, w, b), (32,)),
    ("rms_norm", (32 * 64, 128), lambda F, x, w, b: F.rms_norm(x, (128,), w), (128,)),
    ("local_response_norm", (32, 64, 16, 16), lambda F, x, w, b: F.local_response_norm(x, 5), None),
    ("dropout p=0.5", (64, 32, 16, 16), lambda F, x, w, b: F.dropout(x, 0.5), None),
]


def _time(step: Callable[[], None], repeat: int) -> float:
    step()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3  # best of: least disturbed by other processes on a shared machine


def _runner(lib, F, tensor, x, pshape, fn, eval_stats):
    rng = np.random.default_rng(1)
    w = tensor(rng.uniform(0.5, 1.5, pshape).astype(np.float32), requires_grad=True) if pshape else None
    b = tensor(rng.standard_normal(pshape).astype(np.float32), requires_grad=True) if pshape else None
    xt = tensor(x, requires_grad=True)
    g = tensor(rng.standard_normal(x.shape).astype(np.float32))
    if eval_stats:
        rm, rv = tensor(np.zeros(pshape, np.float32)), tensor(np.ones(pshape, np.float32))
        fn = lambda F, x, w, b: F.batch_norm(x, rm, rv, w, b, False)  # noqa: E731

    def step():
        xt.grad = None
        if w is not None:
            w.grad = b.grad = None
        out = fn(F, xt, w, b)
        out.backward(g)

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--tune-malloc", action="store_true", help="raise glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD first")
    args = ap.parse_args()
    if args.tune_malloc:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD: arrays below 256 MB come from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GB of freed heap for reuse
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        blas = [(i.get("internal_api"), i.get("architecture"), i.get("num_threads")) for i in threadpool_info()]
        print(f"threads={args.threads}  tune_malloc={args.tune_malloc}  numpy {np.__version__}  torch {torch.__version__}  {platform.processor() or platform.machine()}")
        print(f"BLAS (threadpoolctl): {blas}")
        print(f"{'op':<22}{'shape':<20}{'deepling ms':>12}{'torch ms':>10}{'ratio':>8}")
        for name, shape, fn, pshape in CASES:
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            ev = fn is None
            d = _time(_runner(dl, dl.nn.functional, dl.tensor, x, pshape, fn, ev), args.repeat)
            t = _time(_runner(torch, torch.nn.functional, torch.tensor, x, pshape, fn, ev), args.repeat)
            print(f"{name:<22}{str(shape):<20}{d:>12.2f}{t:>10.2f}{d / t:>8.2f}")


if __name__ == "__main__":
    main()
